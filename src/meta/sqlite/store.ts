/**
 * MetadataStore on SQLite through node:sqlite: WAL journal, foreign keys,
 * secure_delete (erased rows are overwritten, which crypto-shredding relies
 * on), STRICT tables, numbered migrations, and an application id that tells a
 * Strongroom database from any other SQLite file.
 */
import { chmodSync, closeSync, existsSync, openSync, statSync } from 'node:fs'
import { DatabaseSync, type SQLInputValue, type StatementSync } from 'node:sqlite'
import { StrongroomError } from '../../errors.ts'
import type {
  InstallationRecord,
  KeyRecord,
  KeyState,
  KeyVersionRecord,
  MetadataStore,
  ObjectKeyRecord,
  RootKeyMode,
  TenantRecord,
} from '../store.ts'
import type { AccessKeyRecord, IdentityStore, UserPolicyRecord, UserRecord } from '../identity.ts'
import type {
  BucketHold,
  BucketRecord,
  ListPage,
  ObjectMetaStore,
  ObjectPart,
  ObjectRecord,
  PartRecord,
  PublicAccessBlock,
  ScanPolicy,
  ScanRecord,
  Tags,
  UploadRecord,
  VersionRecord,
  Versioning,
  WrappedDataKey,
} from '../objects.ts'
import { MIGRATIONS } from './migrations.ts'
import { claimParts, forgetParts, partsOf, withParts } from './parts.ts'

/** 'SROO' */
export const APPLICATION_ID = 0x53524f4f

type Row = Record<string, SQLInputValue>

export class SqliteMetadataStore implements MetadataStore, IdentityStore, ObjectMetaStore {
  private readonly db: DatabaseSync
  private readonly stmts = new Map<string, StatementSync>()

  private constructor(db: DatabaseSync) {
    this.db = db
  }

