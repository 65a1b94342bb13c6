/** Bucket configuration: the bucket policy, default encryption and the public access block. */
import { StrongroomError } from '../../errors.ts'
import { parsePolicyText } from '../../iam/policy.ts'
import type { Operation } from '../operation.ts'
import type { Authorized } from '../pipeline.ts'
import {
  encryptionXml,
  parseEncryption,
  parsePublicAccessBlock,
  publicAccessBlockXml,
} from '../s3-config.ts'
import { readXml, XML_BOUNDS } from '../xml.ts'
import { publicStatement } from '../../iam/public.ts'
import { onBucket } from './common.ts'

/** S3's limit on a bucket policy, after whitespace is removed (https://docs.aws.amazon.com/AmazonS3/latest/userguide/add-bucket-policy.html). */
const MAX_POLICY_BYTES = 20 * 1024

function policyTooLarge(): StrongroomError {
  return new StrongroomError(
    'MALFORMED_POLICY',
    `Policies must be less than 20 KB: a bucket policy may be at most ${MAX_POLICY_BYTES} bytes once whitespace is removed`,
  )
}

/** The size of a JSON document without its whitespace, as S3 measures a policy; the text's own size when it does not parse (the policy parser then says why). */
function minifiedJsonBytes(text: string): number {
  let doc: unknown
  try {
    doc = JSON.parse(text)
  } catch {
    // Not JSON: measured as sent; the policy parser reports why it does not parse.
    return Buffer.byteLength(text)
  }
  return Buffer.byteLength(JSON.stringify(doc))
}

async function putBucketPolicy(ctx: Authorized): Promise<void> {
  const name = ctx.bucketName
  const text = (await ctx.readBody(4 * MAX_POLICY_BYTES, policyTooLarge)).toString('utf8')
  if (Buffer.byteLength(text) > MAX_POLICY_BYTES && minifiedJsonBytes(text) > MAX_POLICY_BYTES)
    throw policyTooLarge()
  const r = parsePolicyText(text, 'resource', 'bucket policy')
  if (r.policy === undefined) {
    const e = r.errors[0]
    throw new StrongroomError(
      'MALFORMED_POLICY',
      e === undefined
        ? 'Policies must be valid JSON'
        : `${e.message} (line ${e.line}, column ${e.column}, ${e.path})`,
    )
  }
  const outside = r.policy.statements
    .flatMap((s) => s.resource ?? s.notResource ?? [])
    .find(
      (t) =>
        t.source !== '*' &&
        t.source !== `arn:aws:s3:::${name}` &&
        !t.source.startsWith(`arn:aws:s3:::${name}/`),
    )
  if (outside !== undefined)
    throw new StrongroomError(
      'MALFORMED_POLICY',
      `Policy has a resource outside this bucket: ${outside.source}`,
    )
  const open = publicStatement(r.policy)
  if (open !== undefined && ctx.bucket.publicAccessBlock.blockPublicPolicy)
    throw new StrongroomError(
      'ACCESS_DENIED',
      `Access Denied: ${open} grants public access and the bucket's public access block (BlockPublicPolicy) is on`,
    )
  await ctx.buckets.setPolicy(name, text)
  ctx.send(204)
}

function getBucketPolicy(ctx: Authorized): Promise<void> {
  const b = ctx.bucket
  if (b.policy === null)
    throw new StrongroomError('NO_SUCH_BUCKET_POLICY', 'The bucket policy does not exist', {
      details: { BucketName: b.name },
    })
  ctx.res.setHeader('Content-Type', 'application/json')
  ctx.send(200, b.policy)
  return Promise.resolve()
}

async function deleteBucketPolicy(ctx: Authorized): Promise<void> {
  await ctx.buckets.deletePolicy(ctx.bucketName)
  ctx.send(204)
}

async function putBucketEncryption(ctx: Authorized): Promise<void> {
  const b = ctx.bucket
  const { keyId, algorithm } = parseEncryption(
    readXml(
      'ServerSideEncryptionConfiguration',
      await ctx.readBody(XML_BOUNDS.ServerSideEncryptionConfiguration.bytes),
    ),
  )
  if (keyId === undefined) await ctx.buckets.resetKey(b, await ctx.tenantOf(b))
  else await ctx.buckets.setKey(b.name, (await ctx.ownersKey(b, keyId)).id)
  await ctx.buckets.updateSettings(b.name, { sse: algorithm === 'AES256' ? 'AES256' : null })
  ctx.send(200)
}

