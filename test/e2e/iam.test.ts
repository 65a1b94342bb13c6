/**
 * The IAM API through the clients people use, on the gateway's one URL: the aws CLI (v1 and
 * v2) creates a role, puts and reads its inline policy (the CLI decodes the URL-encoded
 * documents IAM returns), and is refused deleting it while the policy is there; boto3 creates a
 * managed policy, attaches it to a user and reads its version back.
 * https://docs.aws.amazon.com/cli/latest/reference/iam/create-role.html
 * https://docs.aws.amazon.com/cli/latest/reference/iam/get-role.html
 * https://docs.aws.amazon.com/IAM/latest/APIReference/API_GetRolePolicy.html (PolicyDocument URL-encoded)
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import {
  aws,
  awsV2,
  ca,
  endpoint,
  needs,
  newKey,
  policyFile,
  run,
  start,
  stop,
  strongroom,
  type Creds,
} from './harness.ts'

let admin: Creds
let account = ''

const TRUST = {
  Version: '2012-10-17',
  Statement: [
    { Effect: 'Allow', Principal: { Service: 'ec2.amazonaws.com' }, Action: 'sts:AssumeRole' },
  ],
}
const READ = {
  Version: '2012-10-17',
  Statement: [{ Effect: 'Allow', Action: 's3:GetObject', Resource: 'arn:aws:s3:::datasets/*' }],
}

before(async () => {
  await start()
  strongroom(['user', 'create', '--tenant', 'vision', 'iam-admin'])
  const all = policyFile('iam-all.json', {
    Version: '2012-10-17',
    Statement: [{ Effect: 'Allow', Action: 'iam:*', Resource: '*' }],
  })
  strongroom([
    'user',
    'put-policy',
    '--tenant',
    'vision',
    '--user',
    'iam-admin',
    '--name',
    'iam',
    '--document',
    all,
  ])
  admin = newKey('vision', 'iam-admin')
  const tenants = JSON.parse(strongroom(['tenant', 'list', '--json'])) as {
    name: string
    id: string
  }[]
  account = tenants.find((t) => t.name === 'vision')?.id ?? ''
})
after(stop)

for (const [label, cli, tool] of [
  ['aws CLI', aws, 'aws'],
  ['aws CLI v2', awsV2, 'awsV2'],
] as const) {
  describe(`${label}: iam`, () => {
    it('create-role, put-role-policy, get-role and get-role-policy (documents decoded), delete-role refused then done', (t) => {
      if (!needs(t, tool)) return
      const name = tool === 'aws' ? 'trainer' : 'trainer-v2'
      const trust = policyFile(`${name}-trust.json`, TRUST)
      const read = policyFile(`${name}-read.json`, READ)
      const c = cli(
        admin,
        'iam',
        'create-role',
        '--role-name',
        name,
        '--path',
        '/ml/',
        '--assume-role-policy-document',
        `file://${trust}`,
        '--output',
        'json',
      )
      assert.equal(c.code, 0, c.stderr)
      const created = JSON.parse(c.stdout) as { Role: { Arn: string; RoleId: string } }
      assert.equal(created.Role.Arn, `arn:aws:iam::${account}:role/ml/${name}`)
      assert.match(created.Role.RoleId, /^AROA[A-Z2-7]{17}$/)
      const p = cli(
        admin,
        'iam',
        'put-role-policy',
        '--role-name',
        name,
        '--policy-name',
        'read',
        '--policy-document',
        `file://${read}`,
      )
      assert.equal(p.code, 0, p.stderr)
      const g = cli(admin, 'iam', 'get-role', '--role-name', name, '--output', 'json')
      assert.equal(g.code, 0, g.stderr)
      const role = JSON.parse(g.stdout) as {
        Role: { AssumeRolePolicyDocument: unknown; MaxSessionDuration: number; Path: string }
      }
      // The CLI hands back the document as JSON, decoded from IAM's URL encoding.
      assert.deepEqual(role.Role.AssumeRolePolicyDocument, TRUST)
      assert.equal(role.Role.MaxSessionDuration, 3600)
      assert.equal(role.Role.Path, '/ml/')
      const gp = cli(
        admin,
        'iam',
        'get-role-policy',
        '--role-name',
        name,
        '--policy-name',
        'read',
        '--output',
        'json',
      )
      assert.equal(gp.code, 0, gp.stderr)
      assert.deepEqual((JSON.parse(gp.stdout) as { PolicyDocument: unknown }).PolicyDocument, READ)
      const refused = cli(admin, 'iam', 'delete-role', '--role-name', name)
      assert.notEqual(refused.code, 0)
      assert.match(refused.stderr, /DeleteConflict/)
      assert.equal(
        cli(admin, 'iam', 'delete-role-policy', '--role-name', name, '--policy-name', 'read').code,
        0,
      )
      assert.equal(cli(admin, 'iam', 'delete-role', '--role-name', name).code, 0)
      const gone = cli(admin, 'iam', 'get-role', '--role-name', name)
      assert.match(gone.stderr, /NoSuchEntity/)
    })
  })
}

describe('boto3: iam', () => {
  it('creates a managed policy, attaches it to a new user and reads its version back', (t) => {
    if (!needs(t, 'boto3')) return
    const r = run(
      'python3',
      [
        '-c',
        `import boto3, json
from botocore.config import Config
iam = boto3.client('iam', endpoint_url='${endpoint}', verify='${ca}', region_name='us-east-1', config=Config(retries={'max_attempts': 1}))
doc = ${JSON.stringify(JSON.stringify(READ))}
p = iam.create_policy(PolicyName='read-datasets', Path='/ml/', PolicyDocument=doc)['Policy']
iam.create_user(UserName='carol')
iam.attach_user_policy(UserName='carol', PolicyArn=p['Arn'])
attached = iam.list_attached_user_policies(UserName='carol')['AttachedPolicies']
v = iam.get_policy_version(PolicyArn=p['Arn'], VersionId=p['DefaultVersionId'])['PolicyVersion']
try:
    iam.delete_policy(PolicyArn=p['Arn'])
    refused = None
except iam.exceptions.DeleteConflictException as e:
    refused = e.response['Error']['Code']
print(json.dumps({'arn': p['Arn'], 'attached': attached, 'document': v['Document'], 'refused': refused}))`,
      ],
      admin,
    )
    assert.equal(r.code, 0, r.stderr)
    const out = JSON.parse(r.stdout) as {
      arn: string
      attached: unknown
      document: unknown
      refused: string
    }
    assert.equal(out.arn, `arn:aws:iam::${account}:policy/ml/read-datasets`)
    assert.deepEqual(out.attached, [{ PolicyName: 'read-datasets', PolicyArn: out.arn }])
    // boto3 decodes the URL-encoded document into a dict.
    assert.deepEqual(out.document, READ)
    assert.equal(out.refused, 'DeleteConflict')
  })
})
