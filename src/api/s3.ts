/**
 * The endpoint: the request pipeline (pipeline.ts) serving the S3 operation table
 * (s3/table.ts) through the REST-XML codec, and STS's and IAM's actions (sts/operations.ts,
 * iam/table.ts) through the query codec, and CloudTrail's LookupEvents (cloudtrail/) through the
 * JSON 1.1 codec, on the same URL. `S3Gateway` is what the listener (server.ts) runs.
 */
import { randomBytes } from 'node:crypto'
import { Pipeline, type PipelineOptions } from './pipeline.ts'
import { CLOUDTRAIL_OPERATIONS } from './cloudtrail/lookup-events.ts'
import { IAM_OPERATIONS } from './iam/table.ts'
import { KMS_OPERATIONS } from './kms/operations.ts'
import { ORGANIZATIONS_OPERATIONS } from './organizations/operations.ts'
import { S3_OPERATIONS } from './s3/table.ts'
import { STS_OPERATIONS } from './sts/operations.ts'
import { WEB_IDENTITY_OPERATION } from './sts/web-identity.ts'

export type { Caller } from './operation.ts'
export type { ScanEvent } from './pipeline.ts'

export type GatewayOptions = Omit<PipelineOptions, 'operations'> & {
  /** The operations served; the S3 table unless a test wraps it. */
  readonly operations?: PipelineOptions['operations']
}

export class S3Gateway extends Pipeline {
  constructor(o: GatewayOptions) {
    super({
      ...o,
      operations: o.operations ?? S3_OPERATIONS,
      queryOperations: o.queryOperations ?? [
        ...STS_OPERATIONS,
        WEB_IDENTITY_OPERATION,
        ...IAM_OPERATIONS,
      ],
      jsonOperations: o.jsonOperations ?? [
        ...CLOUDTRAIL_OPERATIONS,
        ...KMS_OPERATIONS,
        ...ORGANIZATIONS_OPERATIONS,
      ],
    })
  }
}

/**
 * Request ids as S3 writes them: 16 upper-case hex digits. Unique, not secret: a random
 * prefix per process and a counter, so that no request pays for random bytes.
 */
const REQUEST_PREFIX = randomBytes(4).toString('hex').toUpperCase()
let requests = 0

export function newRequestId(): string {
  requests = (requests + 1) >>> 0
  return REQUEST_PREFIX + requests.toString(16).toUpperCase().padStart(8, '0')
}
