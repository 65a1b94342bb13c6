/**
 * The one SQLite handle every port module of the adapter shares: node:sqlite
 * with a WAL journal, foreign keys, secure_delete (erased rows are
 * overwritten, which crypto-shredding relies on), STRICT tables, numbered
 * migrations, and an application id that tells a Strongroom database from any
 * other SQLite file. Also the transaction helpers and row decoders the
 * modules share.
 */
import { chmodSync, closeSync, existsSync, fdatasync, openSync, statSync } from 'node:fs'
import { DatabaseSync, type SQLInputValue, type StatementSync } from 'node:sqlite'
import { StrongroomError } from '../../errors.ts'
import { MIGRATIONS } from './migrations.ts'

/** 'SROO' */
export const APPLICATION_ID = 0x53524f4f

export type Row = Record<string, SQLInputValue>

export class SqliteDb {
  private readonly db: DatabaseSync
  private readonly stmts = new Map<string, StatementSync>()
  private batch: {
    fn: () => unknown
    resolve: (v: unknown) => void
    reject: (e: unknown) => void
  }[] = []
  /** The write-ahead log, flushed off the event loop after each group commit. */
  private wal: number | undefined
  /** The flush that will start once the one in flight is done, shared by whoever asks meanwhile. */
  private nextSync: PromiseWithResolvers<undefined> | undefined
  private syncing = false

  private constructor(db: DatabaseSync, path: string) {
    this.db = db
    this.wal = openSync(`${path}-wal`, 'r+')
  }

  /** Opens (and with `create`, creates) the database at `path`, applying pending migrations. */
  static open(path: string, options: { create?: boolean } = {}): SqliteDb {
    let db: DatabaseSync
    try {
      // Created owner-only before SQLite opens it, whatever the umask: SQLite gives the -wal
      // and -shm files the database file's mode.
      if (options.create === true && !existsSync(path)) closeSync(openSync(path, 'wx', 0o600))
      db = new DatabaseSync(path, { open: true, enableForeignKeyConstraints: true })
    } catch (e) {
      throw new StrongroomError(
        'IO',
        `cannot open the metadata database \`${path}\`: ${(e as Error).message}`,
        { cause: e },
      )
    }
    try {
      const appId = (db.prepare('PRAGMA application_id').get() as { application_id: number })
        .application_id
      const version = (db.prepare('PRAGMA user_version').get() as { user_version: number })
        .user_version
      if (appId === 0 && version === 0 && options.create === true) {
        db.exec(`PRAGMA application_id = ${APPLICATION_ID}`)
      } else if (appId !== APPLICATION_ID) {
        throw new StrongroomError(
          'DATA_DIR_FOREIGN',
          `\`${path}\` is not a Strongroom metadata database`,
        )
      }
      db.exec(
        'PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA secure_delete = ON; PRAGMA busy_timeout = 5000',
      )
      migrate(db, version)
      // Ours (the application id said so): a looser file left by an older version is
      // tightened, and WAL mode has created the -wal and -shm files by now: check them too.
      ownerOnly(path)
      ownerOnly(`${path}-wal`)
      ownerOnly(`${path}-shm`)
    } catch (e) {
      db.close()
      if (e instanceof StrongroomError) throw e
      throw new StrongroomError(
        'DATA_DIR_FOREIGN',
        `\`${path}\` is not a Strongroom metadata database: ${(e as Error).message}`,
        { cause: e },
      )
    }
    return new SqliteDb(db, path)
  }

  /** A prepared statement, cached by its text. */
  stmt(sql: string): StatementSync {
    let s = this.stmts.get(sql)
    if (s === undefined) {
      s = this.db.prepare(sql)
      this.stmts.set(sql, s)
    }
    return s
  }

  exec(sql: string): void {
    this.db.exec(sql)
  }

  /** Moves erased pages out of the WAL into the (secure_delete) main file now. */
  checkpoint(): void {
    this.db.exec('PRAGMA wal_checkpoint(TRUNCATE)')
  }

