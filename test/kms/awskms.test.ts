/**
 * The AWS KMS root (src/kms/external/awskms.ts) against Strongroom's own KMS API, a real
 * TrentService (JSON 1.1) over HTTPS with a private CA: wrap with Encrypt
 * (https://docs.aws.amazon.com/kms/latest/APIReference/API_Encrypt.html), unwrap with Decrypt
 * given the KeyId (https://docs.aws.amazon.com/kms/latest/APIReference/API_Decrypt.html), and
 * each of KMS's refusals mapped to the exact code ExternalRoot promises, with no secret in any
 * message.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { Agent } from 'node:https'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import {
  CreateKeyCommand,
  DisableKeyCommand,
  EnableKeyCommand,
  KMSClient,
  ScheduleKeyDeletionCommand,
} from '@aws-sdk/client-kms'
import { isStrongroomError, type ErrorCode } from '../../src/errors.ts'
import { testCertificates } from '../../src/audit/sinks/testing.ts'
import { awsKmsRoot } from '../../src/kms/external/awskms.ts'
import type { AwsKmsSettings, ExternalRoot, ExternalSecrets } from '../../src/kms/external/port.ts'
import { startInProcess, userWith, type Creds, type InProcess } from '../api/inprocess.ts'

const dir = mkdtempSync(join(tmpdir(), 'sr-awskms-'))
const certs = testCertificates()
const REGION = 'us-east-1'
let g: InProcess
let admin: KMSClient
let keyId = ''
let otherKeyId = ''
let encryptOnly: Creds
const opened: ExternalRoot[] = []
/** Every secret a test hands the provider: none may appear in an error message. */
const secrets = new Set<string>()

const awsOf = (c: Creds) => {
  secrets.add(c.secret)
  return { accessKeyId: c.id, secretAccessKey: c.secret }
}

function root(
  over: Partial<AwsKmsSettings> = {},
  s: ExternalSecrets = { aws: awsOf(g.admin), ca: certs.caPem },
): ExternalRoot {
  const r = awsKmsRoot(
    { kind: 'awskms', keyId, region: REGION, endpoint: g.running.url, ...over },
    s,
  )
  opened.push(r)
  return r
}

/** Awaits `p`, which must fail with exactly `code`, and checks its message holds no secret. */
async function fails(p: Promise<unknown>, code: ErrorCode, ...alsoSecret: string[]) {
  const e = await p.then(
    () => assert.fail(`expected ${code}, it succeeded`),
    (x: unknown) => x,
  )
  assert.ok(isStrongroomError(e), String(e))
  assert.equal(e.code, code, e.message)
  for (const s of [...secrets, ...alsoSecret]) assert.ok(!e.message.includes(s), e.message)
  return e
}

before(async () => {
  g = await startInProcess(dir, { tls: { key: certs.keyPem, cert: certs.certPem } })
  admin = new KMSClient({
    region: REGION,
    endpoint: g.running.url,
    credentials: awsOf(g.admin),
    requestHandler: { httpsAgent: new Agent({ ca: certs.caPem }) },
  })
  const make = async () =>
    (await admin.send(new CreateKeyCommand({ Description: 'strongroom root' }))).KeyMetadata
      ?.KeyId ?? ''
  keyId = await make()
  otherKeyId = await make()
  assert.ok(keyId !== '' && otherKeyId !== '')
  const acme = await g.app.identity.findTenant('acme')
  assert.ok(acme)
  encryptOnly = await userWith(g.app, acme, 'encrypt-only', [
    { Effect: 'Allow', Action: 'kms:Encrypt', Resource: '*' },
  ])
})
after(async () => {
  for (const r of opened) await r.close()
  admin.destroy()
  await g.close()
  rmSync(dir, { recursive: true, force: true })
})

