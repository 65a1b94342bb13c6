/**
 * The small documents of S3's bucket and object sub-resources: versioning,
 * default encryption, the public access block and tag sets, read strictly
 * from request XML (or the x-amz-tagging header) and written back as S3 does.
 */
import type { PublicAccessBlock, Tags } from '../meta/objects.ts'
import { StrongroomError } from '../errors.ts'
import { leaf, type Node, type XmlElement } from './xml.ts'

const malformed = (why: string): StrongroomError =>
  new StrongroomError(
    'MALFORMED_XML',
    `The XML you provided was not well-formed or did not validate against our published schema: ${why}`,
  )

/** A container element (TagSet, ApplyServerSideEncryptionByDefault); text fields go through `leaf`. */
function child(el: XmlElement, name: string): XmlElement | undefined {
  return el.children.find((c) => c.name === name)
}

function expectRoot(el: XmlElement, name: string): void {
  if (el.name !== name) throw malformed(`the root element must be ${name}, not ${el.name}`)
}

/** PutBucketVersioning: Status Enabled or Suspended; MFA delete is not offered. */
export function parseVersioning(doc: XmlElement): 'Enabled' | 'Suspended' {
  expectRoot(doc, 'VersioningConfiguration')
  const mfa = leaf(doc, 'MfaDelete')?.trim()
  if (mfa === 'Enabled')
    throw new StrongroomError('NOT_IMPLEMENTED', 'Strongroom does not implement MFA delete')
  const status = leaf(doc, 'Status')?.trim()
  if (status !== 'Enabled' && status !== 'Suspended')
    throw malformed('Status must be Enabled or Suspended (a bucket cannot return to unversioned)')
  return status
}

/** PutBucketEncryption: one rule, aws:kms (with an optional key) or AES256 (the tenant's default key). */
export function parseEncryption(doc: XmlElement): {
  keyId: string | undefined
  algorithm: 'AES256' | 'aws:kms'
} {
  expectRoot(doc, 'ServerSideEncryptionConfiguration')
  const rules = doc.children.filter((c) => c.name === 'Rule')
  if (rules.length !== 1) throw malformed('exactly one Rule is expected')
  const byDefault = child(rules[0] as XmlElement, 'ApplyServerSideEncryptionByDefault')
  if (byDefault === undefined) throw malformed('the Rule needs ApplyServerSideEncryptionByDefault')
  const alg = leaf(byDefault, 'SSEAlgorithm')?.trim()
  const key = leaf(byDefault, 'KMSMasterKeyID')?.trim()
  if (alg === 'AES256') {
    if (key !== undefined && key !== '')
      throw new StrongroomError('INVALID_ARGUMENT', 'KMSMasterKeyID is only allowed with aws:kms')
    return { keyId: undefined, algorithm: 'AES256' }
  }
  if (alg !== 'aws:kms')
    throw new StrongroomError(
      'INVALID_ARGUMENT',
      `The encryption algorithm ${alg ?? '(none)'} is not supported: use aws:kms or AES256`,
    )
  return { keyId: key === '' ? undefined : key, algorithm: 'aws:kms' }
}

/** GetBucketEncryption: SSE-S3 names no key; aws:kms names the bucket's. */
export function encryptionXml(algorithm: 'AES256' | 'aws:kms', keyArn: string): Node {
  return {
    Rule: {
      ApplyServerSideEncryptionByDefault:
        algorithm === 'AES256'
          ? { SSEAlgorithm: 'AES256' }
          : { SSEAlgorithm: 'aws:kms', KMSMasterKeyID: keyArn },
      BucketKeyEnabled: false,
    },
  }
}

const PAB_FIELDS = [
  ['BlockPublicAcls', 'blockPublicAcls'],
  ['IgnorePublicAcls', 'ignorePublicAcls'],
  ['BlockPublicPolicy', 'blockPublicPolicy'],
  ['RestrictPublicBuckets', 'restrictPublicBuckets'],
] as const

