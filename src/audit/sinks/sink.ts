/**
 * SIEM export of the audit trail: the port every sink implements, and what the sinks share.
 *
 * The audit log numbers each event with its leaf index in the tamper-evident log (0, 1, 2, …,
 * no gaps) and hands it to every configured sink with `offer(seq, event)`. A sink is a
 * SpooledQueue (queue.ts: a bounded memory queue over an on-disk spool, spool.ts) in front of
 * one Transport (file.ts, webhook.ts, syslog.ts). Every sink guarantees:
 *
 *  - `offer` never blocks and never throws: no request waits for a SIEM.
 *  - Delivery is in seq order and at least once: after a failure or a restart a destination may
 *    see an event again, never an older one after a newer one, and every record carries its seq
 *    (or, for files, its place in a file named by its first seq) for de-duplication.
 *  - Nothing accepted is skipped: while the destination fails the backlog goes to disk, and a
 *    restart resumes from the spool after the persisted cursor. Whatever a crash took from
 *    memory lies above `highestAccepted()`, which the owner re-offers from the log.
 *  - Losses are declared, never silent: past the spool's byte cap (or with memory full while
 *    the disk lags) offers are refused and counted (`status().dropped`, `dropping`), and a spool
 *    line damaged on disk is skipped and counted (`skipped`); the destination sees either as a
 *    jump in seq. The log itself still holds every event.
 *  - Secrets (bearer tokens, HMAC keys, credentials in URLs) never appear in `status()`.
 */
import type { AuditEvent } from '../event.ts'
import { StrongroomError, type StrongroomErrorOptions } from '../../errors.ts'

/** The record shape a sink writes: CloudTrail (the AuditEvent as it is) or OCSF API Activity. */
export type AuditFormat = 'cloudtrail' | 'ocsf'

/** One event as it waits in a queue or spool: its seq in the log, and the event. */
export interface SpoolEntry {
  readonly seq: number
  readonly event: AuditEvent
}

export interface SinkStatus {
  /** Highest seq delivered (-1: none yet). */
  readonly delivered: number
  /** Highest seq accepted (-1: none); the owner re-offers anything the log has above it. */
  readonly accepted: number
  /** Events in memory, accepted and neither delivered nor spooled. */
  readonly queued: number
  /** Events on disk, not yet delivered. */
  readonly spooled: number
  /** Bytes the spool's segments take (delivered events included until their segment goes). */
  readonly spoolBytes: number
  /** Offers refused since the sink opened (spool cap, memory full while the disk lags, closed). */
  readonly dropped: number
  /** The latest offer was refused: events are being lost to this sink until it has room. */
  readonly dropping: boolean
  /** Spool lines that failed their checks when read back (damage on disk): skipped, not sent. */
  readonly skipped: number
  /** The latest delivery attempt failed; it is being retried with backoff. */
  readonly retrying: boolean
  /** The latest failure (delivery, spool or cap), without secrets; cleared by a delivery. */
  readonly lastError?: string
}

/** What the audit log sees of a sink. */
export interface AuditSink {
  readonly name: string
  /** Hands event `seq` to the sink; never blocks, never throws; a seq already accepted is ignored. */
  offer(seq: number, event: AuditEvent): void
  /** Highest seq accepted (-1: none): after a restart the owner re-offers from the next one. */
  highestAccepted(): number
  /**
   * Resolves once everything accepted before the call is delivered (and, for files, fsynced).
   * After `timeoutMs` (default 30 s) it writes what memory holds to the spool and rejects with
   * SERVICE_UNAVAILABLE; nothing is lost, delivery goes on.
   */
  flush(timeoutMs?: number): Promise<void>
  /**
   * Stops delivery (an attempt in flight is abandoned and will be repeated), writes every
   * undelivered event to the spool and closes. Call `flush` first to deliver before closing.
   */
  close(): Promise<void>
  status(): SinkStatus
}