  /**
   * Runs `fn`'s reads at one instant: in one read transaction (one snapshot, and one taking of
   * the shared lock instead of one per statement); inside a caller's transaction, in that one.
   */
  read<T>(fn: () => T): T {
    if (this.db.isTransaction) return fn()
    this.db.exec('BEGIN')
    try {
      return fn()
    } finally {
      this.db.exec('COMMIT')
    }
  }

  /** Runs `fn` in one immediate transaction. */
  tx<T>(fn: () => T): T {
    this.db.exec('BEGIN IMMEDIATE')
    try {
      const out = fn()
      this.db.exec('COMMIT')
      return out
    } catch (e) {
      this.db.exec('ROLLBACK')
      throw e
    }
  }

  /**
   * Group commit: writes queued in the same turn of the event loop share one
   * transaction, so one flush makes them all durable. Each runs in its own
   * savepoint: one failing does not undo the others. Every promise settles
   * only after the flush that makes its write durable. The transaction commits
   * without flushing (synchronous = NORMAL for it alone) and the log is then
   * flushed off the event loop (fdatasync of the -wal file in libuv's pool),
   * which is what synchronous = FULL would do on the event loop: a WAL commit
   * is durable once its frames are (https://sqlite.org/pragma.html#pragma_synchronous).
   * While one flush is in flight, later batches share the next.
   */
  grouped<T>(fn: () => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.batch.push({ fn, resolve: resolve as (v: unknown) => void, reject })
      if (this.batch.length === 1) setImmediate(() => this.commitBatch())
    })
  }

  private commitBatch(): void {
    const batch = this.batch
    this.batch = []
    const results: { ok: boolean; value: unknown }[] = []
    try {
      this.db.exec('PRAGMA synchronous = NORMAL')
      this.db.exec('BEGIN IMMEDIATE')
      for (const item of batch) {
        this.db.exec('SAVEPOINT item')
        try {
          results.push({ ok: true, value: item.fn() })
          this.db.exec('RELEASE item')
        } catch (e) {
          this.db.exec('ROLLBACK TO item')
          this.db.exec('RELEASE item')
          results.push({ ok: false, value: e })
        }
      }
      this.db.exec('COMMIT')
    } catch (e) {
      if (this.db.isTransaction) this.db.exec('ROLLBACK')
      for (const item of batch) item.reject(e)
      return
    } finally {
      this.db.exec('PRAGMA synchronous = FULL')
    }
    this.flushed().then(
      () =>
        batch.forEach((item, i) => {
          const r = results[i]
          if (r?.ok === true) item.resolve(r.value)
          else item.reject(r?.value)
        }),
      (e: unknown) => {
        const cause = new StrongroomError('IO', 'cannot flush the metadata database to disk', {
          cause: e,
        })
        for (const item of batch) item.reject(cause)
      },
    )
  }

  /** Resolves after an fdatasync of the log that began after this call. */
  private flushed(): Promise<void> {
    this.nextSync ??= Promise.withResolvers<undefined>()
    const wanted = this.nextSync.promise
    if (!this.syncing) this.startSync()
    return wanted
  }

  private startSync(): void {
    const done = this.nextSync
    if (done === undefined) return
    this.nextSync = undefined
    if (this.wal === undefined) {
      done.reject(new StrongroomError('IO', 'the metadata database is closed'))
      return
    }
    this.syncing = true
    fdatasync(this.wal, (e) => {
      this.syncing = false
      if (e === null) done.resolve(undefined)
      else done.reject(e)
      if (this.db.isOpen) this.startSync()
      else this.closeWal()
    })
  }

  /** Closes the database; the log's descriptor once no flush is using it. */
  close(): void {
    if (this.db.isOpen) this.db.close()
    if (!this.syncing) this.closeWal()
  }

  private closeWal(): void {
    const fd = this.wal
    this.wal = undefined
    if (fd !== undefined) closeSync(fd)
    // Closing checkpointed the log into the database file and flushed it: nothing is left to wait for.
    this.nextSync?.resolve(undefined)
    this.nextSync = undefined
  }
}

