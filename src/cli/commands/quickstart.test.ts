/**
 * `strongroom quickstart` (what `npm start` sets up) and the identity commands, run in this
 * process through the CLI's entry point: what a user sees, exit statuses and error codes.
 */
import assert from 'node:assert/strict'
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { main } from '../main.ts'

const work = mkdtempSync(join(tmpdir(), 'sr-quickstart-'))
after(() => rmSync(work, { recursive: true, force: true }))

/** The environment without the caller's STRONGROOM_* settings. */
function env(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const e: NodeJS.ProcessEnv = {}
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('STRONGROOM_')) e[k] = v
  return { ...e, ...extra }
}

async function run(args: string[], extra: Record<string, string> = {}) {
  let stdout = ''
  let stderr = ''
  const code = await main(args, {
    stdout: (s) => (stdout += s),
    stderr: (s) => (stderr += s),
    env: env(extra),
  })
  return { code, stdout, stderr }
}

interface Summary {
  dataDir: string
  tenant: string
  tenantId: string
  key: string
  keyId: string
  roundTripBytes: number
}

describe('strongroom quickstart', () => {
  const dd = join(work, 'dev')

  it('on a fresh directory: initialises with a development key (and says so), seals and opens 3 MiB', async () => {
    const r = await run(['quickstart', '--data-dir', dd])
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stderr, /--dev: the root key is stored in the data directory/)
    assert.match(r.stdout, new RegExp(`^ready: ${dd}\\n`))
    assert.match(r.stdout, /tenant demo \(account \d{12}\), key alias\/demo \(/)
    assert.match(r.stdout, /sealed and opened 3145728 bytes under it/)
    assert.ok(existsSync(join(dd, 'dev-root.key')))
  })

  it('run again: the same tenant and key, no new warning', async () => {
    const first = await run(['quickstart', '--data-dir', dd, '--json'])
    const second = await run(['quickstart', '--data-dir', dd, '--json'])
    assert.equal(second.code, 0, second.stderr)
    assert.equal(second.stderr, '')
    const a = JSON.parse(first.stdout) as Summary
    const b = JSON.parse(second.stdout) as Summary
    assert.deepEqual([b.tenant, b.key, b.roundTripBytes], ['demo', 'alias/demo', 3 << 20])
    assert.deepEqual([b.tenantId, b.keyId], [a.tenantId, a.keyId])
  })

  it('with a root key configured: no development key is written, and the key is needed afterwards', async () => {
    const keyed = join(work, 'keyed')
    const key = 'ab'.repeat(32)
    const r = await run(['quickstart', '--data-dir', keyed], { STRONGROOM_ROOT_KEY: key })
    assert.equal(r.code, 0, r.stderr)
    assert.equal(r.stderr, '')
    assert.ok(!existsSync(join(keyed, 'dev-root.key')))
    const without = await run(['tenant', 'list', '--data-dir', keyed])
    assert.equal(without.code, 1)
    assert.match(without.stderr, /\[ROOT_KEY_MISSING\]\n$/)
    const wrong = await run(['tenant', 'list', '--data-dir', keyed], {
      STRONGROOM_ROOT_KEY: 'cd'.repeat(32),
    })
    assert.match(wrong.stderr, /\[ROOT_KEY_WRONG\]\n$/)
  })
})

describe('identity commands, in process', () => {
  const dd = join(work, 'ids')
  const doc = join(work, 'policy.json')
  writeFileSync(
    doc,
    JSON.stringify({
      Version: '2012-10-17',
      Statement: [{ Effect: 'Allow', Action: 's3:GetObject', Resource: '*' }],
    }),
  )

  it('tenant, user, policy and access key: created once; a second time is an error naming it', async () => {
    assert.equal((await run(['init', '--dev', '--data-dir', dd])).code, 0)
    assert.equal((await run(['tenant', 'create', 'team', '--data-dir', dd])).code, 0)
    const again = await run(['tenant', 'create', 'team', '--data-dir', dd])
    assert.deepEqual([again.code, /\[TENANT_EXISTS\]/.test(again.stderr)], [1, true])
    assert.equal(
      (await run(['user', 'create', '--tenant', 'team', 'ann', '--data-dir', dd])).code,
      0,
    )
    const twice = await run(['user', 'create', '--tenant', 'team', 'ann', '--data-dir', dd])
    assert.deepEqual([twice.code, /\[USER_EXISTS\]/.test(twice.stderr)], [1, true])
    const put = await run([
      'user',
      'put-policy',
      '--tenant',
      'team',
      '--user',
      'ann',
      '--name',
      'read',
      '--document',
      doc,
      '--data-dir',
      dd,
    ])
    assert.equal(put.code, 0, put.stderr)
    const key = await run([
      'access-key',
      'create',
      '--tenant',
      'team',
      '--user',
      'ann',
      '--json',
      '--data-dir',
      dd,
    ])
    const k = JSON.parse(key.stdout) as { AccessKeyId: string; SecretAccessKey: string }
    assert.match(k.AccessKeyId, /^AKIA[A-Z2-7]{16}$/)
    assert.ok(k.SecretAccessKey.length >= 40)
    const list = await run([
      'access-key',
      'list',
      '--tenant',
      'team',
      '--user',
      'ann',
      '--data-dir',
      dd,
    ])
    assert.match(list.stdout, new RegExp(k.AccessKeyId))
    assert.doesNotMatch(list.stdout, new RegExp(k.SecretAccessKey.replace(/[+/]/g, '.')))
  })

  it('naming what does not exist: TENANT_NOT_FOUND, USER_NOT_FOUND, exit status 1', async () => {
    const noTenant = await run(['user', 'create', '--tenant', 'nobody', 'x', '--data-dir', dd])
    assert.deepEqual([noTenant.code, /\[TENANT_NOT_FOUND\]/.test(noTenant.stderr)], [1, true])
    for (const args of [
      [
        'user',
        'put-policy',
        '--tenant',
        'team',
        '--user',
        'ghost',
        '--name',
        'n',
        '--document',
        doc,
      ],
      ['access-key', 'create', '--tenant', 'team', '--user', 'ghost'],
    ]) {
      const r = await run([...args, '--data-dir', dd])
      assert.deepEqual([r.code, /\[USER_NOT_FOUND\]/.test(r.stderr)], [1, true], args.join(' '))
    }
  })

  it('invalid names and an invalid policy document are refused before anything is stored', async () => {
    const badTenant = await run(['tenant', 'create', 'Has Space', '--data-dir', dd])
    assert.deepEqual([badTenant.code, /\[NAME_INVALID\]/.test(badTenant.stderr)], [1, true])
    const badUser = await run(['user', 'create', '--tenant', 'team', 'no/slash', '--data-dir', dd])
    assert.deepEqual([badUser.code, /\[NAME_INVALID\]/.test(badUser.stderr)], [1, true])
    writeFileSync(
      join(work, 'bad.json'),
      '{"Version":"2012-10-17","Statement":[{"Effect":"Perhaps"}]}',
    )
    const badDoc = await run([
      'user',
      'put-policy',
      '--tenant',
      'team',
      '--user',
      'ann',
      '--name',
      'bad',
      '--document',
      join(work, 'bad.json'),
      '--data-dir',
      dd,
    ])
    // A document the caller wrote is a configuration error: exit status 2, with where it fails.
    assert.equal(badDoc.code, 2)
    assert.match(
      badDoc.stderr,
      /1:48: Effect must be "Allow" or "Deny", got "Perhaps" at \$\.Statement\[0\]\.Effect/,
    )
    assert.match(badDoc.stderr, /\[CONFIG_INVALID\]\n$/)
  })
})
