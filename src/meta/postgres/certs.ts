/** CertStore on PostgreSQL: the leaf certificates the built-in CA issued. */
import type { CertKind, CertRecord, CertStore } from '../certs.ts'
import { int, text, type PgDb } from './db.ts'

type Row = Record<string, unknown>

const KEEP_EXPIRED_MS = 30 * 86_400_000

export class PgCertStore implements CertStore {
  private readonly db: PgDb

  constructor(db: PgDb) {
    this.db = db
  }

  async recordCertificate(c: CertRecord, now: number): Promise<void> {
    await this.db.tx(async (q) => {
      await q.query(
        `INSERT INTO certificates (serial, kind, subject, tenant_id, role, issuer_key_id,
          not_before, not_after, revoked_at, reason) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
        [
          c.serial,
          c.kind,
          c.subject,
          c.tenantId,
          c.role,
          c.issuerKeyId,
          c.notBefore,
          c.notAfter,
          c.revokedAt,
          c.reason,
        ],
      )
      await q.query('DELETE FROM certificates WHERE not_after < $1', [now - KEEP_EXPIRED_MS])
    })
  }

  async getCertificate(serial: string): Promise<CertRecord | undefined> {
    const [r] = await this.db.query('SELECT * FROM certificates WHERE serial = $1', [serial])
    return r && cert(r)
  }

  async listCertificates(o: {
    tenantId?: string
    validAt?: number
    limit: number
  }): Promise<CertRecord[]> {
    return (
      await this.db.query(
        `SELECT * FROM certificates WHERE ($1::text IS NULL OR tenant_id = $1) AND not_after >= $2
        ORDER BY not_before DESC, serial LIMIT $3`,
        [o.tenantId ?? null, o.validAt ?? 0, o.limit],
      )
    ).map(cert)
  }

  async revokeCertificate(
    serial: string,
    at: number,
    reason: string,
  ): Promise<'revoked' | 'missing' | 'already'> {
    return this.db.tx(async (q) => {
      const [r] = (
        await q.query('SELECT revoked_at FROM certificates WHERE serial = $1 FOR UPDATE', [serial])
      ).rows as Row[]
      if (r === undefined) return 'missing'
      if (r.revoked_at !== null) return 'already'
      await q.query('UPDATE certificates SET revoked_at = $1, reason = $2 WHERE serial = $3', [
        at,
        reason,
        serial,
      ])
      return 'revoked'
    })
  }

  async nextCrlNumber(): Promise<number> {
    const [r] = await this.db.query(
      `INSERT INTO crl_number (id, value) VALUES (1, 1)
      ON CONFLICT (id) DO UPDATE SET value = crl_number.value + 1 RETURNING value`,
    )
    return int(r?.value)
  }

  async listRevoked(issuerKeyId: string, now: number): Promise<CertRecord[]> {
    return (
      await this.db.query(
        `SELECT * FROM certificates WHERE issuer_key_id = $1 AND revoked_at IS NOT NULL
        AND not_after >= $2 ORDER BY serial`,
        [issuerKeyId, now],
      )
    ).map(cert)
  }
}

function cert(r: Row): CertRecord {
  return {
    serial: text(r.serial),
    kind: text(r.kind) as CertKind,
    subject: text(r.subject),
    tenantId: r.tenant_id === null ? null : text(r.tenant_id),
    role: r.role === null ? null : text(r.role),
    issuerKeyId: text(r.issuer_key_id),
    notBefore: int(r.not_before),
    notAfter: int(r.not_after),
    revokedAt: r.revoked_at === null ? null : int(r.revoked_at),
    reason: r.reason === null ? null : text(r.reason),
  }
}
