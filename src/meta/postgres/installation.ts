/** InstallationStore on PostgreSQL. */
import type {
  InstallationRecord,
  InstallationStore,
  RootKeyMode,
  RootRecord,
} from '../installation.ts'
import { bytea, int, text, type PgDb } from './db.ts'

export class PgInstallationStore implements InstallationStore {
  private readonly db: PgDb

  constructor(db: PgDb) {
    this.db = db
  }

  async getInstallation(): Promise<InstallationRecord | undefined> {
    const [r] = await this.db.query('SELECT * FROM installation LIMIT 1')
    return (
      r && {
        id: text(r.id),
        createdAt: int(r.created_at),
        rootMode: text(r.root_mode) as RootKeyMode,
        rootKdf: r.root_kdf === null ? null : text(r.root_kdf),
        rootCheck: bytea(r.root_check),
        rootStore: r.root_store === null ? null : text(r.root_store),
        rootWrapped: r.root_wrapped === null ? null : bytea(r.root_wrapped),
      }
    )
  }

  async putInstallation(i: InstallationRecord): Promise<void> {
    await this.db.query(
      'INSERT INTO installation (id, created_at, root_mode, root_kdf, root_check, root_store, root_wrapped) VALUES ($1, $2, $3, $4, $5, $6, $7)',
      [
        i.id,
        i.createdAt,
        i.rootMode,
        i.rootKdf,
        Buffer.from(i.rootCheck),
        i.rootStore,
        i.rootWrapped === null ? null : Buffer.from(i.rootWrapped),
      ],
    )
  }

  async setRootCheck(check: Uint8Array): Promise<void> {
    await this.db.query('UPDATE installation SET root_check = $1', [Buffer.from(check)])
  }

  async setRoot(r: RootRecord): Promise<void> {
    await this.db.query(
      'UPDATE installation SET root_mode = $1, root_kdf = $2, root_check = $3, root_store = $4, root_wrapped = $5',
      [
        r.rootMode,
        r.rootKdf,
        Buffer.from(r.rootCheck),
        r.rootStore,
        r.rootWrapped === null ? null : Buffer.from(r.rootWrapped),
      ],
    )
  }

  async getSystemValue(name: string): Promise<Buffer | undefined> {
    const [r] = await this.db.query('SELECT value FROM system_values WHERE name = $1', [name])
    return r && Buffer.from(bytea(r.value))
  }

  async keepSystemValue(name: string, value: Uint8Array): Promise<Buffer> {
    await this.db.query(
      'INSERT INTO system_values (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING',
      [name, Buffer.from(value)],
    )
    return (await this.getSystemValue(name)) ?? Buffer.alloc(0)
  }
}
