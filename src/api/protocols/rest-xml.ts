/**
 * The S3 REST-XML protocol codec: bytes in, an operation call out (`decode`, `route`); a result
 * or an error back to bytes (`send`, `sendXml`, `sendError`). Path-style addressing only. A
 * query or JSON 1.1 codec plugs into the pipeline at the same two points.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import { StrongroomError } from '../../errors.ts'
import { isVersionId } from '../../store/objects.ts'
import { errorXml, toApiError, type S3WireError } from '../errors.ts'
import type { Operation, S3Request } from '../operation.ts'
import { parseQuery, type RequestView } from '../sigv4.ts'
import { xmlDocument, type Node } from '../xml.ts'

const MAX_KEY_BYTES = 1024

/**
 * Every sub-resource S3 names by a query parameter, in the order they are looked for: the
 * first present names the operation. Those without a declaration answer NotImplemented.
 */
export const SUBRESOURCES = [
  'policy',
  'policyStatus',
  'location',
  'delete',
  'versioning',
  'uploads',
  'uploadId',
  'tagging',
  'acl',
  'encryption',
  'publicAccessBlock',
  'versions',
  'lifecycle',
  'cors',
  'website',
  'notification',
  'replication',
  'logging',
  'ownershipControls',
  'object-lock',
  'retention',
  'legal-hold',
  'attributes',
  'torrent',
  'restore',
  'select',
  'accelerate',
  'requestPayment',
  'analytics',
  'metrics',
  'inventory',
  'intelligent-tiering',
] as const

export function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name]
  return Array.isArray(v) ? v.join(',') : v
}

/** The request line and headers as SigV4 reads them, and the query as ordered pairs. */
export function viewOf(req: IncomingMessage): {
  view: RequestView
  pairs: [string, string][]
} {
  const url = req.url ?? '/'
  const qi = url.indexOf('?')
  const rawPath = qi < 0 ? url : url.slice(0, qi)
  const rawQuery = qi < 0 ? '' : url.slice(qi + 1)
  const view: RequestView = { method: req.method ?? 'GET', rawPath, rawQuery, headers: req.headers }
  return { view, pairs: parseQuery(rawQuery) }
}

/** Bytes to a request: the path split into bucket and key, the query, a checked versionId. */
export function decode(
  req: IncomingMessage,
  { view, pairs }: ReturnType<typeof viewOf> = viewOf(req),
): S3Request {
  const query = new Map(pairs)
  const [bucketName, key] = splitPath(view.rawPath)
  const versionId = query.get('versionId')
  if (versionId !== undefined && !isVersionId(versionId))
    throw new StrongroomError('INVALID_ARGUMENT', 'Invalid version id specified', {
      details: { ArgumentName: 'versionId', ArgumentValue: versionId },
    })
  return {
    req,
    view,
    pairs,
    query,
    bucketName,
    key,
    versionId,
    header: (name) => header(req, name),
  }
}

/** Path-style addressing: /bucket/key. Keys are data: any bytes, never a path on disk. */
export function splitPath(rawPath: string): [string | undefined, string | undefined] {
  const p = rawPath.startsWith('/') ? rawPath.slice(1) : rawPath
  if (p === '') return [undefined, undefined]
  const slash = p.indexOf('/')
  const dec = (s: string) => {
    try {
      return decodeURIComponent(s)
    } catch (e) {
      throw new StrongroomError(
        'INVALID_ARGUMENT',
        'the request path is not valid percent-encoding',
        { cause: e },
      )
    }
  }
  if (slash < 0) return [dec(p), undefined]
  const key = p.slice(slash + 1)
  return [dec(p.slice(0, slash)), key === '' ? undefined : dec(key)]
}

function matches(op: Operation, r: S3Request, on: string, sub: string | undefined): boolean {
  const m = op.match
  if (m.on !== on || m.method !== r.view.method || m.sub !== sub) return false
  for (const [name, want] of Object.entries(m.query ?? {})) {
    const got = r.query.get(name)
    if (got === undefined || (want !== true && got !== want)) return false
  }
  return m.header === undefined || r.header(m.header) !== undefined
}

