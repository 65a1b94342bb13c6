/**
 * The aws-chunked content encoding of streaming uploads
 * (https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-streaming.html,
 *  .../sigv4-streaming-trailers.html):
 *
 *   hex-size [;chunk-signature=SIG] CRLF  data  CRLF   … repeated
 *   0 [;chunk-signature=SIG] CRLF
 *   [trailer-name:value CRLF]* [x-amz-trailer-signature:SIG CRLF]
 *   CRLF
 *
 * Signed chunks are checked as they arrive, and a signed stream's trailers by their
 * x-amz-trailer-signature; the decoded body must have exactly
 * x-amz-decoded-content-length bytes. Every line is bounded.
 */
import { ChunkReader } from '../crypto/stream.ts'
import { StrongroomError } from '../errors.ts'

const MAX_LINE = 8 * 1024
const MAX_CHUNK = 64 * 1024 * 1024
const MAX_TRAILERS = 16
const TRAILER_SIGNATURE = 'x-amz-trailer-signature'

export interface ChunkedOptions {
  /** Verifies a chunk's signature given its data; absent for unsigned streams. */
  readonly verifyChunk?: (signature: string, data: readonly Uint8Array[]) => void
  /**
   * Verifies the trailer chunk's x-amz-trailer-signature given the canonical trailers
   * (`name:value\n`, names lower-cased and sorted); present for signed streams with trailers,
   * which must then carry the signature.
   */
  readonly verifyTrailer?: (signature: string, canonical: string) => void
  readonly decodedLength: number
  /** Receives the trailers (lower-cased names). */
  readonly onTrailers: (trailers: Map<string, string>) => void
}

async function readLine(r: ChunkReader): Promise<string> {
  const buf = await r.fill(MAX_LINE)
  const b = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength)
  const end = b.indexOf('\r\n')
  if (end < 0) {
    throw buf.byteLength >= MAX_LINE
      ? new StrongroomError(
          'INVALID_ARGUMENT',
          'a chunk header line of the aws-chunked body is too long',
        )
      : new StrongroomError('INCOMPLETE_BODY', 'the aws-chunked body ended inside a chunk header')
  }
  const line = b.toString('latin1', 0, end)
  await r.take(end + 2)
  return line
}

export async function* decodeChunked(
  source: AsyncIterable<Uint8Array>,
  o: ChunkedOptions,
): AsyncGenerator<Uint8Array> {
  const r = new ChunkReader(source)
  let total = 0
  for (;;) {
    const line = await readLine(r)
    const [sizeHex = '', ...ext] = line.split(';')
    if (!/^[0-9a-fA-F]{1,8}$/.test(sizeHex))
      throw new StrongroomError(
        'INVALID_ARGUMENT',
        'a chunk size of the aws-chunked body is not hexadecimal',
      )
    const size = parseInt(sizeHex, 16)
    if (size > MAX_CHUNK)
      throw new StrongroomError(
        'INVALID_ARGUMENT',
        'a chunk of the aws-chunked body is larger than 64 MiB',
      )
    const sig = ext.find((e) => e.startsWith('chunk-signature='))?.slice(16)
    if (o.verifyChunk !== undefined && sig === undefined)
      throw new StrongroomError(
        'SIGNATURE_DOES_NOT_MATCH',
        'a chunk of the signed stream carries no signature',
      )
    const pieces: Uint8Array[] = []
    let got = 0
    while (got < size) {
      const piece = await r.take(Math.min(size - got, 1 << 20))
      if (piece.byteLength === 0)
        throw new StrongroomError('INCOMPLETE_BODY', 'the aws-chunked body ended inside a chunk')
      pieces.push(piece)
      got += piece.byteLength
    }
    if (o.verifyChunk !== undefined && sig !== undefined) o.verifyChunk(sig, pieces)
    total += size
    if (total > o.decodedLength)
      throw new StrongroomError(
        'INCOMPLETE_BODY',
        'the aws-chunked body is longer than x-amz-decoded-content-length',
      )
    yield* pieces
    if (size === 0) break
    if ((await readLine(r)) !== '')
      throw new StrongroomError(
        'INVALID_ARGUMENT',
        'a chunk of the aws-chunked body is not followed by CRLF',
      )
  }
  const trailers = new Map<string, string>()
  for (;;) {
    const line = await readLine(r).catch((e: unknown) => {
      // A stream without trailers may end right after the last chunk's CRLF.
      if (e instanceof StrongroomError && e.code === 'INCOMPLETE_BODY') return ''
      throw e
    })
    if (line === '') break
    const colon = line.indexOf(':')
    const name = line.slice(0, colon).trim().toLowerCase()
    if (colon <= 0 || trailers.size >= MAX_TRAILERS)
      throw new StrongroomError(
        'INVALID_ARGUMENT',
        'a trailer of the aws-chunked body is malformed',
      )
    // Sent twice, a trailer would be checked once and stored as the other value.
    if (trailers.has(name))
      throw new StrongroomError(
        'INVALID_ARGUMENT',
        `the trailer ${name.slice(0, 64)} of the aws-chunked body is sent more than once`,
      )
    trailers.set(name, line.slice(colon + 1).trim())
  }
  if (total !== o.decodedLength)
    throw new StrongroomError(
      'INCOMPLETE_BODY',
      `the body has ${total} bytes but x-amz-decoded-content-length says ${o.decodedLength}`,
    )
  const signature = trailers.get(TRAILER_SIGNATURE)
  trailers.delete(TRAILER_SIGNATURE)
  if (o.verifyTrailer !== undefined) {
    // https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-streaming-trailers.html
    if (signature === undefined)
      throw new StrongroomError(
        'SIGNATURE_DOES_NOT_MATCH',
        'the trailer of the signed stream carries no x-amz-trailer-signature',
      )
    const canonical = [...trailers]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([k, v]) => `${k}:${v}\n`)
      .join('')
    o.verifyTrailer(signature, canonical)
  }
  o.onTrailers(trailers)
}
