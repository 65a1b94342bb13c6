/**
 * The IAM administration commands as scripts call them: managed policies created and attached
 * to roles, users and groups, groups and members; what they did is read back through the same
 * services the IAM API uses.
 */
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { openApp } from '../src/app.ts'
import { loadConfig } from '../src/config.ts'

const BIN = join(import.meta.dirname, '..', 'bin', 'strongroom.js')
const work = mkdtempSync(join(tmpdir(), 'sr-iam-cli-'))
after(() => rmSync(work, { recursive: true, force: true }))
const env = {
  ...process.env,
  STRONGROOM_ROOT_KEY: randomBytes(32).toString('hex'),
  STRONGROOM_DATA_DIR: join(work, 'data'),
}

function sr(...args: string[]) {
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd: work, env, encoding: 'utf8' })
  return { code: r.status, stdout: r.stdout, stderr: r.stderr }
}
function ok(...args: string[]): string {
  const r = sr(...args)
  assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`)
  return r.stdout
}

describe('policy, group and role attach commands', () => {
  it('create a managed policy and attach it to a group and a role', async () => {
    ok('init')
    const tenant = JSON.parse(ok('tenant', 'create', 'vision', '--json')) as { id: string }
    ok('user', 'create', '--tenant', 'vision', 'alice')
    writeFileSync(
      join(work, 'read.json'),
      JSON.stringify({
        Version: '2012-10-17',
        Statement: [
          { Effect: 'Allow', Action: 's3:GetObject', Resource: 'arn:aws:s3:::datasets/*' },
        ],
      }),
    )
    writeFileSync(
      join(work, 'trust.json'),
      JSON.stringify({
        Version: '2012-10-17',
        Statement: [{ Effect: 'Allow', Principal: { AWS: tenant.id }, Action: 'sts:AssumeRole' }],
      }),
    )
    const made = JSON.parse(
      ok(
        'policy',
        'create',
        'read-datasets',
        '--tenant',
        'vision',
        '--document',
        'read.json',
        '--path',
        '/ml/',
        '--json',
      ),
    ) as { Arn: string; DefaultVersionId: string }
    const arn = `arn:aws:iam::${tenant.id}:policy/ml/read-datasets`
    assert.deepEqual([made.Arn, made.DefaultVersionId], [arn, 'v1'])
    assert.equal(
      ok('group', 'create', 'researchers', '--tenant', 'vision'),
      `created group researchers (arn:aws:iam::${tenant.id}:group/researchers)\n`,
    )
    assert.equal(
      ok('group', 'add-user', 'researchers', '--tenant', 'vision', '--user', 'alice'),
      'added alice to group researchers\n',
    )
    assert.equal(
      ok('policy', 'attach', '--tenant', 'vision', '--policy-arn', arn, '--group', 'researchers'),
      `attached ${arn} to group researchers\n`,
    )
    ok('role', 'create', 'trainer', '--tenant', 'vision', '--trust', 'trust.json')
    assert.equal(
      ok('role', 'attach-policy', 'trainer', '--tenant', 'vision', '--policy-arn', arn),
      `attached ${arn} to role trainer\n`,
    )
    const app = await openApp(loadConfig({ env, flags: {} }))
    try {
      const t = await app.identity.tenant('vision')
      const policy = await app.identity.policy(t, arn)
      const entities = await app.identity.policyEntities(policy, 'attached')
      assert.deepEqual(entities.map((e) => `${e.kind}:${e.name}`).sort(), [
        'group:researchers',
        'role:trainer',
      ])
    } finally {
      await app.close()
    }
  })

  it('refuses what it cannot do, in one line with what to do', () => {
    const both = sr(
      'policy',
      'attach',
      '--tenant',
      'vision',
      '--policy-arn',
      'x',
      '--role',
      'a',
      '--user',
      'b',
    )
    assert.equal(both.code, 2)
    assert.match(both.stderr, /name exactly one of --role, --user or --group/)
    const ghost = sr('group', 'add-user', 'ghosts', '--tenant', 'vision', '--user', 'alice')
    assert.equal(ghost.code, 1)
    assert.match(ghost.stderr, /tenant `vision` has no group `ghosts`/)
    const bad = sr('policy', 'create', 'x', '--tenant', 'vision', '--document', 'trust.json')
    assert.equal(bad.code, 1)
    assert.match(bad.stderr, /MALFORMED_POLICY|not valid/)
  })
})
