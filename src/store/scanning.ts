/**
 * The model scanner's verdict on a body the object service stores: from the
 * plaintext kept while sealing (small bodies), from the stream a scan worker
 * read as the body was sealed, or read back from the sealed body (formats
 * that need random access; multipart objects, whose parts were sealed one by
 * one and are only assembled when the upload completes).
 */
import { StrongroomError } from '../errors.ts'
import type { Clock } from '../clock.ts'
import type { ScanRecord } from '../meta/objects.ts'
import { RULES_VERSION } from '../scan/rules.ts'
import { scan } from '../scan/scan.ts'
import { bufferSource, type ByteSource } from '../scan/source.ts'
import type { Finding } from '../scan/types.ts'
import type { ScanOutcome, ScanPool } from './scan-pool.ts'

/** Bodies up to this size are scanned from their plaintext in memory; larger ones by a worker or read back. */
export const SCAN_IN_MEMORY = 1024 * 1024

/** Plaintext of a stored body, as the object service opens it. */
export interface PlainBody {
  readonly plaintextLength: number
  /** Decrypts plaintext bytes [first, last], inclusive as in an HTTP Range header. */
  range(first: number, last: number): AsyncGenerator<Buffer>
  /** Synchronous random access (for the scanner); only on bodies opened for it. */
  readInto(position: number, into: Uint8Array, offset: number, length: number): number
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

function scanRecord(src: ByteSource, key: string, clock: Clock): ScanRecord {
  const r = scan(src, key)
  return recordOf(r, clock.now())
}

/** Scans a sealed body: from the plaintext kept while sealing, or read back through its segments. */
export async function scanSealed(
  plain: Buffer[] | undefined,
  key: string,
  open: () => Promise<OpenedStoredObject>,
  clock: Clock,
  streamed?: Promise<ScanOutcome>,
): Promise<ScanRecord> {
  if (plain !== undefined) return scanRecord(bufferSource(Buffer.concat(plain)), key, clock)
  // Scanned as it streamed through, unless the format needed random access (or the worker failed).
  const outcome = await streamed
  if (outcome !== undefined && 'report' in outcome) return recordOf(outcome.report, clock.now())
  const opened = await open()
  try {
    const o = opened.object
    return scanRecord(
      { size: o.plaintextLength, readInto: (p, i, off, n) => o.readInto(p, i, off, n) },
      key,
      clock,
    )
  } finally {
    await opened.close()
  }
}

/**
 * Scans a stored body by decrypting it once: small ones in memory, larger
 * ones streamed to a scan worker (which may stop reading early) and read back
 * with random access only when the format needs it. `open` opens for streaming,
 * `openRandom` for synchronous random access.
 */
export async function scanStored(
  key: string,
  length: number,
  open: () => Promise<OpenedStoredObject>,
  openRandom: () => Promise<OpenedStoredObject>,
  pool: ScanPool | undefined,
  clock: Clock,
): Promise<ScanRecord> {
  const stream = length > SCAN_IN_MEMORY ? pool?.start(length, key) : undefined
  if (length > SCAN_IN_MEMORY && stream === undefined)
    return scanSealed(undefined, key, openRandom, clock)
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
  return scanSealed(plain, key, openRandom, clock, stream?.outcome)
}
