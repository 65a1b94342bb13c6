/**
 * Numbered schema migrations. PRAGMA user_version holds the number applied;
 * each migration runs in its own transaction. Never edit a shipped migration:
 * add the next one.
 */
export const MIGRATIONS: readonly string[] = [
  // 1: installation, tenants, customer-managed keys, object data keys
  `
  CREATE TABLE installation (
    id TEXT PRIMARY KEY,
    created_at INTEGER NOT NULL,
    root_mode TEXT NOT NULL CHECK (root_mode IN ('key', 'passphrase', 'dev')),
    root_kdf TEXT,
    root_check BLOB NOT NULL
  ) STRICT;
  CREATE TABLE tenants (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    created_at INTEGER NOT NULL
  ) STRICT;
  CREATE TABLE keys (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL REFERENCES tenants(id),
    alias TEXT,
    description TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('Enabled', 'Disabled', 'PendingDeletion', 'Deleted')),
    current_version INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    rotation_period_days INTEGER,
    next_rotation_at INTEGER,
    deletion_at INTEGER,
    deleted_at INTEGER,
    UNIQUE (tenant_id, alias)
  ) STRICT;
  CREATE INDEX keys_due_deletion ON keys (deletion_at) WHERE deletion_at IS NOT NULL;
  CREATE INDEX keys_due_rotation ON keys (next_rotation_at) WHERE next_rotation_at IS NOT NULL;
  CREATE TABLE key_versions (
    key_id TEXT NOT NULL REFERENCES keys(id),
    version INTEGER NOT NULL,
    material BLOB NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (key_id, version)
  ) STRICT;
  CREATE TABLE object_keys (
    data_key_id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL REFERENCES tenants(id),
    key_id TEXT NOT NULL REFERENCES keys(id),
    key_version INTEGER NOT NULL,
    wrapped BLOB NOT NULL,
    created_at INTEGER NOT NULL
  ) STRICT;
  `,
  // 2: users, access keys and inline policies; buckets and objects
  `
  CREATE TABLE users (
    tenant_id TEXT NOT NULL REFERENCES tenants(id),
    name TEXT NOT NULL,
    id TEXT NOT NULL UNIQUE,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, name)
  ) STRICT;
  CREATE TABLE access_keys (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    user_name TEXT NOT NULL,
    secret BLOB NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('Active', 'Inactive')),
    created_at INTEGER NOT NULL,
    FOREIGN KEY (tenant_id, user_name) REFERENCES users(tenant_id, name)
  ) STRICT;
  CREATE TABLE user_policies (
    tenant_id TEXT NOT NULL,
    user_name TEXT NOT NULL,
    name TEXT NOT NULL,
    document TEXT NOT NULL,
    PRIMARY KEY (tenant_id, user_name, name),
    FOREIGN KEY (tenant_id, user_name) REFERENCES users(tenant_id, name)
  ) STRICT;
  CREATE TABLE buckets (
    name TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL REFERENCES tenants(id),
    key_id TEXT NOT NULL REFERENCES keys(id),
    policy TEXT,
    created_at INTEGER NOT NULL
  ) STRICT;
  CREATE TABLE objects (
    bucket TEXT NOT NULL REFERENCES buckets(name),
    key TEXT NOT NULL,
    size INTEGER NOT NULL,
    etag TEXT NOT NULL,
    content_type TEXT,
    metadata TEXT NOT NULL,
    blob TEXT NOT NULL UNIQUE,
    data_key_id TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (bucket, key)
  ) STRICT;
  `,
  // 3: multipart uploads and their parts
  `
  CREATE TABLE uploads (
    id TEXT PRIMARY KEY,
    bucket TEXT NOT NULL REFERENCES buckets(name),
    key TEXT NOT NULL,
    content_type TEXT,
    metadata TEXT NOT NULL,
    created_at INTEGER NOT NULL
  ) STRICT;
  CREATE INDEX uploads_by_bucket ON uploads (bucket, key, created_at);
  CREATE TABLE parts (
    upload_id TEXT NOT NULL REFERENCES uploads(id),
    number INTEGER NOT NULL,
    size INTEGER NOT NULL,
    etag TEXT NOT NULL,
    blob TEXT NOT NULL UNIQUE,
    data_key_id TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (upload_id, number)
  ) STRICT;
  `,
  // 4: versioning, tags, per-object keys, bucket encryption and public access block
  `
  ALTER TABLE buckets ADD COLUMN versioning TEXT NOT NULL DEFAULT 'Unversioned'
    CHECK (versioning IN ('Unversioned', 'Enabled', 'Suspended'));
  ALTER TABLE buckets ADD COLUMN block_public_acls INTEGER NOT NULL DEFAULT 1;
  ALTER TABLE buckets ADD COLUMN ignore_public_acls INTEGER NOT NULL DEFAULT 1;
  ALTER TABLE buckets ADD COLUMN block_public_policy INTEGER NOT NULL DEFAULT 1;
  ALTER TABLE buckets ADD COLUMN restrict_public_buckets INTEGER NOT NULL DEFAULT 1;
  CREATE TABLE objects_4 (
    bucket TEXT NOT NULL REFERENCES buckets(name),
    key TEXT NOT NULL,
    version_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    delete_marker INTEGER NOT NULL CHECK (delete_marker IN (0, 1)),
    size INTEGER NOT NULL,
    etag TEXT NOT NULL,
    content_type TEXT,
    metadata TEXT NOT NULL,
    tags TEXT NOT NULL,
    checksums TEXT NOT NULL,
    blob TEXT UNIQUE,
    data_key_id TEXT,
    key_id TEXT,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (bucket, key)
  ) STRICT;
  INSERT INTO objects_4
    SELECT o.bucket, o.key, 'null', 1, 0, o.size, o.etag, o.content_type, o.metadata, '[]', '{}',
      o.blob, o.data_key_id, k.key_id, o.created_at
    FROM objects o LEFT JOIN object_keys k ON k.data_key_id = o.data_key_id;
  DROP TABLE objects;
  ALTER TABLE objects_4 RENAME TO objects;
  CREATE TABLE versions (
    bucket TEXT NOT NULL REFERENCES buckets(name),
    key TEXT NOT NULL,
    version_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    delete_marker INTEGER NOT NULL CHECK (delete_marker IN (0, 1)),
    size INTEGER NOT NULL,
    etag TEXT NOT NULL,
    content_type TEXT,
    metadata TEXT NOT NULL,
    tags TEXT NOT NULL,
    checksums TEXT NOT NULL,
    blob TEXT UNIQUE,
    data_key_id TEXT,
    key_id TEXT,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (bucket, key, version_id)
  ) STRICT;
  CREATE INDEX versions_by_age ON versions (bucket, key, seq);
  ALTER TABLE uploads ADD COLUMN tags TEXT NOT NULL DEFAULT '[]';
  ALTER TABLE uploads ADD COLUMN key_id TEXT NOT NULL DEFAULT '';
  UPDATE uploads SET key_id = (SELECT key_id FROM buckets WHERE buckets.name = uploads.bucket);
  `,
  // 5: model scanning: each bucket's scan policy, each version's verdict
  `
  ALTER TABLE buckets ADD COLUMN scan_policy TEXT NOT NULL DEFAULT 'report'
    CHECK (scan_policy IN ('off', 'report', 'enforce', 'reject'));
  ALTER TABLE objects ADD COLUMN scan TEXT;
  ALTER TABLE versions ADD COLUMN scan TEXT;
  `,
  // 6: small bodies kept inline, committed with their rows
  `
  CREATE TABLE inline_bodies (
    id TEXT PRIMARY KEY,
    data BLOB NOT NULL
  ) STRICT;
  `,
  // 7: the names of deleted buckets, held for the tenant that deleted them
  `
  CREATE TABLE bucket_holds (
    name TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    deleted_at INTEGER NOT NULL
  ) STRICT;
  `,
  // 8: blob storage is untrusted: each sealed body's header digest is kept in its row and
  // compared on every read; data-key wraps are counted per key version (AES-GCM nonce budget).
  // Rows written before this migration have no digest: see docs/formats/encrypted-object.md.
  `
  ALTER TABLE objects ADD COLUMN header_sha256 TEXT;
  ALTER TABLE versions ADD COLUMN header_sha256 TEXT;
  ALTER TABLE parts ADD COLUMN header_sha256 TEXT;
  ALTER TABLE key_versions ADD COLUMN wraps INTEGER NOT NULL DEFAULT 0;
  `,
  // 9: key policies (a key without a row has the default policy, which delegates to its account)
  `
  CREATE TABLE key_policies (
    key_id TEXT PRIMARY KEY REFERENCES keys(id),
    document TEXT NOT NULL
  ) STRICT;
  `,
  // 10: multipart objects keep their parts as uploaded (src/meta/sqlite/parts.ts): Complete
  // moves the chosen parts' rows here, under the upload id that the object's row names.
  `
  CREATE TABLE object_parts (
    upload_id TEXT NOT NULL,
    number INTEGER NOT NULL,
    size INTEGER NOT NULL,
    etag TEXT NOT NULL,
    blob TEXT NOT NULL UNIQUE,
    data_key_id TEXT NOT NULL,
    header_sha256 TEXT,
    PRIMARY KEY (upload_id, number)
  ) STRICT;
  `,
  // 11: S3's system-defined metadata of objects and uploads (Cache-Control, Content-Disposition,
  // Content-Encoding, Content-Language, Expires, the SSE label asked for), and a bucket's
  // settings document (tags, the default SSE label, lifecycle rules, Object Lock); a version's
  // Object Lock retention and legal hold; the checksum algorithm of an upload and the verified
  // checksums of its parts (a completed object's composite checksum is made of them).
  `
  ALTER TABLE objects ADD COLUMN system TEXT NOT NULL DEFAULT '{}';
  ALTER TABLE versions ADD COLUMN system TEXT NOT NULL DEFAULT '{}';
  ALTER TABLE objects ADD COLUMN lock TEXT;
  ALTER TABLE versions ADD COLUMN lock TEXT;
  ALTER TABLE uploads ADD COLUMN system TEXT NOT NULL DEFAULT '{}';
  ALTER TABLE buckets ADD COLUMN settings TEXT NOT NULL DEFAULT '{}';
  ALTER TABLE uploads ADD COLUMN checksum_algorithm TEXT;
  ALTER TABLE uploads ADD COLUMN lock TEXT;
  ALTER TABLE parts ADD COLUMN checksums TEXT NOT NULL DEFAULT '{}';
  ALTER TABLE object_parts ADD COLUMN checksums TEXT NOT NULL DEFAULT '{}';
  `,
  // 12: IAM roles (issue 13): a trust policy, a maximum session duration, a path and a
  // description per role; role names are unique in a tenant regardless of case, as IAM's are.
  // Inline role policies beside them.
  `
  CREATE TABLE roles (
    tenant_id TEXT NOT NULL REFERENCES tenants(id),
    name TEXT NOT NULL COLLATE NOCASE,
    id TEXT NOT NULL UNIQUE,
    path TEXT NOT NULL,
    description TEXT NOT NULL,
    trust_policy TEXT NOT NULL,
    max_session_seconds INTEGER NOT NULL CHECK (max_session_seconds BETWEEN 3600 AND 43200),
    created_at INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, name)
  ) STRICT;
  CREATE TABLE role_policies (
    tenant_id TEXT NOT NULL,
    role_name TEXT NOT NULL COLLATE NOCASE,
    name TEXT NOT NULL,
    document TEXT NOT NULL,
    PRIMARY KEY (tenant_id, role_name, name),
    FOREIGN KEY (tenant_id, role_name) REFERENCES roles(tenant_id, name)
  ) STRICT;
  `,
  // 13: the IAM API: tags on IAM resources (keys unique regardless of case, as IAM's); customer-managed policies, their versions and
  // attachments (names unique in a tenant regardless of case, as IAM's are); when an access key
  // was last used; user names unique in a tenant regardless of case (an installation holding
  // two users whose names differ only by case stops here: rename one first).
  `
  ALTER TABLE access_keys ADD COLUMN last_used_at INTEGER;
  ALTER TABLE access_keys ADD COLUMN last_used_service TEXT;
  ALTER TABLE access_keys ADD COLUMN last_used_region TEXT;
  CREATE UNIQUE INDEX users_name_nocase ON users (tenant_id, name COLLATE NOCASE);
  CREATE TABLE iam_tags (
    tenant_id TEXT NOT NULL REFERENCES tenants(id),
    kind TEXT NOT NULL CHECK (kind IN ('role', 'user', 'policy', 'oidc-provider')),
    name TEXT NOT NULL COLLATE NOCASE,
    key TEXT NOT NULL COLLATE NOCASE,
    value TEXT NOT NULL,
    PRIMARY KEY (tenant_id, kind, name, key)
  ) STRICT;
  CREATE TABLE managed_policies (
    tenant_id TEXT NOT NULL REFERENCES tenants(id),
    name TEXT NOT NULL COLLATE NOCASE,
    id TEXT NOT NULL UNIQUE,
    path TEXT NOT NULL,
    description TEXT NOT NULL,
    default_version INTEGER NOT NULL,
    next_version INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, name)
  ) STRICT;
  CREATE TABLE policy_versions (
    tenant_id TEXT NOT NULL,
    policy_name TEXT NOT NULL COLLATE NOCASE,
    version INTEGER NOT NULL,
    document TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, policy_name, version),
    FOREIGN KEY (tenant_id, policy_name) REFERENCES managed_policies(tenant_id, name)
  ) STRICT;
  CREATE TABLE policy_attachments (
    tenant_id TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('role', 'user', 'group')),
    principal TEXT NOT NULL COLLATE NOCASE,
    policy_name TEXT NOT NULL COLLATE NOCASE,
    PRIMARY KEY (tenant_id, kind, principal, policy_name),
    FOREIGN KEY (tenant_id, policy_name) REFERENCES managed_policies(tenant_id, name)
  ) STRICT;
  CREATE INDEX policy_attachments_by_policy ON policy_attachments (tenant_id, policy_name);
  `,
  // 14: IAM groups, their members and inline policies (attached managed policies are
  // policy_attachments of kind 'group'); group names unique in a tenant regardless of case.
  `
  CREATE TABLE iam_groups (
    tenant_id TEXT NOT NULL REFERENCES tenants(id),
    name TEXT NOT NULL COLLATE NOCASE,
    id TEXT NOT NULL UNIQUE,
    path TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, name)
  ) STRICT;
  CREATE TABLE group_members (
    tenant_id TEXT NOT NULL,
    group_name TEXT NOT NULL COLLATE NOCASE,
    user_name TEXT NOT NULL,
    PRIMARY KEY (tenant_id, group_name, user_name),
    FOREIGN KEY (tenant_id, group_name) REFERENCES iam_groups(tenant_id, name),
    FOREIGN KEY (tenant_id, user_name) REFERENCES users(tenant_id, name)
  ) STRICT;
  CREATE INDEX group_members_by_user ON group_members (tenant_id, user_name);
  CREATE TABLE group_policies (
    tenant_id TEXT NOT NULL,
    group_name TEXT NOT NULL COLLATE NOCASE,
    name TEXT NOT NULL,
    document TEXT NOT NULL,
    PRIMARY KEY (tenant_id, group_name, name),
    FOREIGN KEY (tenant_id, group_name) REFERENCES iam_groups(tenant_id, name)
  ) STRICT;
  `,
  // 15: permissions boundaries: the customer-managed policy (by name) that bounds a role's or a
  // user's identity policies; none where NULL.
  `
  ALTER TABLE roles ADD COLUMN permissions_boundary TEXT;
  ALTER TABLE users ADD COLUMN permissions_boundary TEXT;
  `,
  // 16: OpenID Connect identity providers of a tenant, by issuer (host and path), with the
  // audiences and certificate thumbprints they are trusted for, and optionally their JWKS inline.
  `
  CREATE TABLE oidc_providers (
    tenant_id TEXT NOT NULL REFERENCES tenants(id),
    url TEXT NOT NULL,
    client_ids TEXT NOT NULL,
    thumbprints TEXT NOT NULL,
    jwks TEXT,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, url)
  ) STRICT;
  `,
  // 17: live objects by key, so that a listing skips keys whose current version is a delete
  // marker through the index instead of reading each (a run of them cost a page linear time).
  `
  CREATE INDEX objects_live ON objects (bucket, key) WHERE delete_marker = 0;
  `,
  // 18: the shared audit log (AuditStore): records by index, the signed checkpoints (each
  // extends exactly one before it: prev_size is unique); values made once for the whole
  // installation (InstallationStore: the sealed audit keys, the CA).
  `
  CREATE TABLE audit_records (idx INTEGER PRIMARY KEY, record BLOB NOT NULL, mac BLOB NOT NULL) STRICT;
  CREATE TABLE audit_checkpoints (
    size INTEGER PRIMARY KEY,
    prev_size INTEGER NOT NULL UNIQUE,
    note TEXT NOT NULL,
    frontier BLOB NOT NULL
  ) STRICT;
  CREATE TABLE system_values (name TEXT PRIMARY KEY, value BLOB NOT NULL) STRICT;
  `,
  // 19: the KMS API: a key may have several aliases (key_aliases; keys.alias is retired, its
  // values moved here, and stays NULL); KMS resource tags on a key (a JSON list of
  // {TagKey, TagValue}); how each version after the first came to be (ListKeyRotations; NULL
  // for a first version, and AUTOMATIC for rotations made before this was recorded).
  `
  CREATE TABLE key_aliases (
    tenant_id TEXT NOT NULL REFERENCES tenants(id),
    name TEXT NOT NULL,
    key_id TEXT NOT NULL REFERENCES keys(id),
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, name)
  ) STRICT;
  CREATE INDEX key_aliases_by_key ON key_aliases (key_id, created_at, name);
  INSERT INTO key_aliases (tenant_id, name, key_id, created_at, updated_at)
    SELECT tenant_id, alias, id, created_at, created_at FROM keys WHERE alias IS NOT NULL AND state <> 'Deleted';
  UPDATE keys SET alias = NULL;
  ALTER TABLE keys ADD COLUMN tags TEXT NOT NULL DEFAULT '[]';
  ALTER TABLE key_versions ADD COLUMN rotation TEXT CHECK (rotation IN ('AUTOMATIC', 'ON_DEMAND'));
  UPDATE key_versions SET rotation = 'AUTOMATIC' WHERE version > 1;
  `,
  // 20: the organization's guardrails (Organizations): SCPs and RCPs by id, names unique per
  // type, and their attachments to the root or an account (FullAWSAccess's included, though
  // that policy is AWS's and not stored).
  `
  CREATE TABLE org_policies (
    id TEXT PRIMARY KEY,
    type TEXT NOT NULL CHECK (type IN ('SERVICE_CONTROL_POLICY', 'RESOURCE_CONTROL_POLICY')),
    name TEXT NOT NULL,
    description TEXT NOT NULL,
    content TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    UNIQUE (type, name)
  ) STRICT;
  CREATE TABLE org_attachments (
    policy_id TEXT NOT NULL,
    target_id TEXT NOT NULL,
    PRIMARY KEY (target_id, policy_id)
  ) STRICT;
  CREATE INDEX org_attachments_by_policy ON org_attachments (policy_id);
  `,
  // 21: a root kept in an external key store (PKCS#11, Vault Transit, AWS KMS): its settings
  // (for messages) and the system root it wraps. SQLite cannot alter a CHECK: the one-row table
  // is rebuilt.
  `
  CREATE TABLE installation_21 (
    id TEXT PRIMARY KEY,
    created_at INTEGER NOT NULL,
    root_mode TEXT NOT NULL
      CHECK (root_mode IN ('key', 'passphrase', 'dev', 'pkcs11', 'vault', 'awskms')),
    root_kdf TEXT,
    root_check BLOB NOT NULL,
    root_store TEXT,
    root_wrapped BLOB
  ) STRICT;
  INSERT INTO installation_21 (id, created_at, root_mode, root_kdf, root_check)
    SELECT id, created_at, root_mode, root_kdf, root_check FROM installation;
  DROP TABLE installation;
  ALTER TABLE installation_21 RENAME TO installation;
  `,
  // 22: the leaf certificates the built-in CA issued (server and workload), for listing and
  // revocation (the CRL of each issuing CA).
  `
  CREATE TABLE certificates (
    serial TEXT PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('server', 'workload')),
    subject TEXT NOT NULL,
    tenant_id TEXT,
    role TEXT,
    issuer_key_id TEXT NOT NULL,
    not_before INTEGER NOT NULL,
    not_after INTEGER NOT NULL,
    revoked_at INTEGER,
    reason TEXT
  ) STRICT;
  CREATE INDEX certificates_by_tenant ON certificates (tenant_id, not_before);
  CREATE INDEX certificates_revoked ON certificates (issuer_key_id, revoked_at);
  CREATE INDEX certificates_by_expiry ON certificates (not_after);
  CREATE TABLE crl_number (id INTEGER PRIMARY KEY CHECK (id = 1), value INTEGER NOT NULL) STRICT;
  `,
]
