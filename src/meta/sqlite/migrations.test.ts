/** Upgrading an older database: a new uniqueness rule that old rows break stops with what to do. */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { DatabaseSync } from 'node:sqlite'
import { after, describe, it } from 'node:test'
import { isStrongroomError } from '../../errors.ts'
import { MIGRATIONS } from './migrations.ts'
import { APPLICATION_ID, SqliteMetadataStore } from './store.ts'

const dir = mkdtempSync(join(tmpdir(), 'sr-migrations-'))
after(() => rmSync(dir, { recursive: true, force: true }))

/** A database at `version`, with `sql` run on it. */
function at(name: string, version: number, sql: string): string {
  const path = join(dir, `${name}.sqlite`)
  const db = new DatabaseSync(path)
  db.exec(`PRAGMA application_id = ${APPLICATION_ID}`)
  for (const [i, m] of MIGRATIONS.slice(0, version).entries())
    db.exec(`${m}; PRAGMA user_version = ${i + 1}`)
  db.exec(sql)
  db.close()
  return path
}

describe('migrations', () => {
  it('schema 13 on two users whose names differ only by case: refused, nothing changed', () => {
    const path = at(
      'case-duplicates',
      12,
      `INSERT INTO tenants VALUES ('111122223333', 'vision', 1);
       INSERT INTO users (tenant_id, name, id, created_at) VALUES ('111122223333', 'Alice', 'AIDA1', 1);
       INSERT INTO users (tenant_id, name, id, created_at) VALUES ('111122223333', 'alice', 'AIDA2', 2);`,
    )
    assert.throws(
      () => SqliteMetadataStore.open(path),
      (e: unknown) =>
        isStrongroomError(e, 'UNSUPPORTED_FORMAT') &&
        /^cannot upgrade the metadata database to schema 13: .*UNIQUE constraint failed: users\.tenant_id, users\.name.*; rows that differ only by letter case \(user names, since schema 13\) must be renamed with the previous Strongroom first; nothing was changed$/.test(
          e.message,
        ),
    )
    const db = new DatabaseSync(path)
    assert.equal(
      (db.prepare('PRAGMA user_version').get() as { user_version: number }).user_version,
      12,
    )
    db.close()
  })

  it('the same users once one is renamed: upgraded to the newest schema', async () => {
    const path = at(
      'renamed',
      12,
      `INSERT INTO tenants VALUES ('111122223333', 'vision', 1);
       INSERT INTO users (tenant_id, name, id, created_at) VALUES ('111122223333', 'Alice', 'AIDA1', 1);
       INSERT INTO users (tenant_id, name, id, created_at) VALUES ('111122223333', 'alice2', 'AIDA2', 2);`,
    )
    const store = SqliteMetadataStore.open(path)
    assert.equal((await store.getUser('111122223333', 'ALICE'))?.id, 'AIDA1')
    await store.close()
  })

  it('schema 19 moves each key’s alias into key_aliases (a deleted key’s is dropped) and types old rotations', async () => {
    const path = at(
      'aliases',
      18,
      `INSERT INTO tenants VALUES ('111122223333', 'vision', 1);
       INSERT INTO keys (id, tenant_id, alias, description, state, current_version, created_at)
         VALUES ('k1', '111122223333', 'alias/models', '', 'Enabled', 2, 10),
                ('k2', '111122223333', NULL, '', 'Enabled', 1, 20),
                ('k3', '111122223333', 'alias/gone', '', 'Deleted', 1, 30);
       INSERT INTO key_versions (key_id, version, material, created_at)
         VALUES ('k1', 1, x'00', 10), ('k1', 2, x'00', 15), ('k2', 1, x'00', 20);`,
    )
    const store = SqliteMetadataStore.open(path)
    assert.equal((await store.getKeyByAlias('111122223333', 'alias/models'))?.id, 'k1')
    assert.deepEqual(await store.listAliases('111122223333'), [
      { tenantId: '111122223333', name: 'alias/models', keyId: 'k1', createdAt: 10, updatedAt: 10 },
    ])
    assert.equal((await store.getKey('k3'))?.alias, null)
    assert.deepEqual((await store.getKey('k2'))?.tags, [])
    assert.deepEqual(await store.listKeyRotations('k1'), [
      { version: 2, rotatedAt: 15, type: 'AUTOMATIC' },
    ])
    await store.close()
  })
})
