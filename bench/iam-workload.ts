/** The IAM benchmark's workload: one tenant's 10 policies and a request they allow. */
import type { AuthzRequest, PolicySet } from '../src/iam/evaluate.ts'
import type { JsonValue } from '../src/iam/json.ts'
import { parsePolicy, type Policy, type PolicyKind } from '../src/iam/policy.ts'

const V = '2012-10-17'
/** The 10 policies of tenant `i`, as JSON. */
export function workload(i: number) {
  const acct = String(100000000000 + i)
  const bucket = `team-${i}`
  const key = `arn:aws:kms:us-east-1:${acct}:key/0000aaaa-bbbb-cccc-dddd-${String(i).padStart(12, '0')}`
  const identity: JsonValue[] = [
    {
      Version: V,
      Statement: [
        {
          Sid: 'Models',
          Effect: 'Allow',
          Action: ['s3:GetObject', 's3:PutObject'],
          Resource: `arn:aws:s3:::${bucket}/models/*`,
          Condition: { StringEquals: { 'aws:PrincipalTag/team': 'ml' } },
        },
      ],
    },
    {
      Version: V,
      Statement: [
        {
          Sid: 'List',
          Effect: 'Allow',
          Action: 's3:ListBucket',
          Resource: `arn:aws:s3:::${bucket}`,
          Condition: { StringLike: { 's3:prefix': ['models/*', 'datasets/*'] } },
        },
      ],
    },
    {
      Version: V,
      Statement: [
        {
          Sid: 'Keys',
          Effect: 'Allow',
          Action: ['kms:Decrypt', 'kms:GenerateDataKey'],
          Resource: key,
          Condition: { StringEquals: { 'kms:EncryptionContext:tenant': bucket } },
        },
      ],
    },
    {
      Version: V,
      Statement: [
        {
          Sid: 'MfaDeletes',
          Effect: 'Deny',
          Action: 's3:DeleteObject',
          Resource: '*',
          Condition: { BoolIfExists: { 'aws:MultiFactorAuthPresent': 'false' } },
        },
      ],
    },
    {
      Version: V,
      Statement: [
        {
          Sid: 'Tags',
          Effect: 'Allow',
          Action: ['s3:GetObjectTagging', 's3:PutObjectTagging'],
          Resource: `arn:aws:s3:::${bucket}/*`,
          Condition: { IpAddress: { 'aws:SourceIp': '10.0.0.0/8' } },
        },
      ],
    },
    {
      Version: V,
      Statement: [
        {
          Sid: 'Table',
          Effect: 'Allow',
          Action: 'dynamodb:*',
          Resource: `arn:aws:dynamodb:us-east-1:${acct}:table/runs`,
        },
      ],
    },
  ]
  const scps: JsonValue[][] = [
    [{ Version: V, Statement: [{ Effect: 'Allow', Action: '*', Resource: '*' }] }],
    [
      {
        Version: V,
        Statement: [
          { Effect: 'Allow', Action: '*', Resource: '*' },
          {
            Sid: 'Region',
            Effect: 'Deny',
            NotAction: 'iam:*',
            Resource: '*',
            Condition: { StringNotEquals: { 'aws:RequestedRegion': 'us-east-1' } },
          },
        ],
      },
    ],
  ]
  const boundary: JsonValue = {
    Version: V,
    Statement: [{ Effect: 'Allow', Action: ['s3:*', 'kms:*'], Resource: '*' }],
  }
  const resource: JsonValue = {
    Version: V,
    Statement: [
      {
        Sid: 'TlsOnly',
        Effect: 'Deny',
        Principal: '*',
        Action: 's3:*',
        Resource: [`arn:aws:s3:::${bucket}`, `arn:aws:s3:::${bucket}/*`],
        Condition: { Bool: { 'aws:SecureTransport': 'false' } },
      },
      {
        Sid: 'Account',
        Effect: 'Allow',
        Principal: { AWS: `arn:aws:iam::${acct}:root` },
        Action: 's3:GetObject',
        Resource: `arn:aws:s3:::${bucket}/*`,
      },
    ],
  }
  const request: AuthzRequest = {
    principal: `arn:aws:iam::${acct}:user/alice`,
    principalAccount: acct,
    action: 's3:GetObject',
    resource: `arn:aws:s3:::${bucket}/models/resnet.pt`,
    resourceAccount: acct,
    context: {
      'aws:PrincipalTag/team': 'ml',
      'aws:SourceIp': '10.1.2.3',
      'aws:SecureTransport': 'true',
      'aws:RequestedRegion': 'us-east-1',
    },
  }
  return { acct, bucket, identity, scps, boundary, resource, request }
}

function compile(doc: JsonValue, kind: PolicyKind, name: string): Policy {
  const r = parsePolicy(doc, kind, { name })
  if (r.policy === undefined) throw new Error(`${name}: ${JSON.stringify(r.errors)}`)
  return r.policy
}
export function policySet(w: ReturnType<typeof workload>): PolicySet {
  return {
    identity: w.identity.map((p, i) => compile(p, 'identity', `identity-${i}`)),
    scps: w.scps.map((level, l) => level.map((p, i) => compile(p, 'scp', `scp-${l}-${i}`))),
    boundary: compile(w.boundary, 'boundary', 'boundary'),
    resource: compile(w.resource, 'resource', 'bucket'),
  }
}