/** PutPublicAccessBlock: a switch that is left out is off, as in S3. */
export function parsePublicAccessBlock(doc: XmlElement): PublicAccessBlock {
  expectRoot(doc, 'PublicAccessBlockConfiguration')
  const out: Record<string, boolean> = {}
  for (const [tag, field] of PAB_FIELDS) {
    const v = leaf(doc, tag)?.trim().toLowerCase()
    if (v !== undefined && v !== 'true' && v !== 'false')
      throw malformed(`${tag} must be true or false`)
    out[field] = v === 'true'
  }
  return out as unknown as PublicAccessBlock
}

export function publicAccessBlockXml(p: PublicAccessBlock): Node {
  return Object.fromEntries(PAB_FIELDS.map(([tag, field]) => [tag, p[field]]))
}

/**
 * S3's tag rules: at most 10 on an object (50 on a bucket), keys of 1–128 and values of 0–256
 * characters, no duplicate keys, no aws: prefix.
 */
export function checkTags(tags: Tags, of: 'object' | 'bucket' = 'object'): Tags {
  if (of === 'object' && tags.length > 10)
    throw new StrongroomError('BAD_REQUEST', 'Object tags cannot be greater than 10')
  if (of === 'bucket' && tags.length > 50)
    throw new StrongroomError('INVALID_TAG', 'Bucket tags cannot be greater than 50')
  const seen = new Set<string>()
  // Lengths in code points, as S3 counts characters.
  const chars = (x: string) => Array.from(x).length
  for (const [k, v] of tags) {
    if (chars(k) < 1 || chars(k) > 128)
      throw new StrongroomError(
        'INVALID_TAG',
        'The TagKey you have provided is invalid: 1 to 128 characters',
      )
    if (chars(v) > 256)
      throw new StrongroomError(
        'INVALID_TAG',
        'The TagValue you have provided is too long: at most 256 characters',
      )
    if (k.toLowerCase().startsWith('aws:'))
      throw new StrongroomError('INVALID_TAG', 'Your TagKey cannot be prefixed with aws:')
    if (seen.has(k))
      throw new StrongroomError('INVALID_TAG', 'Cannot provide multiple Tags with the same key')
    seen.add(k)
  }
  return tags
}

/** PutObjectTagging's (and PutBucketTagging's) body. */
export function parseTagging(doc: XmlElement, of: 'object' | 'bucket' = 'object'): Tags {
  expectRoot(doc, 'Tagging')
  const set = child(doc, 'TagSet')
  if (set === undefined) throw malformed('Tagging needs a TagSet')
  return checkTags(
    set.children.map((t) => {
      if (t.name !== 'Tag') throw malformed(`unexpected ${t.name} in TagSet`)
      const k = leaf(t, 'Key')
      if (k === undefined) throw malformed('every Tag needs a Key')
      return [k, leaf(t, 'Value') ?? ''] as const
    }),
    of,
  )
}

/** The x-amz-tagging header: a URL query string, `k1=v1&k2=v2`. */
export function parseTaggingHeader(h: string | undefined): Tags {
  if (h === undefined || h === '') return []
  const tags: [string, string][] = []
  for (const pair of h.split('&')) {
    const eq = pair.indexOf('=')
    const dec = (s: string) => {
      try {
        return decodeURIComponent(s.replace(/\+/g, ' '))
      } catch (e) {
        throw new StrongroomError(
          'INVALID_ARGUMENT',
          'The header x-amz-tagging is not valid URL encoding',
          { cause: e },
        )
      }
    }
    tags.push(eq < 0 ? [dec(pair), ''] : [dec(pair.slice(0, eq)), dec(pair.slice(eq + 1))])
  }
  return checkTags(tags)
}

export function taggingXml(tags: Tags): Node {
  return { TagSet: { Tag: tags.map(([Key, Value]) => ({ Key, Value })) } }
}

/** The condition keys that name tags: s3:ExistingObjectTag/<key> or s3:RequestObjectTag/<key>. */
export function tagConditions(
  prefix: 's3:ExistingObjectTag' | 's3:RequestObjectTag',
  tags: Tags,
): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {}
  for (const [k, v] of tags) out[`${prefix}/${k}`] = v
  if (prefix === 's3:RequestObjectTag') out['s3:RequestObjectTagKeys'] = tags.map(([k]) => k)
  return out
}