  /** Opens (and with `create`, creates) the database at `path`, applying pending migrations. */
  static open(path: string, options: { create?: boolean } = {}): SqliteMetadataStore {
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
      )
    }
    return new SqliteMetadataStore(db)
  }

  private stmt(sql: string): StatementSync {
    let s = this.stmts.get(sql)
    if (s === undefined) {
      s = this.db.prepare(sql)
      this.stmts.set(sql, s)
    }
    return s
  }

  private batch: {
    fn: () => unknown
    resolve: (v: unknown) => void
    reject: (e: unknown) => void
  }[] = []

  /**
   * Group commit: writes queued in the same turn of the event loop share one
   * transaction, so one fsync (synchronous = FULL) makes them all durable. Each
   * runs in its own savepoint: one failing does not undo the others. Every
   * promise settles only after the commit that makes its write durable.
   */
  private grouped<T>(fn: () => T): Promise<T> {
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
    }
    batch.forEach((item, i) => {
      const r = results[i]
      if (r?.ok === true) item.resolve(r.value)
      else item.reject(r?.value)
    })
  }

  private tx<T>(fn: () => T): T {
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

  getInstallation(): Promise<InstallationRecord | undefined> {
    const r = this.stmt('SELECT * FROM installation LIMIT 1').get() as Row | undefined
    return Promise.resolve(
      r && {
        id: str(r.id),
        createdAt: num(r.created_at),
        rootMode: str(r.root_mode) as RootKeyMode,
        rootKdf: r.root_kdf === null ? null : str(r.root_kdf),
        rootCheck: bytes(r.root_check),
      },
    )
  }

  putInstallation(i: InstallationRecord): Promise<void> {
    this.stmt(
      'INSERT INTO installation (id, created_at, root_mode, root_kdf, root_check) VALUES (?, ?, ?, ?, ?)',
    ).run(i.id, i.createdAt, i.rootMode, i.rootKdf, i.rootCheck)
    return Promise.resolve()
  }

  setRootCheck(check: Uint8Array): Promise<void> {
    this.stmt('UPDATE installation SET root_check = ?').run(check)
    return Promise.resolve()
  }

  createTenant(t: TenantRecord): Promise<void> {
    try {
      this.stmt('INSERT INTO tenants (id, name, created_at) VALUES (?, ?, ?)').run(
        t.id,
        t.name,
        t.createdAt,
      )
    } catch (e) {
      if (isConstraint(e)) {
        return Promise.reject(
          new StrongroomError('TENANT_EXISTS', `tenant \`${t.name}\` already exists`),
        )
      }
      throw e
    }
    return Promise.resolve()
  }

  getTenant(name: string): Promise<TenantRecord | undefined> {
    const r = this.stmt('SELECT * FROM tenants WHERE name = ?').get(name) as Row | undefined
    return Promise.resolve(r && tenant(r))
  }

  getTenantById(id: string): Promise<TenantRecord | undefined> {
    const r = this.stmt('SELECT * FROM tenants WHERE id = ?').get(id) as Row | undefined
    return Promise.resolve(r && tenant(r))
  }

  listTenants(): Promise<TenantRecord[]> {
    return Promise.resolve(
      (this.stmt('SELECT * FROM tenants ORDER BY name').all() as Row[]).map(tenant),
    )
  }

  createKey(k: KeyRecord, first: KeyVersionRecord): Promise<void> {
    try {
      this.tx(() => {
        this.insertKey(k)
        this.insertVersion(first)
      })
    } catch (e) {
      if (isConstraint(e)) {
        return Promise.reject(
          new StrongroomError(
            'KEY_EXISTS',
            `alias \`${k.alias ?? ''}\` is already in use in this tenant`,
          ),
        )
      }
      throw e
    }
    return Promise.resolve()
  }

  private insertKey(k: KeyRecord): void {
    this.stmt(
      `INSERT INTO keys (id, tenant_id, alias, description, state, current_version, created_at,
        rotation_period_days, next_rotation_at, deletion_at, deleted_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ).run(...keyValues(k))
  }

  private insertVersion(v: KeyVersionRecord): void {
    this.stmt(
      'INSERT INTO key_versions (key_id, version, material, created_at) VALUES (?, ?, ?, ?)',
    ).run(v.keyId, v.version, v.material, v.createdAt)
  }

  getKey(keyId: string): Promise<KeyRecord | undefined> {
    const r = this.stmt('SELECT * FROM keys WHERE id = ?').get(keyId) as Row | undefined
    return Promise.resolve(r && key(r))
  }

  getKeyByAlias(tenantId: string, alias: string): Promise<KeyRecord | undefined> {
    const r = this.stmt('SELECT * FROM keys WHERE tenant_id = ? AND alias = ?').get(
      tenantId,
      alias,
    ) as Row | undefined
    return Promise.resolve(r && key(r))
  }

  listKeys(tenantId: string): Promise<KeyRecord[]> {
    const rows = this.stmt('SELECT * FROM keys WHERE tenant_id = ? ORDER BY created_at, id').all(
      tenantId,
    ) as Row[]
    return Promise.resolve(rows.map(key))
  }

  updateKey(k: KeyRecord): Promise<void> {
    this.writeKey(k)
    return Promise.resolve()
  }

  private writeKey(k: KeyRecord): void {
    this.stmt(
      `UPDATE keys SET alias = ?, description = ?, state = ?, current_version = ?, rotation_period_days = ?,
        next_rotation_at = ?, deletion_at = ?, deleted_at = ? WHERE id = ?`,
    ).run(
      k.alias,
      k.description,
      k.state,
      k.currentVersion,
      k.rotationPeriodDays,
      k.nextRotationAt,
      k.deletionAt,
      k.deletedAt,
      k.id,
    )
  }

  addKeyVersion(k: KeyRecord, v: KeyVersionRecord): Promise<void> {
    this.tx(() => {
      this.insertVersion(v)
      this.writeKey(k)
    })
    return Promise.resolve()
  }

  resealKeyVersion(keyId: string, version: number, material: Uint8Array): Promise<void> {
    this.stmt('UPDATE key_versions SET material = ? WHERE key_id = ? AND version = ?').run(
      material,
      keyId,
      version,
    )
    return Promise.resolve()
  }

  reserveWraps(
    keyId: string,
    version: number,
    n: number,
    limit: number,
  ): Promise<{ start: number; end: number }> {
    try {
      return Promise.resolve(
        this.tx(() => {
          const r = this.stmt(
            'SELECT wraps FROM key_versions WHERE key_id = ? AND version = ?',
          ).get(keyId, version) as Row | undefined
          if (r === undefined)
            throw new StrongroomError(
              'KEY_DELETED',
              `version ${version} of key \`${keyId}\` no longer exists`,
            )
          const start = num(r.wraps)
          const end = Math.max(start, Math.min(start + n, limit))
          if (end > start)
            this.stmt('UPDATE key_versions SET wraps = ? WHERE key_id = ? AND version = ?').run(
              end,
              keyId,
              version,
            )
          return { start, end }
        }),
      )
    } catch (e) {
      return Promise.reject(e instanceof Error ? e : new Error(String(e)))
    }
  }

  getKeyVersion(keyId: string, version: number): Promise<KeyVersionRecord | undefined> {
    const r = this.stmt('SELECT * FROM key_versions WHERE key_id = ? AND version = ?').get(
      keyId,
      version,
    ) as Row | undefined
    return Promise.resolve(
      r && {
        keyId: str(r.key_id),
        version: num(r.version),
        material: bytes(r.material),
        createdAt: num(r.created_at),
      },
    )
  }

  dueKeys(now: number): Promise<KeyRecord[]> {
    const rows = this.stmt(
      `SELECT * FROM keys WHERE (state = 'PendingDeletion' AND deletion_at <= ?)
        OR (state = 'Enabled' AND next_rotation_at <= ?) ORDER BY id`,
    ).all(now, now) as Row[]
    return Promise.resolve(rows.map(key))
  }

  shredKey(k: KeyRecord): Promise<void> {
    this.tx(() => {
      this.stmt('DELETE FROM key_versions WHERE key_id = ?').run(k.id)
      this.writeKey(k)
    })
    // Move the erased pages out of the WAL into the (secure_delete) main file now.
    this.db.exec('PRAGMA wal_checkpoint(TRUNCATE)')
    return Promise.resolve()
  }

  getKeyPolicy(keyId: string): Promise<string | undefined> {
    const r = this.stmt('SELECT document FROM key_policies WHERE key_id = ?').get(keyId) as
      Row | undefined
    return Promise.resolve(r && str(r.document))
  }

  putKeyPolicy(keyId: string, document: string): Promise<void> {
    this.stmt(
      `INSERT INTO key_policies (key_id, document) VALUES (?, ?)
        ON CONFLICT (key_id) DO UPDATE SET document = excluded.document`,
    ).run(keyId, document)
    return Promise.resolve()
  }

  putObjectKey(o: ObjectKeyRecord): Promise<void> {
    this.stmt(
      'INSERT INTO object_keys (data_key_id, tenant_id, key_id, key_version, wrapped, created_at) VALUES (?, ?, ?, ?, ?, ?)',
    ).run(o.dataKeyId, o.tenantId, o.keyId, o.keyVersion, o.wrapped, o.createdAt)
    return Promise.resolve()
  }

  getObjectKey(dataKeyId: string): Promise<ObjectKeyRecord | undefined> {
    const r = this.stmt('SELECT * FROM object_keys WHERE data_key_id = ?').get(dataKeyId) as
      Row | undefined
    return Promise.resolve(
      r && {
        dataKeyId: str(r.data_key_id),
        tenantId: str(r.tenant_id),
        keyId: str(r.key_id),
        keyVersion: num(r.key_version),
        wrapped: bytes(r.wrapped),
        createdAt: num(r.created_at),
      },
    )
  }

  deleteObjectKey(dataKeyId: string): Promise<boolean> {
    const r = this.stmt('DELETE FROM object_keys WHERE data_key_id = ?').run(dataKeyId)
    if (r.changes > 0) this.db.exec('PRAGMA wal_checkpoint(TRUNCATE)')
    return Promise.resolve(r.changes > 0)
  }

  // ---- identity

  createUser(u: UserRecord): Promise<void> {
    try {
      this.stmt('INSERT INTO users (tenant_id, name, id, created_at) VALUES (?, ?, ?, ?)').run(
        u.tenantId,
        u.name,
        u.id,
        u.createdAt,
      )
    } catch (e) {
      if (isConstraint(e))
        return Promise.reject(
          new StrongroomError('USER_EXISTS', `user \`${u.name}\` already exists in this tenant`),
        )
      throw e
    }
    return Promise.resolve()
  }

  getUser(tenantId: string, name: string): Promise<UserRecord | undefined> {
    const r = this.stmt('SELECT * FROM users WHERE tenant_id = ? AND name = ?').get(
      tenantId,
      name,
    ) as Row | undefined
    return Promise.resolve(r && user(r))
  }

  listUsers(tenantId: string): Promise<UserRecord[]> {
    return Promise.resolve(
      (
        this.stmt('SELECT * FROM users WHERE tenant_id = ? ORDER BY name').all(tenantId) as Row[]
      ).map(user),
    )
  }

  createAccessKey(k: AccessKeyRecord): Promise<void> {
    this.stmt(
      'INSERT INTO access_keys (id, tenant_id, user_name, secret, status, created_at) VALUES (?, ?, ?, ?, ?, ?)',
    ).run(k.id, k.tenantId, k.userName, k.secret, k.status, k.createdAt)
    return Promise.resolve()
  }

  getAccessKey(id: string): Promise<AccessKeyRecord | undefined> {
    const r = this.stmt('SELECT * FROM access_keys WHERE id = ?').get(id) as Row | undefined
    return Promise.resolve(r && accessKey(r))
  }

  listAccessKeys(tenantId: string, userName: string): Promise<AccessKeyRecord[]> {
    const rows = this.stmt(
      'SELECT * FROM access_keys WHERE tenant_id = ? AND user_name = ? ORDER BY created_at, id',
    ).all(tenantId, userName) as Row[]
    return Promise.resolve(rows.map(accessKey))
  }

  setAccessKeyStatus(id: string, status: AccessKeyRecord['status']): Promise<void> {
    this.stmt('UPDATE access_keys SET status = ? WHERE id = ?').run(status, id)
    return Promise.resolve()
  }

  deleteAccessKey(id: string): Promise<void> {
    this.stmt('DELETE FROM access_keys WHERE id = ?').run(id)
    return Promise.resolve()
  }

  putUserPolicy(p: UserPolicyRecord): Promise<void> {
    this.stmt(
      `INSERT INTO user_policies (tenant_id, user_name, name, document) VALUES (?, ?, ?, ?)
        ON CONFLICT (tenant_id, user_name, name) DO UPDATE SET document = excluded.document`,
    ).run(p.tenantId, p.userName, p.name, p.document)
    return Promise.resolve()
  }

  listUserPolicies(tenantId: string, userName: string): Promise<UserPolicyRecord[]> {
    const rows = this.stmt(
      'SELECT * FROM user_policies WHERE tenant_id = ? AND user_name = ? ORDER BY name',
    ).all(tenantId, userName) as Row[]
    return Promise.resolve(
      rows.map((r) => ({
        tenantId: str(r.tenant_id),
        userName: str(r.user_name),
        name: str(r.name),
        document: str(r.document),
      })),
    )
  }

  // ---- buckets and objects

  createBucket(b: BucketRecord): Promise<void> {
    const pab = b.publicAccessBlock
    try {
      this.tx(() => {
        this.stmt(
          `INSERT INTO buckets (name, tenant_id, key_id, policy, created_at, versioning, block_public_acls,
            ignore_public_acls, block_public_policy, restrict_public_buckets, scan_policy)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        ).run(
          b.name,
          b.tenantId,
          b.keyId,
          b.policy,
          b.createdAt,
          b.versioning,
          Number(pab.blockPublicAcls),
          Number(pab.ignorePublicAcls),
          Number(pab.blockPublicPolicy),
          Number(pab.restrictPublicBuckets),
          b.scanPolicy,
        )
        // The name is in use again: whatever hold it had is over.
        this.stmt('DELETE FROM bucket_holds WHERE name = ?').run(b.name)
      })
    } catch (e) {
      if (isConstraint(e))
        return Promise.reject(
          new StrongroomError('BUCKET_EXISTS', `bucket \`${b.name}\` already exists`),
        )
      throw e
    }
    return Promise.resolve()
  }

  getBucket(name: string): Promise<BucketRecord | undefined> {
    const r = this.stmt('SELECT * FROM buckets WHERE name = ?').get(name) as Row | undefined
    return Promise.resolve(r && bucket(r))
  }

  listBuckets(tenantId: string): Promise<BucketRecord[]> {
    return Promise.resolve(
      (
        this.stmt('SELECT * FROM buckets WHERE tenant_id = ? ORDER BY name').all(tenantId) as Row[]
      ).map(bucket),
    )
  }

  setBucketPolicy(name: string, policy: string | null): Promise<void> {
    this.stmt('UPDATE buckets SET policy = ? WHERE name = ?').run(policy, name)
    return Promise.resolve()
  }

  setBucketVersioning(name: string, versioning: 'Enabled' | 'Suspended'): Promise<void> {
    this.stmt('UPDATE buckets SET versioning = ? WHERE name = ?').run(versioning, name)
    return Promise.resolve()
  }

  setBucketKey(name: string, keyId: string): Promise<void> {
    this.stmt('UPDATE buckets SET key_id = ? WHERE name = ?').run(keyId, name)
    return Promise.resolve()
  }

  setPublicAccessBlock(name: string, p: PublicAccessBlock): Promise<void> {
    this.stmt(
      `UPDATE buckets SET block_public_acls = ?, ignore_public_acls = ?, block_public_policy = ?,
        restrict_public_buckets = ? WHERE name = ?`,
    ).run(
      Number(p.blockPublicAcls),
      Number(p.ignorePublicAcls),
      Number(p.blockPublicPolicy),
      Number(p.restrictPublicBuckets),
      name,
    )
    return Promise.resolve()
  }

  setScanPolicy(name: string, policy: ScanPolicy): Promise<void> {
    this.stmt('UPDATE buckets SET scan_policy = ? WHERE name = ?').run(policy, name)
    return Promise.resolve()
  }

  setObjectScan(
    bucketName: string,
    key: string,
    versionId: string,
    scan: ScanRecord,
  ): Promise<boolean> {
    const text = JSON.stringify(scan)
    return Promise.resolve(
      this.tx(() => {
        for (const table of ['objects', 'versions'])
          if (
            this.stmt(
              `UPDATE ${table} SET scan = ? WHERE bucket = ? AND key = ? AND version_id = ? AND delete_marker = 0`,
            ).run(text, bucketName, key, versionId).changes > 0
          )
            return true
        return false
      }),
    )
  }

  deleteBucket(name: string, at: number): Promise<'deleted' | 'objects' | 'uploads'> {
    return Promise.resolve(
      this.tx(() => {
        if (
          this.stmt('SELECT 1 FROM objects WHERE bucket = ? LIMIT 1').get(name) !== undefined ||
          this.stmt('SELECT 1 FROM versions WHERE bucket = ? LIMIT 1').get(name) !== undefined
        )
          return 'objects'
        // Every row that names the bucket must be gone first (foreign keys): an unfinished
        // upload is content, as in S3, and its owner aborts it.
        if (this.stmt('SELECT 1 FROM uploads WHERE bucket = ? LIMIT 1').get(name) !== undefined)
          return 'uploads'
        const b = this.stmt('SELECT tenant_id FROM buckets WHERE name = ?').get(name) as
          Row | undefined
        if (b === undefined) return 'deleted'
        this.stmt('DELETE FROM buckets WHERE name = ?').run(name)
        this.stmt(
          'INSERT OR REPLACE INTO bucket_holds (name, tenant_id, deleted_at) VALUES (?, ?, ?)',
        ).run(name, str(b.tenant_id), at)
        return 'deleted'
      }),
    )
  }

  bucketHold(name: string): Promise<BucketHold | undefined> {
    const r = this.stmt('SELECT * FROM bucket_holds WHERE name = ?').get(name) as Row | undefined
    return Promise.resolve(
      r && { name: str(r.name), tenantId: str(r.tenant_id), deletedAt: num(r.deleted_at) },
    )
  }

  putObject(
    o: ObjectRecord,
    wk: WrappedDataKey | undefined,
    versioning: Versioning,
    inlineBody?: Uint8Array,
  ): Promise<ObjectRecord[]> {
    return this.grouped(() => this.place(o, wk, versioning, inlineBody))
  }

  private readonly sql = (q: string): StatementSync => this.stmt(q)

  /** putObject inside a transaction (CompleteMultipartUpload shares it). */
  private place(
    o: ObjectRecord,
    wk: WrappedDataKey | undefined,
    versioning: Versioning,
    inlineBody?: Uint8Array,
  ): ObjectRecord[] {
    const removed: ObjectRecord[] = []
    const current = this.stmt('SELECT * FROM objects WHERE bucket = ? AND key = ?').get(
      o.bucket,
      o.key,
    ) as Row | undefined
    const keep =
      versioning === 'Enabled' ||
      (versioning === 'Suspended' && str(current?.version_id) !== 'null')
    if (current !== undefined) {
      if (keep)
        this.stmt(
          `INSERT INTO versions SELECT ${COLUMNS} FROM objects WHERE bucket = ? AND key = ?`,
        ).run(o.bucket, o.key)
      else removed.push(object(current))
    }
    if (versioning === 'Suspended') {
      const old = this.stmt(
        "SELECT * FROM versions WHERE bucket = ? AND key = ? AND version_id = 'null'",
      ).get(o.bucket, o.key) as Row | undefined
      if (old !== undefined) {
        this.stmt("DELETE FROM versions WHERE bucket = ? AND key = ? AND version_id = 'null'").run(
          o.bucket,
          o.key,
        )
        removed.push(object(old))
      }
    }
    const forgotten = removed.map((r) => this.forget(r))
    if (inlineBody !== undefined)
      this.stmt('INSERT INTO inline_bodies (id, data) VALUES (?, ?)').run(o.blob, inlineBody)
    if (wk !== undefined)
      this.stmt(
        'INSERT INTO object_keys (data_key_id, tenant_id, key_id, key_version, wrapped, created_at) VALUES (?, ?, ?, ?, ?, ?)',
      ).run(o.dataKeyId, wk.tenantId, wk.keyId, wk.keyVersion, wk.wrapped, o.createdAt)
    this.stmt(
      `INSERT OR REPLACE INTO objects (${COLUMNS}) VALUES (${COLUMNS.replace(/\w+/g, '?')})`,
    ).run(...objectValues(o, num(current?.seq ?? 0) + 1))
    return forgotten
  }

  completeUpload(
    o: ObjectRecord,
    parts: readonly PartRecord[],
    versioning: Versioning,
  ): Promise<{ replaced: ObjectRecord[]; unused: PartRecord[] }> {
    return this.grouped(() => {
      const unused = claimParts(this.sql, o.blob, parts)
      return { replaced: this.place(o, undefined, versioning), unused }
    })
  }

  objectParts(uploadId: string): Promise<ObjectPart[]> {
    return Promise.resolve(partsOf(this.sql, uploadId))
  }

  /**
   * Shreds a removed version: its data key, and its body when inline; a
   * multipart body's part rows and data keys. Returns it with its parts, whose blobs the caller removes.
   */
  private forget(removed: ObjectRecord): ObjectRecord {
    const o = withParts(this.sql, removed)
    forgetParts(this.sql, o.blob)
    if (o.dataKeyId !== '')
      this.stmt('DELETE FROM object_keys WHERE data_key_id = ?').run(o.dataKeyId)
    if (o.blob.startsWith('inline-'))
      this.stmt('DELETE FROM inline_bodies WHERE id = ?').run(o.blob)
    return o
  }

  getInlineBody(blob: string): Promise<Uint8Array | undefined> {
    const r = this.stmt('SELECT data FROM inline_bodies WHERE id = ?').get(blob) as Row | undefined
    return Promise.resolve(r === undefined ? undefined : bytes(r.data))
  }

  getObject(
    bucketName: string,
    key: string,
    versionId?: string,
  ): Promise<ObjectRecord | undefined> {
    const r = this.stmt('SELECT * FROM objects WHERE bucket = ? AND key = ?').get(
      bucketName,
      key,
    ) as Row | undefined
    if (versionId === undefined || r === undefined || str(r.version_id) === versionId)
      return Promise.resolve(r && withParts(this.sql, object(r)))
    const v = this.stmt(
      'SELECT * FROM versions WHERE bucket = ? AND key = ? AND version_id = ?',
    ).get(bucketName, key, versionId) as Row | undefined
    return Promise.resolve(v && withParts(this.sql, object(v)))
  }

  deleteObject(
    bucketName: string,
    key: string,
    versionId?: string,
  ): Promise<ObjectRecord | undefined> {
    return Promise.resolve(
      this.tx(() => {
        const current = this.stmt('SELECT * FROM objects WHERE bucket = ? AND key = ?').get(
          bucketName,
          key,
        ) as Row | undefined
        if (current === undefined) return undefined
        let gone: Row | undefined
        if (versionId === undefined || str(current.version_id) === versionId) {
          gone = current
          this.stmt('DELETE FROM objects WHERE bucket = ? AND key = ?').run(bucketName, key)
          const newest = this.stmt(
            'SELECT version_id FROM versions WHERE bucket = ? AND key = ? ORDER BY seq DESC LIMIT 1',
          ).get(bucketName, key) as Row | undefined
          if (newest !== undefined) {
            this.stmt(
              `INSERT INTO objects SELECT ${COLUMNS} FROM versions WHERE bucket = ? AND key = ? AND version_id = ?`,
            ).run(bucketName, key, str(newest.version_id))
            this.stmt('DELETE FROM versions WHERE bucket = ? AND key = ? AND version_id = ?').run(
              bucketName,
              key,
              str(newest.version_id),
            )
          }
        } else {
          gone = this.stmt(
            'SELECT * FROM versions WHERE bucket = ? AND key = ? AND version_id = ?',
          ).get(bucketName, key, versionId)
          if (gone === undefined) return undefined
          this.stmt('DELETE FROM versions WHERE bucket = ? AND key = ? AND version_id = ?').run(
            bucketName,
            key,
            versionId,
          )
        }
        return this.forget(object(gone))
      }),
    )
  }

  setObjectTags(
    bucketName: string,
    key: string,
    versionId: string | undefined,
    tags: Tags,
  ): Promise<boolean> {
    const text = JSON.stringify(tags)
    return Promise.resolve(
      this.tx(() => {
        const current = this.stmt(
          'UPDATE objects SET tags = ? WHERE bucket = ? AND key = ? AND (? IS NULL OR version_id = ?) AND delete_marker = 0',
        ).run(text, bucketName, key, versionId ?? null, versionId ?? null)
        if (current.changes > 0 || versionId === undefined) return current.changes > 0
        return (
          this.stmt(
            'UPDATE versions SET tags = ? WHERE bucket = ? AND key = ? AND version_id = ? AND delete_marker = 0',
          ).run(text, bucketName, key, versionId).changes > 0
        )
      }),
    )
  }

  listObjects(bucketName: string, prefix: string, after: string, limit: number): Promise<ListPage> {
    const rows = this.stmt(
      `SELECT * FROM objects WHERE bucket = ? AND key > ? AND key >= ? AND substr(key, 1, length(?)) = ?
        AND delete_marker = 0 ORDER BY key LIMIT ?`,
    ).all(bucketName, after, prefix, prefix, prefix, limit + 1) as Row[]
    const objects = rows.slice(0, limit).map(object)
    return Promise.resolve({
      objects,
      truncatedAfter: rows.length > limit ? objects.at(-1)?.key : undefined,
    })
  }

  listVersions(
    bucketName: string,
    prefix: string,
    afterKey: string,
    afterVersionId: string | undefined,
    limit: number,
  ): Promise<VersionRecord[]> {
    let afterSeq = -1
    if (afterVersionId !== undefined) {
      const at = this.stmt(
        `SELECT seq FROM objects WHERE bucket = ?1 AND key = ?2 AND version_id = ?3
          UNION ALL SELECT seq FROM versions WHERE bucket = ?1 AND key = ?2 AND version_id = ?3`,
      ).get(bucketName, afterKey, afterVersionId) as Row | undefined
      if (at !== undefined) afterSeq = num(at.seq)
    }
    const where = `bucket = ?1 AND substr(key, 1, length(?2)) = ?2 AND key >= ?2
      AND (key > ?3 OR (key = ?3 AND seq < ?4))`
    const rows = this.stmt(
      `SELECT *, 1 AS is_latest FROM objects WHERE ${where}
        UNION ALL SELECT *, 0 AS is_latest FROM versions WHERE ${where}
        ORDER BY key, seq DESC LIMIT ?5`,
    ).all(bucketName, prefix, afterKey, afterSeq, limit) as Row[]
    return Promise.resolve(rows.map((r) => ({ ...object(r), isLatest: num(r.is_latest) === 1 })))
  }

  blobIds(): Promise<Set<string>> {
    const rows = this.stmt(
      `SELECT blob FROM objects WHERE blob IS NOT NULL UNION ALL SELECT blob FROM versions WHERE blob IS NOT NULL
        UNION ALL SELECT blob FROM parts UNION ALL SELECT blob FROM object_parts`,
    ).all() as Row[]
    return Promise.resolve(new Set(rows.map((r) => str(r.blob))))
  }

  createUpload(u: UploadRecord): Promise<void> {
    this.stmt(
      'INSERT INTO uploads (id, bucket, key, content_type, metadata, created_at, tags, key_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
    ).run(
      u.id,
      u.bucket,
      u.key,
      u.contentType,
      JSON.stringify(u.metadata),
      u.createdAt,
      JSON.stringify(u.tags),
      u.keyId,
    )
    return Promise.resolve()
  }

  getUpload(id: string): Promise<UploadRecord | undefined> {
    const r = this.stmt('SELECT * FROM uploads WHERE id = ?').get(id) as Row | undefined
    return Promise.resolve(r && upload(r))
  }

  listUploads(bucketName: string, prefix: string, limit: number): Promise<UploadRecord[]> {
    const rows = this.stmt(
      'SELECT * FROM uploads WHERE bucket = ? AND substr(key, 1, length(?)) = ? ORDER BY key, created_at LIMIT ?',
    ).all(bucketName, prefix, prefix, limit) as Row[]
    return Promise.resolve(rows.map(upload))
  }

  putPart(p: PartRecord, wk: WrappedDataKey): Promise<PartRecord | undefined> {
    // Group-committed like putObject: parts uploaded in parallel share a commit (one fsync).
    return this.grouped(() => {
      const old = this.stmt('SELECT * FROM parts WHERE upload_id = ? AND number = ?').get(
        p.uploadId,
        p.number,
      ) as Row | undefined
      if (old !== undefined) {
        this.stmt('DELETE FROM object_keys WHERE data_key_id = ?').run(str(old.data_key_id))
        this.stmt('DELETE FROM parts WHERE upload_id = ? AND number = ?').run(p.uploadId, p.number)
      }
      this.stmt(
        'INSERT INTO object_keys (data_key_id, tenant_id, key_id, key_version, wrapped, created_at) VALUES (?, ?, ?, ?, ?, ?)',
      ).run(p.dataKeyId, wk.tenantId, wk.keyId, wk.keyVersion, wk.wrapped, p.createdAt)
      this.stmt(
        'INSERT INTO parts (upload_id, number, size, etag, blob, data_key_id, created_at, header_sha256) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
      ).run(
        p.uploadId,
        p.number,
        p.size,
        p.etag,
        p.blob,
        p.dataKeyId,
        p.createdAt,
        p.headerDigest ?? null,
      )
      return old && part(old)
    })
  }

  listParts(uploadId: string): Promise<PartRecord[]> {
    const rows = this.stmt('SELECT * FROM parts WHERE upload_id = ? ORDER BY number').all(
      uploadId,
    ) as Row[]
    return Promise.resolve(rows.map(part))
  }

  deleteUpload(uploadId: string): Promise<PartRecord[]> {
    return Promise.resolve(
      this.tx(() => {
        const parts = (
          this.stmt('SELECT * FROM parts WHERE upload_id = ? ORDER BY number').all(
            uploadId,
          ) as Row[]
        ).map(part)
        for (const p of parts)
          this.stmt('DELETE FROM object_keys WHERE data_key_id = ?').run(p.dataKeyId)
        this.stmt('DELETE FROM parts WHERE upload_id = ?').run(uploadId)
        this.stmt('DELETE FROM uploads WHERE id = ?').run(uploadId)
        return parts
      }),
    )
  }

  close(): Promise<void> {
    if (this.db.isOpen) this.db.close()
    return Promise.resolve()
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
      throw e
    }
  }
}