/** Where a sink's events go: one destination, driven by one SpooledQueue. */
export interface Transport {
  /** The destination for messages: never a secret (no credentials, path or query string). */
  readonly target: string
  /**
   * Delivers a prefix of `batch` (never empty, seqs ascending) in order, and resolves with how
   * many of its entries were delivered (at least one); rejects when none was, preferably with a
   * DeliveryError. `signal` aborts when the sink closes.
   */
  send(batch: readonly SpoolEntry[], signal: AbortSignal): Promise<number>
  /** Makes what was delivered durable at the destination (the file sink fsyncs). */
  sync?(): Promise<void>
  close(): Promise<void>
}

/** A delivery that failed and will be retried; `message` must never carry a secret. */
export class DeliveryError extends StrongroomError {
  /** How long the destination asked the sink to wait (Retry-After), in milliseconds. */
  readonly retryAfterMs: number | undefined
  constructor(
    message: string,
    options?: StrongroomErrorOptions & { readonly retryAfterMs?: number | undefined },
  ) {
    super('SERVICE_UNAVAILABLE', message, options)
    this.retryAfterMs = options?.retryAfterMs
  }
}

export interface FormatOptions {
  /** Default 'cloudtrail'. */
  readonly format?: AuditFormat
  /** The OCSF mapping (src/audit/ocsf.ts); required when `format` is 'ocsf'. */
  readonly toOcsf?: (e: AuditEvent) => object
}

/** The function that shapes each event for the destination. */
export function formatter(o: FormatOptions): (e: AuditEvent) => object {
  const format: AuditFormat = o.format ?? 'cloudtrail'
  switch (format) {
    case 'cloudtrail':
      return (e) => e
    case 'ocsf': {
      if (o.toOcsf === undefined)
        throw new StrongroomError('CONFIG_INVALID', 'an `ocsf` audit sink needs the OCSF mapping')
      return o.toOcsf
    }
  }
}

export interface BackoffOptions {
  /** The first retry waits up to this long (default 200 ms). */
  readonly baseMs?: number
  /** No wait is longer than this (default 30 s), except what Retry-After asks for. */
  readonly capMs?: number
}

/** Retry-After is honoured up to this long: a receiver cannot stall a sink for hours. */
export const MAX_RETRY_AFTER_MS = 300_000

/**
 * "Full jitter" (AWS Architecture Blog, Exponential Backoff And Jitter): uniform in
 * [0, min(cap, base·2^attempt)], so that sinks failing together do not retry together; at least
 * what Retry-After asked for (up to MAX_RETRY_AFTER_MS).
 */
export function backoffDelay(
  attempt: number,
  o: BackoffOptions,
  retryAfterMs?: number,
  random: () => number = Math.random,
): number {
  const base = o.baseMs ?? 200
  const cap = o.capMs ?? 30_000
  const jitter = random() * Math.min(cap, base * 2 ** Math.min(attempt, 40))
  if (retryAfterMs === undefined || !(retryAfterMs > 0)) return jitter
  return Math.max(jitter, Math.min(retryAfterMs, MAX_RETRY_AFTER_MS))
}

/** What every sink is configured with, beside its destination. */
export interface SinkOptions extends FormatOptions {
  /** Names the sink in status and messages. */
  readonly name: string
  /** The sink's own spool directory (created owner-only); reopen with the same one to resume. */
  readonly spoolDir: string
  /** Events held in memory at most (default 10,000); half full, they go to the spool. */
  readonly maxQueued?: number
  /** Bytes the spool may take (default 1 GiB); past it offers are refused and counted. */
  readonly maxSpoolBytes?: number
  /** Spool segment size (default 8 MiB). */
  readonly segmentBytes?: number
  readonly backoff?: BackoffOptions
  /** The first seq a new sink (no cursor, no spool) expects (default 0): attach to a long log. */
  readonly startSeq?: number
}

/** The message of anything thrown, for status; transports keep secrets out of their messages. */
export function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e)
}

/** An I/O error's code (ECONNREFUSED, ENOSPC, CERT_HAS_EXPIRED…), else its class: no free text. */
export function errorCode(e: unknown): string {
  const code = (e as { code?: unknown } | null)?.code
  if (typeof code === 'string' && /^[\w.-]{1,64}$/.test(code)) return code
  return e instanceof Error ? e.name : 'error'
}
