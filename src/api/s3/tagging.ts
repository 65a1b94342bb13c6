/** Object tagging: Get/Put/DeleteObjectTagging (…VersionTagging with a versionId). */
import type { Operation } from '../operation.ts'
import type { Authorized } from '../pipeline.ts'
import { parseTagging, tagConditions, taggingXml } from '../s3-config.ts'
import { readXml, XML_BOUNDS } from '../xml.ts'
import { versioned, versionHeaders } from './common.ts'

function getObjectTagging(ctx: Authorized): Promise<void> {
  versionHeaders(ctx.res, ctx.bucket, ctx.object)
  ctx.sendXml(200, 'Tagging', taggingXml(ctx.object.tags))
  return Promise.resolve()
}

async function putObjectTagging(ctx: Authorized): Promise<void> {
  const tags = parseTagging(readXml('Tagging', ctx.earlyBody))
  const { bucket, object } = ctx
  await ctx.objectMeta.setObjectTags(bucket.name, object.key, object.versionId, tags)
  versionHeaders(ctx.res, bucket, object)
  ctx.send(200)
}

async function deleteObjectTagging(ctx: Authorized): Promise<void> {
  const { bucket, object } = ctx
  await ctx.objectMeta.setObjectTags(bucket.name, object.key, object.versionId, [])
  versionHeaders(ctx.res, bucket, object)
  ctx.send(204)
}

export const TAGGING_OPERATIONS: readonly Operation[] = [
  {
    name: 'GetObjectTagging',
    match: { method: 'GET', on: 'object', sub: 'tagging' },
    action: versioned('s3:GetObjectTagging', 's3:GetObjectVersionTagging'),
    resource: 'object',
    target: 'object',
    handler: getObjectTagging,
  },
  {
    name: 'PutObjectTagging',
    match: { method: 'PUT', on: 'object', sub: 'tagging' },
    action: versioned('s3:PutObjectTagging', 's3:PutObjectVersionTagging'),
    resource: 'object',
    target: 'object',
    // The tags asked for are condition keys (s3:RequestObjectTag/*): the decision needs the body.
    bodyBeforeAuth: {
      maxBytes: XML_BOUNDS.Tagging.bytes,
      read: (body) => tagConditions('s3:RequestObjectTag', parseTagging(readXml('Tagging', body))),
    },
    handler: putObjectTagging,
  },
  {
    name: 'DeleteObjectTagging',
    match: { method: 'DELETE', on: 'object', sub: 'tagging' },
    action: versioned('s3:DeleteObjectTagging', 's3:DeleteObjectVersionTagging'),
    resource: 'object',
    target: 'object',
    handler: deleteObjectTagging,
  },
]
