/** The fields rules read: paths, derived fields, networks, client names and policy analysis. */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { agentFamily, EventView, fieldProblem, networkOf } from './fields.ts'

const view = (raw: Record<string, unknown>) => new EventView(raw)
const policy = (p: unknown, key = 'bucketPolicy') => view({ requestParameters: { [key]: p } })
const doc = (...Statement: object[]) => ({ Version: '2012-10-17', Statement })
const allowAll = { Effect: 'Allow', Action: 's3:GetObject', Resource: 'arn:aws:s3:::b/*' }

describe('field names', () => {
  it('accepts derived fields and paths into a CloudTrail record', () => {
    for (const f of ['principal', 'eventName', 'resources[].accountId', 'strongroom.bytesOut'])
      assert.equal(fieldProblem(f), undefined, f)
  })
  it('refuses paths outside the record and malformed paths', () => {
    for (const f of ['eventname', 'foo.bar', 'userIdentity..arn', 'a[0]', '', 'x'.repeat(70)])
      assert.notEqual(fieldProblem(f), undefined, f)
  })
})

describe('paths', () => {
  it('flattens arrays only where the path says []', () => {
    const ev = view({ resources: [{ accountId: '1' }, { accountId: '2' }, { nope: 3 }] })
    assert.deepEqual(ev.scalars('resources[].accountId'), ['1', '2'])
    assert.deepEqual(ev.values('resources.accountId'), [])
  })
  it('reads own properties only (no prototype, no __proto__ tricks)', () => {
    const ev = view(
      JSON.parse('{"requestParameters": {"__proto__": {"x": 1}}}') as Record<string, unknown>,
    )
    assert.deepEqual(ev.scalars('requestParameters.__proto__.x'), [1])
    assert.deepEqual(view({}).values('eventName'), [])
    assert.deepEqual(view({ requestParameters: 'text' }).values('requestParameters.toString'), [])
  })
  it('treats null as absent and reports several values as one text', () => {
    assert.deepEqual(view({ responseElements: null }).values('responseElements'), [])
    assert.equal(
      view({ resources: [{ ARN: 'a' }, { ARN: 'b' }, { ARN: 'a' }] }).text('resources[].ARN'),
      'a,b',
    )
    assert.equal(view({}).text('eventName'), '-')
  })
})

describe('derived fields', () => {
  it('principal: the role for a role session, the ARN otherwise, anonymous without one', () => {
    const role = 'arn:aws:iam::111122223333:role/r'
    const assumed = {
      type: 'AssumedRole',
      arn: 'arn:aws:sts::111122223333:assumed-role/r/s1',
      sessionContext: { sessionIssuer: { arn: role } },
    }
    assert.deepEqual(view({ userIdentity: assumed }).values('principal'), [role])
    assert.deepEqual(
      view({ userIdentity: { type: 'IAMUser', arn: 'arn:u' } }).values('principal'),
      ['arn:u'],
    )
    assert.deepEqual(
      view({ userIdentity: { type: 'AWSAccount', accountId: 'anonymous' } }).values('principal'),
      ['anonymous'],
    )
    assert.deepEqual(view({ userIdentity: 7 }).values('principal'), ['anonymous'])
  })

  it('foreignAccounts: the resource owners other than the caller', () => {
    const ev = (caller: string) =>
      view({
        userIdentity: { accountId: caller },
        recipientAccountId: '1',
        resources: [{ accountId: '2' }, { accountId: '1' }],
      })
    assert.deepEqual(ev('1').values('foreignAccounts'), ['2'])
    assert.deepEqual(ev('3').values('foreignAccounts'), ['1', '2'])
    assert.deepEqual(ev('anonymous').values('foreignAccounts'), ['1', '2'])
    assert.deepEqual(view({ recipientAccountId: '1' }).values('foreignAccounts'), [])
  })

  it('sourceNetwork: IPv4 /24, IPv6 /48, anything else as it is', () => {
    assert.equal(networkOf('203.0.113.77'), '203.0.113.0/24')
    assert.equal(networkOf('2001:db8:1234:5678::1'), '2001:db8:1234::/48')
    assert.equal(networkOf('2001:0DB8:0000:0001:0:0:0:1'), '2001:db8:0::/48')
    assert.equal(networkOf('::1'), '0:0:0::/48')
    assert.equal(networkOf('::ffff:192.0.2.1'), '0:0:0::/48')
    assert.equal(networkOf('fe80::1%eth0'), 'fe80:0:0::/48')
    for (const odd of ['AWS Internal', '999.1.1.1', '1:2:3:4:5:6:7:8:9', '1::2::3', 'g::1'])
      assert.equal(networkOf(odd), odd)
    assert.equal(networkOf('x'.repeat(100))?.length, 64)
  })

  it('endpoint: the VPC endpoint, or public', () => {
    assert.deepEqual(view({ vpcEndpointId: 'vpce-1' }).values('endpoint'), ['vpce-1'])
    assert.deepEqual(view({}).values('endpoint'), ['public'])
  })

  it('userAgentFamily: the first product, lowercased, without its version', () => {
    assert.equal(agentFamily('aws-cli/2.23.6 md/awscrt#0.23.8 ua/2.0'), 'aws-cli')
    assert.equal(agentFamily('[aws-cli/2.36.17 md/awscrt#0.36.0]'), 'aws-cli')
    assert.equal(agentFamily('Boto3/1.35.75 md/Botocore#1.35.75'), 'boto3')
    assert.equal(agentFamily('Mozilla/5.0 (X11; Linux x86_64)'), 'mozilla')
    assert.equal(agentFamily('Scout-Suite/5.14.0 md/Botocore#1.35.75'), 'scout-suite')
    assert.equal(agentFamily('TruffleHog'), 'trufflehog')
    assert.equal(agentFamily(''), undefined)
    assert.equal(agentFamily('   '), undefined)
  })

  it('objectCount: the keys of a DeleteObjects, 1 for anything else', () => {
    const batch = (o: unknown) =>
      view({ eventName: 'DeleteObjects', requestParameters: { delete: { Object: o } } })
    assert.deepEqual(batch([{ Key: 'a' }, { Key: 'b' }]).values('objectCount'), [2])
    assert.deepEqual(batch({ Key: 'a' }).values('objectCount'), [1])
    assert.deepEqual(view({ eventName: 'DeleteObject' }).values('objectCount'), [1])
  })

  it('objectCount: a DeleteObjects event as the gateway writes it counts its per-key decisions', () => {
    const decided = (actions: string[]) =>
      view({
        eventName: 'DeleteObjects',
        requestParameters: { bucketName: 'b' },
        strongroom: {
          evaluations: actions.map((action) => ({ action, resource: 'x', decision: 'Allow' })),
        },
      }).values('objectCount')
    assert.deepEqual(
      decided(['s3:DeleteObject', 's3:DeleteObject', 's3:DeleteObjectVersion', 'kms:Decrypt']),
      [3],
    )
    assert.deepEqual(decided([]), [1])
  })
})

