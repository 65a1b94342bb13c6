/**
 * KMS's API (JSON 1.1, TrentService) over a tenant's keys, signed with the AWS SDK's own SigV4
 * signer for `kms`: keys made and described, Encrypt and Decrypt with an encryption context
 * bound exactly (https://docs.aws.amazon.com/kms/latest/developerguide/encrypt_context.html),
 * a ciphertext that names its key so Decrypt needs none, key states and KMS's error codes
 * (https://docs.aws.amazon.com/kms/latest/APIReference/API_Decrypt.html#API_Decrypt_Errors),
 * and key policies deciding before any handler runs.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { Detector } from '../../src/audit/detect/engine.ts'
import { loadRules } from '../../src/audit/detect/load.ts'
import type { AuditEvent } from '../../src/audit/event.ts'
import { records } from '../../src/audit/read.ts'
import {
  ALLOW_ALL,
  callJson,
  startInProcess,
  userWith,
  type Creds,
  type InProcess,
} from './inprocess.ts'

const dir = mkdtempSync(join(tmpdir(), 'sr-kms-api-'))
let g: InProcess
let other: Creds
let keyId = ''
let keyArn = ''

const kms = (c: Creds | undefined, op: string, input: unknown, raw?: string) =>
  callJson(g.running.url, c, 'kms', `TrentService.${op}`, input, raw)

before(async () => {
  g = await startInProcess(dir)
  other = await userWith(g.app, await g.app.identity.createTenant('rival'), 'root', ALLOW_ALL)
})
after(async () => {
  await g.close()
  rmSync(dir, { recursive: true, force: true })
})

describe('the KMS API', () => {
  it('CreateKey and DescribeKey answer KMS’s KeyMetadata', async () => {
    const made = await kms(g.admin, 'CreateKey', { Description: 'team key' })
    assert.equal(made.status, 200, JSON.stringify(made.body))
    const meta = made.body.KeyMetadata as Record<string, unknown>
    keyId = String(meta.KeyId)
    keyArn = String(meta.Arn)
    const acme = await g.app.identity.findTenant('acme')
    assert.equal(keyArn, `arn:aws:kms:us-east-1:${acme?.id ?? ''}:key/${keyId}`)
    assert.equal(meta.KeyState, 'Enabled')
    assert.equal(meta.Enabled, true)
    assert.equal(meta.KeySpec, 'SYMMETRIC_DEFAULT')
    assert.equal(meta.Description, 'team key')
    for (const ref of [keyId, keyArn]) {
      const d = await kms(g.admin, 'DescribeKey', { KeyId: ref })
      assert.deepEqual(d.body.KeyMetadata, meta)
    }
    const listed = await kms(g.admin, 'ListKeys', {})
    assert.ok((listed.body.Keys as { KeyId: string }[]).some((k) => k.KeyId === keyId))
  })

  it('Encrypt and Decrypt: the ciphertext names its key, the context must match exactly', async () => {
    const Plaintext = Buffer.from('the weights').toString('base64')
    const EncryptionContext = { project: 'llm', stage: 'train' }
    const enc = await kms(g.admin, 'Encrypt', { KeyId: keyId, Plaintext, EncryptionContext })
    assert.equal(enc.status, 200, JSON.stringify(enc.body))
    assert.equal(enc.body.KeyId, keyArn)
    const CiphertextBlob = String(enc.body.CiphertextBlob)
    const dec = await kms(g.admin, 'Decrypt', { CiphertextBlob, EncryptionContext })
    assert.equal(dec.status, 200, JSON.stringify(dec.body))
    assert.equal(dec.body.Plaintext, Plaintext)
    assert.equal(dec.body.KeyId, keyArn)
    for (const ctx of [{}, { project: 'llm' }, { project: 'llm', stage: 'eval' }]) {
      const wrong = await kms(g.admin, 'Decrypt', { CiphertextBlob, EncryptionContext: ctx })
      assert.equal(wrong.type, 'InvalidCiphertextException', JSON.stringify(ctx))
    }
    const flipped = Buffer.from(CiphertextBlob, 'base64')
    flipped[flipped.length - 1] = (flipped[flipped.length - 1] ?? 0) ^ 1
    const altered = await kms(g.admin, 'Decrypt', {
      CiphertextBlob: flipped.toString('base64'),
      EncryptionContext,
    })
    assert.equal(altered.type, 'InvalidCiphertextException')
    const junk = await kms(g.admin, 'Decrypt', { CiphertextBlob: 'AAAA' })
    assert.equal(junk.type, 'InvalidCiphertextException')
    // Another key named beside the ciphertext: IncorrectKeyException.
    const second = await kms(g.admin, 'CreateKey', {})
    const secondId = String((second.body.KeyMetadata as Record<string, unknown>).KeyId)
    const incorrect = await kms(g.admin, 'Decrypt', {
      CiphertextBlob,
      EncryptionContext,
      KeyId: secondId,
    })
    assert.equal(incorrect.type, 'IncorrectKeyException')
  })

  it('GenerateDataKey gives a key and its ciphertext, which Decrypt opens', async () => {
    const gen = await kms(g.admin, 'GenerateDataKey', { KeyId: keyId, KeySpec: 'AES_256' })
    assert.equal(gen.status, 200, JSON.stringify(gen.body))
    assert.equal(Buffer.from(String(gen.body.Plaintext), 'base64').length, 32)
    const dec = await kms(g.admin, 'Decrypt', { CiphertextBlob: gen.body.CiphertextBlob })
    assert.equal(dec.body.Plaintext, gen.body.Plaintext)
    const bare = await kms(g.admin, 'GenerateDataKeyWithoutPlaintext', {
      KeyId: keyId,
      NumberOfBytes: 16,
    })
    assert.equal(bare.body.Plaintext, undefined)
    const both = await kms(g.admin, 'GenerateDataKey', {
      KeyId: keyId,
      KeySpec: 'AES_256',
      NumberOfBytes: 32,
    })
    assert.equal(both.type, 'ValidationException')
    const random = await kms(g.admin, 'GenerateRandom', { NumberOfBytes: 64 })
    assert.equal(Buffer.from(String(random.body.Plaintext), 'base64').length, 64)
  })

  it('a disabled key refuses, a key pending deletion is in the wrong state, and both come back', async () => {
    assert.equal((await kms(g.admin, 'DisableKey', { KeyId: keyId })).status, 200)
    const Plaintext = Buffer.from('x').toString('base64')
    assert.equal(
      (await kms(g.admin, 'Encrypt', { KeyId: keyId, Plaintext })).type,
      'DisabledException',
    )
    assert.equal((await kms(g.admin, 'EnableKey', { KeyId: keyId })).status, 200)
    const scheduled = await kms(g.admin, 'ScheduleKeyDeletion', {
      KeyId: keyId,
      PendingWindowInDays: 7,
    })
    assert.equal(scheduled.body.KeyState, 'PendingDeletion')
    assert.equal(scheduled.body.PendingWindowInDays, 7)
    assert.equal(
      (await kms(g.admin, 'Encrypt', { KeyId: keyId, Plaintext })).type,
      'KMSInvalidStateException',
    )
    assert.equal((await kms(g.admin, 'CancelKeyDeletion', { KeyId: keyId })).body.KeyId, keyArn)
    const d = await kms(g.admin, 'DescribeKey', { KeyId: keyId })
    assert.equal((d.body.KeyMetadata as Record<string, unknown>).KeyState, 'Disabled')
    assert.equal((await kms(g.admin, 'EnableKey', { KeyId: keyId })).status, 200)
  })

  it('rotation status, with its period', async () => {
    assert.equal(
      (await kms(g.admin, 'EnableKeyRotation', { KeyId: keyId, RotationPeriodInDays: 180 })).status,
      200,
    )
    const on = await kms(g.admin, 'GetKeyRotationStatus', { KeyId: keyId })
    assert.equal(on.body.KeyRotationEnabled, true)
    assert.equal(on.body.RotationPeriodInDays, 180)
    assert.equal((await kms(g.admin, 'DisableKeyRotation', { KeyId: keyId })).status, 200)
    assert.equal(
      (await kms(g.admin, 'GetKeyRotationStatus', { KeyId: keyId })).body.KeyRotationEnabled,
      false,
    )
    const policy = await kms(g.admin, 'GetKeyPolicy', { KeyId: keyId, PolicyName: 'default' })
    assert.match(String(policy.body.Policy), /Enable IAM User Permissions/)
  })

  it('PutKeyPolicy and CreateKey’s Policy: the key policy decides, and cannot lock its setter out', async () => {
    const acme = (await g.app.identity.findTenant('acme'))?.id ?? ''
    const root = `arn:aws:iam::${acme}:root`
    const nobody = `arn:aws:iam::${acme}:user/nobody`
    const policy = (extra: object[]) =>
      JSON.stringify({
        Version: '2012-10-17',
        Statement: [
          {
            Sid: 'Enable IAM User Permissions',
            Effect: 'Allow',
            Principal: { AWS: root },
            Action: 'kms:*',
            Resource: '*',
          },
          ...extra,
        ],
      })
    const made = await kms(g.admin, 'CreateKey', {})
    const id = String((made.body.KeyMetadata as Record<string, unknown>).KeyId)
    const Plaintext = Buffer.from('x').toString('base64')
    assert.equal(
      (await kms(g.nobody, 'Encrypt', { KeyId: id, Plaintext })).type,
      'AccessDeniedException',
    )
    // The key policy names `nobody` itself: allowed with no identity policy, as KMS does.
    const grant = policy([
      { Effect: 'Allow', Principal: { AWS: nobody }, Action: 'kms:Encrypt', Resource: '*' },
    ])
    assert.equal(
      (await kms(g.admin, 'PutKeyPolicy', { KeyId: id, PolicyName: 'default', Policy: grant }))
        .status,
      200,
    )
    assert.equal((await kms(g.admin, 'GetKeyPolicy', { KeyId: id })).body.Policy, grant)
    assert.equal((await kms(g.nobody, 'Encrypt', { KeyId: id, Plaintext })).status, 200)
    // A policy that would shut the administrator out is refused, and changes nothing.
    const lockout = JSON.stringify({
      Version: '2012-10-17',
      Statement: [
        { Effect: 'Allow', Principal: { AWS: nobody }, Action: 'kms:Encrypt', Resource: '*' },
      ],
    })
    const refused = await kms(g.admin, 'PutKeyPolicy', { KeyId: id, Policy: lockout })
    assert.equal(refused.type, 'MalformedPolicyDocumentException')
    assert.match(String(refused.body.message), /will not allow you to update the key policy/)
    assert.equal((await kms(g.admin, 'GetKeyPolicy', { KeyId: id })).body.Policy, grant)
    const broken = await kms(g.admin, 'PutKeyPolicy', { KeyId: id, Policy: '{"Version":' })
    assert.equal(broken.type, 'MalformedPolicyDocumentException')
    const before = ((await kms(g.admin, 'ListKeys', {})).body.Keys as unknown[]).length
    const locked = await kms(g.admin, 'CreateKey', { Policy: lockout })
    assert.equal(locked.type, 'MalformedPolicyDocumentException')
    assert.equal(
      ((await kms(g.admin, 'ListKeys', {})).body.Keys as unknown[]).length,
      before,
      'no key left behind',
    )
    // Bypassing the check is the caller's choice, as on KMS.
    const bypass = await kms(g.admin, 'CreateKey', {
      Policy: lockout,
      BypassPolicyLockoutSafetyCheck: true,
    })
    assert.equal(bypass.status, 200, JSON.stringify(bypass.body))
    const lost = String((bypass.body.KeyMetadata as Record<string, unknown>).KeyId)
    assert.equal((await kms(g.admin, 'DescribeKey', { KeyId: lost })).type, 'AccessDeniedException')
  })

  it('attack: another tenant’s key is NotFoundException, as a key that does not exist', async () => {
    const Plaintext = Buffer.from('x').toString('base64')
    const theirs = await kms(other, 'Encrypt', { KeyId: keyArn, Plaintext })
    const none = await kms(other, 'Encrypt', {
      KeyId: '00000000-0000-4000-8000-000000000000',
      Plaintext,
    })
    assert.equal(theirs.type, 'NotFoundException')
    assert.equal(none.type, 'NotFoundException')
    // Its ciphertext does not open for another tenant either.
    const enc = await kms(g.admin, 'Encrypt', { KeyId: keyId, Plaintext })
    const stolen = await kms(other, 'Decrypt', { CiphertextBlob: enc.body.CiphertextBlob })
    assert.equal(stolen.type, 'NotFoundException')
  })

  it('attack: a caller without the action in its policies is refused before the handler runs', async () => {
    const Plaintext = Buffer.from('x').toString('base64')
    const denied = await kms(g.nobody, 'Encrypt', { KeyId: keyId, Plaintext })
    assert.equal(denied.type, 'AccessDeniedException')
    assert.match(String(denied.body.message), /kms:Encrypt/)
    assert.equal((await kms(undefined, 'ListKeys', {})).type, 'MissingAuthenticationTokenException')
    assert.equal(
      (await kms(g.admin, 'Encrypt', { KeyId: keyId, Plaintext, Colour: 1 })).type,
      'ValidationException',
    )
    assert.equal((await kms(g.admin, 'ReplicateKey', {})).type, 'UnknownOperationException')
    assert.equal(
      (
        await kms(g.admin, 'Encrypt', {
          KeyId: keyId,
          Plaintext,
          EncryptionContext: { 'strongroom:kms-api': '1' },
        })
      ).type,
      'ValidationException',
    )
  })

  it('never writes what is encrypted, or what it is encrypted to, into the audit log', async () => {
    const secret = Buffer.from('the weights').toString('base64')
    const seen: string[] = []
    for await (const [, r] of records(join(dir, 'data', 'audit'))) seen.push(r.toString())
    const kmsEvents = seen.filter((r) => r.includes('"kms.amazonaws.com"'))
    assert.ok(kmsEvents.length > 20, String(kmsEvents.length))
    assert.ok(kmsEvents.some((r) => r.includes('"encryptionContext":{"project":"llm"')))
    for (const r of kmsEvents) {
      assert.ok(!r.includes(secret), r)
      assert.ok(!r.includes('"plaintext"') && !r.includes('"ciphertextBlob"'), r)
    }
    // The detector sees a key disabled through the API.
    const detector = new Detector(loadRules())
    const fired = kmsEvents
      .map((r) => JSON.parse(r) as AuditEvent)
      .filter((e) => e.eventName === 'DisableKey' || e.eventName === 'ScheduleKeyDeletion')
      .flatMap((e) => detector.observe(e).map((a) => a.strongroom.alert.ruleId))
    assert.deepEqual(fired, [
      'key-disabled-or-scheduled-for-deletion',
      'key-disabled-or-scheduled-for-deletion',
    ])
  })

  it('attack: an encryption context key named __proto__, or strings with lone surrogates, are bound or refused, never dropped', async () => {
    const Plaintext = Buffer.from('secret').toString('base64')
    const raw = JSON.stringify({ KeyId: keyId, Plaintext }).replace(
      /}$/,
      ',"EncryptionContext":{"__proto__":"tenantA"}}',
    )
    const enc = await kms(g.admin, 'Encrypt', {}, raw)
    assert.equal(enc.status, 200, JSON.stringify(enc.body))
    const bare = await kms(g.admin, 'Decrypt', { CiphertextBlob: enc.body.CiphertextBlob })
    assert.equal(bare.type, 'InvalidCiphertextException')
    const rawDecrypt = JSON.stringify({ CiphertextBlob: enc.body.CiphertextBlob }).replace(
      /}$/,
      ',"EncryptionContext":{"__proto__":"tenantA"}}',
    )
    assert.equal((await kms(g.admin, 'Decrypt', {}, rawDecrypt)).status, 200)
    const lone = await kms(g.admin, 'Encrypt', {
      KeyId: keyId,
      Plaintext,
      EncryptionContext: { a: '\ud800' },
    })
    assert.equal(lone.type, 'ValidationException')
  })

  it('attack: input nested thousands deep to lose the caller from the audit event is refused, and the event keeps who asked', async () => {
    const Plaintext = Buffer.from('x').toString('base64')
    const raw = `{"KeyId":"${keyId}","Plaintext":"${Plaintext}","GrantTokens":${'['.repeat(6000)}${']'.repeat(6000)}}`
    const deep = await kms(g.admin, 'Encrypt', {}, raw)
    assert.equal(deep.type, 'SerializationException')
    const tokens = await kms(g.admin, 'Encrypt', { KeyId: keyId, Plaintext, GrantTokens: [['x']] })
    assert.equal(tokens.type, 'ValidationException')
    // An unsigned request's input, and members an operation does not take, are not recorded.
    const junk = await kms(undefined, 'Encrypt', { KeyId: 'x', Junk: 'A'.repeat(60_000) })
    assert.equal(junk.type, 'MissingAuthenticationTokenException')
    const seen: string[] = []
    for await (const [, r] of records(join(dir, 'data', 'audit'))) seen.push(r.toString())
    const refused = seen.filter((r) => r.includes('"SerializationException"'))
    assert.equal(refused.length, 1)
    assert.match(refused[0] ?? '', new RegExp(`"accessKeyId":"${g.admin.id}"`))
    assert.ok(
      seen.every((r) => r.length < 8000),
      'no record carries the 60,000-character member',
    )
  })
})
