/** CertStore on SQLite: the leaf certificates the built-in CA issued. */
import type { CertKind, CertRecord, CertStore } from '../certs.ts'
import { num, numOrNull, str, type Row, type SqliteDb, settle } from './db.ts'

const KEEP_EXPIRED_MS = 30 * 86_400_000

export class SqliteCertStore implements CertStore {
  private readonly db: SqliteDb

  constructor(db: SqliteDb) {
    this.db = db
  }

  recordCertificate(c: CertRecord, now: number): Promise<void> {
    // Group commit: certificates issued together share one flush of the log.
    return this.db.grouped(() => {
      this.db
        .stmt(
          `INSERT INTO certificates (serial, kind, subject, tenant_id, role, issuer_key_id,
              not_before, not_after, revoked_at, reason) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        )
        .run(
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
        )
      this.db.stmt('DELETE FROM certificates WHERE not_after < ?').run(now - KEEP_EXPIRED_MS)
    })
  }

  getCertificate(serial: string): Promise<CertRecord | undefined> {
    return settle(() => {
      const r = this.db.stmt('SELECT * FROM certificates WHERE serial = ?').get(serial) as
        Row | undefined
      return r && cert(r)
    })
  }

  listCertificates(o: {
    tenantId?: string
    validAt?: number
    limit: number
  }): Promise<CertRecord[]> {
    return settle(() =>
      (
        this.db
          .stmt(
            `SELECT * FROM certificates WHERE (? IS NULL OR tenant_id = ?) AND not_after >= ?
            ORDER BY not_before DESC, serial LIMIT ?`,
          )
          .all(o.tenantId ?? null, o.tenantId ?? null, o.validAt ?? 0, o.limit) as Row[]
      ).map(cert),
    )
  }

  revokeCertificate(
    serial: string,
    at: number,
    reason: string,
  ): Promise<'revoked' | 'missing' | 'already'> {
    return settle(() =>
      this.db.tx(() => {
        const r = this.db
          .stmt('SELECT revoked_at FROM certificates WHERE serial = ?')
          .get(serial) as Row | undefined
        if (r === undefined) return 'missing'
        if (r.revoked_at !== null) return 'already'
        this.db
          .stmt('UPDATE certificates SET revoked_at = ?, reason = ? WHERE serial = ?')
          .run(at, reason, serial)
        return 'revoked'
      }),
    )
  }

  nextCrlNumber(): Promise<number> {
    return settle(() => {
      const r = this.db
        .stmt(
          `INSERT INTO crl_number (id, value) VALUES (1, 1)
          ON CONFLICT (id) DO UPDATE SET value = value + 1 RETURNING value`,
        )
        .get() as Row
      return num(r.value)
    })
  }

  listRevoked(issuerKeyId: string, now: number): Promise<CertRecord[]> {
    return settle(() =>
      (
        this.db
          .stmt(
            `SELECT * FROM certificates WHERE issuer_key_id = ? AND revoked_at IS NOT NULL
            AND not_after >= ? ORDER BY serial`,
          )
          .all(issuerKeyId, now) as Row[]
      ).map(cert),
    )
  }
}

function cert(r: Row): CertRecord {
  return {
    serial: str(r.serial),
    kind: str(r.kind) as CertKind,
    subject: str(r.subject),
    tenantId: r.tenant_id === null ? null : str(r.tenant_id),
    role: r.role === null ? null : str(r.role),
    issuerKeyId: str(r.issuer_key_id),
    notBefore: num(r.not_before),
    notAfter: num(r.not_after),
    revokedAt: numOrNull(r.revoked_at),
    reason: r.reason === null ? null : str(r.reason),
  }
}
