/**
 * KMS's API (JSON 1.1, TrentService) over each tenant's customer-managed keys: the same keys
 * that seal objects, so a key made here can be a bucket's default key. Each operation is a
 * declaration: its action, the key it acts on (decided with the key's policy by
 * ../json-decide.ts before the handler runs) and the condition keys its input sets
 * (https://docs.aws.amazon.com/kms/latest/APIReference/API_Operations.html).
 *
 * Encrypt's ciphertext names its key (src/kms/ciphertext.ts), so Decrypt needs no KeyId. The
 * encryption context is bound as AAD, with a reserved entry that keeps these ciphertexts apart
 * from objects' wrapped data keys under the same key; context keys starting `strongroom:` are
 * refused.
 */
import { randomBytes, randomUUID } from 'node:crypto'
import { StrongroomError, isStrongroomError } from '../../errors.ts'
import { parsePolicyText } from '../../iam/policy.ts'
import type { KeyRecord } from '../../meta/keys.ts'
import {
  decodeCiphertextBlob,
  encodeCiphertextBlob,
  MAX_CIPHERTEXT_BLOB,
} from '../../kms/ciphertext.ts'
import type { JsonAuthorized } from '../authorized.ts'
import type { Conditions, JsonOperation } from '../operation.ts'
import { ALIAS_OPERATIONS } from './aliases.ts'
import {
  blob,
  epoch,
  everything,
  int,
  invalid,
  onKey,
  page,
  required,
  str,
  type Input,
} from './input.ts'
import { TAG_OPERATIONS, tagsOf, tagConditions } from './tags.ts'

/** KMS's quota of on-demand rotations of one key (API_RotateKeyOnDemand.html). */
const MAX_ON_DEMAND_ROTATIONS = 10

/** The reserved entry that binds an API ciphertext to this API (never an object's data key). */
const API_CONTEXT = 'strongroom:kms-api'

/** An encryption context member (EncryptionContext by default): string keys to string values, none of ours. */
function contextOf(input: Input, member = 'EncryptionContext'): Record<string, string> {
  const v = input[member]
  if (v === undefined) return {}
  if (typeof v !== 'object' || v === null || Array.isArray(v))
    throw invalid(`${member} must be a map of strings to strings`)
  // No prototype: a key named __proto__ is an entry like any other, never dropped.
  const out = Object.create(null) as Record<string, string>
  const folded = new Set<string>()
  for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
    if (typeof x !== 'string')
      throw invalid(`${member} value for ${k.slice(0, 64)} is not a string`)
    if (k.startsWith('strongroom:'))
      throw invalid(`${member} keys starting strongroom: are reserved`)
    // Two strings that differ only in a lone surrogate would encode alike (U+FFFD).
    if (!k.isWellFormed() || !x.isWellFormed())
      throw invalid(`${member} keys and values must be well-formed Unicode`)
    // kms:EncryptionContext:KEY is matched regardless of case: two keys that differ only in
    // case would be one condition key, and one could hide the other from a policy.
    if (folded.has(k.toLowerCase()))
      throw invalid(`${member} has two keys that differ only in case (${k.slice(0, 64)})`)
    folded.add(k.toLowerCase())
    out[k] = x
  }
  return out
}

/** kms:EncryptionContext:KEY and kms:EncryptionContextKeys, as KMS sets them. */
function contextConditions(input: Input, member = 'EncryptionContext'): Conditions {
  const c = contextOf(input, member)
  const keys = Object.keys(c)
  if (keys.length === 0) return {}
  return {
    ...Object.fromEntries(Object.entries(c).map(([k, x]) => [`kms:EncryptionContext:${k}`, x])),
    'kms:EncryptionContextKeys': keys,
  }
}

function algorithm(input: Input, member = 'EncryptionAlgorithm'): void {
  const a = input[member]
  if (a !== undefined && a !== 'SYMMETRIC_DEFAULT')
    throw invalid(`${member} is SYMMETRIC_DEFAULT for a symmetric key`)
}

/** ListKeys' order (the store's: oldest first, then by id) as one string, for its Marker. */
const keyOrder = (k: KeyRecord) => `${String(k.createdAt).padStart(16, '0')}:${k.id}`

