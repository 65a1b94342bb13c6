/**
 * Request bodies, after authorization: small documents read whole and bounded, object bodies
 * streamed through the aws-chunked decoder with their payload hash, Content-MD5 and checksums
 * checked once every byte has arrived.
 */
import { createHash, timingSafeEqual } from 'node:crypto'
import type { IncomingMessage } from 'node:http'
import { StrongroomError } from '../errors.ts'
import { checksumAlgorithmOf, newChecksum, type Checksum } from './checksums.ts'
import { decodeChunked } from './chunked.ts'
import { header } from './protocols/rest-xml.ts'
import {
  chunkSignature,
  PAYLOAD_SHA256,
  signaturesEqual,
  trailerSignature,
  type ParsedAuth,
} from './sigv4.ts'

export const EMPTY_SHA256 = createHash('sha256').digest('hex')

export interface StreamingBody {
  readonly body: AsyncIterable<Uint8Array>
  readonly length: number
  /** Throws unless every declared byte arrived and every hash and checksum matched. */
  readonly finish: () => void
  /** The checksums verified by `finish`, by header name. */
  readonly checksums: Map<string, string>
}

/**
 * The request body as plaintext bytes, whatever its encoding (plain,
 * aws-chunked signed or unsigned with trailers), and a `finish` that checks
 * the payload hash and checksums once every byte has arrived.
 */
export function streamingBody(
  req: IncomingMessage,
  auth: ParsedAuth | undefined,
  signingKey: Buffer | undefined,
): StreamingBody {
  const payload = auth?.payloadHash ?? 'UNSIGNED-PAYLOAD'
  const streaming = payload.startsWith('STREAMING-')
  const rawLength = header(req, streaming ? 'x-amz-decoded-content-length' : 'content-length')
  if (rawLength === undefined) {
    throw streaming
      ? new StrongroomError(
          'MISSING_CONTENT_LENGTH',
          'x-amz-decoded-content-length is required for aws-chunked uploads',
        )
      : new StrongroomError(
          'MISSING_CONTENT_LENGTH',
          'You must provide the Content-Length HTTP header.',
        )
  }
  if (!/^\d{1,16}$/.test(rawLength))
    throw new StrongroomError('INVALID_ARGUMENT', 'the content length is not a number')
  const length = Number(rawLength)
  const checksums = new Map<string, { alg: string; sum: Checksum; expected: string | undefined }>()
  const expectChecksum = (name: string, value: string | undefined) => {
    const alg = checksumAlgorithmOf(name)
    if (alg === undefined) return
    if (alg === 'unsupported')
      throw new StrongroomError(
        'INVALID_REQUEST',
        `the checksum ${name} is not supported; use CRC32, CRC32C, CRC64NVME, SHA1 or SHA256`,
      )
    const existing = checksums.get(name)
    if (existing !== undefined) {
      if (value !== undefined) checksums.set(name, { ...existing, expected: value })
      return
    }
    checksums.set(name, { alg, sum: newChecksum(alg), expected: value })
  }
  for (const [name, value] of Object.entries(req.headers))
    if (typeof value === 'string') expectChecksum(name, value)
  const trailerNames = (header(req, 'x-amz-trailer') ?? '')
    .split(',')
    .map((s) => s.trim().toLowerCase())
    .filter((s) => s !== '')
  for (const t of trailerNames) expectChecksum(t, undefined)
  const sha256 = PAYLOAD_SHA256.test(payload) ? createHash('sha256') : undefined

  let source: AsyncIterable<Uint8Array> = req
  if (streaming) {
    const signed = payload.startsWith('STREAMING-AWS4-HMAC-SHA256-PAYLOAD')
    let previous = auth?.signature ?? ''
    const key = signingKey
    source = decodeChunked(req, {
      decodedLength: length,
      ...(signed && auth !== undefined && key !== undefined
        ? {
            verifyChunk: (sig: string, data: readonly Uint8Array[]) => {
              if (!signaturesEqual(chunkSignature(key, auth, previous, data), sig)) {
                throw new StrongroomError(
                  'SIGNATURE_DOES_NOT_MATCH',
                  'The chunk signature we calculated does not match the signature you provided.',
                )
              }
              previous = sig
            },
            ...(payload.endsWith('-TRAILER')
              ? {
                  verifyTrailer: (sig: string, canonical: string) => {
                    if (!signaturesEqual(trailerSignature(key, auth, previous, canonical), sig))
                      throw new StrongroomError(
                        'SIGNATURE_DOES_NOT_MATCH',
                        'The trailer signature we calculated does not match the signature you provided.',
                      )
                  },
                }
              : {}),
          }
        : {}),
      onTrailers: (trailers) => {
        for (const [k, v] of trailers) if (checksums.has(k)) expectChecksum(k, v)
      },
    })
  }
  let received = 0
  async function* tapped(): AsyncGenerator<Uint8Array> {
    for await (const c of source) {
      received += c.byteLength
      if (received > length)
        throw new StrongroomError('INCOMPLETE_BODY', 'the body is longer than its declared length')
      sha256?.update(c)
      for (const { sum } of checksums.values()) sum.update(c)
      yield c
    }
  }
  const verified = new Map<string, string>()
  const finish = () => {
    if (received !== length)
      throw new StrongroomError(
        'INCOMPLETE_BODY',
        `You did not provide the number of bytes specified by the Content-Length HTTP header (${received} of ${length})`,
      )
    if (sha256 !== undefined && sha256.digest('hex') !== payload.toLowerCase()) {
      throw new StrongroomError(
        'CONTENT_SHA256_MISMATCH',
        "The provided 'x-amz-content-sha256' header does not match what was computed.",
      )
    }
    for (const [name, { sum, expected }] of checksums) {
      const got = sum.digest()
      if (expected === undefined)
        throw new StrongroomError(
          'INVALID_REQUEST',
          `the trailer ${name} was announced but not sent`,
        )
      if (got !== expected)
        throw new StrongroomError(
          'BAD_DIGEST',
          `The ${name.slice('x-amz-checksum-'.length).toUpperCase()} you specified did not match the calculated checksum.`,
        )
      verified.set(name, got)
    }
  }
  return { body: tapped(), length, finish, checksums: verified }
}

