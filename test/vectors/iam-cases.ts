/**
 * The project's own IAM evaluation vectors, written from AWS's documentation
 * (each case cites its page). scripts/gen-iam-vectors.ts writes them to
 * test/vectors/iam.jsonl in the simulator's document format, so that any
 * implementation can run them; test/iam-vectors.test.ts runs the file.
 *
 * Expected decisions are taken from the cited page, not from this engine.
 */

type Json = string | number | boolean | null | Json[] | { [k: string]: Json }
type Obj = { [k: string]: Json }
export type Expected = 'Allow' | 'ExplicitDeny' | 'ImplicitDeny'

export interface VectorCase {
  id: string
  category: string
  source: string
  description: string
  identityPolicies: Obj[]
  resourcePolicy?: Obj
  scps?: Obj[][]
  rcps?: Obj[][]
  permissionBoundary?: Obj
  sessionPolicy?: Obj
  vpcEndpointPolicy?: Obj
  request: {
    principal: string
    principalAccount: string
    action: string
    resource: string
    resourceAccount: string
    context: Record<string, string | string[]>
  }
  expected: Expected
}

const DOCS = 'https://docs.aws.amazon.com/IAM/latest/UserGuide/'
export const SRC = {
  operators: `${DOCS}reference_policies_elements_condition_operators.html`,
  multivalued: `${DOCS}reference_policies_condition-single-vs-multi-valued-context-keys.html`,
  action: `${DOCS}reference_policies_elements_action.html`,
  notAction: `${DOCS}reference_policies_elements_notaction.html`,
  resource: `${DOCS}reference_policies_elements_resource.html`,
  notResource: `${DOCS}reference_policies_elements_notresource.html`,
  principal: `${DOCS}reference_policies_elements_principal.html`,
  notPrincipal: `${DOCS}reference_policies_elements_notprincipal.html`,
  variables: `${DOCS}reference_policies_variables.html`,
  logic: `${DOCS}reference_policies_evaluation-logic.html`,
  crossAccount: `${DOCS}reference_policies_evaluation-logic-cross-account.html`,
  boundaries: `${DOCS}access_policies_boundaries.html`,
  session: `${DOCS}access_policies.html#policies_session`,
  grammar: `${DOCS}reference_policies_grammar.html`,
  version: `${DOCS}reference_policies_elements_version.html`,
  globalKeys: `${DOCS}reference_policies_condition-keys.html`,
  scp: 'https://docs.aws.amazon.com/organizations/latest/userguide/orgs_manage_policies_scps_evaluation.html',
  rcp: 'https://docs.aws.amazon.com/organizations/latest/userguide/orgs_manage_policies_rcps_evaluation.html',
  endpoint: 'https://docs.aws.amazon.com/vpc/latest/privatelink/vpc-endpoints-access.html',
  keyPolicy: 'https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-default.html',
  keyCrossAccount:
    'https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-modifying-external-accounts.html',
  trust: `${DOCS}id_roles_create_for-user.html`,
} as const

export const A = '111122223333'
export const B = '444455556666'
export const ALICE = `arn:aws:iam::${A}:user/alice`
export const BOB = `arn:aws:iam::${A}:user/bob`
export const CAROL = `arn:aws:iam::${B}:user/carol`
export const ROLE = `arn:aws:iam::${A}:role/trainer`
export const SESSION = `arn:aws:sts::${A}:assumed-role/trainer/job-42`
export const OTHER_SESSION = `arn:aws:sts::${A}:assumed-role/trainer/job-43`
export const FED = `arn:aws:sts::${A}:federated-user/dana`
const OBJ = 'arn:aws:s3:::ml-artifacts/models/resnet.pt'
const BUCKET = 'arn:aws:s3:::ml-artifacts'
const KEY = `arn:aws:kms:us-east-1:${A}:key/1234abcd-12ab-34cd-56ef-1234567890ab`
const TABLE = `arn:aws:dynamodb:us-east-1:${A}:table/Thread`

const V = '2012-10-17'
const pol = (...Statement: Obj[]): Obj => ({ Version: V, Statement })
const allowAll: Obj = pol({ Effect: 'Allow', Action: '*', Resource: '*' })

interface Req {
  principal?: string
  principalAccount?: string
  action?: string
  resource?: string
  resourceAccount?: string
  context?: Record<string, string | string[]>
}
function request(r: Req = {}): VectorCase['request'] {
  const principal = r.principal ?? ALICE
  return {
    principal,
    principalAccount: r.principalAccount ?? (principal.includes(B) ? B : A),
    action: r.action ?? 's3:GetObject',
    resource: r.resource ?? OBJ,
    resourceAccount: r.resourceAccount ?? A,
    context: r.context ?? {},
  }
}

export const CASES: VectorCase[] = []
const counters = new Map<string, number>()
function add(
  category: string,
  source: string,
  description: string,
  c: Omit<VectorCase, 'id' | 'category' | 'source' | 'description'>,
) {
  const n = (counters.get(category) ?? 0) + 1
  counters.set(category, n)
  CASES.push({
    id: `${category}-${String(n).padStart(3, '0')}`,
    category,
    source,
    description,
    ...c,
  })
}

// ---- condition operators: one Allow statement guarded by a condition
type Ctx = Record<string, string | string[]>
/** [operator, key, policy value(s), request context (undefined: key absent), condition holds?] */
type OpRow = [string, string, Json, string | string[] | undefined, boolean]

function opCases(category: string, source: string, rows: OpRow[]) {
  for (const [op, key, value, ctxValue, holds] of rows) {
    const context: Ctx = ctxValue === undefined ? {} : { [key]: ctxValue }
    add(
      category,
      source,
      `${op} ${key} ${JSON.stringify(value)} vs ${ctxValue === undefined ? 'absent' : JSON.stringify(ctxValue)} -> ${holds}`,
      {
        identityPolicies: [
          pol({
            Effect: 'Allow',
            Action: 's3:GetObject',
            Resource: '*',
            Condition: { [op]: { [key]: value } },
          }),
        ],
        request: request({ context }),
        expected: holds ? 'Allow' : 'ImplicitDeny',
      },
    )
  }
}

const TEAM = 'aws:PrincipalTag/team'
opCases('op-string', SRC.operators, [
  ['StringEquals', TEAM, 'ml', 'ml', true],
  ['StringEquals', TEAM, 'ml', 'ML', false],
  ['StringEquals', TEAM, ['finance', 'ml'], 'ml', true],
  ['StringEquals', TEAM, 'ml', undefined, false],
  ['StringEquals', TEAM, 'm*', 'ml', false],
  ['StringEquals', TEAM, 'm*', 'm*', true],
  ['StringNotEquals', TEAM, 'ml', 'finance', true],
  ['StringNotEquals', TEAM, 'ml', 'ml', false],
  ['StringNotEquals', TEAM, ['ml', 'finance'], 'finance', false],
  ['StringNotEquals', TEAM, 'ml', undefined, true],
  ['StringEqualsIgnoreCase', TEAM, 'ML', 'ml', true],
  ['StringEqualsIgnoreCase', TEAM, 'ml', 'finance', false],
  ['StringEqualsIgnoreCase', TEAM, 'ml', undefined, false],
  ['StringNotEqualsIgnoreCase', TEAM, 'ML', 'ml', false],
  ['StringNotEqualsIgnoreCase', TEAM, 'ML', 'vision', true],
  ['StringNotEqualsIgnoreCase', TEAM, 'ML', undefined, true],
  ['StringLike', TEAM, 'm*', 'ml', true],
  ['StringLike', TEAM, 'm?', 'ml', true],
  ['StringLike', TEAM, 'm?', 'mlx', false],
  ['StringLike', TEAM, '*', '', true],
  ['StringLike', TEAM, 'M*', 'ml', false],
  ['StringLike', TEAM, ['x*', '*l'], 'ml', true],
  ['StringLike', TEAM, 'm*', undefined, false],
  ['StringNotLike', TEAM, 'm*', 'ml', false],
  ['StringNotLike', TEAM, 'm*', 'vision', true],
  ['StringNotLike', TEAM, 'm*', undefined, true],
  ['StringEqualsIfExists', TEAM, 'ml', undefined, true],
  ['StringEqualsIfExists', TEAM, 'ml', 'ml', true],
  ['StringEqualsIfExists', TEAM, 'ml', 'vision', false],
  ['StringNotEqualsIfExists', TEAM, 'ml', undefined, true],
  ['StringNotEqualsIfExists', TEAM, 'ml', 'ml', false],
  ['StringLikeIfExists', TEAM, 'v*', undefined, true],
  ['StringLikeIfExists', TEAM, 'v*', 'ml', false],
  ['StringNotLikeIfExists', TEAM, 'v*', 'vision', false],
  ['StringEqualsIgnoreCaseIfExists', TEAM, 'ML', 'ml', true],
])

