/**
 * How the object service scans a body it stores, always in the scan worker
 * pool: from the plaintext kept while sealing (small bodies), from the scan
 * that ran while the upload streamed, or by reading the sealed body back —
 * the worker asks for bytes, and this thread reads and decrypts them
 * asynchronously, so the event loop is never blocked by a scan. Multipart
 * objects, whose parts were sealed one by one, are scanned when the upload
 * completes, their parts decrypted once in order (scanStored).
 */
import type { Clock } from '../clock.ts'
import { StrongroomError } from '../errors.ts'
import type { ScanRecord } from '../meta/objects.ts'
import { RULES_VERSION } from '../scan/rules.ts'
import type { Finding } from '../scan/types.ts'
import type { ScanOutcome, ScanPool } from './scan-pool.ts'

/** Bodies up to this size are scanned from their plaintext in memory; larger ones streamed or read back. */
export const SCAN_IN_MEMORY = 1024 * 1024

/** Plaintext of a stored body, as the object service opens it. */
export interface PlainBody {
  readonly plaintextLength: number
  /** Decrypts plaintext bytes [first, last], inclusive as in an HTTP Range header. */
  range(first: number, last: number): AsyncGenerator<Buffer>
}

export interface OpenedStoredObject {
  readonly object: PlainBody
  close(): Promise<void>
}

/** An upload the bucket's `reject` scan policy refused; nothing of it was kept. */
export class ScanRejected extends StrongroomError {
  readonly scan: ScanRecord
  constructor(record: ScanRecord, key: string) {
    const first = record.findings[0]
    super(
      'SCAN_REJECTED',
      `the bucket's scan policy rejects ${record.verdict} uploads: ${key} ${first === undefined ? '' : `(${first.rule} at ${first.path} @${first.offset}: ${first.reason})`}`.trim(),
    )
    this.scan = record
  }
}

/** The verdict to keep with an object, scanned `at` (ms): the first findings only. */
export function recordOf(
  r: {
    verdict: ScanRecord['verdict']
    format: string
    findings: readonly Finding[]
  },
  at: number,
): ScanRecord {
  return {
    verdict: r.verdict,
    format: r.format,
    rules: RULES_VERSION,
    at,
    findings: r.findings.slice(0, 20),
  }
}

/** The verdict of a pooled scan that cannot fall back (a buffer, a read-back); its error otherwise. */
function recordOfOutcome(o: ScanOutcome, key: string, clock: Clock): ScanRecord {
  if ('report' in o) return recordOf(o.report, clock.now())
  if ('error' in o) throw o.error
  throw new StrongroomError('INTERNAL', `the scan of \`${key}\` ended without a verdict`)
}

/** Plaintext bytes [position, position + length) of an opened body, read and decrypted asynchronously. */
async function readRange(o: PlainBody, position: number, length: number): Promise<Uint8Array> {
  const n = Math.min(length, o.plaintextLength - position)
  if (n <= 0) return new Uint8Array(0)
  const chunks: Buffer[] = []
  for await (const c of o.range(position, position + n - 1)) chunks.push(c)
  return chunks.length === 1 ? (chunks[0] ?? new Uint8Array(0)) : Buffer.concat(chunks)
}

/**
 * Scans a sealed body named `key`: `plain` when it was kept, else the
 * outcome of the streaming scan when it has a verdict, else the body opened
 * by `open` and read back. A failed read fails the scan with its error.
 */
export async function scanSealed(
  pool: ScanPool,
  plain: Buffer[] | undefined,
  key: string,
  open: () => Promise<OpenedStoredObject>,
  clock: Clock,
  streamed?: Promise<ScanOutcome>,
): Promise<ScanRecord> {
  if (plain !== undefined)
    return recordOfOutcome(await pool.scanBuffer(Buffer.concat(plain), key), key, clock)
  // Scanned as it streamed through, unless the format needed random access (or the worker failed).
  const outcome = await streamed
  if (outcome !== undefined && 'report' in outcome) return recordOf(outcome.report, clock.now())
  const opened = await open()
  try {
    const o = opened.object
    return recordOfOutcome(
      await pool.scanStored(o.plaintextLength, (p, n) => readRange(o, p, n), key),
      key,
      clock,
    )
  } finally {
    await opened.close()
  }
}

/**
 * Scans a stored body by decrypting it once: small ones in memory, larger
 * ones streamed to a scan worker (which may stop reading early), read back
 * only when the format needs random access or no worker was free.
 */
export async function scanStored(
  key: string,
  length: number,
  open: () => Promise<OpenedStoredObject>,
  pool: ScanPool,
  clock: Clock,
): Promise<ScanRecord> {
  const stream = length > SCAN_IN_MEMORY ? pool.start(length, key) : undefined
  if (length > SCAN_IN_MEMORY && stream === undefined)
    return scanSealed(pool, undefined, key, open, clock)
  const opened = await open()
  const plain: Buffer[] | undefined = stream === undefined ? [] : undefined
  try {
    if (length > 0) {
      for await (const c of opened.object.range(0, length - 1)) {
        if (plain !== undefined) plain.push(Buffer.from(c))
        else if (stream === undefined || stream.writer.readerDone) break
        else await stream.writer.write(c)
      }
    }
    stream?.writer.end(true)
  } catch (e) {
    stream?.writer.end(false)
    throw e
  } finally {
    await opened.close()
  }
  return scanSealed(pool, plain, key, open, clock, stream?.outcome)
}