describe('awsKmsRoot', () => {
  it('wraps and unwraps a 64-byte secret bound to its AAD, and describes the key without secrets', async () => {
    const r = root()
    assert.equal(r.kind, 'awskms')
    assert.equal(r.describe, `aws kms key ${keyId} in ${REGION} at ${g.running.url}`)
    const secret = randomBytes(64)
    const aad = Buffer.from('strongroom/system-root/v1')
    const blob = await r.wrap(secret, aad)
    assert.ok(Buffer.isBuffer(blob) && blob.length > 64)
    assert.ok(!blob.includes(secret), 'the blob is not the plaintext')
    assert.deepEqual(await r.unwrap(blob, aad), secret)
    // Another provider instance (a restart) opens it too; an empty AAD is an AAD like any other.
    const again = root()
    assert.deepEqual(await again.unwrap(blob, aad), secret)
    const bare = await again.wrap(secret, new Uint8Array(0))
    assert.deepEqual(await r.unwrap(bare, new Uint8Array(0)), secret)
    const onAws = awsKmsRoot(
      { kind: 'awskms', keyId: 'alias/sr', region: 'eu-west-1' },
      {
        aws: awsOf(g.admin),
      },
    )
    opened.push(onAws)
    assert.equal(onAws.describe, 'aws kms key alias/sr in eu-west-1')
  })

  it('without AWS credentials: ROOT_KEY_MISSING, naming the variables to set', () => {
    const settings = { kind: 'awskms', keyId, region: REGION } as const
    for (const s of [{}, { aws: { accessKeyId: '', secretAccessKey: '' } }]) {
      assert.throws(
        () => awsKmsRoot(settings, s),
        (e: unknown) =>
          isStrongroomError(e, 'ROOT_KEY_MISSING') &&
          /AWS_ACCESS_KEY_ID/.test(e.message) &&
          /AWS_SECRET_ACCESS_KEY/.test(e.message),
      )
    }
  })

  it('attack: the blob presented with another AAD is ROOT_KEY_WRONG', async () => {
    const r = root()
    const secret = randomBytes(32)
    const blob = await r.wrap(secret, Buffer.from('tenant-a/key-1/v1'))
    const e = await fails(
      r.unwrap(blob, Buffer.from('tenant-b/key-1/v1')),
      'ROOT_KEY_WRONG',
      secret.toString('base64'),
      secret.toString('hex'),
    )
    assert.match(e.message, /InvalidCiphertextException/)
    await fails(r.unwrap(blob, new Uint8Array(0)), 'ROOT_KEY_WRONG')
  })

  it('attack: altered bytes are ROOT_KEY_WRONG', async () => {
    const r = root()
    const aad = Buffer.from('aad')
    const blob = await r.wrap(randomBytes(32), aad)
    const flipped = Buffer.from(blob)
    flipped[flipped.length - 1] = (flipped[flipped.length - 1] ?? 0) ^ 1
    await fails(r.unwrap(flipped, aad), 'ROOT_KEY_WRONG')
    await fails(r.unwrap(blob.subarray(0, 20), aad), 'ROOT_KEY_WRONG')
  })

  it('attack: a ciphertext made under another key (another installation) is ROOT_KEY_WRONG, not opened', async () => {
    const aad = Buffer.from('same aad')
    const theirs = await root({ keyId: otherKeyId }).wrap(randomBytes(32), aad)
    // The ciphertext names its key and the caller may use that key too: only KeyId stops it.
    const e = await fails(root().unwrap(theirs, aad), 'ROOT_KEY_WRONG')
    assert.match(e.message, /IncorrectKeyException/)
  })

  it('attack: a wrong secret access key, or an unknown access key id, is ROOT_KEY_MISSING', async () => {
    const forged = { id: g.admin.id, secret: `${g.admin.secret.slice(0, -4)}AAAA` }
    const r = root({}, { aws: awsOf(forged), ca: certs.caPem })
    const e = await fails(r.wrap(randomBytes(32), Buffer.from('x')), 'ROOT_KEY_MISSING')
    assert.match(e.message, /InvalidSignatureException/)
    assert.match(e.message, /kms:Encrypt and kms:Decrypt/)
    const unknown = root(
      {},
      { aws: awsOf({ id: 'AKIA0000000000000000', secret: 'x'.repeat(40) }), ca: certs.caPem },
    )
    await fails(unknown.unwrap(randomBytes(100), Buffer.from('x')), 'ROOT_KEY_MISSING')
  })

  it('attack: a principal allowed kms:Encrypt but not kms:Decrypt wraps, and cannot unwrap: ROOT_KEY_MISSING', async () => {
    const r = root({}, { aws: awsOf(encryptOnly), ca: certs.caPem })
    const aad = Buffer.from('aad')
    const blob = await r.wrap(randomBytes(32), aad)
    const e = await fails(r.unwrap(blob, aad), 'ROOT_KEY_MISSING')
    assert.match(e.message, /AccessDeniedException/)
    assert.match(e.message, /Decrypt/)
  })

  it('a disabled key, or one pending deletion, is CONFIG_INVALID naming the key and its state, for wrap and unwrap', async () => {
    const r = root()
    const aad = Buffer.from('aad')
    const blob = await r.wrap(randomBytes(32), aad)
    const both = (x: ExternalRoot, b: Buffer) => [
      () => x.wrap(randomBytes(32), aad),
      () => x.unwrap(b, aad),
    ]
    await admin.send(new DisableKeyCommand({ KeyId: keyId }))
    try {
      for (const call of both(r, blob)) {
        const e = await fails(call(), 'CONFIG_INVALID')
        assert.ok(e.message.includes(keyId), e.message)
        assert.match(e.message, /is disabled.*\(DisabledException\)/)
      }
    } finally {
      await admin.send(new EnableKeyCommand({ KeyId: keyId }))
    }
    assert.equal((await r.unwrap(blob, aad)).length, 32)
    const doomed = (await admin.send(new CreateKeyCommand({}))).KeyMetadata?.KeyId ?? ''
    const d = root({ keyId: doomed })
    const dBlob = await d.wrap(randomBytes(32), aad)
    await admin.send(new ScheduleKeyDeletionCommand({ KeyId: doomed, PendingWindowInDays: 7 }))
    for (const call of both(d, dBlob)) {
      const e = await fails(call(), 'CONFIG_INVALID')
      assert.ok(e.message.includes(doomed), e.message)
      assert.match(e.message, /pending deletion.*\(KMSInvalidStateException\)/)
    }
  })

  it('a key id that names no key is CONFIG_INVALID', async () => {
    const missing = '00000000-0000-4000-8000-000000000000'
    const e = await fails(
      root({ keyId: missing }).wrap(randomBytes(32), Buffer.from('x')),
      'CONFIG_INVALID',
    )
    assert.ok(e.message.includes(missing), e.message)
    assert.match(e.message, /does not exist/)
  })

  it('an endpoint nobody listens on is IO, with the cause', async () => {
    const server = createServer()
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    const port = (server.address() as { port: number }).port
    await new Promise<void>((resolve) => server.close(() => resolve()))
    const r = root({ endpoint: `https://127.0.0.1:${String(port)}` })
    const e = await fails(r.wrap(randomBytes(32), Buffer.from('x')), 'IO')
    assert.ok(e.cause !== undefined)
    assert.match(e.message, /ECONNREFUSED/)
  })

  it('attack: an endpoint whose certificate no trusted CA signed is IO (the CA is not trusted unless given)', async () => {
    const r = root({}, { aws: awsOf(g.admin) })
    const e = await fails(r.wrap(randomBytes(32), Buffer.from('x')), 'IO')
    assert.ok(e.cause !== undefined)
  })
})