opCases('op-numeric', SRC.operators, [
  ['NumericEquals', 's3:max-keys', '10', '10', true],
  ['NumericEquals', 's3:max-keys', '10', '10.0', true],
  ['NumericEquals', 's3:max-keys', 10, '11', false],
  ['NumericEquals', 's3:max-keys', '10', 'ten', false],
  ['NumericNotEquals', 's3:max-keys', '10', '11', true],
  ['NumericNotEquals', 's3:max-keys', '10', '10', false],
  ['NumericNotEquals', 's3:max-keys', '10', undefined, true],
  ['NumericLessThan', 's3:max-keys', '10', '9', true],
  ['NumericLessThan', 's3:max-keys', '10', '10', false],
  ['NumericLessThanEquals', 's3:max-keys', '10', '10', true],
  ['NumericLessThanEquals', 's3:max-keys', '10', '11', false],
  ['NumericGreaterThan', 's3:max-keys', '10', '11', true],
  ['NumericGreaterThan', 's3:max-keys', '10', '10', false],
  ['NumericGreaterThanEquals', 's3:max-keys', '10', '10', true],
  ['NumericGreaterThanEquals', 's3:max-keys', '10', '-1', false],
  ['NumericGreaterThan', 's3:max-keys', '1.5', '1.75', true],
  ['NumericLessThan', 's3:max-keys', '10', undefined, false],
  ['NumericLessThanIfExists', 's3:max-keys', '10', undefined, true],
  ['NumericLessThanIfExists', 's3:max-keys', '10', '20', false],
  ['NumericEquals', 's3:max-keys', ['5', '10'], '5', true],
])

const NOW = 'aws:CurrentTime'
opCases('op-date', SRC.operators, [
  ['DateEquals', NOW, '2026-11-26T12:00:00Z', '2026-11-26T12:00:00Z', true],
  ['DateEquals', NOW, '2026-11-26T12:00:00Z', '2026-11-26T12:00:01Z', false],
  ['DateEquals', NOW, '2026-11-26T12:00:00Z', '1795694400', true],
  ['DateNotEquals', NOW, '2026-11-26T12:00:00Z', '2026-11-26T12:00:01Z', true],
  ['DateNotEquals', NOW, '2026-11-26T12:00:00Z', undefined, true],
  ['DateLessThan', NOW, '2027-01-01T00:00:00Z', '2026-11-26T12:00:00Z', true],
  ['DateLessThan', NOW, '2026-01-01T00:00:00Z', '2026-11-26T12:00:00Z', false],
  ['DateLessThanEquals', NOW, '2026-11-26T12:00:00Z', '2026-11-26T12:00:00Z', true],
  ['DateGreaterThan', NOW, '2026-01-01', '2026-11-26T12:00:00Z', true],
  ['DateGreaterThan', NOW, '2026-12-01T00:00:00Z', '2026-11-26T12:00:00Z', false],
  ['DateGreaterThanEquals', NOW, '2026-11-26T12:00:00Z', '2026-11-26T12:00:00Z', true],
  ['DateGreaterThan', 'aws:TokenIssueTime', '2026-11-26T00:00:00Z', undefined, false],
  ['DateGreaterThanIfExists', 'aws:TokenIssueTime', '2026-11-26T00:00:00Z', undefined, true],
  ['DateLessThan', NOW, '2026-11-26T13:00:00+01:00', '2026-11-26T11:59:59Z', true],
  ['DateLessThan', NOW, '1795694400', '2026-11-26T11:00:00Z', true],
])

opCases('op-bool', SRC.operators, [
  ['Bool', 'aws:SecureTransport', 'true', 'true', true],
  ['Bool', 'aws:SecureTransport', true, 'true', true],
  ['Bool', 'aws:SecureTransport', 'true', 'false', false],
  ['Bool', 'aws:SecureTransport', 'false', 'false', true],
  ['Bool', 'aws:MultiFactorAuthPresent', 'true', undefined, false],
  ['BoolIfExists', 'aws:MultiFactorAuthPresent', 'true', undefined, true],
  ['BoolIfExists', 'aws:MultiFactorAuthPresent', 'true', 'false', false],
  ['Bool', 'aws:SecureTransport', false, 'true', false],
])

opCases('op-binary', SRC.operators, [
  ['BinaryEquals', 'aws:PrincipalTag/blob', 'QmluYXJ5VmFsdWU=', 'QmluYXJ5VmFsdWU=', true],
  ['BinaryEquals', 'aws:PrincipalTag/blob', 'QmluYXJ5VmFsdWU=', 'QmluYXJ5VmFsdWY=', false],
  ['BinaryEquals', 'aws:PrincipalTag/blob', 'QmluYXJ5VmFsdWU=', undefined, false],
  ['BinaryEqualsIfExists', 'aws:PrincipalTag/blob', 'QmluYXJ5VmFsdWU=', undefined, true],
])

const IP = 'aws:SourceIp'
opCases('op-ip', SRC.operators, [
  ['IpAddress', IP, '203.0.113.0/24', '203.0.113.7', true],
  ['IpAddress', IP, '203.0.113.0/24', '203.0.114.7', false],
  ['IpAddress', IP, '203.0.113.7', '203.0.113.7', true],
  ['IpAddress', IP, '203.0.113.7/32', '203.0.113.8', false],
  ['IpAddress', IP, '0.0.0.0/0', '198.51.100.1', true],
  ['IpAddress', IP, ['10.0.0.0/8', '192.168.0.0/16'], '192.168.4.4', true],
  ['IpAddress', IP, '2001:db8::/32', '2001:db8:1234::5', true],
  ['IpAddress', IP, '2001:db8::/32', '2001:db9::5', false],
  ['IpAddress', IP, '2001:DB8::/32', '2001:db8::1', true],
  ['IpAddress', IP, '::/0', '203.0.113.7', false],
  ['IpAddress', IP, '203.0.113.0/24', undefined, false],
  ['NotIpAddress', IP, '203.0.113.0/24', '198.51.100.1', true],
  ['NotIpAddress', IP, '203.0.113.0/24', '203.0.113.1', false],
  ['NotIpAddress', IP, '203.0.113.0/24', undefined, true],
  ['IpAddressIfExists', IP, '203.0.113.0/24', undefined, true],
  ['NotIpAddressIfExists', IP, '203.0.113.0/24', '203.0.113.9', false],
])

const SARN = 'aws:SourceArn'
opCases('op-arn', SRC.operators, [
  [
    'ArnEquals',
    SARN,
    'arn:aws:sns:us-east-1:111122223333:topic',
    'arn:aws:sns:us-east-1:111122223333:topic',
    true,
  ],
  [
    'ArnEquals',
    SARN,
    'arn:aws:sns:us-east-1:111122223333:topic',
    'arn:aws:sns:us-east-1:111122223333:other',
    false,
  ],
  [
    'ArnEquals',
    SARN,
    'arn:aws:sns:*:111122223333:topic',
    'arn:aws:sns:eu-west-1:111122223333:topic',
    true,
  ],
  ['ArnLike', SARN, 'arn:aws:sns:*:*:topic-*', 'arn:aws:sns:us-east-1:444455556666:topic-a', true],
  ['ArnLike', SARN, 'arn:aws:sns:*:*:topic-*', 'arn:aws:sqs:us-east-1:444455556666:topic-a', false],
  ['ArnLike', SARN, 'arn:aws:s3:::ml-*', 'arn:aws:s3:::ml-artifacts', true],
  ['ArnLike', SARN, 'arn:aws:s3:::ml-*', 'arn:aws:s3:::data', false],
  ['ArnLike', SARN, 'arn:aws:sns:us-east-1:111122223333:*', undefined, false],
  [
    'ArnNotEquals',
    SARN,
    'arn:aws:sns:us-east-1:111122223333:topic',
    'arn:aws:sns:us-east-1:111122223333:other',
    true,
  ],
  [
    'ArnNotLike',
    SARN,
    'arn:aws:sns:*:111122223333:*',
    'arn:aws:sns:us-east-1:111122223333:t',
    false,
  ],
  ['ArnNotLike', SARN, 'arn:aws:sns:*:111122223333:*', undefined, true],
  ['ArnLikeIfExists', SARN, 'arn:aws:sns:*:111122223333:*', undefined, true],
  [
    'ArnEqualsIfExists',
    SARN,
    'arn:aws:sns:*:111122223333:*',
    'arn:aws:sns:us-east-1:444455556666:t',
    false,
  ],
  [
    'ArnLike',
    'aws:PrincipalArn',
    'arn:aws:iam::111122223333:role/*',
    'arn:aws:iam::111122223333:role/trainer',
    true,
  ],
])

opCases('op-null', SRC.operators, [
  ['Null', TEAM, 'true', undefined, true],
  ['Null', TEAM, 'true', 'ml', false],
  ['Null', TEAM, 'false', 'ml', true],
  ['Null', TEAM, 'false', undefined, false],
  ['Null', TEAM, true, undefined, true],
  ['Null', 'aws:TagKeys', 'false', ['a'], true],
])

