/**
 * The PostgreSQL schema, as numbered migrations applied in one transaction each under an
 * advisory lock, so that several gateways starting at once migrate once: the first takes the
 * lock and migrates, the others wait for it and find nothing left to do.
 *
 * The numbers are SQLite's (src/meta/sqlite/migrations.ts): a PostgreSQL database starts at the
 * baseline, the schema SQLite reaches at BASELINE, in one step; every later change is written
 * for both backends under the same number (a test holds the two lists to the same length).
 * Names compare regardless of case where IAM's do (users, roles, groups, policies, tag keys):
 * those columns are citext (a trusted extension: the database's owner may create it), so
 * equality, uniqueness and foreign keys ignore case as SQLite's COLLATE NOCASE does.
 *
 * (group_members.user_name too, SQLite's plain TEXT: it references users.name, which is citext
 * here.) Until issue 14 closes, the baseline holds the tables of the ports the adapter
 * implements so far and grows with it (no PostgreSQL deployment exists yet).
 */
import { StrongroomError } from '../../errors.ts'
import type { PgDb } from './db.ts'

export const BASELINE = 16

const SCHEMA = `
CREATE EXTENSION IF NOT EXISTS citext;
CREATE TABLE installation (
  id TEXT PRIMARY KEY,
  created_at BIGINT NOT NULL,
  root_mode TEXT NOT NULL CHECK (root_mode IN ('key', 'passphrase', 'dev')),
  root_kdf TEXT,
  root_check BYTEA NOT NULL
);
CREATE TABLE tenants (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  created_at BIGINT NOT NULL
);
CREATE TABLE users (
  tenant_id TEXT NOT NULL REFERENCES tenants(id),
  name CITEXT NOT NULL,
  id TEXT NOT NULL UNIQUE,
  created_at BIGINT NOT NULL,
  permissions_boundary TEXT,
  PRIMARY KEY (tenant_id, name)
);
CREATE TABLE access_keys (
  id TEXT PRIMARY KEY,
  tenant_id TEXT NOT NULL,
  user_name CITEXT NOT NULL,
  secret BYTEA NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('Active', 'Inactive')),
  created_at BIGINT NOT NULL,
  last_used_at BIGINT,
  last_used_service TEXT,
  last_used_region TEXT,
  FOREIGN KEY (tenant_id, user_name) REFERENCES users(tenant_id, name)
);
CREATE INDEX access_keys_by_user ON access_keys (tenant_id, user_name);
CREATE TABLE user_policies (
  tenant_id TEXT NOT NULL,
  user_name CITEXT NOT NULL,
  name TEXT NOT NULL,
  document TEXT NOT NULL,
  PRIMARY KEY (tenant_id, user_name, name),
  FOREIGN KEY (tenant_id, user_name) REFERENCES users(tenant_id, name)
);
CREATE TABLE roles (
  tenant_id TEXT NOT NULL REFERENCES tenants(id),
  name CITEXT NOT NULL,
  id TEXT NOT NULL UNIQUE,
  path TEXT NOT NULL,
  description TEXT NOT NULL,
  trust_policy TEXT NOT NULL,
  max_session_seconds INTEGER NOT NULL CHECK (max_session_seconds BETWEEN 3600 AND 43200),
  created_at BIGINT NOT NULL,
  permissions_boundary TEXT,
  PRIMARY KEY (tenant_id, name)
);
CREATE TABLE role_policies (
  tenant_id TEXT NOT NULL,
  role_name CITEXT NOT NULL,
  name TEXT NOT NULL,
  document TEXT NOT NULL,
  PRIMARY KEY (tenant_id, role_name, name),
  FOREIGN KEY (tenant_id, role_name) REFERENCES roles(tenant_id, name)
);
CREATE TABLE iam_tags (
  tenant_id TEXT NOT NULL REFERENCES tenants(id),
  kind TEXT NOT NULL CHECK (kind IN ('role', 'user', 'policy', 'oidc-provider')),
  name CITEXT NOT NULL,
  key CITEXT NOT NULL,
  value TEXT NOT NULL,
  PRIMARY KEY (tenant_id, kind, name, key)
);
CREATE TABLE managed_policies (
  tenant_id TEXT NOT NULL REFERENCES tenants(id),
  name CITEXT NOT NULL,
  id TEXT NOT NULL UNIQUE,
  path TEXT NOT NULL,
  description TEXT NOT NULL,
  default_version INTEGER NOT NULL,
  next_version INTEGER NOT NULL,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL,
  PRIMARY KEY (tenant_id, name)
);
CREATE TABLE policy_versions (
  tenant_id TEXT NOT NULL,
  policy_name CITEXT NOT NULL,
  version INTEGER NOT NULL,
  document TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  PRIMARY KEY (tenant_id, policy_name, version),
  FOREIGN KEY (tenant_id, policy_name) REFERENCES managed_policies(tenant_id, name)
);
CREATE TABLE policy_attachments (
  tenant_id TEXT NOT NULL,
  kind TEXT NOT NULL CHECK (kind IN ('role', 'user', 'group')),
  principal CITEXT NOT NULL,
  policy_name CITEXT NOT NULL,
  PRIMARY KEY (tenant_id, kind, principal, policy_name),
  FOREIGN KEY (tenant_id, policy_name) REFERENCES managed_policies(tenant_id, name)
);
CREATE INDEX policy_attachments_by_policy ON policy_attachments (tenant_id, policy_name);
CREATE TABLE iam_groups (
  tenant_id TEXT NOT NULL REFERENCES tenants(id),
  name CITEXT NOT NULL,
  id TEXT NOT NULL UNIQUE,
  path TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  PRIMARY KEY (tenant_id, name)
);
CREATE TABLE group_members (
  tenant_id TEXT NOT NULL,
  group_name CITEXT NOT NULL,
  user_name CITEXT NOT NULL,
  PRIMARY KEY (tenant_id, group_name, user_name),
  FOREIGN KEY (tenant_id, group_name) REFERENCES iam_groups(tenant_id, name),
  FOREIGN KEY (tenant_id, user_name) REFERENCES users(tenant_id, name)
);
CREATE INDEX group_members_by_user ON group_members (tenant_id, user_name);
CREATE TABLE group_policies (
  tenant_id TEXT NOT NULL,
  group_name CITEXT NOT NULL,
  name TEXT NOT NULL,
  document TEXT NOT NULL,
  PRIMARY KEY (tenant_id, group_name, name),
  FOREIGN KEY (tenant_id, group_name) REFERENCES iam_groups(tenant_id, name)
);
CREATE TABLE oidc_providers (
  tenant_id TEXT NOT NULL REFERENCES tenants(id),
  url TEXT NOT NULL,
  client_ids TEXT NOT NULL,
  thumbprints TEXT NOT NULL,
  jwks TEXT,
  created_at BIGINT NOT NULL,
  PRIMARY KEY (tenant_id, url)
);
`