function isConstraint(e: unknown): boolean {
  return (
    e instanceof Error &&
    /constraint/i.test(e.message) &&
    (e as { code?: string }).code === 'ERR_SQLITE_ERROR'
  )
}

const str = (v: SQLInputValue | undefined): string =>
  typeof v === 'string' ? v : typeof v === 'number' || typeof v === 'bigint' ? v.toString() : ''
const num = (v: SQLInputValue | undefined): number => Number(v)
const numOrNull = (v: SQLInputValue | undefined): number | null =>
  v === null || v === undefined ? null : Number(v)
const bytes = (v: SQLInputValue | undefined): Uint8Array =>
  v instanceof Uint8Array ? v : new Uint8Array(0)

function tenant(r: Row): TenantRecord {
  return { id: str(r.id), name: str(r.name), createdAt: num(r.created_at) }
}

function accessKey(r: Row): AccessKeyRecord {
  return {
    id: str(r.id),
    tenantId: str(r.tenant_id),
    userName: str(r.user_name),
    secret: bytes(r.secret),
    status: str(r.status) === 'Active' ? 'Active' : 'Inactive',
    createdAt: num(r.created_at),
  }
}

function key(r: Row): KeyRecord {
  return {
    id: str(r.id),
    tenantId: str(r.tenant_id),
    alias: r.alias === null ? null : str(r.alias),
    description: str(r.description),
    state: str(r.state) as KeyState,
    currentVersion: num(r.current_version),
    createdAt: num(r.created_at),
    rotationPeriodDays: numOrNull(r.rotation_period_days),
    nextRotationAt: numOrNull(r.next_rotation_at),
    deletionAt: numOrNull(r.deletion_at),
    deletedAt: numOrNull(r.deleted_at),
  }
}