export async function readSmallBody(
  req: IncomingMessage,
  max: number,
  payload: string | undefined,
  tooLarge: () => StrongroomError = () =>
    new StrongroomError(
      'MAX_MESSAGE_LENGTH_EXCEEDED',
      `Your request was too big: this request's body may be at most ${max} bytes`,
    ),
): Promise<Buffer> {
  const declared = header(req, 'content-length')
  if (declared !== undefined && /^\d+$/.test(declared) && Number(declared) > max) throw tooLarge()
  const body =
    req.readableEnded || req.destroyed
      ? Buffer.alloc(0)
      : await new Promise<Buffer>((resolve, reject) => {
          const parts: Buffer[] = []
          let n = 0
          const stop = () => {
            req.off('data', data)
            req.off('end', end)
            req.off('error', closed)
            req.off('close', closed)
          }
          const data = (c: Buffer) => {
            n += c.length
            if (n > max) {
              stop()
              req.pause()
              reject(tooLarge())
            } else parts.push(c)
          }
          const end = () => {
            stop()
            resolve(Buffer.concat(parts))
          }
          const closed = () => {
            stop()
            reject(
              new StrongroomError(
                'INCOMPLETE_BODY',
                'the request body ended before it was complete',
              ),
            )
          }
          req.on('data', data)
          req.once('end', end)
          req.once('error', closed)
          req.once('close', closed)
        })
  if (
    payload !== undefined &&
    PAYLOAD_SHA256.test(payload) &&
    createHash('sha256').update(body).digest('hex') !== payload.toLowerCase()
  )
    throw new StrongroomError(
      'CONTENT_SHA256_MISMATCH',
      "The provided 'x-amz-content-sha256' header does not match what was computed.",
    )
  return body
}

export function checkMd5(given: string | undefined, md5: Buffer): void {
  if (given === undefined) return
  const want = Buffer.from(given, 'base64')
  if (want.length !== 16)
    throw new StrongroomError('INVALID_DIGEST', 'The Content-MD5 you specified was invalid.')
  if (!timingSafeEqual(want, md5))
    throw new StrongroomError(
      'BAD_DIGEST',
      'The Content-MD5 you specified did not match what we received.',
    )
}
