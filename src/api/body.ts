/**
 * Request bodies, after authorization: small documents read whole and bounded, object bodies
 * streamed through the aws-chunked decoder, with what the request declares about them (length,
 * payload hash, Content-MD5, checksums) handed to the object service, which checks it before
 * anything commits (src/store/expect.ts).
 */
import { createHash, type KeyObject } from 'node:crypto'
import type { IncomingMessage } from 'node:http'
import { StrongroomError } from '../errors.ts'
import { checksumAlgorithmOf } from '../store/checksums.ts'
import type { BodyExpectation } from '../store/expect.ts'
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
  /** The plaintext bytes, decoded but not checked: the object service checks them against `expect`. */
  readonly body: AsyncIterable<Uint8Array>
  /** What the request declares about the body (length, Content-MD5, payload hash, checksums). */
  readonly expect: BodyExpectation
}

/**
 * The request body as plaintext bytes, whatever its encoding (plain,
 * aws-chunked signed or unsigned with trailers), and what the request
 * declares about it, which the object service checks before it commits
 * (src/store/expect.ts). Chunk and trailer signatures are checked here, as
 * the chunks arrive.
 */
export function streamingBody(
  req: IncomingMessage,
  auth: ParsedAuth | undefined,
  signingKey: KeyObject | undefined,
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
  const checksums = new Map<string, string | undefined>()
  const expectChecksum = (name: string, value: string | undefined) => {
    const alg = checksumAlgorithmOf(name)
    if (alg === undefined) return
    if (alg === 'unsupported')
      throw new StrongroomError(
        'INVALID_REQUEST',
        `the checksum ${name} is not supported; use CRC32, CRC32C, CRC64NVME, SHA1 or SHA256`,
      )
    if (!checksums.has(name) || value !== undefined) checksums.set(name, value)
  }
  for (const [name, value] of Object.entries(req.headers))
    if (typeof value === 'string') expectChecksum(name, value)
  const trailerNames = (header(req, 'x-amz-trailer') ?? '')
    .split(',')
    .map((s) => s.trim().toLowerCase())
    .filter((s) => s !== '')
  for (const t of trailerNames) expectChecksum(t, undefined)
  const trailers = new Map<string, string>()

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
      onTrailers: (sent) => {
        for (const [k, v] of sent) if (checksums.has(k)) trailers.set(k, v)
      },
    })
  }
  const md5 = header(req, 'content-md5')
  return {
    body: source,
    expect: {
      length,
      ...(md5 === undefined ? {} : { md5: contentMd5(md5) }),
      ...(PAYLOAD_SHA256.test(payload) ? { sha256: payload.toLowerCase() } : {}),
      checksums,
      trailers: () => trailers,
    },
  }
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

/** The binary MD5 of a Content-MD5 header; a value that is not one is InvalidDigest. */
export function contentMd5(given: string): Buffer {
  const want = Buffer.from(given, 'base64')
  if (want.length !== 16)
    throw new StrongroomError('INVALID_DIGEST', 'The Content-MD5 you specified was invalid.')
  return want
}
