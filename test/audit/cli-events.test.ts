/**
 * The admin CLI is audited like the gateway: every command that opens the deployment is one
 * event in the audit log, with the operator, the command, its arguments and options (a secret
 * option's value never), and its outcome; `strongroom audit query` and `audit verify` see it.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir, userInfo } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import type { AuditEvent } from '../../src/audit/event.ts'
import { cliEvent } from '../../src/cli/audit-cli.ts'

const BIN = join(import.meta.dirname, '..', '..', 'bin', 'strongroom.js')
const work = mkdtempSync(join(tmpdir(), 'sr-cli-events-'))
after(() => rmSync(work, { recursive: true, force: true }))
const data = join(work, 'data')
const env = Object.fromEntries(
  Object.entries({ ...process.env, STRONGROOM_ROOT_KEY: randomBytes(32).toString('hex') }).filter(
    ([k]) => !k.startsWith('STRONGROOM_') || k === 'STRONGROOM_ROOT_KEY',
  ),
)
const sr = (...args: string[]) => {
  const r = spawnSync(process.execPath, [BIN, ...args, '--data-dir', data], {
    env,
    encoding: 'utf8',
  })
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr }
}

describe('admin CLI events', () => {
  it('each command that opens the deployment is an event; a failure carries its error code', () => {
    assert.equal(sr('init').code, 0)
    assert.equal(sr('tenant', 'create', 'vision').code, 0)
    const again = sr('tenant', 'create', 'vision')
    assert.equal(again.code, 1)
    const q = sr('audit', 'query', '--json')
    assert.equal(q.code, 0, q.stderr)
    const events = q.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as AuditEvent)
    const created = events.filter((e) => e.eventName === 'TenantCreate')
    assert.equal(created.length, 2)
    const [ok, refused] = created
    assert.ok(ok !== undefined && refused !== undefined)
    assert.equal(ok.eventSource, 'cli.strongroom.internal')
    assert.deepEqual(ok.requestParameters, {
      command: 'strongroom tenant create',
      operator: userInfo().username,
      arguments: ['vision'],
      options: {},
    })
    assert.equal(ok.errorCode, undefined)
    assert.equal(ok.readOnly, false)
    assert.equal(refused.errorCode, 'TENANT_EXISTS')
  })

  it('options are recorded as given, a secret option never; the root key never appears', () => {
    const e = cliEvent(
      'oidc create',
      { values: { 'client-secret': 's3cr3t', url: 'https://idp', json: true }, positionals: [] },
      'us-east-1',
      Date.now(),
      undefined,
    )
    assert.deepEqual((e.requestParameters as { options: unknown }).options, {
      'client-secret': '(not recorded)',
      url: '"https://idp"',
    })
    assert.ok(!JSON.stringify(e).includes('s3cr3t'))
    const policy = join(work, 'p.json')
    writeFileSync(policy, JSON.stringify({ Version: '2012-10-17', Statement: [] }))
    sr('user', 'create', '--tenant', 'vision', 'alice')
    const raw = readFileSync(join(data, 'audit', 'journal'))
    assert.ok(!raw.includes(env.STRONGROOM_ROOT_KEY ?? '-'), 'the root key never appears')
    const q = sr('audit', 'query', '--action', 'UserCreate', '--json')
    assert.equal(q.code, 0, q.stderr)
    const made = JSON.parse(q.stdout.trim().split('\n')[0] ?? '{}') as AuditEvent
    assert.deepEqual((made.requestParameters as { options: unknown }).options, {
      tenant: '"vision"',
    })
  })

  it('the log the CLI wrote verifies with the deployment’s public key', () => {
    const key = sr('audit', 'public-key')
    assert.equal(key.code, 0, key.stderr)
    writeFileSync(join(work, 'audit.pub'), key.stdout)
    const v = spawnSync(
      process.execPath,
      [BIN, 'audit', 'verify', join(data, 'audit', 'log'), '--public-key', join(work, 'audit.pub')],
      { env, encoding: 'utf8' },
    )
    assert.equal(v.status, 0, v.stderr)
    assert.match(v.stdout, /^OK: \d+ records, root /)
  })
})