const TAGS = 'aws:TagKeys'
opCases('op-sets', SRC.multivalued, [
  ['ForAnyValue:StringEquals', TAGS, ['team', 'owner'], ['owner', 'env'], true],
  ['ForAnyValue:StringEquals', TAGS, ['team', 'owner'], ['env'], false],
  ['ForAnyValue:StringEquals', TAGS, ['team'], undefined, false],
  ['ForAnyValue:StringEquals', TAGS, ['team'], [], false],
  ['ForAllValues:StringEquals', TAGS, ['team', 'owner'], ['team'], true],
  ['ForAllValues:StringEquals', TAGS, ['team', 'owner'], ['team', 'env'], false],
  ['ForAllValues:StringEquals', TAGS, ['team'], undefined, true],
  ['ForAllValues:StringEquals', TAGS, ['team'], [], true],
  ['ForAnyValue:StringLike', TAGS, ['sec*'], ['team', 'secret'], true],
  ['ForAllValues:StringLike', TAGS, ['t*', 'o*'], ['team', 'owner'], true],
  ['ForAllValues:StringLike', TAGS, ['t*'], ['team', 'owner'], false],
  ['ForAnyValue:StringNotEquals', TAGS, ['team'], ['team', 'env'], true],
  ['ForAnyValue:StringNotEquals', TAGS, ['team'], ['team'], false],
  ['ForAllValues:StringNotEquals', TAGS, ['secret'], ['team', 'env'], true],
  ['ForAllValues:StringNotEquals', TAGS, ['secret'], ['team', 'secret'], false],
  ['ForAnyValue:StringEqualsIgnoreCase', TAGS, ['TEAM'], ['team'], true],
  ['ForAllValues:StringEqualsIfExists', TAGS, ['team'], undefined, true],
  // False: ForAnyValue on an absent key, IfExists or not (AWS denies ListQueues under this
  // condition: https://repost.aws/questions/QU9HFmDzP0QGuU-fd7rS6B7w).
  ['ForAnyValue:StringEqualsIfExists', TAGS, ['team'], undefined, false],
  ['ForAnyValue:ArnLike', 'aws:CalledVia', ['arn:aws:s3:::*'], ['arn:aws:s3:::b'], true],
  ['ForAnyValue:IpAddress', IP, ['10.0.0.0/8'], ['192.0.2.1', '10.1.1.1'], true],
  ['ForAllValues:NumericLessThan', 's3:max-keys', ['100'], ['5', '50'], true],
  ['ForAllValues:NumericLessThan', 's3:max-keys', ['100'], ['5', '500'], false],
])

// ---- several operators and keys: AND across, OR within
add('cond-logic', SRC.operators, 'two keys under one operator: both must hold', {
  identityPolicies: [
    pol({
      Effect: 'Allow',
      Action: 's3:GetObject',
      Resource: '*',
      Condition: { StringEquals: { [TEAM]: 'ml', 'aws:PrincipalTag/tier': 'gold' } },
    }),
  ],
  request: request({ context: { [TEAM]: 'ml', 'aws:PrincipalTag/tier': 'silver' } }),
  expected: 'ImplicitDeny',
})
add('cond-logic', SRC.operators, 'two keys under one operator, both hold', {
  identityPolicies: [
    pol({
      Effect: 'Allow',
      Action: 's3:GetObject',
      Resource: '*',
      Condition: { StringEquals: { [TEAM]: 'ml', 'aws:PrincipalTag/tier': 'gold' } },
    }),
  ],
  request: request({ context: { [TEAM]: 'ml', 'aws:PrincipalTag/tier': 'gold' } }),
  expected: 'Allow',
})
add('cond-logic', SRC.operators, 'two operators: both must hold', {
  identityPolicies: [
    pol({
      Effect: 'Allow',
      Action: 's3:GetObject',
      Resource: '*',
      Condition: { StringEquals: { [TEAM]: 'ml' }, IpAddress: { [IP]: '10.0.0.0/8' } },
    }),
  ],
  request: request({ context: { [TEAM]: 'ml', [IP]: '192.0.2.1' } }),
  expected: 'ImplicitDeny',
})
add('cond-logic', SRC.operators, 'two operators, both hold', {
  identityPolicies: [
    pol({
      Effect: 'Allow',
      Action: 's3:GetObject',
      Resource: '*',
      Condition: { StringEquals: { [TEAM]: 'ml' }, IpAddress: { [IP]: '10.0.0.0/8' } },
    }),
  ],
  request: request({ context: { [TEAM]: 'ml', [IP]: '10.2.3.4' } }),
  expected: 'Allow',
})
add('cond-logic', SRC.globalKeys, 'condition key names are case-insensitive', {
  identityPolicies: [
    pol({
      Effect: 'Allow',
      Action: 's3:GetObject',
      Resource: '*',
      Condition: { StringEquals: { 'AWS:PRINCIPALTAG/TEAM': 'ml' } },
    }),
  ],
  request: request({ context: { [TEAM]: 'ml' } }),
  expected: 'Allow',
})
add('cond-logic', SRC.operators, 'a Deny whose negated condition meets an absent key applies', {
  identityPolicies: [
    allowAll,
    pol({
      Effect: 'Deny',
      Action: 's3:*',
      Resource: '*',
      Condition: { StringNotEquals: { 'aws:SourceVpce': 'vpce-1a2b' } },
    }),
  ],
  request: request(),
  expected: 'ExplicitDeny',
})
add(
  'cond-logic',
  SRC.operators,
  'a Deny with StringNotEqualsIfExists applies when the key is absent (IfExists is true then)',
  {
    identityPolicies: [
      allowAll,
      pol({
        Effect: 'Deny',
        Action: 's3:*',
        Resource: '*',
        Condition: { StringNotEqualsIfExists: { 'aws:SourceVpce': 'vpce-1a2b' } },
      }),
    ],
    request: request(),
    expected: 'ExplicitDeny',
  },
)
add(
  'cond-logic',
  SRC.operators,
  'a Deny with StringNotEqualsIfExists does not apply when the key is present and equal',
  {
    identityPolicies: [
      allowAll,
      pol({
        Effect: 'Deny',
        Action: 's3:*',
        Resource: '*',
        Condition: { StringNotEqualsIfExists: { 'aws:SourceVpce': 'vpce-1a2b' } },
      }),
    ],
    request: request({ context: { 'aws:SourceVpce': 'vpce-1a2b' } }),
    expected: 'Allow',
  },
)

// ---- actions
const actionRows: [Json, string, boolean][] = [
  ['s3:GetObject', 's3:GetObject', true],
  ['s3:getobject', 's3:GetObject', true],
  ['S3:GETOBJECT', 's3:GetObject', true],
  ['s3:Get*', 's3:GetObjectTagging', true],
  ['s3:Get*', 's3:PutObject', false],
  ['s3:*Object', 's3:DeleteObject', true],
  ['s3:*Object', 's3:DeleteObjects', false],
  ['s3:?etObject', 's3:GetObject', true],
  ['s3:*', 'kms:Decrypt', false],
  ['*', 'kms:Decrypt', true],
  [['kms:Decrypt', 's3:GetObject'], 's3:GetObject', true],
  ['s3:List*', 's3:ListBucket', true],
]
for (const [action, requested, holds] of actionRows) {
  add('action', SRC.action, `Action ${JSON.stringify(action)} vs ${requested}`, {
    identityPolicies: [pol({ Effect: 'Allow', Action: action, Resource: '*' })],
    request: request({ action: requested }),
    expected: holds ? 'Allow' : 'ImplicitDeny',
  })
}
const notActionRows: [Json, string, Expected][] = [
  ['iam:*', 's3:GetObject', 'Allow'],
  ['iam:*', 'iam:CreateUser', 'ImplicitDeny'],
  [['s3:Delete*', 'iam:*'], 's3:DeleteObject', 'ImplicitDeny'],
  ['S3:DELETE*', 's3:GetObject', 'Allow'],
]
for (const [na, requested, expected] of notActionRows) {
  add('not-action', SRC.notAction, `Allow NotAction ${JSON.stringify(na)} vs ${requested}`, {
    identityPolicies: [pol({ Effect: 'Allow', NotAction: na, Resource: '*' })],
    request: request({ action: requested }),
    expected,
  })
}
add('not-action', SRC.notAction, 'Deny NotAction denies everything but the listed actions', {
  identityPolicies: [
    allowAll,
    pol({ Effect: 'Deny', NotAction: ['s3:GetObject', 's3:ListBucket'], Resource: '*' }),
  ],
  request: request({ action: 's3:PutObject' }),
  expected: 'ExplicitDeny',
})
add('not-action', SRC.notAction, 'Deny NotAction spares the listed actions', {
  identityPolicies: [
    allowAll,
    pol({ Effect: 'Deny', NotAction: ['s3:GetObject', 's3:ListBucket'], Resource: '*' }),
  ],
  request: request({ action: 's3:GetObject' }),
  expected: 'Allow',
})

