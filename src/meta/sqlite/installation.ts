/** InstallationStore on SQLite. */
import type {
  InstallationRecord,
  InstallationStore,
  RootKeyMode,
  RootRecord,
} from '../installation.ts'
import { bytes, num, str, type Row, type SqliteDb, settle } from './db.ts'

export class SqliteInstallationStore implements InstallationStore {
  private readonly db: SqliteDb

  constructor(db: SqliteDb) {
    this.db = db
  }

  getInstallation(): Promise<InstallationRecord | undefined> {
    return settle(() => {
      const r = this.db.stmt('SELECT * FROM installation LIMIT 1').get() as Row | undefined
      return (
        r && {
          id: str(r.id),
          createdAt: num(r.created_at),
          rootMode: str(r.root_mode) as RootKeyMode,
          rootKdf: r.root_kdf === null ? null : str(r.root_kdf),
          rootCheck: bytes(r.root_check),
          rootStore: r.root_store === null ? null : str(r.root_store),
          rootWrapped: r.root_wrapped === null ? null : bytes(r.root_wrapped),
        }
      )
    })
  }

  putInstallation(i: InstallationRecord): Promise<void> {
    return settle(() => {
      this.db
        .stmt(
          'INSERT INTO installation (id, created_at, root_mode, root_kdf, root_check, root_store, root_wrapped) VALUES (?, ?, ?, ?, ?, ?, ?)',
        )
        .run(i.id, i.createdAt, i.rootMode, i.rootKdf, i.rootCheck, i.rootStore, i.rootWrapped)
    })
  }

  setRootCheck(check: Uint8Array): Promise<void> {
    return settle(() => {
      this.db.stmt('UPDATE installation SET root_check = ?').run(check)
    })
  }

  setRoot(r: RootRecord): Promise<void> {
    return settle(() => {
      this.db
        .stmt(
          'UPDATE installation SET root_mode = ?, root_kdf = ?, root_check = ?, root_store = ?, root_wrapped = ?',
        )
        .run(r.rootMode, r.rootKdf, r.rootCheck, r.rootStore, r.rootWrapped)
    })
  }

  getSystemValue(name: string): Promise<Buffer | undefined> {
    return settle(() => this.systemValue(name))
  }

  keepSystemValue(name: string, value: Uint8Array): Promise<Buffer> {
    return settle(() =>
      this.db.tx(() => {
        this.db
          .stmt('INSERT OR IGNORE INTO system_values (name, value) VALUES (?, ?)')
          .run(name, value)
        return this.systemValue(name) ?? Buffer.alloc(0)
      }),
    )
  }

  private systemValue(name: string): Buffer | undefined {
    const r = this.db.stmt('SELECT value FROM system_values WHERE name = ?').get(name)
    return r && Buffer.from(bytes(r.value))
  }
}
