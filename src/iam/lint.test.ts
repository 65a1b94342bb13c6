/**
 * The catalogue checks of the policy linter: actions no service defines,
 * condition keys the statement's actions cannot carry, and resources of a type
 * the action does not act on — warnings, as IAM Access Analyzer reports them
 * (https://docs.aws.amazon.com/IAM/latest/UserGuide/access-analyzer-reference-policy-checks.html).
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { SERVICES } from './catalogue/index.ts'
import { parsePolicyText, type PolicyKind } from './policy.ts'

const warnings = (s: object, kind: PolicyKind = 'identity') => {
  const r = parsePolicyText(JSON.stringify({ Version: '2012-10-17', Statement: [s] }), kind)
  assert.deepEqual(r.errors, [], 'the policy stays valid: these are warnings only')
  return r.warnings.map((w) => `${w.code}: ${w.message}`)
}
const catalogue = (s: object, kind: PolicyKind = 'identity') =>
  warnings(s, kind).filter((w) => /^(Unknown|Unsupported)/.test(w))

describe('policy lint: the service catalogue', () => {
  it('holds the actions of S3, IAM, STS, KMS, Organizations and Strongroom', () => {
    for (const [service, action] of [
      ['s3', 'GetObject'],
      ['s3', 'PutBucketPolicy'],
      ['iam', 'PassRole'],
      ['sts', 'AssumeRoleWithWebIdentity'],
      ['kms', 'GenerateDataKey'],
      ['organizations', 'DescribeOrganization'],
      ['strongroom', 'GetQuarantinedObject'],
    ] as const)
      assert.ok(SERVICES[service]?.actions[action], `${service}:${action}`)
  })

  it('warns on an action no service defines, with the closest known action', () => {
    assert.deepEqual(
      catalogue({ Effect: 'Allow', Action: 's3:GetObjekt', Resource: 'arn:aws:s3:::ml/*' }),
      ['UnknownAction: `s3:GetObjekt` is not an action of s3; did you mean `s3:GetObject`?'],
    )
    assert.deepEqual(
      catalogue({ Effect: 'Deny', Action: 'kms:Decrypy', Resource: '*', Principal: '*' }, 'key'),
      ['UnknownAction: `kms:Decrypy` is not an action of kms; did you mean `kms:Decrypt`?'],
    )
    assert.deepEqual(
      catalogue({ Effect: 'Allow', Action: 's4:GetObject', Resource: 'arn:aws:s3:::ml/*' }),
      ['UnknownService: no service has the prefix `s4` (in `s4:GetObject`); did you mean `s3`?'],
    )
    assert.deepEqual(
      catalogue({ Effect: 'Allow', Action: 's3:Get*Objekt', Resource: 'arn:aws:s3:::ml/*' }),
      ['UnknownAction: `s3:Get*Objekt` matches no action of s3'],
    )
    assert.deepEqual(
      catalogue({ Effect: 'Allow', Action: 's3:MakeMeCoffee', Resource: '*' }),
      ['UnknownAction: `s3:MakeMeCoffee` is not an action of s3'],
      'no suggestion when nothing is close',
    )
  })

  it('accepts any letter case, wildcards, and services it has no catalogue of', () => {
    for (const Action of [
      's3:getobject',
      'S3:GetObject',
      's3:Get*',
      's3:*',
      '*',
      'ec2:RunInstances',
    ])
      assert.deepEqual(catalogue({ Effect: 'Allow', Action, Resource: 'arn:aws:s3:::ml/*' }), [])
  })

  it('warns on a condition key that no action of the statement carries', () => {
    assert.deepEqual(
      catalogue({
        Effect: 'Allow',
        Action: 's3:GetObject',
        Resource: 'arn:aws:s3:::ml/*',
        Condition: { StringLike: { 's3:prefix': 'team/*' } },
      }),
      [
        'UnsupportedConditionKey: no action of the statement (`s3:GetObject`) carries the condition key `s3:prefix`: requests for them never have it',
      ],
    )
    assert.deepEqual(
      catalogue({
        Effect: 'Allow',
        Action: ['s3:GetObject', 's3:ListBucket'],
        Resource: ['arn:aws:s3:::ml', 'arn:aws:s3:::ml/*'],
        Condition: {
          StringLike: { 's3:prefix': 'team/*' },
          StringEquals: {
            's3:ExistingObjectTag/team': 'vision',
            'aws:SourceVpce': 'vpce-1a2b3c4d',
            'aws:PrincipalTag/team': 'vision',
          },
        },
      }),
      [],
      'one action carrying the key is enough; global aws: keys and tag keys are always fine',
    )
    assert.deepEqual(
      catalogue(
        {
          Effect: 'Allow',
          Principal: { AWS: 'arn:aws:iam::111122223333:root' },
          Action: 'kms:Decrypt',
          Resource: '*',
          Condition: {
            StringEquals: {
              'kms:ViaService': 's3.us-east-1.amazonaws.com',
              'kms:EncryptionContext:bucket': 'ml',
              'kms:ViaServise': 'x',
            },
          },
        },
        'key',
      ),
      [
        'UnsupportedConditionKey: no action of the statement (`kms:Decrypt`) carries the condition key `kms:ViaServise`: requests for them never have it; did you mean `kms:ViaService`?',
      ],
    )
  })

  it('warns on resources of a type the action does not act on', () => {
    assert.deepEqual(
      catalogue({ Effect: 'Allow', Action: 's3:ListBucket', Resource: 'arn:aws:s3:::ml/*' }),
      [
        'UnsupportedResource: `s3:ListBucket` acts on accesspoint (arn:${Partition}:s3:${Region}:${Account}:accesspoint/${AccessPointName}), bucket (arn:${Partition}:s3:::${BucketName}); no resource of the statement is one',
      ],
    )
    assert.deepEqual(
      catalogue({ Effect: 'Allow', Action: 'kms:Decrypt', Resource: 'arn:aws:s3:::ml' }),
      [
        'UnsupportedResource: `kms:Decrypt` acts on key (arn:${Partition}:kms:${Region}:${Account}:key/${KeyId}); no resource of the statement is one',
      ],
    )
    assert.deepEqual(
      catalogue({
        Effect: 'Allow',
        Action: 'organizations:DescribeOrganization',
        Resource: 'arn:aws:organizations::111122223333:root/o-1/r-1',
      }),
      [
        'UnsupportedResource: `organizations:DescribeOrganization` acts on no particular resource: only "Resource": "*" applies to it',
      ],
    )
    for (const Resource of [
      'arn:aws:s3:::*',
      'arn:aws:s3:::ml/*',
      'arn:aws:s3:::ml/${aws:username}/*',
      'arn:aws:s3:::ml/checkpoints/?.pt',
    ])
      assert.deepEqual(
        catalogue({
          Effect: 'Allow',
          Action: ['s3:GetObject', 'strongroom:GetQuarantinedObject'],
          Resource,
        }),
        [],
        Resource,
      )
    assert.deepEqual(
      catalogue({
        Effect: 'Allow',
        Action: ['iam:GetUser', 'sts:AssumeRole'],
        Resource: [
          'arn:aws:iam::111122223333:user/ops/alice',
          'arn:aws:iam::111122223333:role/trainer',
        ],
      }),
      [],
    )
  })
})