/** KeyMetadata as DescribeKey answers it. */
function metadata(ctx: JsonAuthorized, k: KeyRecord): Record<string, unknown> {
  return {
    AWSAccountId: k.tenantId,
    KeyId: k.id,
    Arn: ctx.keys.arn(ctx.tenant, k.id),
    CreationDate: epoch(k.createdAt),
    Enabled: k.state === 'Enabled',
    Description: k.description,
    KeyUsage: 'ENCRYPT_DECRYPT',
    KeyState: k.state,
    ...(k.deletionAt === null ? {} : { DeletionDate: epoch(k.deletionAt) }),
    Origin: 'AWS_KMS',
    KeyManager: 'CUSTOMER',
    CustomerMasterKeySpec: 'SYMMETRIC_DEFAULT',
    KeySpec: 'SYMMETRIC_DEFAULT',
    EncryptionAlgorithms: ['SYMMETRIC_DEFAULT'],
    MultiRegion: false,
  }
}

/**
 * Checks `policy` as the policy of the key `arn`: MalformedPolicyDocumentException when the
 * engine cannot load it, or when it would no longer let the caller change it, unless the
 * request bypasses that check as KMS allows (BypassPolicyLockoutSafetyCheck).
 */
function checkPolicy(ctx: JsonAuthorized, arn: string, policy: string): void {
  const bypass = ctx.input.BypassPolicyLockoutSafetyCheck
  if (bypass !== undefined && typeof bypass !== 'boolean')
    throw invalid('BypassPolicyLockoutSafetyCheck is true or false')
  const r = parsePolicyText(policy, 'key', 'the key policy')
  if (r.policy === undefined) {
    const e = r.errors[0]
    throw new StrongroomError(
      'MALFORMED_POLICY',
      e === undefined
        ? 'The key policy is not valid'
        : `${e.message} (line ${String(e.line)}, column ${String(e.column)}, ${e.path})`,
    )
  }
  if (bypass !== true && !ctx.keepsPolicyAccess(arn, policy))
    throw new StrongroomError(
      'MALFORMED_POLICY',
      'The new key policy will not allow you to update the key policy in the future.',
    )
}
async function encrypt(
  ctx: JsonAuthorized,
  plaintext: Uint8Array,
  key = ctx.key,
  member = 'EncryptionContext',
): Promise<Buffer> {
  const wrapped = await ctx.keyProvider.wrap(key.id, plaintext, {
    ...contextOf(ctx.input, member),
    [API_CONTEXT]: '1',
  })
  return encodeCiphertextBlob(wrapped)
}

/**
 * Opens an API ciphertext under the decided key (which the ciphertext must name), with the
 * encryption context in `member`: InvalidCiphertextException when it was altered or the context
 * differs. The caller zeroes the plaintext.
 */
async function decrypt(
  ctx: JsonAuthorized,
  blobMember: string,
  member: string,
): Promise<Uint8Array> {
  const w = decodeCiphertextBlob(blob(ctx.input, blobMember, 1, MAX_CIPHERTEXT_BLOB))
  if (w.keyId !== ctx.key.id)
    throw new StrongroomError(
      'INCORRECT_KEY',
      'The key ID in the request does not identify a key that can perform this operation',
    )
  try {
    return await ctx.keyProvider.unwrap(w, { ...contextOf(ctx.input, member), [API_CONTEXT]: '1' })
  } catch (e) {
    if (!isStrongroomError(e, 'KEY_UNWRAP_FAILED')) throw e
    throw new StrongroomError(
      'INVALID_CIPHERTEXT',
      'The ciphertext cannot be decrypted: it was altered, or the encryption context differs from the one it was encrypted with',
      { cause: e },
    )
  }
}

function dataKeyBytes(input: Input): number {
  const n = int(input, 'NumberOfBytes', 1, 1024)
  const spec = input.KeySpec
  if ((n === undefined) === (spec === undefined))
    throw invalid('give exactly one of KeySpec (AES_256, AES_128) and NumberOfBytes')
  if (n !== undefined) return n
  if (spec === 'AES_256') return 32
  if (spec === 'AES_128') return 16
  throw invalid('KeySpec is AES_256 or AES_128')
}

const CRYPTO = ['EncryptionContext', 'GrantTokens', 'DryRun']

/** The members every cryptographic operation takes: DryRun (not supported) and GrantTokens. */
function noDryRun(input: Input): void {
  if (input.DryRun !== undefined && input.DryRun !== false)
    throw invalid('DryRun is not supported: leave it out')
  const tokens = input.GrantTokens
  if (
    tokens !== undefined &&
    (!Array.isArray(tokens) ||
      tokens.length > 10 ||
      tokens.some((t) => typeof t !== 'string' || t.length < 1 || t.length > 8192))
  )
    throw invalid('GrantTokens is a list of at most 10 strings')
}