/** Makes `path` (if it exists) readable and writable by its owner only: mode 0600. */
function ownerOnly(path: string): void {
  try {
    const mode = statSync(path, { throwIfNoEntry: false })?.mode
    if (mode !== undefined && (mode & 0o777) !== 0o600) chmodSync(path, 0o600)
  } catch (e) {
    throw new StrongroomError(
      'IO',
      `cannot make \`${path}\` owner-only (mode 0600): ${(e as Error).message}`,
      { cause: e },
    )
  }
}

function migrate(db: DatabaseSync, from: number): void {
  if (from > MIGRATIONS.length) {
    throw new StrongroomError(
      'UNSUPPORTED_FORMAT',
      `the metadata database is at schema ${from}, newer than this build knows (${MIGRATIONS.length}); upgrade Strongroom`,
    )
  }
  for (let v = from; v < MIGRATIONS.length; v++) {
    db.exec('BEGIN IMMEDIATE')
    try {
      db.exec(MIGRATIONS[v] ?? '')
      db.exec(`PRAGMA user_version = ${v + 1}`)
      db.exec('COMMIT')
    } catch (e) {
      db.exec('ROLLBACK')
      // A new uniqueness rule that rows written under the old one break (schema 13: user names
      // unique regardless of case): say which rule and what to do, not SQLite's words alone.
      if (isUniqueViolation(e))
        throw new StrongroomError(
          'UNSUPPORTED_FORMAT',
          `cannot upgrade the metadata database to schema ${v + 1}: ${(e as Error).message}; ` +
            'rows that differ only by letter case (user names, since schema 13) must be renamed with the previous Strongroom first; nothing was changed',
          { cause: e },
        )
      throw e
    }
  }
}

/** SQLITE_CONSTRAINT_UNIQUE and SQLITE_CONSTRAINT_PRIMARYKEY (https://sqlite.org/rescode.html). */
const UNIQUE_VIOLATIONS = new Set([2067, 1555])

/** Whether `e` is SQLite refusing a duplicate (by its extended result code, not its message). */
export function isUniqueViolation(e: unknown): boolean {
  return (
    e instanceof Error &&
    (e as { code?: unknown }).code === 'ERR_SQLITE_ERROR' &&
    UNIQUE_VIOLATIONS.has((e as { errcode?: unknown }).errcode as number)
  )
}

export const str = (v: SQLInputValue | undefined): string =>
  typeof v === 'string' ? v : typeof v === 'number' || typeof v === 'bigint' ? v.toString() : ''
export const num = (v: SQLInputValue | undefined): number => Number(v)
export const numOrNull = (v: SQLInputValue | undefined): number | null =>
  v === null || v === undefined ? null : Number(v)
export const bytes = (v: SQLInputValue | undefined): Uint8Array =>
  v instanceof Uint8Array ? v : new Uint8Array(0)

export { digestOf, systemOf } from '../rows.ts'

/** Stores a data key with the row it seals, inside the caller's transaction. */
export function insertDataKey(
  db: SqliteDb,
  dataKeyId: string,
  wk: { tenantId: string; keyId: string; keyVersion: number; wrapped: Uint8Array },
  createdAt: number,
): void {
  db.stmt(
    'INSERT INTO object_keys (data_key_id, tenant_id, key_id, key_version, wrapped, created_at) VALUES (?, ?, ?, ?, ?, ?)',
  ).run(dataKeyId, wk.tenantId, wk.keyId, wk.keyVersion, wk.wrapped, createdAt)
}

/**
 * Runs a synchronous database call as the port's promise: its result, or its
 * failure as a rejection (never a throw from a function that returns a promise).
 */
export function settle<T>(fn: () => T): Promise<T> {
  try {
    return Promise.resolve(fn())
  } catch (e) {
    return Promise.reject(e instanceof Error ? e : new Error(String(e)))
  }
}