function keyValues(k: KeyRecord): SQLInputValue[] {
  return [
    k.id,
    k.tenantId,
    k.alias,
    k.description,
    k.state,
    k.currentVersion,
    k.createdAt,
    k.rotationPeriodDays,
    k.nextRotationAt,
    k.deletionAt,
    k.deletedAt,
  ]
}

function user(r: Row): UserRecord {
  return {
    tenantId: str(r.tenant_id),
    name: str(r.name),
    id: str(r.id),
    createdAt: num(r.created_at),
  }
}

function bucket(r: Row): BucketRecord {
  return {
    name: str(r.name),
    tenantId: str(r.tenant_id),
    keyId: str(r.key_id),
    policy: r.policy === null ? null : str(r.policy),
    createdAt: num(r.created_at),
    versioning: str(r.versioning) as Versioning,
    publicAccessBlock: {
      blockPublicAcls: num(r.block_public_acls) === 1,
      ignorePublicAcls: num(r.ignore_public_acls) === 1,
      blockPublicPolicy: num(r.block_public_policy) === 1,
      restrictPublicBuckets: num(r.restrict_public_buckets) === 1,
    },
    scanPolicy: str(r.scan_policy) as ScanPolicy,
  }
}

/** The columns of `objects` and `versions`, in their order (the two tables have the same shape). */
const COLUMNS =
  'bucket, key, version_id, seq, delete_marker, size, etag, content_type, metadata, tags, checksums, blob, data_key_id, key_id, created_at, scan, header_sha256'