async function generateDataKey(ctx: JsonAuthorized, withPlaintext: boolean) {
  noDryRun(ctx.input)
  const plaintext = randomBytes(dataKeyBytes(ctx.input))
  try {
    const ciphertext = await encrypt(ctx, plaintext)
    return {
      CiphertextBlob: ciphertext.toString('base64'),
      ...(withPlaintext ? { Plaintext: plaintext.toString('base64') } : {}),
      KeyId: ctx.keys.arn(ctx.tenant, ctx.key.id),
    }
  } finally {
    plaintext.fill(0)
  }
}

/** Decrypt's key: the one its ciphertext names, which KeyId (if given) must name too. */
function decryptKey(input: Input, keyMember = 'KeyId'): string {
  const given = str(input, keyMember)
  const w = decodeCiphertextBlob(blob(input, 'CiphertextBlob', 1, MAX_CIPHERTEXT_BLOB))
  return given ?? w.keyId
}

export const KMS_OPERATIONS: readonly JsonOperation[] = [
  {
    service: 'kms',
    name: 'CreateKey',
    action: 'kms:CreateKey',
    members: [
      'Description',
      'Policy',
      'BypassPolicyLockoutSafetyCheck',
      'KeyUsage',
      'KeySpec',
      'CustomerMasterKeySpec',
      'Origin',
      'MultiRegion',
      'Tags',
    ],
    resource: everything,
    conditions: tagConditions,
    async handler(ctx) {
      const i = ctx.input
      const description = str(i, 'Description', 8192)
      if (i.KeyUsage !== undefined && i.KeyUsage !== 'ENCRYPT_DECRYPT')
        throw invalid('KeyUsage is ENCRYPT_DECRYPT: Strongroom keys are symmetric')
      for (const spec of ['KeySpec', 'CustomerMasterKeySpec'])
        if (i[spec] !== undefined && i[spec] !== 'SYMMETRIC_DEFAULT')
          throw invalid(`${spec} is SYMMETRIC_DEFAULT: Strongroom keys are symmetric`)
      if (i.Origin !== undefined && i.Origin !== 'AWS_KMS') throw invalid('Origin is AWS_KMS')
      if (i.MultiRegion !== undefined && i.MultiRegion !== false)
        throw invalid('MultiRegion keys are not supported')
      const policy = str(i, 'Policy', 32768)
      // Checked before the key exists, so that a refused policy leaves no key behind; a key
      // policy names its own key as `*` (its id is not known before), which the check sees.
      if (policy !== undefined) checkPolicy(ctx, ctx.keys.arn(ctx.tenant, randomUUID()), policy)
      const key = await ctx.keys.createKey(ctx.tenant, {
        ...(description === undefined ? {} : { description }),
        tags: tagsOf(i),
      })
      if (policy !== undefined) await ctx.keys.putKeyPolicy(ctx.tenant, key.id, policy)
      return { KeyMetadata: metadata(ctx, key) }
    },
  },
  onKey('DescribeKey', ['GrantTokens'], (ctx) => {
    noDryRun(ctx.input)
    return Promise.resolve({ KeyMetadata: metadata(ctx, ctx.key) })
  }),
  {
    service: 'kms',
    name: 'ListKeys',
    action: 'kms:ListKeys',
    members: ['Limit', 'Marker'],
    resource: everything,
    async handler(ctx) {
      const keys = (await ctx.keys.list(ctx.tenant)).filter((k) => k.state !== 'Deleted')
      const p = page(ctx.input, keys, keyOrder, 1000, 100)
      return {
        Keys: p.items.map((k) => ({ KeyId: k.id, KeyArn: ctx.keys.arn(ctx.tenant, k.id) })),
        Truncated: p.Truncated,
        ...(p.NextMarker === undefined ? {} : { NextMarker: p.NextMarker }),
      }
    },
  },
  onKey('EnableKey', [], async (ctx) => {
    await ctx.keys.enable(ctx.tenant, ctx.key.id)
    return {}
  }),
  onKey('DisableKey', [], async (ctx) => {
    await ctx.keys.disable(ctx.tenant, ctx.key.id)
    return {}
  }),
  onKey('GetKeyRotationStatus', [], (ctx) =>
    Promise.resolve({
      KeyId: ctx.keys.arn(ctx.tenant, ctx.key.id),
      KeyRotationEnabled: ctx.key.rotationPeriodDays !== null,
      ...(ctx.key.rotationPeriodDays === null
        ? {}
        : { RotationPeriodInDays: ctx.key.rotationPeriodDays }),
      ...(ctx.key.nextRotationAt === null
        ? {}
        : { NextRotationDate: epoch(ctx.key.nextRotationAt) }),
    }),
  ),
  onKey('EnableKeyRotation', ['RotationPeriodInDays'], async (ctx) => {
    const days = int(ctx.input, 'RotationPeriodInDays', 90, 2560) ?? 365
    await ctx.keys.setRotation(ctx.tenant, ctx.key.id, days)
    return {}
  }),
  onKey('DisableKeyRotation', [], async (ctx) => {
    await ctx.keys.setRotation(ctx.tenant, ctx.key.id, null)
    return {}
  }),
  onKey('ScheduleKeyDeletion', ['PendingWindowInDays'], async (ctx) => {
    const days = int(ctx.input, 'PendingWindowInDays', 7, 30) ?? 30
    const k = await ctx.keys.scheduleDeletion(ctx.tenant, ctx.key.id, days)
    return {
      KeyId: ctx.keys.arn(ctx.tenant, k.id),
      ...(k.deletionAt === null ? {} : { DeletionDate: epoch(k.deletionAt) }),
      KeyState: k.state,
      PendingWindowInDays: days,
    }
  }),
  onKey('CancelKeyDeletion', [], async (ctx) => {
    const k = await ctx.keys.cancelDeletion(ctx.tenant, ctx.key.id)
    return { KeyId: ctx.keys.arn(ctx.tenant, k.id) }
  }),
  onKey('GetKeyPolicy', ['PolicyName'], async (ctx) => {
    const name = str(ctx.input, 'PolicyName', 128) ?? 'default'
    if (name !== 'default')
      throw new StrongroomError('KEY_NOT_FOUND', `the key has no policy ${name}: only default`)
    const { policy } = await ctx.keys.getKeyPolicy(ctx.tenant, ctx.key.id)
    return { Policy: policy, PolicyName: 'default' }
  }),
  onKey('PutKeyPolicy', ['PolicyName', 'Policy', 'BypassPolicyLockoutSafetyCheck'], async (ctx) => {
    const name = str(ctx.input, 'PolicyName', 128) ?? 'default'
    if (name !== 'default') throw invalid('PolicyName is default')
    const policy = required(ctx.input, 'Policy', 32768)
    checkPolicy(ctx, ctx.keys.arn(ctx.tenant, ctx.key.id), policy)
    await ctx.keys.putKeyPolicy(ctx.tenant, ctx.key.id, policy)
    return {}
  }),
  onKey('ListKeyPolicies', ['Limit', 'Marker'], (ctx) => {
    const p = page(ctx.input, ['default'], (n) => n, 1000, 100)
    return Promise.resolve({
      PolicyNames: p.items,
      Truncated: p.Truncated,
      ...(p.NextMarker === undefined ? {} : { NextMarker: p.NextMarker }),
    })
  }),
  onKey(
    'Encrypt',
    ['Plaintext', 'EncryptionAlgorithm', ...CRYPTO],
    async (ctx) => {
      noDryRun(ctx.input)
      algorithm(ctx.input)
      const plaintext = blob(ctx.input, 'Plaintext', 1, 4096)
      try {
        return {
          CiphertextBlob: (await encrypt(ctx, plaintext)).toString('base64'),
          KeyId: ctx.keys.arn(ctx.tenant, ctx.key.id),
          EncryptionAlgorithm: 'SYMMETRIC_DEFAULT',
        }
      } finally {
        plaintext.fill(0)
      }
    },
    contextConditions,
  ),
  {
    service: 'kms',
    name: 'Decrypt',
    action: 'kms:Decrypt',
    members: ['CiphertextBlob', 'KeyId', 'EncryptionAlgorithm', ...CRYPTO],
    resource: everything,
    key: decryptKey,
    conditions: contextConditions,
    async handler(ctx) {
      noDryRun(ctx.input)
      algorithm(ctx.input)
      const plaintext = await decrypt(ctx, 'CiphertextBlob', 'EncryptionContext')
      const out = Buffer.from(plaintext)
      try {
        return {
          KeyId: ctx.keys.arn(ctx.tenant, ctx.key.id),
          Plaintext: out.toString('base64'),
          EncryptionAlgorithm: 'SYMMETRIC_DEFAULT',
        }
      } finally {
        out.fill(0)
        plaintext.fill(0)
      }
    },
  },
  onKey(
    'GenerateDataKey',
    ['NumberOfBytes', 'KeySpec', ...CRYPTO],
    (ctx) => generateDataKey(ctx, true),
    contextConditions,
  ),
  onKey(
    'GenerateDataKeyWithoutPlaintext',
    ['NumberOfBytes', 'KeySpec', ...CRYPTO],
    (ctx) => generateDataKey(ctx, false),
    contextConditions,
  ),
  {
    service: 'kms',
    name: 'GenerateRandom',
    action: 'kms:GenerateRandom',
    members: ['NumberOfBytes', 'CustomKeyStoreId', 'Recipient'],
    resource: everything,
    handler(ctx) {
      if (ctx.input.CustomKeyStoreId !== undefined || ctx.input.Recipient !== undefined)
        throw invalid('CustomKeyStoreId and Recipient are not supported')
      const n = int(ctx.input, 'NumberOfBytes', 1, 1024)
      if (n === undefined) throw invalid('NumberOfBytes is required')
      return Promise.resolve({ Plaintext: randomBytes(n).toString('base64') })
    },
  },
  {
    service: 'kms',
    name: 'ReEncrypt',
    action: 'kms:ReEncryptFrom',
    members: [
      'CiphertextBlob',
      'SourceEncryptionContext',
      'SourceKeyId',
      'DestinationKeyId',
      'DestinationEncryptionContext',
      'SourceEncryptionAlgorithm',
      'DestinationEncryptionAlgorithm',
      'GrantTokens',
      'DryRun',
    ],
    resource: everything,
    key: (input) => decryptKey(input, 'SourceKeyId'),
    conditions: (input) => contextConditions(input, 'SourceEncryptionContext'),
    to: {
      action: 'kms:ReEncryptTo',
      key: (input) => required(input, 'DestinationKeyId'),
      conditions: (input) => contextConditions(input, 'DestinationEncryptionContext'),
    },
    async handler(ctx) {
      noDryRun(ctx.input)
      algorithm(ctx.input, 'SourceEncryptionAlgorithm')
      algorithm(ctx.input, 'DestinationEncryptionAlgorithm')
      const plaintext = await decrypt(ctx, 'CiphertextBlob', 'SourceEncryptionContext')
      try {
        const out = await encrypt(ctx, plaintext, ctx.to, 'DestinationEncryptionContext')
        return {
          CiphertextBlob: out.toString('base64'),
          SourceKeyId: ctx.keys.arn(ctx.tenant, ctx.key.id),
          KeyId: ctx.keys.arn(ctx.tenant, ctx.to.id),
          SourceEncryptionAlgorithm: 'SYMMETRIC_DEFAULT',
          DestinationEncryptionAlgorithm: 'SYMMETRIC_DEFAULT',
        }
      } finally {
        plaintext.fill(0)
      }
    },
  },
  onKey('RotateKeyOnDemand', [], async (ctx) => {
    const done = (await ctx.keys.rotations(ctx.key.id)).filter((r) => r.type === 'ON_DEMAND')
    if (done.length >= MAX_ON_DEMAND_ROTATIONS)
      throw new StrongroomError(
        'LIMIT_EXCEEDED',
        `key ${ctx.key.id} was rotated on demand ${String(done.length)} times, the most KMS allows`,
      )
    await ctx.keys.rotate(ctx.key.id)
    return { KeyId: ctx.key.id }
  }),
  onKey('ListKeyRotations', ['Limit', 'Marker'], async (ctx) => {
    const rotations = await ctx.keys.rotations(ctx.key.id)
    const p = page(ctx.input, rotations, (r) => String(r.version).padStart(10, '0'), 1000, 100)
    return {
      Rotations: p.items.map((r) => ({
        KeyId: ctx.key.id,
        RotationDate: epoch(r.rotatedAt),
        RotationType: r.type,
      })),
      Truncated: p.Truncated,
      ...(p.NextMarker === undefined ? {} : { NextMarker: p.NextMarker }),
    }
  }),
  ...ALIAS_OPERATIONS,
  ...TAG_OPERATIONS,
]
