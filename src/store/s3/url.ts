/** The `blobs` setting's URL, read without loading the AWS SDK (the CLI reads it on every start). */

/** Parses `s3://BUCKET[/PREFIX]`; the prefix, if any, ends in `/`. */
export function parseBlobsUrl(url: string): { bucket: string; prefix: string } | undefined {
  const m = /^s3:\/\/([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])(?:\/([\w!.*'()/-]{0,512}))?$/.exec(url)
  if (m === null) return undefined
  const prefix = (m[2] ?? '').replace(/^\/+|\/+$/g, '')
  if (prefix.split('/').some((p) => p === '.' || p === '..')) return undefined
  return { bucket: m[1] ?? '', prefix: prefix === '' ? '' : `${prefix}/` }
}