// ---- resources
const resourceRows: [Json, string, boolean][] = [
  ['arn:aws:s3:::ml-artifacts/*', OBJ, true],
  ['arn:aws:s3:::ml-artifacts/*', BUCKET, false],
  ['arn:aws:s3:::ml-artifacts', BUCKET, true],
  ['arn:aws:s3:::ML-ARTIFACTS/*', OBJ, false],
  ['arn:aws:s3:::ml-artifacts/models/*.pt', OBJ, true],
  ['arn:aws:s3:::ml-artifacts/models/resnet.p?', OBJ, true],
  ['arn:aws:s3:::*/models/*', OBJ, true],
  ['arn:aws:s3:::ml-artifacts/data/*', OBJ, false],
  [['arn:aws:s3:::other/*', 'arn:aws:s3:::ml-artifacts/*'], OBJ, true],
  ['*', OBJ, true],
  [`arn:aws:dynamodb:*:${A}:table/*`, TABLE, true],
  [`arn:aws:dynamodb:us-east-1:${B}:table/*`, TABLE, false],
  [`arn:aws:dynamodb:us-east-1:${A}:*`, TABLE, true],
  [`arn:aws:dynamodb:us-east-1:${A}:table/Thread/*`, TABLE, false],
]
for (const [res, requested, holds] of resourceRows) {
  add('resource', SRC.resource, `Resource ${JSON.stringify(res)} vs ${requested}`, {
    identityPolicies: [
      pol({ Effect: 'Allow', Action: ['s3:GetObject', 'dynamodb:GetItem'], Resource: res }),
    ],
    request: request({
      action: requested.startsWith('arn:aws:dynamodb') ? 'dynamodb:GetItem' : 's3:GetObject',
      resource: requested,
    }),
    expected: holds ? 'Allow' : 'ImplicitDeny',
  })
}
add('not-resource', SRC.notResource, 'Allow NotResource grants other resources', {
  identityPolicies: [
    pol({ Effect: 'Allow', Action: 's3:GetObject', NotResource: 'arn:aws:s3:::secrets/*' }),
  ],
  request: request(),
  expected: 'Allow',
})
add('not-resource', SRC.notResource, 'Allow NotResource does not grant the listed resource', {
  identityPolicies: [
    pol({ Effect: 'Allow', Action: 's3:GetObject', NotResource: 'arn:aws:s3:::ml-artifacts/*' }),
  ],
  request: request(),
  expected: 'ImplicitDeny',
})
add(
  'not-resource',
  SRC.notResource,
  'Deny NotResource denies everything outside the listed resources',
  {
    identityPolicies: [
      allowAll,
      pol({
        Effect: 'Deny',
        Action: 's3:*',
        NotResource: ['arn:aws:s3:::team-bucket', 'arn:aws:s3:::team-bucket/*'],
      }),
    ],
    request: request(),
    expected: 'ExplicitDeny',
  },
)
add('not-resource', SRC.notResource, 'Deny NotResource spares the listed resources', {
  identityPolicies: [
    allowAll,
    pol({
      Effect: 'Deny',
      Action: 's3:*',
      NotResource: ['arn:aws:s3:::ml-artifacts', 'arn:aws:s3:::ml-artifacts/*'],
    }),
  ],
  request: request(),
  expected: 'Allow',
})

// ---- policy variables
const varRows: [string, Json, Ctx, Req, Expected][] = [
  [
    '${aws:username} in Resource',
    'arn:aws:s3:::home/${aws:username}/*',
    {},
    { resource: 'arn:aws:s3:::home/alice/notes' },
    'Allow',
  ],
  [
    '${aws:username} is another user',
    'arn:aws:s3:::home/${aws:username}/*',
    {},
    { resource: 'arn:aws:s3:::home/bob/notes' },
    'ImplicitDeny',
  ],
  [
    'aws:username is absent for a role session',
    'arn:aws:s3:::home/${aws:username}/*',
    {},
    { principal: SESSION, resource: 'arn:aws:s3:::home/trainer/x' },
    'ImplicitDeny',
  ],
  [
    '${aws:PrincipalTag/team}',
    'arn:aws:s3:::teams/${aws:PrincipalTag/team}/*',
    { [TEAM]: 'vision' },
    { resource: 'arn:aws:s3:::teams/vision/x' },
    'Allow',
  ],
  [
    'absent tag: no match',
    'arn:aws:s3:::teams/${aws:PrincipalTag/team}/*',
    {},
    { resource: 'arn:aws:s3:::teams//x' },
    'ImplicitDeny',
  ],
  [
    'default value when absent',
    "arn:aws:s3:::teams/${aws:PrincipalTag/team, 'shared'}/*",
    {},
    { resource: 'arn:aws:s3:::teams/shared/x' },
    'Allow',
  ],
  [
    'default value unused when present',
    "arn:aws:s3:::teams/${aws:PrincipalTag/team, 'shared'}/*",
    { [TEAM]: 'ml' },
    { resource: 'arn:aws:s3:::teams/shared/x' },
    'ImplicitDeny',
  ],
  [
    '${*} is a literal asterisk',
    'arn:aws:s3:::b/star${*}',
    {},
    { resource: 'arn:aws:s3:::b/star*' },
    'Allow',
  ],
  [
    '${*} is not a wildcard',
    'arn:aws:s3:::b/star${*}',
    {},
    { resource: 'arn:aws:s3:::b/starry' },
    'ImplicitDeny',
  ],
  [
    '${$} is a literal dollar',
    'arn:aws:s3:::b/price${$}',
    {},
    { resource: 'arn:aws:s3:::b/price$' },
    'Allow',
  ],
  [
    'a tag value with ? is literal',
    'arn:aws:s3:::teams/${aws:PrincipalTag/team}/x',
    { [TEAM]: 'm?' },
    { resource: 'arn:aws:s3:::teams/ml/x' },
    'ImplicitDeny',
  ],
  [
    '${aws:PrincipalAccount} resolves from the caller',
    'arn:aws:s3:::acct-${aws:PrincipalAccount}/*',
    {},
    { resource: `arn:aws:s3:::acct-${A}/x` },
    'Allow',
  ],
]
for (const [desc, res, ctx, r, expected] of varRows) {
  add('variables', SRC.variables, desc, {
    identityPolicies: [pol({ Effect: 'Allow', Action: 's3:GetObject', Resource: res })],
    request: request({ ...r, context: ctx }),
    expected,
  })
}
add('variables', SRC.variables, 'variable in a StringEquals value (ABAC, tags equal)', {
  identityPolicies: [
    pol({
      Effect: 'Allow',
      Action: 's3:GetObject',
      Resource: '*',
      Condition: { StringEquals: { 's3:ExistingObjectTag/team': '${aws:PrincipalTag/team}' } },
    }),
  ],
  request: request({ context: { [TEAM]: 'ml', 's3:ExistingObjectTag/team': 'ml' } }),
  expected: 'Allow',
})
add(
  'variables',
  SRC.variables,
  'variable in StringEquals with the principal tag absent: no match',
  {
    identityPolicies: [
      pol({
        Effect: 'Allow',
        Action: 's3:GetObject',
        Resource: '*',
        Condition: { StringEquals: { 's3:ExistingObjectTag/team': '${aws:PrincipalTag/team}' } },
      }),
    ],
    request: request({ context: { 's3:ExistingObjectTag/team': 'ml' } }),
    expected: 'ImplicitDeny',
  },
)
add(
  'variables',
  SRC.variables,
  'variable in StringNotEquals with the variable absent: the negated operator holds',
  {
    identityPolicies: [
      allowAll,
      pol({
        Effect: 'Deny',
        Action: 's3:GetObject',
        Resource: '*',
        Condition: { StringNotEquals: { 's3:ExistingObjectTag/team': '${aws:PrincipalTag/team}' } },
      }),
    ],
    request: request({ context: { 's3:ExistingObjectTag/team': 'ml' } }),
    expected: 'ExplicitDeny',
  },
)
add('variables', SRC.variables, 'variable in StringLike keeps the policy wildcards', {
  identityPolicies: [
    pol({
      Effect: 'Allow',
      Action: 's3:ListBucket',
      Resource: '*',
      Condition: { StringLike: { 's3:prefix': 'home/${aws:username}/*' } },
    }),
  ],
  request: request({
    action: 's3:ListBucket',
    resource: BUCKET,
    context: { 's3:prefix': 'home/alice/projects' },
  }),
  expected: 'Allow',
})
add('variables', SRC.version, 'Version 2008-10-17: variables are literal', {
  identityPolicies: [
    {
      Version: '2008-10-17',
      Statement: [
        {
          Effect: 'Allow',
          Action: 's3:GetObject',
          Resource: 'arn:aws:s3:::home/${aws:username}/*',
        },
      ],
    },
  ],
  request: request({ resource: 'arn:aws:s3:::home/alice/x' }),
  expected: 'ImplicitDeny',
})
add('variables', SRC.version, 'no Version: variables are literal', {
  identityPolicies: [
    {
      Statement: [
        {
          Effect: 'Allow',
          Action: 's3:GetObject',
          Resource: 'arn:aws:s3:::home/${aws:username}/*',
        },
      ],
    },
  ],
  request: request({ resource: 'arn:aws:s3:::home/${aws:username}/x' }),
  expected: 'Allow',
})

