/**
 * What a request says about its body, checked by the object service as the
 * bytes stream into the sealer: the exact length, and any digests the client
 * declared. A mismatch is a StrongroomError thrown from inside the stream, so
 * it surfaces before the blob is committed or the row written: nothing of the
 * upload stays visible. The wire mapping (IncompleteBody, BadDigest,
 * XAmzContentSHA256Mismatch, InvalidRequest) is src/api/errors.ts; messages are
 * S3's, since they reach clients as they are.
 */
import { createHash, timingSafeEqual, type Hash } from 'node:crypto'
import { StrongroomError } from '../errors.ts'
import { checksumAlgorithmOf, newChecksum, type Checksum } from './checksums.ts'

export interface BodyExpectation {
  /** The exact plaintext length (Content-Length, or x-amz-decoded-content-length). */
  readonly length: number
  /** The binary MD5 the client declared (Content-MD5, 16 bytes). */
  readonly md5?: Uint8Array
  /** The lower-case hex SHA-256 the client signed (x-amz-content-sha256). */
  readonly sha256?: string
  /**
   * x-amz-checksum-* by header name: the value declared in a header, or
   * undefined when it is announced to follow the body in a trailer.
   */
  readonly checksums?: ReadonlyMap<string, string | undefined>
  /** Values that arrived after the body (aws-chunked trailers); asked once the last byte is in. */
  readonly trailers?: () => ReadonlyMap<string, string>
  /**
   * x-amz-checksum-* names to compute and record though the client declared no value (a part of
   * an upload with a checksum algorithm, sent or copied without it).
   */
  readonly compute?: readonly string[]
}

/** What was computed over a body that met its expectation. */
export interface BodyDigests {
  readonly md5: Buffer
  /** The verified x-amz-checksum-* values, by header name. */
  readonly checksums: Readonly<Record<string, string>>
}

/**
 * Passes `source` through, counting and digesting; throws at the first byte
 * past the declared length, and after the last byte when anything differs.
 * `done` receives the digests once every check has passed.
 */
export async function* checked(
  source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
  expect: BodyExpectation,
  done: (digests: BodyDigests) => void,
): AsyncGenerator<Uint8Array> {
  const md5 = createHash('md5')
  const sha256: Hash | undefined = expect.sha256 === undefined ? undefined : createHash('sha256')
  const sums: [string, Checksum][] = []
  for (const name of expect.checksums?.keys() ?? []) {
    const alg = checksumAlgorithmOf(name)
    if (alg === undefined || alg === 'unsupported')
      throw new StrongroomError('USAGE', `\`${name}\` is not a supported checksum`)
    sums.push([name, newChecksum(alg)])
  }
  const computed: [string, Checksum][] = []
  for (const name of expect.compute ?? []) {
    const alg = checksumAlgorithmOf(name)
    if (alg === undefined || alg === 'unsupported' || expect.checksums?.has(name) === true) continue
    computed.push([name, newChecksum(alg)])
  }
  let received = 0
  for await (const c of source) {
    received += c.byteLength
    if (received > expect.length)
      throw new StrongroomError('LENGTH_MISMATCH', 'the body is longer than its declared length')
    md5.update(c)
    sha256?.update(c)
    for (const [, sum] of sums) sum.update(c)
    for (const [, sum] of computed) sum.update(c)
    yield c
  }
  if (received !== expect.length)
    throw new StrongroomError(
      'LENGTH_MISMATCH',
      `You did not provide the number of bytes specified by the Content-Length HTTP header (${received} of ${expect.length})`,
    )
  if (sha256 !== undefined && sha256.digest('hex') !== expect.sha256)
    throw new StrongroomError(
      'CONTENT_SHA256_MISMATCH',
      "The provided 'x-amz-content-sha256' header does not match what was computed.",
    )
  const trailers = sums.length > 0 ? expect.trailers?.() : undefined
  const verified: Record<string, string> = {}
  for (const [name, sum] of sums) {
    // Every value the client declared is checked: a header and a trailer of the same name both.
    const wants = [trailers?.get(name), expect.checksums?.get(name)].filter((w) => w !== undefined)
    if (wants.length === 0)
      throw new StrongroomError(
        'CHECKSUM_MISSING',
        `the trailer ${name} was announced but not sent`,
      )
    const got = sum.digest()
    if (wants.some((want) => want !== got))
      throw new StrongroomError(
        'CHECKSUM_MISMATCH',
        `The ${name.slice('x-amz-checksum-'.length).toUpperCase()} you specified did not match the calculated checksum.`,
      )
    verified[name] = got
  }
  for (const [name, sum] of computed) verified[name] = sum.digest()
  const digest = md5.digest()
  if (
    expect.md5 !== undefined &&
    (expect.md5.byteLength !== 16 || !timingSafeEqual(expect.md5, digest))
  )
    throw new StrongroomError(
      'BAD_DIGEST',
      'The Content-MD5 you specified did not match what we received.',
    )
  done({ md5: digest, checksums: verified })
}