/**
 * What Strongroom does not offer is refused, never silently ignored: SSE-C (every object is
 * sealed under a tenant KMS key; a client that believes it holds the key must be told), and
 * storage classes other than STANDARD (InvalidStorageClass, as S3 answers an unknown one).
 */
function refuseUnoffered(r: S3Request): void {
  const ssec = Object.keys(r.req.headers).find(
    (h) =>
      h.startsWith('x-amz-server-side-encryption-customer-') ||
      h.startsWith('x-amz-copy-source-server-side-encryption-customer-'),
  )
  if (ssec !== undefined)
    throw new StrongroomError(
      'NOT_IMPLEMENTED',
      `Strongroom does not offer SSE-C (${ssec}): every object is sealed under a tenant KMS key; use aws:kms or AES256`,
    )
  const cls = r.header('x-amz-storage-class')
  if (cls !== undefined && cls !== 'STANDARD')
    throw new StrongroomError(
      'INVALID_STORAGE_CLASS',
      `The storage class you specified is not valid: Strongroom stores every object as STANDARD (asked: ${cls.slice(0, 32)})`,
    )
}

/**
 * The operation a request names, from the table (first match wins: the more specific
 * declarations come first). Unknown sub-resources answer NotImplemented, never a plain
 * operation: an operation named by a parameter the table does not know must never fall
 * through to DeleteBucket, CreateBucket or a listing.
 */
export function route(table: readonly Operation[], r: S3Request): Operation {
  refuseUnoffered(r)
  const m = r.view.method
  const on = r.bucketName === undefined ? 'service' : r.key === undefined ? 'bucket' : 'object'
  if (on === 'service') {
    const op = table.find((o) => matches(o, r, on, undefined))
    if (op !== undefined) return op
    throw new StrongroomError(
      'METHOD_NOT_ALLOWED',
      `The specified method is not allowed against this resource: ${m} /`,
    )
  }
  if (on === 'object' && Buffer.byteLength(r.key ?? '') > MAX_KEY_BYTES)
    throw new StrongroomError('KEY_TOO_LONG', 'Your key is too long: at most 1,024 bytes of UTF-8')
  const sub = SUBRESOURCES.find((s) => r.query.has(s))
  if (sub !== undefined) {
    const op = table.find((o) => matches(o, r, on, sub))
    if (op !== undefined) return op
    throw new StrongroomError(
      'NOT_IMPLEMENTED',
      `Strongroom does not implement the ${on} ?${sub} operation (${m}) yet`,
    )
  }
  const plain = table.filter((o) => o.match.on === on && o.match.method === m && !o.match.sub)
  onlyParameters(r.query, [...new Set(plain.flatMap((o) => o.match.reads ?? []))], on, m)
  const op = plain.find((o) => matches(o, r, on, undefined))
  if (op !== undefined) return op
  throw new StrongroomError(
    'METHOD_NOT_ALLOWED',
    `The specified method is not allowed against this resource: ${m} ${on}`,
  )
}

/**
 * Refuses a plain operation whose query names something else: S3 has many sub-resources
 * (`?metadataConfiguration`, `?policyStatus`, …) that Strongroom does not implement, and one of
 * them must answer NotImplemented, not be read as DeleteBucket or a listing.
 * `x-id` (the SDKs' operation hint) and `X-Amz-*` (presigned URLs) are always allowed.
 */
function onlyParameters(
  query: ReadonlyMap<string, string>,
  allowed: readonly string[],
  on: string,
  method: string,
): void {
  for (const name of query.keys()) {
    if (allowed.includes(name) || name === 'x-id' || /^x-amz-/i.test(name)) continue
    throw new StrongroomError(
      'NOT_IMPLEMENTED',
      `Strongroom does not implement the ${on} ?${name.slice(0, 64)} operation (${method}); a plain ${method} takes ${allowed.length === 0 ? 'no query parameters' : allowed.join(', ')}`,
    )
  }
}

