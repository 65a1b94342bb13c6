/**
 * How the object service scans a body it has sealed, always in the scan
 * worker pool: from the plaintext kept while sealing (small bodies), from
 * the scan that ran while the upload streamed, or by reading the sealed body
 * back — the worker asks for bytes, and this thread reads and decrypts them
 * asynchronously, so the event loop is never blocked by a scan.
 */
import type { OpenedObject } from '../crypto/range.ts'
import { StrongroomError } from '../errors.ts'
import type { ScanRecord } from '../meta/objects.ts'
import { RULES_VERSION } from '../scan/rules.ts'
import type { Finding } from '../scan/types.ts'
import type { OpenedStoredObject } from './objects.ts'
import type { ScanOutcome, ScanPool } from './scan-pool.ts'

/** The verdict to keep with an object: the first findings only. */
export function recordOf(r: {
  verdict: ScanRecord['verdict']
  format: string
  findings: readonly Finding[]
}): ScanRecord {
  return {
    verdict: r.verdict,
    format: r.format,
    rules: RULES_VERSION,
    at: Date.now(),
    findings: r.findings.slice(0, 20),
  }
}

/** The verdict of a pooled scan that cannot fall back (a buffer, a read-back); its error otherwise. */
function recordOfOutcome(o: ScanOutcome, key: string): ScanRecord {
  if ('report' in o) return recordOf(o.report)
  if ('error' in o) throw o.error
  throw new StrongroomError('INTERNAL', `the scan of \`${key}\` ended without a verdict`)
}

/** Plaintext bytes [position, position + length) of an opened object, read and decrypted asynchronously. */
async function readRange(o: OpenedObject, position: number, length: number): Promise<Uint8Array> {
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
  streamed?: Promise<ScanOutcome>,
): Promise<ScanRecord> {
  if (plain !== undefined)
    return recordOfOutcome(await pool.scanBuffer(Buffer.concat(plain), key), key)
  // Scanned as it streamed through, unless the format needed random access (or the worker failed).
  const outcome = await streamed
  if (outcome !== undefined && 'report' in outcome) return recordOf(outcome.report)
  const opened = await open()
  try {
    const o = opened.object
    return recordOfOutcome(
      await pool.scanStored(o.plaintextLength, (p, n) => readRange(o, p, n), key),
      key,
    )
  } finally {
    await opened.close()
  }
}
