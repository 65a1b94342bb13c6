/**
 * The shared handle of the PostgreSQL adapter: a bounded connection pool (node-postgres), every
 * statement under a timeout, transactions that retry a serialization failure or deadlock with
 * backoff, and one error for "the database cannot be reached" (SERVICE_UNAVAILABLE: 503 on the
 * wire) instead of a hang: a request waits at most `connectTimeoutMs` for a connection.
 */
import pg from 'pg'
import { StrongroomError } from '../../errors.ts'

export interface PgOptions {
  /** Connections this gateway may hold (default 10). */
  readonly maxConnections?: number
  /** Longest a statement may run (default 5 s; 0: no limit). */
  readonly statementTimeoutMs?: number
  /** Longest a request waits for a connection (default 5 s). */
  readonly connectTimeoutMs?: number
}

/**
 * A transaction's isolation level: READ COMMITTED for writes that lock the rows their checks
 * depend on; REPEATABLE READ for several reads that must see one snapshot (one instant);
 * SERIALIZABLE where neither does.
 */
export type TxMode = 'read committed' | 'repeatable read' | 'serializable'

const BEGIN: Record<TxMode, string> = {
  'read committed': 'BEGIN',
  'repeatable read': 'BEGIN ISOLATION LEVEL REPEATABLE READ',
  serializable: 'BEGIN ISOLATION LEVEL SERIALIZABLE',
}

/** SQLSTATEs a transaction is retried on: serialization_failure, deadlock_detected. */
const RETRIED = new Set(['40001', '40P01'])
const MAX_ATTEMPTS = 5

/** unique_violation (https://www.postgresql.org/docs/current/errcodes-appendix.html). */
export function isUniqueViolation(e: unknown): boolean {
  return e instanceof Error && (e as { code?: unknown }).code === '23505'
}

/** foreign_key_violation: the row a write names is not there. */
export function isForeignKeyViolation(e: unknown): boolean {
  return e instanceof Error && (e as { code?: unknown }).code === '23503'
}

/** A connection, or the pool: what a read helper runs its statements on. */
export interface Queryable {
  query(sql: string, params?: unknown[]): Promise<{ rows: unknown[]; rowCount: number | null }>
}

export class PgDb {
  readonly pool: pg.Pool
  /** The pool as a Queryable, its failures reported as `failure` words them. */
  readonly any: Queryable

  constructor(url: string, options: PgOptions = {}) {
    const statementMs = options.statementTimeoutMs ?? 5000
    this.pool = new pg.Pool({
      connectionString: url,
      max: options.maxConnections ?? 10,
      connectionTimeoutMillis: options.connectTimeoutMs ?? 5000,
      statement_timeout: statementMs,
      // A server that stops answering (frozen, a network black hole) fails the query here too,
      // a second after the server's own timeout would have: never a request that hangs.
      query_timeout: statementMs === 0 ? undefined : statementMs + 1000,
      // A gateway frozen inside a transaction (a paused VM) must not hold its locks, the audit
      // log's index counter among them, for longer than this: the server ends its session.
      idle_in_transaction_session_timeout: 10_000,
      // A peer that vanished is noticed by TCP keepalive, not by waiting forever.
      keepAlive: true,
      idleTimeoutMillis: 30_000,
    })
    // An idle connection the server drops is replaced on the next checkout; never an uncaught error.
    this.pool.on('error', () => {})
    this.any = {
      query: (sql, params) =>
        this.pool.query(sql, params).catch((e: unknown) => Promise.reject(unavailable(e))),
    }
  }

  /** One statement on any pooled connection. */
  async query<R extends pg.QueryResultRow>(sql: string, params: unknown[] = []): Promise<R[]> {
    try {
      return (await this.pool.query<R>(sql, params)).rows
    } catch (e) {
      throw unavailable(e)
    }
  }

  /**
   * Runs `fn` in one transaction at the isolation level `mode` (READ COMMITTED unless asked
   * otherwise), retried with backoff on a serialization failure or deadlock; any other failure
   * rolls back and is the caller's.
   */
  async tx<T>(fn: (c: Queryable) => Promise<T>, mode: TxMode = 'read committed'): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      let client: pg.PoolClient
      try {
        client = await this.pool.connect()
      } catch (e) {
        throw unavailable(e)
      }
      // A connection that dies while checked out emits 'error' besides failing its query: the
      // query's rejection is the one handled; unheard, the event would end the process.
      let broken: Error | undefined
      const onError = (e: Error) => {
        broken = e
      }
      client.on('error', onError)
      const release = () => {
        client.off('error', onError)
        // A broken connection is closed, not handed to the next request.
        client.release(broken)
      }
      try {
        await client.query(BEGIN[mode])
        const out = await fn(client)
        await client.query('COMMIT')
        release()
        return out
      } catch (e) {
        if (broken === undefined) await client.query('ROLLBACK').catch(() => {})
        release()
        const code = (e as { code?: unknown }).code
        if (typeof code === 'string' && RETRIED.has(code) && attempt < MAX_ATTEMPTS) {
          await new Promise((r) => setTimeout(r, 2 ** attempt * 5 + Math.random() * 10))
          continue
        }
        throw unavailable(e)
      }
    }
  }

  close(): Promise<void> {
    return this.pool.end()
  }
}

/**
 * A failure to reach the database (refused, timed out, the server shutting down) as
 * SERVICE_UNAVAILABLE; anything else (a constraint, a bug) as it is.
 */
function unavailable(e: unknown): Error {
  if (!(e instanceof Error)) return new Error(String(e))
  if (e instanceof StrongroomError) return e
  const code = (e as { code?: unknown }).code
  const message = e.message
  const down =
    (typeof code === 'string' &&
      (/^(08|57P0[1-3])/.test(code) ||
        ['ECONNREFUSED', 'ENOENT', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT'].includes(code))) ||
    /timeout exceeded when trying to connect|Connection terminated|not queryable/.test(message)
  if (code === '57014' || /Query read timeout/.test(message))
    return new StrongroomError(
      'SERVICE_UNAVAILABLE',
      'the metadata database (PostgreSQL) did not answer in time (busy, or a lock held elsewhere); retry shortly',
      { cause: e },
    )
  if (!down) return e
  return new StrongroomError(
    'SERVICE_UNAVAILABLE',
    'the metadata database (PostgreSQL) cannot be reached; retry shortly',
    { cause: e },
  )
}

/** Row values as the records want them. */
export const int = (v: unknown): number => (typeof v === 'string' ? Number(v) : Number(v ?? 0))
export const text = (v: unknown): string =>
  typeof v === 'string' ? v : typeof v === 'number' ? String(v) : ''
export const bytea = (v: unknown): Uint8Array =>
  v instanceof Uint8Array ? new Uint8Array(v) : new Uint8Array()