// ---- evaluation basics
add('logic', SRC.logic, 'no policy: implicit deny', {
  identityPolicies: [],
  request: request(),
  expected: 'ImplicitDeny',
})
add('logic', SRC.logic, 'an allow in one of several identity policies suffices', {
  identityPolicies: [
    pol({ Effect: 'Allow', Action: 'kms:*', Resource: '*' }),
    pol({ Effect: 'Allow', Action: 's3:GetObject', Resource: '*' }),
  ],
  request: request(),
  expected: 'Allow',
})
add('logic', SRC.logic, 'an explicit deny in one identity policy overrides an allow in another', {
  identityPolicies: [allowAll, pol({ Effect: 'Deny', Action: 's3:GetObject', Resource: OBJ })],
  request: request(),
  expected: 'ExplicitDeny',
})
add('logic', SRC.logic, 'a deny for another resource does not apply', {
  identityPolicies: [
    allowAll,
    pol({ Effect: 'Deny', Action: 's3:GetObject', Resource: 'arn:aws:s3:::other/*' }),
  ],
  request: request(),
  expected: 'Allow',
})
add('logic', SRC.logic, 'an explicit deny in a resource policy overrides an identity allow', {
  identityPolicies: [allowAll],
  resourcePolicy: pol({
    Effect: 'Deny',
    Principal: '*',
    Action: 's3:*',
    Resource: 'arn:aws:s3:::ml-artifacts/*',
  }),
  request: request(),
  expected: 'ExplicitDeny',
})
add('logic', SRC.logic, 'a resource-policy deny for another principal does not apply', {
  identityPolicies: [allowAll],
  resourcePolicy: pol({
    Effect: 'Deny',
    Principal: { AWS: BOB },
    Action: 's3:*',
    Resource: 'arn:aws:s3:::ml-artifacts/*',
  }),
  request: request(),
  expected: 'Allow',
})
add('logic', SRC.grammar, 'Statement as a single object', {
  identityPolicies: [
    { Version: V, Statement: { Effect: 'Allow', Action: 's3:GetObject', Resource: '*' } },
  ],
  request: request(),
  expected: 'Allow',
})

// ---- same-account resource policies and principal types
type PrRow = [string, Json, string, Obj[], Expected]
const principalRows: PrRow[] = [
  ['IAM user named directly, no identity policy', { AWS: ALICE }, ALICE, [], 'Allow'],
  ['another user named', { AWS: BOB }, ALICE, [], 'ImplicitDeny'],
  [
    'account id named: delegates to IAM policies, none allows',
    { AWS: A },
    ALICE,
    [],
    'ImplicitDeny',
  ],
  [
    'account root named: delegates to IAM policies, identity allows',
    { AWS: `arn:aws:iam::${A}:root` },
    ALICE,
    [allowAll],
    'Allow',
  ],
  ['role ARN named: its sessions are granted', { AWS: ROLE }, SESSION, [], 'Allow'],
  ['session ARN named: that session is granted', { AWS: SESSION }, SESSION, [], 'Allow'],
  [
    'session ARN named: another session of the role is not',
    { AWS: SESSION },
    OTHER_SESSION,
    [],
    'ImplicitDeny',
  ],
  ['federated user named', { AWS: FED }, FED, [], 'Allow'],
  ['Principal "*": anyone', '*', ALICE, [], 'Allow'],
  ['Principal {"AWS": "*"}: anyone', { AWS: '*' }, BOB, [], 'Allow'],
  [
    'service principal',
    { Service: 'cloudtrail.amazonaws.com' },
    'cloudtrail.amazonaws.com',
    [],
    'Allow',
  ],
  [
    'service principal does not match an IAM user',
    { Service: 'cloudtrail.amazonaws.com' },
    ALICE,
    [],
    'ImplicitDeny',
  ],
  ['a list of users including the caller', { AWS: [BOB, ALICE] }, ALICE, [], 'Allow'],
  [
    'role with a path named by its full ARN',
    { AWS: `arn:aws:iam::${A}:role/teams/trainer` },
    SESSION,
    [],
    'Allow',
  ],
]
for (const [desc, principal, caller, identity, expected] of principalRows) {
  add('principal', SRC.principal, desc, {
    identityPolicies: identity,
    resourcePolicy: pol({
      Effect: 'Allow',
      Principal: principal,
      Action: 's3:GetObject',
      Resource: 'arn:aws:s3:::ml-artifacts/*',
    }),
    request: request({ principal: caller, principalAccount: A }),
    expected,
  })
}
add('principal', SRC.principal, 'resource-policy grant for another action does not apply', {
  identityPolicies: [],
  resourcePolicy: pol({
    Effect: 'Allow',
    Principal: { AWS: ALICE },
    Action: 's3:PutObject',
    Resource: 'arn:aws:s3:::ml-artifacts/*',
  }),
  request: request(),
  expected: 'ImplicitDeny',
})
add('principal', SRC.principal, 'resource-policy grant with a failing condition does not apply', {
  identityPolicies: [],
  resourcePolicy: pol({
    Effect: 'Allow',
    Principal: { AWS: ALICE },
    Action: 's3:GetObject',
    Resource: '*',
    Condition: { Bool: { 'aws:SecureTransport': 'true' } },
  }),
  request: request({ context: { 'aws:SecureTransport': 'false' } }),
  expected: 'ImplicitDeny',
})

// ---- NotPrincipal
const np = (list: string[]): Obj => ({ AWS: list })
const notPrincipalRows: [string, string, string[], Expected][] = [
  [
    'Deny NotPrincipal [user, account]: the user is spared',
    ALICE,
    [ALICE, `arn:aws:iam::${A}:root`],
    'Allow',
  ],
  [
    'Deny NotPrincipal [user] without the account: the user is still denied',
    ALICE,
    [ALICE],
    'ExplicitDeny',
  ],
  [
    'Deny NotPrincipal [user, account]: another user is denied',
    BOB,
    [ALICE, `arn:aws:iam::${A}:root`],
    'ExplicitDeny',
  ],
  [
    'Deny NotPrincipal [session, role, account]: that session is spared',
    SESSION,
    [SESSION, ROLE, `arn:aws:iam::${A}:root`],
    'Allow',
  ],
  [
    'Deny NotPrincipal [role, account] without the session: the session is denied',
    SESSION,
    [ROLE, `arn:aws:iam::${A}:root`],
    'ExplicitDeny',
  ],
  ['Deny NotPrincipal with the account as a bare id', ALICE, [ALICE, A], 'Allow'],
]
for (const [desc, caller, listed, expected] of notPrincipalRows) {
  add('not-principal', SRC.notPrincipal, desc, {
    identityPolicies: [],
    resourcePolicy: pol(
      {
        Effect: 'Allow',
        Principal: '*',
        Action: 's3:GetObject',
        Resource: 'arn:aws:s3:::ml-artifacts/*',
      },
      {
        Effect: 'Deny',
        NotPrincipal: np(listed),
        Action: 's3:*',
        Resource: 'arn:aws:s3:::ml-artifacts/*',
      },
    ),
    request: request({ principal: caller }),
    expected,
  })
}
add('not-principal', SRC.notPrincipal, 'Allow NotPrincipal does not grant the listed principal', {
  identityPolicies: [],
  resourcePolicy: pol({
    Effect: 'Allow',
    NotPrincipal: { AWS: BOB },
    Action: 's3:GetObject',
    Resource: 'arn:aws:s3:::ml-artifacts/*',
  }),
  request: request({ principal: BOB }),
  expected: 'ImplicitDeny',
})
add('not-principal', SRC.notPrincipal, 'Allow NotPrincipal grants everyone else', {
  identityPolicies: [],
  resourcePolicy: pol({
    Effect: 'Allow',
    NotPrincipal: { AWS: BOB },
    Action: 's3:GetObject',
    Resource: 'arn:aws:s3:::ml-artifacts/*',
  }),
  request: request(),
  expected: 'Allow',
})

