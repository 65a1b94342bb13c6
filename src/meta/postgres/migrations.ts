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
 * here.) Names that SQLite compares and sorts bytewise (BINARY) and that listings page through
 * (bucket names, object keys, version and upload ids, key ids) are COLLATE "C" columns, so that
 * their order, their keyset markers and their indexes are byte order whatever the database's
 * locale. SQLite's 0/1 flags are BOOLEAN; JSON documents stay TEXT, exactly as written.
 */
import { StrongroomError } from '../../errors.ts'
import type { PgDb } from './db.ts'

export const BASELINE = 16

/**
 * Whether a bucket's settings hold lifecycle rules (SQLite's `json_array_length(settings,
 * '$.lifecycle') > 0`): the predicate of a partial index and of the query it serves, written
 * once so that the planner matches the two.
 */
export const HAS_LIFECYCLE = `(CASE WHEN jsonb_typeof(settings::jsonb -> 'lifecycle') = 'array'
  THEN jsonb_array_length(settings::jsonb -> 'lifecycle') > 0 ELSE false END)`

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
CREATE TABLE keys (
  id TEXT COLLATE "C" PRIMARY KEY,
  tenant_id TEXT NOT NULL REFERENCES tenants(id),
  alias TEXT COLLATE "C",
  description TEXT NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('Enabled', 'Disabled', 'PendingDeletion', 'Deleted')),
  current_version INTEGER NOT NULL,
  created_at BIGINT NOT NULL,
  rotation_period_days INTEGER,
  next_rotation_at BIGINT,
  deletion_at BIGINT,
  deleted_at BIGINT,
  UNIQUE (tenant_id, alias)
);
CREATE INDEX keys_by_age ON keys (tenant_id, created_at, id);
CREATE INDEX keys_due_deletion ON keys (deletion_at) WHERE deletion_at IS NOT NULL;
CREATE INDEX keys_due_rotation ON keys (next_rotation_at) WHERE next_rotation_at IS NOT NULL;
CREATE TABLE key_versions (
  key_id TEXT COLLATE "C" NOT NULL REFERENCES keys(id),
  version INTEGER NOT NULL,
  material BYTEA NOT NULL,
  created_at BIGINT NOT NULL,
  wraps BIGINT NOT NULL DEFAULT 0,
  PRIMARY KEY (key_id, version)
);
CREATE TABLE key_policies (
  key_id TEXT COLLATE "C" PRIMARY KEY REFERENCES keys(id),
  document TEXT NOT NULL
);
CREATE TABLE object_keys (
  data_key_id TEXT COLLATE "C" PRIMARY KEY,
  tenant_id TEXT NOT NULL REFERENCES tenants(id),
  key_id TEXT COLLATE "C" NOT NULL REFERENCES keys(id),
  key_version INTEGER NOT NULL,
  wrapped BYTEA NOT NULL,
  created_at BIGINT NOT NULL
);
CREATE TABLE buckets (
  name TEXT COLLATE "C" PRIMARY KEY,
  tenant_id TEXT NOT NULL REFERENCES tenants(id),
  key_id TEXT COLLATE "C" NOT NULL REFERENCES keys(id),
  policy TEXT,
  created_at BIGINT NOT NULL,
  versioning TEXT NOT NULL DEFAULT 'Unversioned'
    CHECK (versioning IN ('Unversioned', 'Enabled', 'Suspended')),
  block_public_acls BOOLEAN NOT NULL DEFAULT true,
  ignore_public_acls BOOLEAN NOT NULL DEFAULT true,
  block_public_policy BOOLEAN NOT NULL DEFAULT true,
  restrict_public_buckets BOOLEAN NOT NULL DEFAULT true,
  scan_policy TEXT NOT NULL DEFAULT 'report'
    CHECK (scan_policy IN ('off', 'report', 'enforce', 'reject')),
  settings TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX buckets_by_tenant ON buckets (tenant_id, name);
CREATE INDEX buckets_with_lifecycle ON buckets (name) WHERE ${HAS_LIFECYCLE};
CREATE TABLE bucket_holds (
  name TEXT COLLATE "C" PRIMARY KEY,
  tenant_id TEXT NOT NULL,
  deleted_at BIGINT NOT NULL
);
CREATE TABLE objects (
  bucket TEXT COLLATE "C" NOT NULL REFERENCES buckets(name),
  key TEXT COLLATE "C" NOT NULL,
  version_id TEXT COLLATE "C" NOT NULL,
  seq BIGINT NOT NULL,
  delete_marker BOOLEAN NOT NULL,
  size BIGINT NOT NULL,
  etag TEXT NOT NULL,
  content_type TEXT,
  metadata TEXT NOT NULL,
  tags TEXT NOT NULL,
  checksums TEXT NOT NULL,
  blob TEXT UNIQUE,
  data_key_id TEXT,
  key_id TEXT,
  created_at BIGINT NOT NULL,
  scan TEXT,
  header_sha256 TEXT,
  system TEXT NOT NULL DEFAULT '{}',
  lock TEXT,
  PRIMARY KEY (bucket, key)
);
CREATE TABLE versions (
  bucket TEXT COLLATE "C" NOT NULL REFERENCES buckets(name),
  key TEXT COLLATE "C" NOT NULL,
  version_id TEXT COLLATE "C" NOT NULL,
  seq BIGINT NOT NULL,
  delete_marker BOOLEAN NOT NULL,
  size BIGINT NOT NULL,
  etag TEXT NOT NULL,
  content_type TEXT,
  metadata TEXT NOT NULL,
  tags TEXT NOT NULL,
  checksums TEXT NOT NULL,
  blob TEXT UNIQUE,
  data_key_id TEXT,
  key_id TEXT,
  created_at BIGINT NOT NULL,
  scan TEXT,
  header_sha256 TEXT,
  system TEXT NOT NULL DEFAULT '{}',
  lock TEXT,
  PRIMARY KEY (bucket, key, version_id)
);
CREATE INDEX versions_by_age ON versions (bucket, key, seq DESC);
CREATE TABLE inline_bodies (
  id TEXT COLLATE "C" PRIMARY KEY,
  data BYTEA NOT NULL
);
CREATE TABLE uploads (
  id TEXT COLLATE "C" PRIMARY KEY,
  bucket TEXT COLLATE "C" NOT NULL REFERENCES buckets(name),
  key TEXT COLLATE "C" NOT NULL,
  content_type TEXT,
  metadata TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  tags TEXT NOT NULL DEFAULT '[]',
  key_id TEXT NOT NULL DEFAULT '',
  system TEXT NOT NULL DEFAULT '{}',
  checksum_algorithm TEXT,
  lock TEXT
);
CREATE INDEX uploads_by_bucket ON uploads (bucket, key, created_at, id);
CREATE TABLE parts (
  upload_id TEXT COLLATE "C" NOT NULL REFERENCES uploads(id),
  number INTEGER NOT NULL,
  size BIGINT NOT NULL,
  etag TEXT NOT NULL,
  blob TEXT NOT NULL UNIQUE,
  data_key_id TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  header_sha256 TEXT,
  checksums TEXT NOT NULL DEFAULT '{}',
  PRIMARY KEY (upload_id, number)
);
CREATE TABLE object_parts (
  upload_id TEXT COLLATE "C" NOT NULL,
  number INTEGER NOT NULL,
  size BIGINT NOT NULL,
  etag TEXT NOT NULL,
  blob TEXT NOT NULL UNIQUE,
  data_key_id TEXT NOT NULL,
  header_sha256 TEXT,
  checksums TEXT NOT NULL DEFAULT '{}',
  PRIMARY KEY (upload_id, number)
);
`

/** Migrations after the baseline, by number (BASELINE + 1 first), each SQLite's of that number. */
const LATER: readonly string[] = [
  // 17: live objects by key: a listing skips delete markers through the index.
  'CREATE INDEX objects_live ON objects (bucket, key) WHERE NOT delete_marker',
  // 18: the shared audit log (AuditStore). audit_head's one row hands out indexes: a writer
  // holds its row lock until it commits, so indexes are dense and in commit order. And values
  // made once for the whole installation (the sealed audit keys, the CA).
  `CREATE TABLE audit_records (idx BIGINT PRIMARY KEY, record BYTEA NOT NULL, mac BYTEA NOT NULL);
  CREATE TABLE audit_head (id INTEGER PRIMARY KEY CHECK (id = 1), next BIGINT NOT NULL);
  INSERT INTO audit_head VALUES (1, 0);
  CREATE TABLE audit_checkpoints (
    size BIGINT PRIMARY KEY,
    prev_size BIGINT NOT NULL UNIQUE,
    note TEXT NOT NULL,
    frontier BYTEA NOT NULL
  );
  CREATE TABLE system_values (name TEXT COLLATE "C" PRIMARY KEY, value BYTEA NOT NULL);`,
  // 19: the KMS API: several aliases per key (keys.alias retired, NULL), KMS resource tags,
  // how each version after the first came to be.
  `CREATE TABLE key_aliases (
    tenant_id TEXT NOT NULL REFERENCES tenants(id),
    name TEXT COLLATE "C" NOT NULL,
    key_id TEXT COLLATE "C" NOT NULL REFERENCES keys(id),
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, name)
  );
  CREATE INDEX key_aliases_by_key ON key_aliases (key_id, created_at, name);
  INSERT INTO key_aliases (tenant_id, name, key_id, created_at, updated_at)
    SELECT tenant_id, alias, id, created_at, created_at FROM keys WHERE alias IS NOT NULL AND state <> 'Deleted';
  UPDATE keys SET alias = NULL;
  ALTER TABLE keys ADD COLUMN tags TEXT NOT NULL DEFAULT '[]';
  ALTER TABLE key_versions ADD COLUMN rotation TEXT CHECK (rotation IN ('AUTOMATIC', 'ON_DEMAND'));
  UPDATE key_versions SET rotation = 'AUTOMATIC' WHERE version > 1;`,
  // 20: the organization's guardrails: SCPs and RCPs, and their attachments.
  `CREATE TABLE org_policies (
    id TEXT COLLATE "C" PRIMARY KEY,
    type TEXT NOT NULL CHECK (type IN ('SERVICE_CONTROL_POLICY', 'RESOURCE_CONTROL_POLICY')),
    name TEXT COLLATE "C" NOT NULL,
    description TEXT NOT NULL,
    content TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    UNIQUE (type, name)
  );
  CREATE TABLE org_attachments (
    policy_id TEXT COLLATE "C" NOT NULL,
    target_id TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (target_id, policy_id)
  );
  CREATE INDEX org_attachments_by_policy ON org_attachments (policy_id);`,
  // 21: a root kept in an external key store: its settings and the system root it wraps.
  `ALTER TABLE installation DROP CONSTRAINT installation_root_mode_check;
  ALTER TABLE installation ADD CONSTRAINT installation_root_mode_check
    CHECK (root_mode IN ('key', 'passphrase', 'dev', 'pkcs11', 'vault', 'awskms'));
  ALTER TABLE installation ADD COLUMN root_store TEXT, ADD COLUMN root_wrapped BYTEA;`,
  // 22: the leaf certificates the built-in CA issued, for listing and revocation.
  `CREATE TABLE certificates (
    serial TEXT COLLATE "C" PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('server', 'workload')),
    subject TEXT NOT NULL,
    tenant_id TEXT COLLATE "C",
    role TEXT,
    issuer_key_id TEXT COLLATE "C" NOT NULL,
    not_before BIGINT NOT NULL,
    not_after BIGINT NOT NULL,
    revoked_at BIGINT,
    reason TEXT
  );
  CREATE INDEX certificates_by_tenant ON certificates (tenant_id, not_before);
  CREATE INDEX certificates_revoked ON certificates (issuer_key_id, revoked_at);
  CREATE INDEX certificates_by_expiry ON certificates (not_after);
  CREATE TABLE crl_number (id INTEGER PRIMARY KEY CHECK (id = 1), value BIGINT NOT NULL);`,
]

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
