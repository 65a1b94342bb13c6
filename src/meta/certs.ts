/**
 * CertStore: every leaf certificate the built-in CA issued (server and workload), so that
 * `strongroom cert list` can show them and a revocation can name one and reach the CRL of the
 * CA that issued it. Rows are kept until 30 days after the certificate expired.
 */

export type CertKind = 'server' | 'workload'

export interface CertRecord {
  /** The serial number, lowercase hex. */
  readonly serial: string
  readonly kind: CertKind
  /** A workload's SPIFFE ID, or a server certificate's first name. */
  readonly subject: string
  /** A workload's tenant id and role name; null for a server certificate. */
  readonly tenantId: string | null
  readonly role: string | null
  /** The issuing CA's subject key identifier, lowercase hex. */
  readonly issuerKeyId: string
  /** Milliseconds since the epoch. */
  readonly notBefore: number
  readonly notAfter: number
  readonly revokedAt: number | null
  /** An RFC 5280 reason name (keyCompromise, superseded, …); null unless revoked. */
  readonly reason: string | null
}

export interface CertStore {
  /** Records a certificate; rows expired for over 30 days before `now` are dropped. */
  recordCertificate(c: CertRecord, now: number): Promise<void>
  getCertificate(serial: string): Promise<CertRecord | undefined>
  /** A tenant's certificates (or every one), those expired before `validAt` left out; newest first. */
  listCertificates(o: { tenantId?: string; validAt?: number; limit: number }): Promise<CertRecord[]>
  /** Marks one revoked: 'already' (nothing changes) when it was. */
  revokeCertificate(
    serial: string,
    at: number,
    reason: string,
  ): Promise<'revoked' | 'missing' | 'already'>
  /** The next CRL number: 1, 2, 3, … across every process sharing the database (RFC 5280 5.2.3). */
  nextCrlNumber(): Promise<number>
  /** The revoked certificates of one issuing CA that have not expired at `now`, by serial. */
  listRevoked(issuerKeyId: string, now: number): Promise<CertRecord[]>
}
