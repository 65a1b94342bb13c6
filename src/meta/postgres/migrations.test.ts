/** The two backends' schema versions are one numbering: a change lands on both or on neither. */
import assert from 'node:assert/strict'
import { it } from 'node:test'
import { MIGRATIONS } from '../sqlite/migrations.ts'
import { SCHEMA_VERSION } from './migrations.ts'

it('PostgreSQL’s schema version is SQLite’s: a migration written for one only fails here', () => {
  assert.equal(SCHEMA_VERSION, MIGRATIONS.length)
})
