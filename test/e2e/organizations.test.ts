/**
 * Organizations through the clients people use: the aws CLI (v1 and v2) and boto3, as the
 * installation's management account (the `admin` tenant `strongroom serve` makes), put an SCP on
 * a tenant's account that its own administrator then cannot get past, and take it off again.
 * https://docs.aws.amazon.com/cli/latest/reference/organizations/index.html
 */
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { writeFileSync } from 'node:fs'
import { after, before, describe, it } from 'node:test'
import { ADMIN, alice, aws, awsV2, needs, python, start, stop, work } from './harness.ts'

before(() => start())
after(stop)

const json = (r: { code: number | null; stdout: string; stderr: string }) => {
  assert.equal(r.code, 0, r.stderr)
  return JSON.parse(r.stdout) as Record<string, unknown>
}

describe('Organizations through the aws CLI and boto3', () => {
  it('an SCP put on a tenant’s account by the management account bounds its administrator (v1 and v2)', (t) => {
    if (!needs(t, 'aws', 'awsV2')) return
    const vision = String(
      json(aws(alice, 'sts', 'get-caller-identity', '--output', 'json')).Account,
    )
    for (const [n, cli] of [aws, awsV2].entries()) {
      const o = json(cli(ADMIN, 'organizations', 'describe-organization', '--output', 'json'))
      const admin = String(
        json(aws(ADMIN, 'sts', 'get-caller-identity', '--output', 'json')).Account,
      )
      assert.equal((o.Organization as { MasterAccountId: string }).MasterAccountId, admin)
      const file = join(work, `deny-delete-${String(n)}.json`)
      writeFileSync(
        file,
        JSON.stringify({
          Version: '2012-10-17',
          Statement: [{ Effect: 'Deny', Action: 's3:DeleteBucket', Resource: '*' }],
        }),
      )
      const made = json(
        cli(
          ADMIN,
          'organizations',
          'create-policy',
          '--name',
          `no-bucket-deletes-${String(n)}`,
          '--type',
          'SERVICE_CONTROL_POLICY',
          '--description',
          'keep buckets',
          '--content',
          `file://${file}`,
          '--output',
          'json',
        ),
      )
      const id = (made.Policy as { PolicySummary: { Id: string } }).PolicySummary.Id
      const bucket = `org-kept-${String(n)}`
      assert.equal(aws(alice, 's3api', 'create-bucket', '--bucket', bucket).code, 0)
      assert.equal(
        cli(ADMIN, 'organizations', 'attach-policy', '--policy-id', id, '--target-id', vision).code,
        0,
      )
      const refused = aws(alice, 's3api', 'delete-bucket', '--bucket', bucket)
      assert.notEqual(refused.code, 0)
      assert.match(refused.stderr, /AccessDenied/)
      // A member account cannot take it off.
      const self = cli(
        alice,
        'organizations',
        'detach-policy',
        '--policy-id',
        id,
        '--target-id',
        vision,
      )
      assert.match(self.stderr, /AccessDeniedException/)
      assert.equal(
        cli(ADMIN, 'organizations', 'detach-policy', '--policy-id', id, '--target-id', vision).code,
        0,
      )
      assert.equal(cli(ADMIN, 'organizations', 'delete-policy', '--policy-id', id).code, 0)
      assert.equal(aws(alice, 's3api', 'delete-bucket', '--bucket', bucket).code, 0)
    }
  })

  it('boto3 lists the accounts and the policies on one, FullAWSAccess by default', (t) => {
    if (!needs(t, 'boto3')) return
    const r = python(
      ADMIN,
      `import json
org = boto3.client('organizations', endpoint_url=s3.meta.endpoint_url, verify=os.environ['AWS_CA_BUNDLE'])
accounts = org.list_accounts()['Accounts']
vision = [a for a in accounts if a['Name'] == 'vision'][0]
on = org.list_policies_for_target(TargetId=vision['Id'], Filter='SERVICE_CONTROL_POLICY')['Policies']
print(json.dumps({'names': sorted(a['Name'] for a in accounts), 'on': [p['Name'] for p in on], 'root': org.list_roots()['Roots'][0]['Name']}))`,
    )
    assert.equal(r.code, 0, r.stderr)
    const out = JSON.parse(r.stdout) as { names: string[]; on: string[]; root: string }
    assert.deepEqual(out.names, ['admin', 'audio', 'vision'])
    assert.deepEqual(out.on, ['FullAWSAccess'])
    assert.equal(out.root, 'Root')
  })
})