// ---- cross-account
type XRow = [string, Obj[], Obj | undefined, Expected, Obj?]
const crossRows: XRow[] = [
  ['identity allows, no resource policy', [allowAll], undefined, 'ImplicitDeny'],
  [
    'resource policy names the user, no identity policy',
    [],
    pol({ Effect: 'Allow', Principal: { AWS: CAROL }, Action: 's3:GetObject', Resource: '*' }),
    'ImplicitDeny',
  ],
  [
    'both allow, resource policy names the user',
    [allowAll],
    pol({ Effect: 'Allow', Principal: { AWS: CAROL }, Action: 's3:GetObject', Resource: '*' }),
    'Allow',
  ],
  [
    'both allow, resource policy names the account',
    [allowAll],
    pol({ Effect: 'Allow', Principal: { AWS: B }, Action: 's3:GetObject', Resource: '*' }),
    'Allow',
  ],
  [
    'resource policy names another account',
    [allowAll],
    pol({
      Effect: 'Allow',
      Principal: { AWS: `arn:aws:iam::999988887777:root` },
      Action: 's3:GetObject',
      Resource: '*',
    }),
    'ImplicitDeny',
  ],
  [
    'resource policy grants "*" and identity allows',
    [allowAll],
    pol({ Effect: 'Allow', Principal: '*', Action: 's3:GetObject', Resource: '*' }),
    'Allow',
  ],
  [
    'identity allows another action only',
    [pol({ Effect: 'Allow', Action: 's3:PutObject', Resource: '*' })],
    pol({ Effect: 'Allow', Principal: { AWS: CAROL }, Action: 's3:*', Resource: '*' }),
    'ImplicitDeny',
  ],
  [
    'resource policy allows another action only',
    [allowAll],
    pol({ Effect: 'Allow', Principal: { AWS: CAROL }, Action: 's3:PutObject', Resource: '*' }),
    'ImplicitDeny',
  ],
  [
    'resource policy denies the account',
    [allowAll],
    pol(
      { Effect: 'Allow', Principal: '*', Action: 's3:*', Resource: '*' },
      { Effect: 'Deny', Principal: { AWS: B }, Action: 's3:*', Resource: '*' },
    ),
    'ExplicitDeny',
  ],
  [
    'caller boundary blocks',
    [allowAll],
    pol({ Effect: 'Allow', Principal: { AWS: CAROL }, Action: 's3:GetObject', Resource: '*' }),
    'ImplicitDeny',
    pol({ Effect: 'Allow', Action: 'kms:*', Resource: '*' }),
  ],
]
for (const [desc, identity, resource, expected, boundary] of crossRows) {
  add('cross-account', SRC.crossAccount, desc, {
    identityPolicies: identity,
    ...(resource === undefined ? {} : { resourcePolicy: resource }),
    ...(boundary === undefined ? {} : { permissionBoundary: boundary }),
    request: request({ principal: CAROL }),
    expected,
  })
}
add(
  'cross-account',
  SRC.crossAccount,
  'cross-account role session: resource policy names the role, identity allows',
  {
    identityPolicies: [allowAll],
    resourcePolicy: pol({
      Effect: 'Allow',
      Principal: { AWS: `arn:aws:iam::${B}:role/etl` },
      Action: 's3:GetObject',
      Resource: '*',
    }),
    request: request({
      principal: `arn:aws:sts::${B}:assumed-role/etl/run-1`,
      principalAccount: B,
    }),
    expected: 'Allow',
  },
)
add(
  'cross-account',
  SRC.crossAccount,
  'cross-account role session: resource policy names the role, no identity policy',
  {
    identityPolicies: [],
    resourcePolicy: pol({
      Effect: 'Allow',
      Principal: { AWS: `arn:aws:iam::${B}:role/etl` },
      Action: 's3:GetObject',
      Resource: '*',
    }),
    request: request({
      principal: `arn:aws:sts::${B}:assumed-role/etl/run-1`,
      principalAccount: B,
    }),
    expected: 'ImplicitDeny',
  },
)

// ---- permissions boundaries
type BRow = [string, Obj[], Obj, Expected, Req?, Obj?]
const boundaryRows: BRow[] = [
  [
    'identity and boundary allow',
    [allowAll],
    pol({ Effect: 'Allow', Action: 's3:*', Resource: '*' }),
    'Allow',
  ],
  ['boundary allows, identity does not: boundaries never grant', [], allowAll, 'ImplicitDeny'],
  [
    'identity allows, boundary does not',
    [allowAll],
    pol({ Effect: 'Allow', Action: 'kms:*', Resource: '*' }),
    'ImplicitDeny',
  ],
  [
    'boundary allows only other resources',
    [allowAll],
    pol({ Effect: 'Allow', Action: 's3:*', Resource: 'arn:aws:s3:::other/*' }),
    'ImplicitDeny',
  ],
  [
    'explicit deny in the boundary',
    [allowAll],
    pol(
      { Effect: 'Allow', Action: '*', Resource: '*' },
      { Effect: 'Deny', Action: 's3:GetObject', Resource: '*' },
    ),
    'ExplicitDeny',
  ],
  [
    'boundary with a condition that holds',
    [allowAll],
    pol({
      Effect: 'Allow',
      Action: 's3:*',
      Resource: '*',
      Condition: { StringEquals: { 'aws:RequestedRegion': 'eu-west-1' } },
    }),
    'Allow',
    { context: { 'aws:RequestedRegion': 'eu-west-1' } },
  ],
  [
    'same account: resource policy naming the user is not limited by its boundary',
    [],
    pol({ Effect: 'Allow', Action: 'kms:*', Resource: '*' }),
    'Allow',
    {},
    pol({ Effect: 'Allow', Principal: { AWS: ALICE }, Action: 's3:GetObject', Resource: '*' }),
  ],
  [
    "same account: resource policy naming the role is limited by the session's boundary",
    [],
    pol({ Effect: 'Allow', Action: 'kms:*', Resource: '*' }),
    'ImplicitDeny',
    { principal: SESSION },
    pol({ Effect: 'Allow', Principal: { AWS: ROLE }, Action: 's3:GetObject', Resource: '*' }),
  ],
  [
    'same account: resource policy naming the session is not limited by its boundary',
    [],
    pol({ Effect: 'Allow', Action: 'kms:*', Resource: '*' }),
    'Allow',
    { principal: SESSION },
    pol({ Effect: 'Allow', Principal: { AWS: SESSION }, Action: 's3:GetObject', Resource: '*' }),
  ],
  [
    'same account: resource policy naming the account still needs identity and boundary',
    [allowAll],
    pol({ Effect: 'Allow', Action: 'kms:*', Resource: '*' }),
    'ImplicitDeny',
    {},
    pol({ Effect: 'Allow', Principal: { AWS: A }, Action: 's3:GetObject', Resource: '*' }),
  ],
]
for (const [desc, identity, boundary, expected, r, resource] of boundaryRows) {
  add('boundary', SRC.boundaries, desc, {
    identityPolicies: identity,
    permissionBoundary: boundary,
    ...(resource === undefined ? {} : { resourcePolicy: resource }),
    request: request(r),
    expected,
  })
}

// ---- session policies
type SRow = [string, string, Obj[], Obj, Expected, Obj?]
const sessionRows: SRow[] = [
  [
    'role session: identity and session policy allow',
    SESSION,
    [allowAll],
    pol({ Effect: 'Allow', Action: 's3:GetObject', Resource: '*' }),
    'Allow',
  ],
  [
    'role session: session policy does not allow',
    SESSION,
    [allowAll],
    pol({ Effect: 'Allow', Action: 'kms:*', Resource: '*' }),
    'ImplicitDeny',
  ],
  [
    'role session: session policy allows, identity does not: session policies never grant',
    SESSION,
    [],
    allowAll,
    'ImplicitDeny',
  ],
  [
    'role session: explicit deny in the session policy',
    SESSION,
    [allowAll],
    pol(
      { Effect: 'Allow', Action: '*', Resource: '*' },
      { Effect: 'Deny', Action: 's3:GetObject', Resource: '*' },
    ),
    'ExplicitDeny',
  ],
  [
    'federated user: session policy limits the user policies',
    FED,
    [allowAll],
    pol({ Effect: 'Allow', Action: 's3:PutObject', Resource: '*' }),
    'ImplicitDeny',
  ],
  [
    'resource policy naming the session: not limited by the session policy',
    SESSION,
    [],
    pol({ Effect: 'Allow', Action: 'kms:*', Resource: '*' }),
    'Allow',
    pol({ Effect: 'Allow', Principal: { AWS: SESSION }, Action: 's3:GetObject', Resource: '*' }),
  ],
  [
    'resource policy naming the role: limited by the session policy',
    SESSION,
    [],
    pol({ Effect: 'Allow', Action: 'kms:*', Resource: '*' }),
    'ImplicitDeny',
    pol({ Effect: 'Allow', Principal: { AWS: ROLE }, Action: 's3:GetObject', Resource: '*' }),
  ],
  [
    'resource policy naming the role, session policy allows',
    SESSION,
    [],
    pol({ Effect: 'Allow', Action: 's3:*', Resource: '*' }),
    'Allow',
    pol({ Effect: 'Allow', Principal: { AWS: ROLE }, Action: 's3:GetObject', Resource: '*' }),
  ],
]
for (const [desc, caller, identity, session, expected, resource] of sessionRows) {
  add('session', SRC.session, desc, {
    identityPolicies: identity,
    sessionPolicy: session,
    ...(resource === undefined ? {} : { resourcePolicy: resource }),
    request: request({ principal: caller }),
    expected,
  })
}