/** Migrations after the baseline, by number (BASELINE + 1 first); none yet. */
const LATER: readonly string[] = []

/** The schema version this build writes. */
export const SCHEMA_VERSION = BASELINE + LATER.length

/** Brings the database to SCHEMA_VERSION; refuses one newer than this build knows. */
export async function migrate(db: PgDb): Promise<void> {
  await db.tx(async (c) => {
    // Every gateway takes the same lock: one migrates, the rest wait and then find it done.
    await c.query("SELECT pg_advisory_xact_lock(hashtext('strongroom.migrate'))")
    await c.query('CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)')
    const rows = (await c.query('SELECT version FROM schema_version')).rows as { version: number }[]
    let version = rows[0]?.version ?? 0
    if (version > SCHEMA_VERSION)
      throw new StrongroomError(
        'UNSUPPORTED_FORMAT',
        `the metadata database is at schema ${String(version)}, newer than this build knows (${String(SCHEMA_VERSION)}); upgrade Strongroom`,
      )
    if (version === 0) {
      await c.query(SCHEMA)
      await c.query('INSERT INTO schema_version VALUES ($1)', [BASELINE])
      version = BASELINE
    }
    for (; version < SCHEMA_VERSION; version++) {
      await c.query(LATER[version - BASELINE] ?? '')
      await c.query('UPDATE schema_version SET version = $1', [version + 1])
    }
  })
}
