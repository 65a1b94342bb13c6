/**
 * AuditStore: the installation's audit log when its gateways share the metadata database
 * (src/audit/shared-log.ts): the records in one global order and the signed checkpoints over
 * them (the keys they are signed with are an InstallationStore system value). A single machine
 * keeps its log in files (src/audit/log.ts); both adapters serve this port all the same, and
 * pass one conformance suite.
 */

/** A signed checkpoint of the shared log, with the tree's right edge it was computed from. */
export interface AuditCheckpointRecord {
  /** Records under the checkpoint. */
  readonly size: number
  /** The signed note (C2SP tlog-checkpoint). */
  readonly note: string
  /** The Merkle tree's right edge at `size` (src/audit/frontier.ts): what the next seal extends. */
  readonly frontier: Uint8Array
}

/** A record of the shared log with its index and the MAC its writer gave it. */
export interface StoredAuditRecord {
  readonly index: number
  readonly record: Buffer
  readonly mac: Buffer
}

export interface AuditStore {
  /**
   * Appends `records` in one transaction, after every record committed before it; answers the
   * first one's index. Indexes are dense and in commit order: 0, 1, 2, and so on. Each record
   * is stored with `mac(index, record)`, computed once its index is known.
   */
  appendAuditRecords(
    records: readonly Uint8Array[],
    mac: (index: number, record: Uint8Array) => Uint8Array,
  ): Promise<number>
  /** Records committed so far: the next record's index. */
  auditRecordCount(): Promise<number>
  /** At most `limit` records from index `from` on, in index order. */
  auditRecords(from: number, limit: number): Promise<StoredAuditRecord[]>
  /** The newest checkpoint, or undefined before the first. */
  latestAuditCheckpoint(): Promise<AuditCheckpointRecord | undefined>
  /** The newest checkpoint of at most `size` records, if one was stored. */
  auditCheckpointAtMost(size: number): Promise<AuditCheckpointRecord | undefined>
  /**
   * Stores `next` as the checkpoint that follows the one of size `previous` (-1 for the first).
   * Of two sealers extending the same checkpoint, one wins: the other is answered false.
   */
  addAuditCheckpoint(previous: number, next: AuditCheckpointRecord): Promise<boolean>
}