async function getBucketEncryption(ctx: Authorized): Promise<void> {
  const b = ctx.bucket
  ctx.sendXml(
    200,
    'ServerSideEncryptionConfiguration',
    encryptionXml(b.settings?.sse ?? 'aws:kms', ctx.keys.arn(await ctx.tenantOf(b), b.keyId)),
  )
}

/** Back to the tenant's default bucket key: objects are never stored unencrypted. */
async function deleteBucketEncryption(ctx: Authorized): Promise<void> {
  const b = ctx.bucket
  await ctx.buckets.resetKey(b, await ctx.tenantOf(b))
  await ctx.buckets.updateSettings(b.name, { sse: null })
  ctx.send(204)
}

async function putPublicAccessBlock(ctx: Authorized): Promise<void> {
  const block = parsePublicAccessBlock(
    readXml(
      'PublicAccessBlockConfiguration',
      await ctx.readBody(XML_BOUNDS.PublicAccessBlockConfiguration.bytes),
    ),
  )
  await ctx.buckets.setPublicAccessBlock(ctx.bucketName, block)
  ctx.send(200)
}

function getPublicAccessBlock(ctx: Authorized): Promise<void> {
  if (ctx.bucket.settings?.publicAccessBlockDeleted === true)
    throw new StrongroomError(
      'NO_SUCH_PUBLIC_ACCESS_BLOCK_CONFIGURATION',
      'The public access block configuration was not found',
    )
  ctx.sendXml(
    200,
    'PublicAccessBlockConfiguration',
    publicAccessBlockXml(ctx.bucket.publicAccessBlock),
  )
  return Promise.resolve()
}

/** As in S3, deleting the configuration turns every switch off. */
async function deletePublicAccessBlock(ctx: Authorized): Promise<void> {
  await ctx.buckets.deletePublicAccessBlock(ctx.bucketName)
  ctx.send(204)
}

/**
 * CloudTrail's requestParameters for a bucket policy: the document as JSON
 * (https://docs.aws.amazon.com/AmazonS3/latest/userguide/cloudtrail-logging-understanding-s3-entries.html);
 * one that does not parse is kept as its first 2 KiB of text.
 */
function recordsPolicy(body: Buffer): Record<string, unknown> {
  const text = body.toString('utf8')
  try {
    const doc: unknown = JSON.parse(text)
    if (typeof doc === 'object' && doc !== null) return { bucketPolicy: doc }
  } catch {
    // Kept as text below: the request is refused as MalformedPolicy, and recorded.
  }
  return { bucketPolicy: text.slice(0, 2048) }
}

/** The public access block as CloudTrail records it: each switch a boolean, a missing one off. */
function recordsBlock(body: Buffer): Record<string, unknown> {
  try {
    const b = parsePublicAccessBlock(readXml('PublicAccessBlockConfiguration', body))
    return { PublicAccessBlockConfiguration: publicAccessBlockXml(b) }
  } catch {
    // A document that does not parse is refused (MalformedXML) and changes nothing.
    return {}
  }
}

export const CONFIG_OPERATIONS: readonly Operation[] = [
  {
    ...onBucket('PutBucketPolicy', 'PUT', 'policy', 's3:PutBucketPolicy', putBucketPolicy),
    recordsBody: recordsPolicy,
  },
  onBucket('GetBucketPolicy', 'GET', 'policy', 's3:GetBucketPolicy', getBucketPolicy),
  onBucket('DeleteBucketPolicy', 'DELETE', 'policy', 's3:DeleteBucketPolicy', deleteBucketPolicy),
  onBucket(
    'PutBucketEncryption',
    'PUT',
    'encryption',
    's3:PutEncryptionConfiguration',
    putBucketEncryption,
  ),
  onBucket(
    'GetBucketEncryption',
    'GET',
    'encryption',
    's3:GetEncryptionConfiguration',
    getBucketEncryption,
  ),
  onBucket(
    'DeleteBucketEncryption',
    'DELETE',
    'encryption',
    's3:PutEncryptionConfiguration',
    deleteBucketEncryption,
  ),
  {
    ...onBucket(
      'PutPublicAccessBlock',
      'PUT',
      'publicAccessBlock',
      's3:PutBucketPublicAccessBlock',
      putPublicAccessBlock,
    ),
    recordsBody: recordsBlock,
  },
  onBucket(
    'GetPublicAccessBlock',
    'GET',
    'publicAccessBlock',
    's3:GetBucketPublicAccessBlock',
    getPublicAccessBlock,
  ),
  onBucket(
    'DeletePublicAccessBlock',
    'DELETE',
    'publicAccessBlock',
    's3:PutBucketPublicAccessBlock',
    deletePublicAccessBlock,
  ),
]
