/**
 * OidcStore on SQLite: OpenID Connect providers by tenant and issuer; the audiences and
 * thumbprints are JSON arrays of strings, changed inside one transaction each.
 */
import { StrongroomError } from '../../errors.ts'
import type { OidcProviderRecord, OidcStore } from '../oidc.ts'
import { isUniqueViolation, num, str, type Row, type SqliteDb, settle } from './db.ts'

export class SqliteOidcStore implements OidcStore {
  private readonly db: SqliteDb

  constructor(db: SqliteDb) {
    this.db = db
  }

  createOidcProvider(p: OidcProviderRecord): Promise<void> {
    return settle(() => {
      try {
        this.db
          .stmt(
            'INSERT INTO oidc_providers (tenant_id, url, client_ids, thumbprints, jwks, created_at) VALUES (?, ?, ?, ?, ?, ?)',
          )
          .run(
            p.tenantId,
            p.url,
            JSON.stringify(p.clientIds),
            JSON.stringify(p.thumbprints),
            p.jwks,
            p.createdAt,
          )
      } catch (e) {
        if (isUniqueViolation(e))
          throw new StrongroomError(
            'ENTITY_EXISTS',
            `Provider with url https://${p.url} already exists.`,
            { cause: e },
          )
        throw e
      }
    })
  }

  getOidcProvider(tenantId: string, url: string): Promise<OidcProviderRecord | undefined> {
    return settle(() => this.row(tenantId, url))
  }

  listOidcProviders(tenantId: string): Promise<OidcProviderRecord[]> {
    return settle(() =>
      (
        this.db
          .stmt('SELECT * FROM oidc_providers WHERE tenant_id = ? ORDER BY url')
          .all(tenantId) as Row[]
      ).map(provider),
    )
  }

  deleteOidcProvider(tenantId: string, url: string): Promise<boolean> {
    return settle(() =>
      this.db.tx(() => {
        this.db
          .stmt("DELETE FROM iam_tags WHERE tenant_id = ? AND kind = 'oidc-provider' AND name = ?")
          .run(tenantId, url)
        return (
          this.db
            .stmt('DELETE FROM oidc_providers WHERE tenant_id = ? AND url = ?')
            .run(tenantId, url).changes > 0
        )
      }),
    )
  }

  addOidcClientId(tenantId: string, url: string, clientId: string, max: number): Promise<boolean> {
    return settle(() =>
      this.db.tx(() => {
        const p = this.row(tenantId, url)
        if (p === undefined) return false
        if (p.clientIds.includes(clientId)) return true
        if (p.clientIds.length >= max)
          throw new StrongroomError(
            'LIMIT_EXCEEDED',
            `Cannot exceed quota for ClientIdsPerOpenIdConnectProvider: ${max}`,
          )
        this.setList(tenantId, url, 'client_ids', [...p.clientIds, clientId])
        return true
      }),
    )
  }

  removeOidcClientId(tenantId: string, url: string, clientId: string): Promise<boolean> {
    return settle(() =>
      this.db.tx(() => {
        const p = this.row(tenantId, url)
        if (p === undefined) return false
        this.setList(
          tenantId,
          url,
          'client_ids',
          p.clientIds.filter((c) => c !== clientId),
        )
        return true
      }),
    )
  }

  setOidcThumbprints(
    tenantId: string,
    url: string,
    thumbprints: readonly string[],
  ): Promise<boolean> {
    return settle(
      () =>
        this.db
          .stmt('UPDATE oidc_providers SET thumbprints = ? WHERE tenant_id = ? AND url = ?')
          .run(JSON.stringify(thumbprints), tenantId, url).changes > 0,
    )
  }

  private row(tenantId: string, url: string): OidcProviderRecord | undefined {
    const r = this.db
      .stmt('SELECT * FROM oidc_providers WHERE tenant_id = ? AND url = ?')
      .get(tenantId, url) as Row | undefined
    return r && provider(r)
  }

  private setList(
    tenantId: string,
    url: string,
    column: 'client_ids',
    values: readonly string[],
  ): void {
    this.db
      .stmt(`UPDATE oidc_providers SET ${column} = ? WHERE tenant_id = ? AND url = ?`)
      .run(JSON.stringify(values), tenantId, url)
  }
}

/** A JSON array of strings as stored; anything else reads as empty (it never is: we wrote it). */
function strings(v: unknown): string[] {
  const parsed: unknown = JSON.parse(str(v as string))
  return Array.isArray(parsed) ? parsed.filter((x): x is string => typeof x === 'string') : []
}

function provider(r: Row): OidcProviderRecord {
  return {
    tenantId: str(r.tenant_id),
    url: str(r.url),
    clientIds: strings(r.client_ids),
    thumbprints: strings(r.thumbprints),
    jwks: typeof r.jwks === 'string' ? r.jwks : null,
    createdAt: num(r.created_at),
  }
}