describe('policy analysis', () => {
  const pub = (p: unknown, key?: string) => policy(p, key).values('policy.grantsPublic')
  const all = (p: unknown, key?: string) => policy(p, key).values('policy.grantsAllActions')

  it('finds a policy that allows everyone', () => {
    assert.deepEqual(pub(doc({ Principal: '*', ...allowAll })), [true])
    assert.deepEqual(
      pub(doc({ Principal: { AWS: ['arn:aws:iam::111122223333:root', '*'] }, ...allowAll })),
      [true],
    )
    assert.deepEqual(
      pub(doc({ NotPrincipal: { AWS: 'arn:aws:iam::111122223333:root' }, ...allowAll })),
      [true],
    )
  })

  it('does not call public what names its principals or is held by fixed conditions (S3: "the meaning of public")', () => {
    assert.deepEqual(
      pub(doc({ Principal: { AWS: 'arn:aws:iam::111122223333:root' }, ...allowAll })),
      [false],
    )
    const held = (Condition: object) => pub(doc({ Principal: '*', ...allowAll, Condition }))
    assert.deepEqual(held({ StringEquals: { 'aws:SourceVpce': 'vpce-1' } }), [false])
    assert.deepEqual(held({ StringEquals: { 'aws:PrincipalAccount': ['111122223333'] } }), [false])
    assert.deepEqual(held({ IpAddress: { 'aws:SourceIp': ['10.0.0.0/8', '192.0.2.0/24'] } }), [
      false,
    ])
  })

  it('calls public what a condition does not really hold', () => {
    const held = (Condition: object) => pub(doc({ Principal: '*', ...allowAll, Condition }))
    assert.deepEqual(held({ StringLike: { 'aws:SourceVpce': 'vpce-*' } }), [true], 'a wildcard')
    assert.deepEqual(held({ IpAddress: { 'aws:SourceIp': '0.0.0.0/0' } }), [true], 'every address')
    assert.deepEqual(
      held({ StringNotEquals: { 'aws:SourceVpce': 'vpce-1' } }),
      [true],
      'a negation',
    )
    assert.deepEqual(
      held({ StringEqualsIfExists: { 'aws:SourceVpce': 'vpce-1' } }),
      [true],
      'IfExists',
    )
    assert.deepEqual(
      held({ StringEquals: { 's3:prefix': 'public/' } }),
      [true],
      'not a restricting key',
    )
  })

  it('ignores Deny statements: they grant nothing', () => {
    assert.deepEqual(pub(doc({ Effect: 'Deny', Principal: '*', Action: '*', Resource: '*' })), [
      false,
    ])
    assert.deepEqual(all(doc({ Effect: 'Deny', Principal: '*', Action: '*', Resource: '*' })), [
      false,
    ])
  })

  it('finds a policy that allows every action, and lists what it allows', () => {
    assert.deepEqual(all(doc({ Effect: 'Allow', Action: '*', Resource: '*' })), [true])
    assert.deepEqual(
      all(doc({ Effect: 'Allow', Action: ['s3:GetObject', '*:*'], Resource: '*' })),
      [true],
    )
    assert.deepEqual(all(doc({ Effect: 'Allow', NotAction: 'iam:*', Resource: '*' })), [true])
    assert.deepEqual(all(doc({ Effect: 'Allow', Action: 's3:*', Resource: '*' })), [false])
    const ev = policy(
      JSON.stringify(doc({ Effect: 'Allow', Action: ['s3:Get*', 'kms:Decrypt'], Resource: '*' })),
      'policyDocument',
    )
    assert.deepEqual(ev.values('policy.allowedActions'), ['s3:Get*', 'kms:Decrypt'])
  })

  it('reads IAM policy text, and has nothing to say of text that is not JSON or too long', () => {
    assert.deepEqual(
      all(JSON.stringify(doc({ Effect: 'Allow', Action: '*', Resource: '*' })), 'policyDocument'),
      [true],
    )
    assert.deepEqual(all('{not json', 'policyDocument'), [])
    assert.deepEqual(all(' '.repeat(200_000) + '{}', 'policyDocument'), [])
    assert.deepEqual(all(42), [])
    assert.deepEqual(view({}).values('policy.allowedActions'), [])
  })

  it('takes a single statement object as well as a list', () => {
    assert.deepEqual(pub({ Statement: { Principal: '*', ...allowAll } }), [true])
  })
})