/** A response with an optional text body; S3 puts x-amz-request-id on every one. */
export function send(res: ServerResponse, requestId: string, status: number, body?: string): void {
  res.statusCode = status
  res.setHeader('x-amz-request-id', requestId)
  if (body === undefined) {
    if (!res.hasHeader('Content-Length') && status !== 304) res.setHeader('Content-Length', '0')
    res.end()
  } else {
    const bytes = Buffer.from(body)
    res.setHeader('Content-Length', String(bytes.length))
    if (bytes.length <= WRITE_PIECE) res.end(bytes)
    // A large document (a listing of 1,000 keys is hundreds of KiB) goes out a record at a
    // time too, for the same reason (WRITE_PIECE); a client that leaves midway ends it.
    else void writeAll(res, [bytes], NOTHING_MORE).catch(() => res.destroy())
  }
}

const NOTHING_MORE: AsyncIterator<Uint8Array> = {
  next: () => Promise.resolve({ done: true, value: undefined }),
}

export function sendXml(
  res: ServerResponse,
  requestId: string,
  status: number,
  root: string,
  body: Node,
): void {
  res.setHeader('Content-Type', 'application/xml')
  send(res, requestId, status, xmlDocument(root, body))
}

/**
 * The most a response body hands its connection at once: one TLS record. Over TLS, Node
 * encrypts each write whole into a buffer sized for that write, and a connection keeps its
 * last two such buffers for as long as it stays open (NodeBIO in node's src/crypto): 1 MiB
 * writes left about 1 MiB of ciphertext buffers on every keep-alive connection that had
 * answered a GET, 580-660 MiB of RSS at 256 clients (bench/load.ts, docs/benchmarks.md).
 */
export const WRITE_PIECE = 16 * 1024

/**
 * Streams a body whose first chunk was already read, WRITE_PIECE bytes at a time: the next
 * piece goes once the connection has taken the previous one (its write callback), so that
 * pieces are never merged into one larger write while the connection is busy, and a slow
 * reader holds back the body (back-pressure). A connection that closes, before or during,
 * rejects at once (no write waits on a connection that is gone), and `rest` is then closed
 * (its `return`), so whatever it holds open is released.
 */
export async function writeAll(
  res: ServerResponse,
  head: Uint8Array[],
  rest: AsyncIterator<Uint8Array>,
): Promise<void> {
  const gone = (cause?: unknown) =>
    new StrongroomError('IO', 'the client closed the connection', { cause })
  let fail: ((e: StrongroomError) => void) | undefined
  const onClose = () => fail?.(gone())
  res.once('close', onClose)
  const write = (c: Uint8Array) =>
    new Promise<void>((resolve, reject) => {
      if (res.destroyed || res.closed || res.writableEnded) {
        reject(gone())
        return
      }
      fail = reject
      res.write(c, (e) => {
        fail = undefined
        if (e === null || e === undefined) resolve()
        else reject(gone(e))
      })
    })
  const pieces = async (c: Uint8Array) => {
    for (let at = 0; at < c.length; at += WRITE_PIECE) await write(c.subarray(at, at + WRITE_PIECE))
  }
  try {
    for (const c of head) await pieces(c)
    for (let r = await rest.next(); r.done !== true; r = await rest.next()) await pieces(r.value)
    res.end()
  } catch (e) {
    await rest.return?.()
    throw e
  } finally {
    res.off('close', onClose)
  }
}

/** The error as S3 answers it: status, headers and XML document (none for HEAD and 304). */
export function encodeError(
  e: unknown,
  req: IncomingMessage,
  requestId: string,
): { readonly wire: S3WireError; readonly body: string } {
  const wire = toApiError(e)
  const body =
    wire.status === 304 || req.method === 'HEAD'
      ? ''
      : errorXml(wire, (req.url ?? '').split('?')[0] ?? '', requestId)
  return { wire, body }
}
