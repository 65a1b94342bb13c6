/**
 * The root moved through every kind of key store in turn: a local root key, Vault Transit
 * (the fake written from Vault's API documents, over HTTPS), AWS KMS (Strongroom's own KMS
 * API, a real TrentService, over HTTPS) and, with Debian's softhsm2, a PKCS#11 token. After
 * each move a data key wrapped before the first one still unwraps, every key version is
 * wrapped by the new store, the old store no longer opens the directory, and an installation
 * initialised directly on the store works the same.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { chmodSync, cpSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { DatabaseSync } from 'node:sqlite'
import { after, before, describe, it } from 'node:test'
import { CreateKeyCommand, KMSClient } from '@aws-sdk/client-kms'
import { Agent } from 'node:https'
import { DEV_KEY_FILE, initDataDir, migrateRootTo, openApp, type App } from '../../src/app.ts'
import { testCertificates } from '../../src/audit/sinks/testing.ts'
import { loadConfig, type Config } from '../../src/config.ts'
import { isStrongroomError } from '../../src/errors.ts'
import { sealSecret } from '../../src/crypto/seal.ts'
import { materialAad, ROOT_SEAL_V2 } from '../../src/kms/local.ts'
import type { WrappedKey } from '../../src/kms/provider.ts'
import { deriveRootKeys, rootCheck } from '../../src/kms/root.ts'
import { startInProcess, type InProcess } from '../api/inprocess.ts'
import { softHsm } from './softhsm.ts'
import { startVaultFake, type VaultFake } from './vault-fake.ts'

const work = mkdtempSync(join(tmpdir(), 'sr-root-migrate-'))
const certs = testCertificates()
const caFile = join(work, 'ca.pem')
let vault: VaultFake
let kms: InProcess
let kmsKey = ''
const hsm = softHsm()
const PIN = '2468-1357'

before(async () => {
  writeFileSync(caFile, certs.caPem)
  vault = await startVaultFake({ tls: true, keys: ['strongroom', 'fresh'] })
  writeFileSync(caFile, `${certs.caPem}\n${vault.caPem ?? ''}`)
  kms = await startInProcess(join(work, 'kms'), { tls: { key: certs.keyPem, cert: certs.certPem } })
  const client = new KMSClient({
    region: 'us-east-1',
    endpoint: kms.running.url,
    credentials: { accessKeyId: kms.admin.id, secretAccessKey: kms.admin.secret },
    requestHandler: { httpsAgent: new Agent({ ca: certs.caPem }) },
  })
  kmsKey = (await client.send(new CreateKeyCommand({}))).KeyMetadata?.Arn ?? ''
  client.destroy()
  hsm?.token('Migrate', PIN)
})
after(async () => {
  await vault.close()
  await kms.close()
  hsm?.stop()
  rmSync(work, { recursive: true, force: true })
})

const dataDir = join(work, 'data')
const backupDir = join(work, 'data-backup')
const ROOT = randomBytes(32).toString('hex')

function config(store?: { kind: string; spec: string }): Config {
  return loadConfig({
    env: {
      STRONGROOM_ROOT_KEY: store === undefined ? ROOT : undefined,
      STRONGROOM_KEY_STORE_CA_FILE: caFile,
      VAULT_TOKEN: vault.token,
      AWS_ACCESS_KEY_ID: kms.admin.id,
      AWS_SECRET_ACCESS_KEY: kms.admin.secret,
      AWS_ENDPOINT_URL_KMS: kms.running.url,
      STRONGROOM_PKCS11_PIN: PIN,
    },
    flags: {
      'data-dir': dataDir,
      ...(store === undefined ? {} : { 'key-provider': store.kind, 'key-store': store.spec }),
    },
  })
}

async function withApp<T>(c: Config, f: (app: App) => Promise<T>): Promise<T> {
  const app = await openApp(c)
  try {
    return await f(app)
  } finally {
    await app.close()
  }
}

function materialKinds(): number[][] {
  const db = new DatabaseSync(join(dataDir, 'meta.sqlite'), { readOnly: true })
  try {
    return db
      .prepare('SELECT material FROM key_versions ORDER BY key_id, version')
      .all()
      .map((r) => [...(r.material as Uint8Array).subarray(0, 2)])
  } finally {
    db.close()
  }
}

describe('root migrate: local → vault → awskms → pkcs11', () => {
  const dataKey = randomBytes(32)
  const context = { purpose: 'migration-test' }
  let wrapped: WrappedKey
  let keyId = ''

  it('starts on a local root key with two tenant keys (one rotated)', async () => {
    await initDataDir(config(), { dev: false })
    await withApp(config(), async (app) => {
      const t = await app.identity.createTenant('vision')
      const k = await app.keys.createKey(t, { alias: 'models' })
      await app.keys.createKey(t, { alias: 'data' })
      await app.keys.rotate(k.id)
      keyId = k.id
      wrapped = await app.keyProvider.wrap(k.id, dataKey, context)
    })
    assert.deepEqual(
      materialKinds().map((m) => m[0]),
      [2, 2, 2],
    )
    cpSync(dataDir, backupDir, { recursive: true })
    chmodSync(backupDir, 0o700)
  })

  const steps = [
    { kind: 'vault', spec: () => `${vault.url}/v1/transit/keys/strongroom`, byte: 2 },
    { kind: 'awskms', spec: () => kmsKey, byte: 3 },
    {
      kind: 'pkcs11',
      spec: () => hsm?.uri('Migrate', 'root') ?? '',
      byte: 1,
      skip: hsm === undefined ? 'needs Debian package softhsm2 (apt-get install softhsm2)' : false,
    },
  ] as const
  let from: { kind: string; spec: string } | undefined
  for (const step of steps) {
    it(
      `moves to ${step.kind}: old data opens, every version is wrapped by it, the old store is refused`,
      { skip: 'skip' in step ? step.skip : false },
      async () => {
        const to = { kind: step.kind, spec: step.spec() }
        const target = config(to).keyStore
        assert.ok(target)
        const versions = materialKinds().length
        const r = await migrateRootTo(config(from), target)
        assert.deepEqual([r.to, r.rewrapped, r.already, r.shredded], [step.kind, versions, 0, 0])
        // Both keys' current versions predate the move: each got a new one, under the new store,
        // so what is sealed from now on never opens under the previous root.
        assert.equal(r.stale.length, 2)
        assert.equal(materialKinds().length, versions + 2)
        assert.ok(materialKinds().every((m) => m[0] === 3 && m[1] === step.byte))
        await withApp(config(to), async (app) => {
          assert.deepEqual(Buffer.from(await app.keyProvider.unwrap(wrapped, context)), dataKey)
          // A new version made now is wrapped by the new store too.
          await app.keys.rotate(keyId)
        })
        const kinds = materialKinds()
        assert.equal(kinds.length, versions + 3)
        assert.ok(kinds.every((m) => m[0] === 3 && m[1] === step.byte))
        // The store before (or the old root key) no longer opens the directory.
        await assert.rejects(openApp(config(from)), (e: unknown) => {
          assert.ok(isStrongroomError(e))
          assert.equal(e.code, 'ROOT_KEY_MISSING')
          assert.match(e.message, new RegExp(`root is kept in ${step.kind}`))
          return true
        })
        from = to
      },
    )
  }

  it('attack: the old root key with a copy of the database from before the moves opens nothing sealed after them', async () => {
    const fresh = randomBytes(32)
    const sealed = await withApp(config(from), (app) => app.keyProvider.wrap(keyId, fresh, context))
    const old = loadConfig({ env: { STRONGROOM_ROOT_KEY: ROOT }, flags: { 'data-dir': backupDir } })
    await withApp(old, async (app) => {
      // The backup still opens what was sealed before (that is what a backup is for)...
      assert.deepEqual(Buffer.from(await app.keyProvider.unwrap(wrapped, context)), dataKey)
      // ...but not what was sealed after: it names a version the backup never had.
      await assert.rejects(app.keyProvider.unwrap(sealed, context), (e: unknown) => {
        assert.ok(isStrongroomError(e))
        assert.equal(e.code, 'KEY_UNWRAP_FAILED')
        return true
      })
    })
  })

  it('attack: the wrapped system root of another installation on the same key is refused', async () => {
    const made: string[] = []
    for (const name of ['a', 'b']) {
      const c = loadConfig({
        env: { VAULT_TOKEN: vault.token, STRONGROOM_KEY_STORE_CA_FILE: caFile },
        flags: {
          'data-dir': join(work, name),
          'key-provider': 'vault',
          'key-store': `${vault.url}/v1/transit/keys/fresh`,
        },
      })
      await initDataDir(c, { dev: false })
      await withApp(c, async (app) => {
        const t = await app.identity.createTenant('nlp')
        const k = await app.keys.createKey(t, {})
        const w = await app.keyProvider.wrap(k.id, dataKey, context)
        assert.deepEqual(Buffer.from(await app.keyProvider.unwrap(w, context)), dataKey)
      })
      made.push(c.dataDir)
    }
    // B's wrapped root copied into A: the same Vault key opens it, but under B's installation
    // id (the AAD), so A refuses it rather than running on another installation's root.
    const b = new DatabaseSync(join(work, 'b', 'meta.sqlite'), { readOnly: true })
    const theirs = b.prepare('SELECT root_wrapped FROM installation').get()?.root_wrapped
    b.close()
    const a = new DatabaseSync(join(work, 'a', 'meta.sqlite'))
    a.prepare('UPDATE installation SET root_wrapped = ?').run(theirs as Uint8Array)
    a.close()
    const c = loadConfig({
      env: { VAULT_TOKEN: vault.token, STRONGROOM_KEY_STORE_CA_FILE: caFile },
      flags: {
        'data-dir': made[0] ?? '',
        'key-provider': 'vault',
        'key-store': `${vault.url}/v1/transit/keys/fresh`,
      },
    })
    await assert.rejects(
      openApp(c),
      (e: unknown) => isStrongroomError(e) && e.code === 'ROOT_KEY_WRONG',
    )
  })
})

describe('root migrate: what a process left running, or a writer of the database, can do after', () => {
  const dir = join(work, 'left-running')
  const root = randomBytes(32)
  const local = () =>
    loadConfig({ env: { STRONGROOM_ROOT_KEY: root.toString('hex') }, flags: { 'data-dir': dir } })
  const vaultConfig = () =>
    loadConfig({
      env: { VAULT_TOKEN: vault.token, STRONGROOM_KEY_STORE_CA_FILE: caFile },
      flags: {
        'data-dir': dir,
        'key-provider': 'vault',
        'key-store': `${vault.url}/v1/transit/keys/fresh`,
      },
    })
  const versions = (): Uint8Array[] => {
    const db = new DatabaseSync(join(dir, 'meta.sqlite'), { readOnly: true })
    try {
      return db
        .prepare('SELECT material FROM key_versions ORDER BY key_id, version')
        .all()
        .map((r) => r.material as Uint8Array)
    } finally {
      db.close()
    }
  }
  let keyId = ''

  it('attack: a gateway still on the old root refuses to make key versions once the root moved', async () => {
    await initDataDir(local(), { dev: false })
    const running = await openApp(local())
    try {
      const t = await running.identity.createTenant('nlp')
      keyId = (await running.keys.createKey(t, { alias: 'models' })).id
      const target = vaultConfig().keyStore
      assert.ok(target)
      const r = await migrateRootTo(local(), target)
      assert.deepEqual([r.rewrapped, r.already], [1, 0])
      // The process opened before the migration would seal a new version under the old root
      // key, which the installation no longer opens: it refuses instead.
      await assert.rejects(running.keys.rotate(keyId), (e: unknown) => {
        assert.ok(isStrongroomError(e))
        assert.equal(e.code, 'ROOT_KEY_WRONG')
        assert.match(e.message, /root was moved to another key store .* restart it/)
        return true
      })
      await assert.rejects(running.keys.createKey(t, {}), /root was moved/)
    } finally {
      await running.close()
    }
    assert.deepEqual(
      versions().map((m) => [m[0], m[1]]),
      [
        [3, 2],
        [3, 2],
      ],
    )
  })

  it('attack: local-format material planted after the migration is refused, by root migrate too', async () => {
    // A writer of the database who kept the old root key plants material it knows (format 2
    // under the old root) as the key's version, hoping a re-run of root migrate wraps it into
    // the store: every object sealed under the key afterwards would be readable offline.
    const planted = randomBytes(32)
    const { seal } = deriveRootKeys(root)
    const forged = sealSecret(seal, planted, materialAad(keyId, 1), ROOT_SEAL_V2)
    const db = new DatabaseSync(join(dir, 'meta.sqlite'))
    db.prepare('UPDATE key_versions SET material = ? WHERE key_id = ?').run(forged, keyId)
    db.close()
    const refused = (e: unknown) => {
      assert.ok(isStrongroomError(e))
      assert.equal(e.code, 'ROOT_KEY_WRONG')
      assert.match(
        e.message,
        /sealed under a local root key, but this installation's root is in an external key store: refused/,
      )
      assert.doesNotMatch(e.message, /run `strongroom root migrate` again/)
      return true
    }
    const target = vaultConfig().keyStore
    assert.ok(target)
    await assert.rejects(migrateRootTo(vaultConfig(), target), refused)
    await withApp(vaultConfig(), async (app) => {
      await assert.rejects(app.keyProvider.wrap(keyId, randomBytes(32), {}), refused)
    })
    // Nothing was re-wrapped: the planted bytes are still what they were.
    assert.deepEqual(Buffer.from(versions()[0] ?? []), forged)
  })

  it('attack: a record downgraded to a local root (with the check value of the old key) is refused, never asking for that key', async () => {
    // A writer of the database who kept the old root key makes the record say "local key"
    // again, hoping the operator hands it that key and new versions are sealed under it.
    const db = new DatabaseSync(join(dir, 'meta.sqlite'))
    const id = String(db.prepare('SELECT id FROM installation').get()?.id)
    db.prepare(
      "UPDATE installation SET root_mode = 'key', root_store = NULL, root_wrapped = NULL, root_check = ?",
    ).run(rootCheck(root, { installationId: id, rootMode: 'key', rootKdf: null }))
    db.close()
    await assert.rejects(openApp(vaultConfig()), (e: unknown) => {
      assert.ok(isStrongroomError(e))
      assert.equal(e.code, 'ROOT_KEY_WRONG')
      assert.match(
        e.message,
        /--key-provider vault is configured, but .* says its root is a local key \(key\): refused/,
      )
      assert.doesNotMatch(e.message, /STRONGROOM_ROOT_KEY|--root-key-file/)
      return true
    })
  })

  it('a version that will not open stops the migration before any version moved', async () => {
    const d = join(work, 'half')
    const c = loadConfig({
      env: { STRONGROOM_ROOT_KEY: root.toString('hex') },
      flags: { 'data-dir': d },
    })
    await initDataDir(c, { dev: false })
    await withApp(c, async (app) => {
      const k = await app.keys.createKey(await app.identity.createTenant('cv'), {})
      await app.keys.rotate(k.id)
    })
    const db = new DatabaseSync(join(d, 'meta.sqlite'))
    const v2 = db.prepare('SELECT material FROM key_versions WHERE version = 2').get()
      ?.material as Uint8Array
    const bad = Buffer.from(v2)
    bad[bad.length - 1] = (bad[bad.length - 1] ?? 0) ^ 1
    db.prepare('UPDATE key_versions SET material = ? WHERE version = 2').run(bad)
    db.close()
    const target = vaultConfig().keyStore
    assert.ok(target)
    await assert.rejects(migrateRootTo(c, target), /version 2 does not open under this root key/)
    // Version 1 is still sealed under the local root, and the directory still opens with it.
    const after = new DatabaseSync(join(d, 'meta.sqlite'), { readOnly: true })
    const rows = after.prepare('SELECT version, material FROM key_versions ORDER BY version').all()
    after.close()
    assert.deepEqual(
      rows.map((r) => [r.version, (r.material as Uint8Array)[0]]),
      [
        [1, 2],
        [2, 2],
      ],
    )
    await withApp(c, () => Promise.resolve())
  })

  it('attack: a --dev root key file left beside the data after a migration (it would open the system secrets) is removed', async () => {
    const devDir = join(work, 'dev')
    const dev = loadConfig({ env: {}, flags: { 'data-dir': devDir } })
    await initDataDir(dev, { dev: true })
    assert.ok(existsSync(join(devDir, DEV_KEY_FILE)))
    const target = vaultConfig().keyStore
    assert.ok(target)
    const r = await migrateRootTo(dev, target)
    assert.equal(r.from, 'dev')
    assert.equal(existsSync(join(devDir, DEV_KEY_FILE)), false)
  })
})
