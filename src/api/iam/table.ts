/**
 * Every IAM action the gateway serves (query protocol, 2010-05-08), one declaration each: the
 * pipeline decides its IAM action on its resource ARN before the handler runs.
 * https://docs.aws.amazon.com/IAM/latest/APIReference/API_Operations.html
 */
import type { QueryOperation } from '../operation.ts'
import { ACCESS_KEY_OPERATIONS } from './access-keys.ts'
import { ACCOUNT_OPERATIONS } from './account.ts'
import { BOUNDARY_OPERATIONS } from './boundaries.ts'
import { GROUP_OPERATIONS } from './groups.ts'
import { OIDC_OPERATIONS } from './oidc.ts'
import { POLICY_OPERATIONS } from './policies.ts'
import { ROLE_OPERATIONS } from './roles.ts'
import { SIMULATE_OPERATIONS } from './simulate.ts'
import { USER_OPERATIONS } from './users.ts'

export const IAM_OPERATIONS: readonly QueryOperation[] = [
  ...ROLE_OPERATIONS,
  ...USER_OPERATIONS,
  ...ACCESS_KEY_OPERATIONS,
  ...POLICY_OPERATIONS,
  ...GROUP_OPERATIONS,
  ...BOUNDARY_OPERATIONS,
  ...OIDC_OPERATIONS,
  ...SIMULATE_OPERATIONS,
  ...ACCOUNT_OPERATIONS,
]