// ---- SCPs
const fullAccess = pol({ Effect: 'Allow', Action: '*', Resource: '*' })
type ScpRow = [string, Obj[][], Obj[], Expected, Obj?]
const scpRows: ScpRow[] = [
  ['FullAWSAccess at every level', [[fullAccess], [fullAccess]], [allowAll], 'Allow'],
  ['SCPs allow but the identity does not: SCPs never grant', [[fullAccess]], [], 'ImplicitDeny'],
  [
    'the account level allows only kms',
    [[fullAccess], [pol({ Effect: 'Allow', Action: 'kms:*', Resource: '*' })]],
    [allowAll],
    'ImplicitDeny',
  ],
  [
    'the root level allows only kms',
    [[pol({ Effect: 'Allow', Action: 'kms:*', Resource: '*' })], [fullAccess]],
    [allowAll],
    'ImplicitDeny',
  ],
  [
    'a level with two policies, one allows',
    [
      [
        pol({ Effect: 'Allow', Action: 'kms:*', Resource: '*' }),
        pol({ Effect: 'Allow', Action: 's3:*', Resource: '*' }),
      ],
    ],
    [allowAll],
    'Allow',
  ],
  [
    'a deny at the OU level',
    [
      [fullAccess],
      [fullAccess, pol({ Effect: 'Deny', Action: 's3:GetObject', Resource: '*' })],
      [fullAccess],
    ],
    [allowAll],
    'ExplicitDeny',
  ],
  [
    'a deny with a region condition that holds',
    [
      [
        fullAccess,
        pol({
          Effect: 'Deny',
          NotAction: 'iam:*',
          Resource: '*',
          Condition: { StringNotEquals: { 'aws:RequestedRegion': ['eu-west-1'] } },
        }),
      ],
    ],
    [allowAll],
    'ExplicitDeny',
  ],
  [
    'SCPs also bind the resource-policy grant to the user',
    [[pol({ Effect: 'Allow', Action: 'kms:*', Resource: '*' })]],
    [],
    'ImplicitDeny',
    pol({ Effect: 'Allow', Principal: { AWS: ALICE }, Action: 's3:GetObject', Resource: '*' }),
  ],
  [
    'an allow-list SCP with a NotResource',
    [[pol({ Effect: 'Allow', Action: 's3:*', NotResource: 'arn:aws:s3:::secrets/*' })]],
    [allowAll],
    'Allow',
  ],
]
for (const [desc, scps, identity, expected, resource] of scpRows) {
  add('scp', SRC.scp, desc, {
    identityPolicies: identity,
    scps,
    ...(resource === undefined ? {} : { resourcePolicy: resource }),
    request: request({ context: { 'aws:RequestedRegion': 'us-east-1' } }),
    expected,
  })
}

// ---- RCPs
type RcpRow = [string, Obj[][], Expected, Req?]
const rcpDenyOutside: Obj = pol({
  Effect: 'Deny',
  Principal: '*',
  Action: 's3:*',
  Resource: '*',
  Condition: { StringNotEqualsIfExists: { 'aws:PrincipalOrgID': 'o-a1b2c3d4e5' } },
})
const rcpRows: RcpRow[] = [
  ['no custom RCP: RCPFullAWSAccess is implied', [[]], 'Allow'],
  [
    'an RCP denying principals outside the org: inside',
    [[rcpDenyOutside]],
    'Allow',
    { context: { 'aws:PrincipalOrgID': 'o-a1b2c3d4e5' } },
  ],
  [
    'an RCP denying principals outside the org: outside',
    [[rcpDenyOutside]],
    'ExplicitDeny',
    { context: { 'aws:PrincipalOrgID': 'o-zzzzzzzzzz' } },
  ],
  [
    'an RCP requiring TLS: plain HTTP',
    [
      [
        pol({
          Effect: 'Deny',
          Principal: '*',
          Action: 's3:*',
          Resource: '*',
          Condition: { BoolIfExists: { 'aws:SecureTransport': 'false' } },
        }),
      ],
    ],
    'ExplicitDeny',
    { context: { 'aws:SecureTransport': 'false' } },
  ],
  [
    'an RCP requiring TLS: TLS',
    [
      [
        pol({
          Effect: 'Deny',
          Principal: '*',
          Action: 's3:*',
          Resource: '*',
          Condition: { BoolIfExists: { 'aws:SecureTransport': 'false' } },
        }),
      ],
    ],
    'Allow',
    { context: { 'aws:SecureTransport': 'true' } },
  ],
]
for (const [desc, rcps, expected, r] of rcpRows) {
  add('rcp', SRC.rcp, desc, { identityPolicies: [allowAll], rcps, request: request(r), expected })
}

// ---- VPC endpoint policies
type ERow = [string, Obj, Obj[], Expected, Req?]
const endpointRows: ERow[] = [
  [
    'default full-access endpoint policy, identity allows',
    { Statement: [{ Effect: 'Allow', Principal: '*', Action: '*', Resource: '*' }] },
    [allowAll],
    'Allow',
  ],
  [
    'endpoint policy allows only one bucket',
    pol({ Effect: 'Allow', Principal: '*', Action: 's3:*', Resource: 'arn:aws:s3:::other/*' }),
    [allowAll],
    'ImplicitDeny',
  ],
  [
    'endpoint policy allows, identity does not: endpoint policies never grant',
    pol({ Effect: 'Allow', Principal: '*', Action: '*', Resource: '*' }),
    [],
    'ImplicitDeny',
  ],
  [
    'endpoint policy denies deletes',
    pol(
      { Effect: 'Allow', Principal: '*', Action: '*', Resource: '*' },
      { Effect: 'Deny', Principal: '*', Action: 's3:Delete*', Resource: '*' },
    ),
    [allowAll],
    'ExplicitDeny',
    { action: 's3:DeleteObject' },
  ],
  [
    'endpoint policy limited to one principal: it is the caller',
    pol({ Effect: 'Allow', Principal: { AWS: ALICE }, Action: '*', Resource: '*' }),
    [allowAll],
    'Allow',
  ],
  [
    'endpoint policy limited to one principal: another caller',
    pol({ Effect: 'Allow', Principal: { AWS: BOB }, Action: '*', Resource: '*' }),
    [allowAll],
    'ImplicitDeny',
  ],
]
for (const [desc, endpoint, identity, expected, r] of endpointRows) {
  add('endpoint', SRC.endpoint, desc, {
    identityPolicies: identity,
    vpcEndpointPolicy: endpoint,
    request: request({ ...r, context: { 'aws:SourceVpce': 'vpce-1a2b3c4d' } }),
    expected,
  })
}
add('endpoint', SRC.endpoint, 'bucket policy pins access to an endpoint: request through it', {
  identityPolicies: [allowAll],
  resourcePolicy: pol({
    Effect: 'Deny',
    Principal: '*',
    Action: 's3:*',
    Resource: ['arn:aws:s3:::ml-artifacts', 'arn:aws:s3:::ml-artifacts/*'],
    Condition: { StringNotEquals: { 'aws:SourceVpce': 'vpce-1a2b3c4d' } },
  }),
  request: request({ context: { 'aws:SourceVpce': 'vpce-1a2b3c4d' } }),
  expected: 'Allow',
})
add('endpoint', SRC.endpoint, 'bucket policy pins access to an endpoint: request from elsewhere', {
  identityPolicies: [allowAll],
  resourcePolicy: pol({
    Effect: 'Deny',
    Principal: '*',
    Action: 's3:*',
    Resource: ['arn:aws:s3:::ml-artifacts', 'arn:aws:s3:::ml-artifacts/*'],
    Condition: { StringNotEquals: { 'aws:SourceVpce': 'vpce-1a2b3c4d' } },
  }),
  request: request({ context: { 'aws:SourceIp': '198.51.100.7' } }),
  expected: 'ExplicitDeny',
})

// ---- KMS key policies
const rootDelegation = (acct: string): Obj => ({
  Sid: 'Enable IAM User Permissions',
  Effect: 'Allow',
  Principal: { AWS: `arn:aws:iam::${acct}:root` },
  Action: 'kms:*',
  Resource: '*',
})
type KRow = [string, string, Obj[], Obj, Expected, string?]
const kmsRows: KRow[] = [
  [
    'default key policy and an identity allow',
    ALICE,
    [pol({ Effect: 'Allow', Action: 'kms:Decrypt', Resource: KEY })],
    pol(rootDelegation(A)),
    'Allow',
  ],
  ['default key policy, no identity allow', ALICE, [], pol(rootDelegation(A)), 'ImplicitDeny'],
  [
    'key policy names the user: no identity policy needed',
    ALICE,
    [],
    pol({ Effect: 'Allow', Principal: { AWS: ALICE }, Action: 'kms:Decrypt', Resource: '*' }),
    'Allow',
  ],
  [
    'key policy names another user and does not delegate: IAM allow has no effect',
    ALICE,
    [allowAll],
    pol({ Effect: 'Allow', Principal: { AWS: BOB }, Action: 'kms:*', Resource: '*' }),
    'ImplicitDeny',
  ],
  [
    'key policy names the role: its session decrypts',
    SESSION,
    [],
    pol({ Effect: 'Allow', Principal: { AWS: ROLE }, Action: 'kms:Decrypt', Resource: '*' }),
    'Allow',
  ],
  [
    'key policy allows only Encrypt',
    ALICE,
    [allowAll],
    pol({ Effect: 'Allow', Principal: { AWS: ALICE }, Action: 'kms:Encrypt', Resource: '*' }),
    'ImplicitDeny',
  ],
  [
    'key policy denies Decrypt without an encryption context',
    ALICE,
    [allowAll],
    pol(rootDelegation(A), {
      Effect: 'Deny',
      Principal: '*',
      Action: 'kms:Decrypt',
      Resource: '*',
      Condition: { Null: { 'kms:EncryptionContext:tenant': 'true' } },
    }),
    'ExplicitDeny',
  ],
  [
    'cross-account: key policy delegates to the other account and its identity allows',
    CAROL,
    [pol({ Effect: 'Allow', Action: 'kms:Decrypt', Resource: KEY })],
    pol(rootDelegation(A), rootDelegation(B)),
    'Allow',
  ],
  [
    'cross-account: key policy delegates, identity does not allow',
    CAROL,
    [],
    pol(rootDelegation(A), rootDelegation(B)),
    'ImplicitDeny',
  ],
  [
    'cross-account: identity allows, key policy does not name the account',
    CAROL,
    [allowAll],
    pol(rootDelegation(A)),
    'ImplicitDeny',
  ],
]
for (const [desc, caller, identity, keyPolicy, expected] of kmsRows) {
  add('kms', desc.startsWith('cross-account') ? SRC.keyCrossAccount : SRC.keyPolicy, desc, {
    identityPolicies: identity,
    resourcePolicy: keyPolicy,
    request: request({ principal: caller, action: 'kms:Decrypt', resource: KEY }),
    expected,
  })
}

