/**
 * MetadataStore: everything Strongroom remembers besides object bodies, as
 * one narrow port per concept. Each port is async so that the PostgreSQL
 * adapter fits behind it unchanged; SQLite (node:sqlite, WAL) is the embedded
 * adapter, one module per port over one database handle. Each port has a
 * conformance suite in ./conformance/ that every adapter passes. Secrets
 * inside records are already sealed by their owners: a store never sees
 * plaintext keys.
 *
 *   port                file            records
 *   InstallationStore   installation.ts InstallationRecord
 *   IdentityStore       identity.ts     TenantRecord, UserRecord, AccessKeyRecord, UserPolicyRecord
 *   IamStore            iam.ts          IAM tags, AccessKeyUse; role and user changes
 *   PolicyStore         policies.ts     ManagedPolicyRecord, PolicyVersionRecord, attachments
 *   GroupStore          groups.ts       GroupRecord, GroupPolicyRecord, members
 *   PrincipalStore      principals.ts   PrincipalState: a caller's record, policies, tags at once
 *   OidcStore           oidc.ts         OidcProviderRecord
 *   BucketStore         buckets.ts      BucketRecord, BucketHold
 *   ObjectStore         objects.ts      ObjectRecord, VersionRecord (tags included)
 *   MultipartStore      multipart.ts    UploadRecord, PartRecord
 *   KeyStore            keys.ts         KeyRecord, KeyVersionRecord, ObjectKeyRecord, key policies
 *   VerdictStore        verdicts.ts     ScanRecord
 *   AuditStore          audit.ts        the shared audit log: records, AuditCheckpointRecord, keys
 *   OrgStore            org.ts          OrgPolicyRecord (SCPs, RCPs), their attachments
 *   CertStore           certs.ts        CertRecord: leaf certificates the CA issued, revocations
 */
import type { BucketStore } from './buckets.ts'
import type { GroupStore } from './groups.ts'
import type { IamStore } from './iam.ts'
import type { OidcStore } from './oidc.ts'
import type { PolicyStore } from './policies.ts'
import type { PrincipalStore } from './principals.ts'
import type { IdentityStore } from './identity.ts'
import type { InstallationStore } from './installation.ts'
import type { KeyStore } from './keys.ts'
import type { MultipartStore } from './multipart.ts'
import type { ObjectStore } from './objects.ts'
import type { VerdictStore } from './verdicts.ts'
import type { AuditStore } from './audit.ts'
import type { OrgStore } from './org.ts'
import type { CertStore } from './certs.ts'

export type { InstallationRecord, InstallationStore, RootKeyMode } from './installation.ts'
export type { IdentityStore, TenantRecord } from './identity.ts'
export type {
  KeyRecord,
  KeyState,
  KeyStore,
  KeyVersionRecord,
  ObjectKeyRecord,
  WrappedDataKey,
} from './keys.ts'

/** Every port, as one adapter serves them over one database; `close` releases it. */
export interface MetadataStore
  extends
    InstallationStore,
    IdentityStore,
    IamStore,
    PolicyStore,
    GroupStore,
    PrincipalStore,
    OidcStore,
    BucketStore,
    ObjectStore,
    MultipartStore,
    KeyStore,
    VerdictStore,
    AuditStore,
    OrgStore,
    CertStore {
  close(): Promise<void>
}
