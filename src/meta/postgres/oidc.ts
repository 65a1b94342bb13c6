/**
 * OidcStore on PostgreSQL: OpenID Connect providers by tenant and issuer (compared and sorted
 * byte-wise, as SQLite's); the audiences and thumbprints are JSON arrays of strings, an
 * audience added or removed under a lock on the provider's row (two at once would otherwise
 * each write its own list over the other's, or both pass the limit).
 */
import { StrongroomError } from '../../errors.ts'
import type { OidcProviderRecord, OidcStore } from '../oidc.ts'
import { int, isUniqueViolation, text, type PgDb, type Queryable } from './db.ts'

type Row = Record<string, unknown>

export class PgOidcStore implements OidcStore {
  private readonly db: PgDb

  constructor(db: PgDb) {
    this.db = db
  }

  async createOidcProvider(p: OidcProviderRecord): Promise<void> {
    try {
      await this.db.query(
        'INSERT INTO oidc_providers (tenant_id, url, client_ids, thumbprints, jwks, created_at) VALUES ($1, $2, $3, $4, $5, $6)',
        [
          p.tenantId,
          p.url,
          JSON.stringify(p.clientIds),
          JSON.stringify(p.thumbprints),
          p.jwks,
          p.createdAt,
        ],
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
  }

  getOidcProvider(tenantId: string, url: string): Promise<OidcProviderRecord | undefined> {
    return readProvider(this.db.any, tenantId, url, false)
  }

  async listOidcProviders(tenantId: string): Promise<OidcProviderRecord[]> {
    return (
      await this.db.query(
        'SELECT * FROM oidc_providers WHERE tenant_id = $1 ORDER BY url COLLATE "C"',
        [tenantId],
      )
    ).map(provider)
  }

  deleteOidcProvider(tenantId: string, url: string): Promise<boolean> {
    return this.db.tx(async (c) => {
      await c.query(
        "DELETE FROM iam_tags WHERE tenant_id = $1 AND kind = 'oidc-provider' AND name = $2",
        [tenantId, url],
      )
      const gone = await c.query('DELETE FROM oidc_providers WHERE tenant_id = $1 AND url = $2', [
        tenantId,
        url,
      ])
      return (gone.rowCount ?? 0) > 0
    })
  }

  addOidcClientId(tenantId: string, url: string, clientId: string, max: number): Promise<boolean> {
    return this.db.tx(async (c) => {
      const p = await readProvider(c, tenantId, url, true)
      if (p === undefined) return false
      if (p.clientIds.includes(clientId)) return true
      if (p.clientIds.length >= max)
        throw new StrongroomError(
          'LIMIT_EXCEEDED',
          `Cannot exceed quota for ClientIdsPerOpenIdConnectProvider: ${max}`,
        )
      await setClientIds(c, tenantId, url, [...p.clientIds, clientId])
      return true
    })
  }

  removeOidcClientId(tenantId: string, url: string, clientId: string): Promise<boolean> {
    return this.db.tx(async (c) => {
      const p = await readProvider(c, tenantId, url, true)
      if (p === undefined) return false
      await setClientIds(
        c,
        tenantId,
        url,
        p.clientIds.filter((id) => id !== clientId),
      )
      return true
    })
  }

  async setOidcThumbprints(
    tenantId: string,
    url: string,
    thumbprints: readonly string[],
  ): Promise<boolean> {
    const changed = await this.db.any.query(
      'UPDATE oidc_providers SET thumbprints = $1 WHERE tenant_id = $2 AND url = $3',
      [JSON.stringify(thumbprints), tenantId, url],
    )
    return (changed.rowCount ?? 0) > 0
  }
}

/** The provider, with `lock` locked FOR UPDATE until the caller's transaction ends. */
async function readProvider(
  c: Queryable,
  tenantId: string,
  url: string,
  lock: boolean,
): Promise<OidcProviderRecord | undefined> {
  const [r] = (
    await c.query(
      `SELECT * FROM oidc_providers WHERE tenant_id = $1 AND url = $2${lock ? ' FOR UPDATE' : ''}`,
      [tenantId, url],
    )
  ).rows as Row[]
  return r && provider(r)
}

async function setClientIds(
  c: Queryable,
  tenantId: string,
  url: string,
  values: readonly string[],
): Promise<void> {
  await c.query('UPDATE oidc_providers SET client_ids = $1 WHERE tenant_id = $2 AND url = $3', [
    JSON.stringify(values),
    tenantId,
    url,
  ])
}

/** A JSON array of strings as stored; anything else reads as empty (it never is: we wrote it). */
function strings(v: unknown): string[] {
  const parsed: unknown = JSON.parse(text(v))
  return Array.isArray(parsed) ? parsed.filter((x): x is string => typeof x === 'string') : []
}

function provider(r: Row): OidcProviderRecord {
  return {
    tenantId: text(r.tenant_id),
    url: text(r.url),
    clientIds: strings(r.client_ids),
    thumbprints: strings(r.thumbprints),
    jwks: typeof r.jwks === 'string' ? r.jwks : null,
    createdAt: int(r.created_at),
  }
}