// ---- role trust policies
const TARGET = `arn:aws:iam::${A}:role/deployer`
const assume = pol({ Effect: 'Allow', Action: 'sts:AssumeRole', Resource: TARGET })
type TRow = [string, string, Obj[], Obj, Expected, Req?]
const trustRows: TRow[] = [
  [
    'trust names the account, identity allows',
    ALICE,
    [assume],
    pol({
      Effect: 'Allow',
      Principal: { AWS: `arn:aws:iam::${A}:root` },
      Action: 'sts:AssumeRole',
    }),
    'Allow',
  ],
  [
    'trust names the account, no identity allow',
    ALICE,
    [],
    pol({ Effect: 'Allow', Principal: { AWS: A }, Action: 'sts:AssumeRole' }),
    'ImplicitDeny',
  ],
  [
    'trust names the user: no identity policy needed in the same account',
    ALICE,
    [],
    pol({ Effect: 'Allow', Principal: { AWS: ALICE }, Action: 'sts:AssumeRole' }),
    'Allow',
  ],
  [
    'trust names another user, identity allows',
    ALICE,
    [assume],
    pol({ Effect: 'Allow', Principal: { AWS: BOB }, Action: 'sts:AssumeRole' }),
    'ImplicitDeny',
  ],
  [
    'cross-account: trust names the account, identity allows',
    CAROL,
    [assume],
    pol({ Effect: 'Allow', Principal: { AWS: B }, Action: 'sts:AssumeRole' }),
    'Allow',
  ],
  [
    'cross-account: trust names the user, no identity allow',
    CAROL,
    [],
    pol({ Effect: 'Allow', Principal: { AWS: CAROL }, Action: 'sts:AssumeRole' }),
    'ImplicitDeny',
  ],
  [
    'trust requires MFA, present',
    ALICE,
    [assume],
    pol({
      Effect: 'Allow',
      Principal: { AWS: A },
      Action: 'sts:AssumeRole',
      Condition: { Bool: { 'aws:MultiFactorAuthPresent': 'true' } },
    }),
    'Allow',
    { context: { 'aws:MultiFactorAuthPresent': 'true' } },
  ],
  [
    'trust requires MFA, absent',
    ALICE,
    [assume],
    pol({
      Effect: 'Allow',
      Principal: { AWS: A },
      Action: 'sts:AssumeRole',
      Condition: { Bool: { 'aws:MultiFactorAuthPresent': 'true' } },
    }),
    'ImplicitDeny',
  ],
  [
    'trust allows TagSession only',
    ALICE,
    [assume],
    pol({ Effect: 'Allow', Principal: { AWS: A }, Action: 'sts:TagSession' }),
    'ImplicitDeny',
  ],
]
for (const [desc, caller, identity, trust, expected, r] of trustRows) {
  add('trust', SRC.trust, desc, {
    identityPolicies: identity,
    resourcePolicy: trust,
    request: request({ ...r, principal: caller, action: 'sts:AssumeRole', resource: TARGET }),
    expected,
  })
}
add('trust', SRC.trust, 'web identity: the trust names the OIDC provider', {
  identityPolicies: [],
  resourcePolicy: pol({
    Effect: 'Allow',
    Principal: { Federated: `arn:aws:iam::${A}:oidc-provider/token.actions.githubusercontent.com` },
    Action: 'sts:AssumeRoleWithWebIdentity',
    Condition: { StringLike: { 'token.actions.githubusercontent.com:sub': 'repo:acme/models:*' } },
  }),
  request: request({
    principal: `arn:aws:iam::${A}:oidc-provider/token.actions.githubusercontent.com`,
    action: 'sts:AssumeRoleWithWebIdentity',
    resource: TARGET,
    context: { 'token.actions.githubusercontent.com:sub': 'repo:acme/models:ref:refs/heads/main' },
  }),
  expected: 'Allow',
})
add('trust', SRC.trust, 'web identity: another repository', {
  identityPolicies: [],
  resourcePolicy: pol({
    Effect: 'Allow',
    Principal: { Federated: `arn:aws:iam::${A}:oidc-provider/token.actions.githubusercontent.com` },
    Action: 'sts:AssumeRoleWithWebIdentity',
    Condition: { StringLike: { 'token.actions.githubusercontent.com:sub': 'repo:acme/models:*' } },
  }),
  request: request({
    principal: `arn:aws:iam::${A}:oidc-provider/token.actions.githubusercontent.com`,
    action: 'sts:AssumeRoleWithWebIdentity',
    resource: TARGET,
    context: { 'token.actions.githubusercontent.com:sub': 'repo:evil/models:ref:refs/heads/main' },
  }),
  expected: 'ImplicitDeny',
})

// ---- global keys derived from the principal
add('global-keys', SRC.globalKeys, 'aws:PrincipalArn of a role session is the role ARN', {
  identityPolicies: [
    pol({
      Effect: 'Allow',
      Action: 's3:GetObject',
      Resource: '*',
      Condition: { ArnEquals: { 'aws:PrincipalArn': ROLE } },
    }),
  ],
  request: request({ principal: SESSION }),
  expected: 'Allow',
})
add('global-keys', SRC.globalKeys, 'aws:PrincipalAccount is the caller account', {
  identityPolicies: [],
  resourcePolicy: pol({
    Effect: 'Allow',
    Principal: '*',
    Action: 's3:GetObject',
    Resource: '*',
    Condition: { StringEquals: { 'aws:PrincipalAccount': A } },
  }),
  request: request(),
  expected: 'Allow',
})
add('global-keys', SRC.globalKeys, 'aws:PrincipalAccount of another account does not match', {
  identityPolicies: [],
  resourcePolicy: pol({
    Effect: 'Allow',
    Principal: '*',
    Action: 's3:GetObject',
    Resource: '*',
    Condition: { StringEquals: { 'aws:PrincipalAccount': B } },
  }),
  request: request(),
  expected: 'ImplicitDeny',
})
add('global-keys', SRC.globalKeys, 'aws:username is absent for federated users', {
  identityPolicies: [
    pol({
      Effect: 'Allow',
      Action: 's3:GetObject',
      Resource: '*',
      Condition: { Null: { 'aws:username': 'false' } },
    }),
  ],
  request: request({ principal: FED }),
  expected: 'ImplicitDeny',
})

// ---- anonymous callers and the account root user
add('principal', SRC.principal, 'anonymous caller: a public bucket policy (Principal "*") grants', {
  identityPolicies: [],
  resourcePolicy: pol({
    Effect: 'Allow',
    Principal: '*',
    Action: 's3:GetObject',
    Resource: 'arn:aws:s3:::ml-artifacts/*',
  }),
  request: request({ principal: '*', principalAccount: '' }),
  expected: 'Allow',
})
add(
  'principal',
  SRC.principal,
  'anonymous caller: a grant to an account does not reach anonymous callers',
  {
    identityPolicies: [],
    resourcePolicy: pol({
      Effect: 'Allow',
      Principal: { AWS: A },
      Action: 's3:GetObject',
      Resource: 'arn:aws:s3:::ml-artifacts/*',
    }),
    request: request({ principal: '*', principalAccount: '' }),
    expected: 'ImplicitDeny',
  },
)
add('principal', SRC.principal, 'anonymous caller: no resource policy', {
  identityPolicies: [],
  request: request({ principal: '*', principalAccount: '' }),
  expected: 'ImplicitDeny',
})
add(
  'kms',
  SRC.keyPolicy,
  'the account root user with the default key policy needs no identity policy',
  {
    identityPolicies: [],
    resourcePolicy: pol(rootDelegation(A)),
    request: request({ principal: `arn:aws:iam::${A}:root`, action: 'kms:Decrypt', resource: KEY }),
    expected: 'Allow',
  },
)
add(
  'kms',
  SRC.keyPolicy,
  'the account root user is still bound by a key policy that does not name or delegate to its account',
  {
    identityPolicies: [],
    resourcePolicy: pol({
      Effect: 'Allow',
      Principal: { AWS: BOB },
      Action: 'kms:*',
      Resource: '*',
    }),
    request: request({ principal: `arn:aws:iam::${A}:root`, action: 'kms:Decrypt', resource: KEY }),
    expected: 'ImplicitDeny',
  },
)
add('scp', SRC.scp, 'SCPs restrict the root user of a member account too', {
  identityPolicies: [],
  scps: [[pol({ Effect: 'Allow', Action: 'kms:*', Resource: '*' })]],
  request: request({ principal: `arn:aws:iam::${A}:root` }),
  expected: 'ImplicitDeny',
})
