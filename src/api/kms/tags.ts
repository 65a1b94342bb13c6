/**
 * KMS's resource tags on keys: CreateKey's Tags, TagResource, UntagResource, ListResourceTags,
 * with KMS's rules (https://docs.aws.amazon.com/kms/latest/APIReference/API_TagResource.html):
 * a key 1 to 128 characters, a value up to 256, case-sensitive keys, none starting `aws:`, at
 * most 50 on a key; a tag that is set again takes the new value. Requests that set tags carry
 * aws:RequestTag/KEY and aws:TagKeys, and every decision on a key aws:ResourceTag/KEY
 * (../json-decide.ts), so that tags can grant access as on AWS (ABAC).
 */
import { StrongroomError } from '../../errors.ts'
import type { KeyTag } from '../../meta/keys.ts'
import type { Conditions, JsonOperation } from '../operation.ts'
import { onKey, page, type Input } from './input.ts'

export const MAX_TAGS_PER_KEY = 50

const TAG_TEXT = /^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$/u

const tagError = (m: string) => new StrongroomError('INVALID_TAG', m)

/** The Tags member (CreateKey, TagResource): checked, one entry per key. */
export function tagsOf(input: Input): KeyTag[] {
  const v = input.Tags
  if (v === undefined) return []
  if (!Array.isArray(v) || v.length > MAX_TAGS_PER_KEY)
    throw tagError(`Tags is a list of at most ${String(MAX_TAGS_PER_KEY)} tags`)
  const seen = new Set<string>()
  return v.map((t: unknown) => {
    const { TagKey: k, TagValue: x, ...rest } = (t ?? {}) as Record<string, unknown>
    if (typeof t !== 'object' || t === null || Object.keys(rest).length > 0)
      throw tagError('each tag is {"TagKey": ..., "TagValue": ...}')
    if (typeof k !== 'string' || k.length < 1 || k.length > 128 || !TAG_TEXT.test(k))
      throw tagError('TagKey is 1 to 128 letters, digits, spaces or _ . : / = + - @')
    if (typeof x !== 'string' || x.length > 256 || !TAG_TEXT.test(x))
      throw tagError('TagValue is up to 256 letters, digits, spaces or _ . : / = + - @')
    if (k.toLowerCase().startsWith('aws:'))
      throw tagError(`TagKey ${k} starts with aws:, which is reserved for AWS`)
    // Condition keys are matched regardless of case (aws:ResourceTag/Team is
    // aws:ResourceTag/team), so two tags that differ only in case would let one hide the other.
    if (seen.has(k.toLowerCase()))
      throw tagError(`TagKey ${k} is given twice (tag keys differing only in case are one here)`)
    seen.add(k.toLowerCase())
    return { TagKey: k, TagValue: x }
  })
}

/** aws:RequestTag/KEY and aws:TagKeys for a request that sets tags. */
export function tagConditions(input: Input): Conditions {
  const tags = tagsOf(input)
  if (tags.length === 0) return {}
  return {
    ...Object.fromEntries(tags.map((t) => [`aws:RequestTag/${t.TagKey}`, t.TagValue])),
    'aws:TagKeys': tags.map((t) => t.TagKey),
  }
}

/** UntagResource's TagKeys: 1 to 50 keys. */
function tagKeysOf(input: Input): string[] {
  const v = input.TagKeys
  if (
    !Array.isArray(v) ||
    v.length < 1 ||
    v.length > MAX_TAGS_PER_KEY ||
    v.some((k) => typeof k !== 'string' || k.length < 1 || k.length > 128)
  )
    throw new StrongroomError(
      'VALIDATION',
      `TagKeys is a list of 1 to ${String(MAX_TAGS_PER_KEY)} tag keys of 1 to 128 characters`,
    )
  return v as string[]
}

/** `now` with `set` applied: a key set again takes the new value in its place; new keys last. */
export function mergeTags(now: readonly KeyTag[], set: readonly KeyTag[]): KeyTag[] {
  const values = new Map(set.map((t) => [t.TagKey, t.TagValue]))
  const merged = now.map((t) => ({
    TagKey: t.TagKey,
    TagValue: values.get(t.TagKey) ?? t.TagValue,
  }))
  const had = new Set(now.map((t) => t.TagKey))
  // A new key that differs from one the key has only in case would be one condition key.
  const folded = new Set(now.map((t) => t.TagKey.toLowerCase()))
  for (const t of set)
    if (!had.has(t.TagKey) && folded.has(t.TagKey.toLowerCase()))
      throw tagError(
        `TagKey ${t.TagKey} differs only in case from a tag the key has: remove that one first`,
      )
  return [...merged, ...set.filter((t) => !had.has(t.TagKey))]
}

function mayTag(state: string): void {
  if (state === 'PendingDeletion')
    throw new StrongroomError(
      'KEY_PENDING_DELETION',
      'the key is pending deletion: its tags cannot change',
    )
}

export const TAG_OPERATIONS: readonly JsonOperation[] = [
  onKey(
    'TagResource',
    ['Tags'],
    async (ctx) => {
      mayTag(ctx.key.state)
      const set = tagsOf(ctx.input)
      if (set.length === 0) throw tagError('Tags is required: at least one tag')
      const next = mergeTags(ctx.key.tags, set)
      if (next.length > MAX_TAGS_PER_KEY)
        throw new StrongroomError(
          'LIMIT_EXCEEDED',
          `a key has at most ${String(MAX_TAGS_PER_KEY)} tags; this would make ${String(next.length)}`,
        )
      await ctx.keys.setTags(ctx.tenant, ctx.key.id, next)
      return {}
    },
    tagConditions,
  ),
  onKey(
    'UntagResource',
    ['TagKeys'],
    async (ctx) => {
      mayTag(ctx.key.state)
      const drop = new Set(tagKeysOf(ctx.input))
      await ctx.keys.setTags(
        ctx.tenant,
        ctx.key.id,
        ctx.key.tags.filter((t) => !drop.has(t.TagKey)),
      )
      return {}
    },
    (input) => ({ 'aws:TagKeys': tagKeysOf(input) }),
  ),
  onKey('ListResourceTags', ['Limit', 'Marker'], (ctx) => {
    const p = page(
      ctx.input,
      [...ctx.key.tags].sort((a, b) => (a.TagKey < b.TagKey ? -1 : 1)),
      (t) => t.TagKey,
      50,
      50,
    )
    return Promise.resolve({
      Tags: p.items,
      Truncated: p.Truncated,
      ...(p.NextMarker === undefined ? {} : { NextMarker: p.NextMarker }),
    })
  }),
]