function objectValues(o: ObjectRecord, seq: number): SQLInputValue[] {
  const orNull = (v: string) => (v === '' ? null : v)
  return [
    o.bucket,
    o.key,
    o.versionId,
    seq,
    Number(o.deleteMarker),
    o.size,
    o.etag,
    o.contentType,
    JSON.stringify(o.metadata),
    JSON.stringify(o.tags),
    JSON.stringify(o.checksums),
    orNull(o.blob),
    orNull(o.dataKeyId),
    orNull(o.keyId),
    o.createdAt,
    o.scan === null ? null : JSON.stringify(o.scan),
    o.headerDigest ?? null,
  ]
}

function object(r: Row): ObjectRecord {
  return {
    bucket: str(r.bucket),
    key: str(r.key),
    versionId: str(r.version_id),
    deleteMarker: num(r.delete_marker) === 1,
    size: num(r.size),
    etag: str(r.etag),
    contentType: r.content_type === null ? null : str(r.content_type),
    metadata: JSON.parse(str(r.metadata)) as Record<string, string>,
    tags: JSON.parse(str(r.tags)) as Tags,
    checksums: JSON.parse(str(r.checksums)) as Record<string, string>,
    blob: str(r.blob ?? ''),
    dataKeyId: str(r.data_key_id ?? ''),
    keyId: str(r.key_id ?? ''),
    createdAt: num(r.created_at),
    scan: r.scan === null || r.scan === undefined ? null : (JSON.parse(str(r.scan)) as ScanRecord),
    ...digestOf(r),
  }
}

/** The header digest of a row, when it has one (rows before migration 8 do not). */
function digestOf(r: Row): { headerDigest?: string } {
  return typeof r.header_sha256 === 'string' ? { headerDigest: r.header_sha256 } : {}
}

function upload(r: Row): UploadRecord {
  return {
    id: str(r.id),
    bucket: str(r.bucket),
    key: str(r.key),
    contentType: r.content_type === null ? null : str(r.content_type),
    metadata: JSON.parse(str(r.metadata)) as Record<string, string>,
    tags: JSON.parse(str(r.tags)) as Tags,
    keyId: str(r.key_id),
    createdAt: num(r.created_at),
  }
}

function part(r: Row): PartRecord {
  return {
    uploadId: str(r.upload_id),
    number: num(r.number),
    size: num(r.size),
    etag: str(r.etag),
    blob: str(r.blob),
    dataKeyId: str(r.data_key_id),
    ...digestOf(r),
    createdAt: num(r.created_at),
  }
}
