/**
 * OpenID Connect identity providers of a tenant, as IAM keeps them: an issuer URL (https, a
 * host and an optional path, no query), the audiences (client ids) it is trusted for, the
 * thumbprints of its certificates, and — for sites with no route to the issuer — its JWKS
 * inline. ARN: arn:aws:iam::ACCOUNT:oidc-provider/HOST/PATH
 * (https://docs.aws.amazon.com/IAM/latest/APIReference/API_CreateOpenIDConnectProvider.html).
 */
import type { Clock } from '../clock.ts'
import { StrongroomError } from '../errors.ts'
import type { TenantRecord } from '../meta/identity.ts'
import type { OidcProviderRecord, OidcStore } from '../meta/oidc.ts'

/** Audiences one provider may have, thumbprints it may have (IAM's quotas). */
export const MAX_CLIENT_IDS = 100
export const MAX_THUMBPRINTS = 5

/** What AssumeRoleWithWebIdentity needs of a provider. */
export interface OidcProvider {
  readonly arn: string
  /** The issuer as tokens name it: `https://host/path`. */
  readonly url: string
  readonly clientIds: readonly string[]
  readonly thumbprints: readonly string[]
  /** The issuer's JWKS as JSON, where it is kept inline (air-gapped sites). */
  readonly jwks?: string
  readonly createdAt: number
}

/**
 * The stored form of an issuer URL (`https://Host/a/` → `host/a`); INVALID_PARAMETER_VALUE for
 * anything but an https URL without credentials, query or fragment. A port is kept (IAM asks
 * for none, but a self-hosted issuer may need one).
 */
export function issuerKey(url: string): string {
  let u: URL
  try {
    u = new URL(url)
  } catch {
    throw badUrl(url)
  }
  if (
    u.protocol !== 'https:' ||
    u.username !== '' ||
    u.password !== '' ||
    u.search !== '' ||
    u.hash !== '' ||
    url.includes('?') ||
    url.includes('#') ||
    url.length > 255
  )
    throw badUrl(url)
  return `${u.host}${u.pathname}`.replace(/\/+$/, '')
}

const badUrl = (url: string) =>
  new StrongroomError(
    'INVALID_PARAMETER_VALUE',
    `The URL ${url.slice(0, 255)} is not valid: an OpenID Connect provider is https://HOST or https://HOST/PATH, without a query`,
  )

/** A thumbprint: 40 hex digits, kept in lower case. */
export function thumbprint(t: string): string {
  if (!/^[0-9a-fA-F]{40}$/.test(t))
    throw new StrongroomError(
      'VALIDATION',
      `1 validation error detected: Value '${t.slice(0, 64)}' at 'thumbprintList' failed to satisfy constraint: Member must have length 40 and be hexadecimal`,
    )
  return t.toLowerCase()
}

export function oidcArn(p: Pick<OidcProviderRecord, 'tenantId' | 'url'>): string {
  return `arn:aws:iam::${p.tenantId}:oidc-provider/${p.url}`
}

export class OidcService {
  private readonly store: OidcStore
  private readonly clock: Clock

  constructor(store: OidcStore, clock: Clock) {
    this.store = store
    this.clock = clock
  }

  /** ENTITY_EXISTS when the tenant trusts that issuer already; LIMIT_EXCEEDED past IAM's quotas. */
  async create(
    tenant: TenantRecord,
    p: {
      readonly url: string
      readonly clientIds: readonly string[]
      readonly thumbprints: readonly string[]
      readonly jwks?: string | undefined
    },
  ): Promise<OidcProviderRecord> {
    if (p.clientIds.length > MAX_CLIENT_IDS || p.thumbprints.length > MAX_THUMBPRINTS)
      throw new StrongroomError(
        'LIMIT_EXCEEDED',
        `An OpenID Connect provider has at most ${MAX_CLIENT_IDS} client ids and ${MAX_THUMBPRINTS} thumbprints`,
      )
    if (p.jwks !== undefined) checkJwks(p.jwks)
    const record: OidcProviderRecord = {
      tenantId: tenant.id,
      url: issuerKey(p.url),
      clientIds: [...new Set(p.clientIds)],
      thumbprints: [...new Set(p.thumbprints.map(thumbprint))],
      jwks: p.jwks ?? null,
      createdAt: this.clock.now(),
    }
    await this.store.createOidcProvider(record)
    return record
  }

  /** The tenant's provider this ARN names; NO_SUCH_ENTITY for any other (another account's too). */
  async byArn(tenant: TenantRecord, arn: string): Promise<OidcProviderRecord> {
    const m = /^arn:aws:iam::(\d{12}):oidc-provider\/(.{1,255})$/.exec(arn)
    const p =
      m?.[1] === tenant.id ? await this.store.getOidcProvider(tenant.id, m[2] ?? '') : undefined
    if (p === undefined)
      throw new StrongroomError(
        'NO_SUCH_ENTITY',
        `OpenIDConnect Provider not found for arn ${arn.slice(0, 300)}`,
      )
    return p
  }

  /** The provider trusted for tokens of this issuer (`iss`), if the tenant has one. */
  async byIssuer(tenantId: string, issuer: string): Promise<OidcProvider | undefined> {
    let key: string
    try {
      key = issuerKey(issuer)
    } catch {
      return undefined
    }
    const p = await this.store.getOidcProvider(tenantId, key)
    return (
      p && {
        arn: oidcArn(p),
        url: `https://${p.url}`,
        clientIds: p.clientIds,
        thumbprints: p.thumbprints,
        ...(p.jwks === null ? {} : { jwks: p.jwks }),
        createdAt: p.createdAt,
      }
    )
  }

  list(tenant: TenantRecord): Promise<OidcProviderRecord[]> {
    return this.store.listOidcProviders(tenant.id)
  }

  async delete(p: OidcProviderRecord): Promise<void> {
    await this.store.deleteOidcProvider(p.tenantId, p.url)
  }

  async addClientId(p: OidcProviderRecord, clientId: string): Promise<void> {
    if (!(await this.store.addOidcClientId(p.tenantId, p.url, clientId, MAX_CLIENT_IDS)))
      throw gone(p)
  }

  async removeClientId(p: OidcProviderRecord, clientId: string): Promise<void> {
    if (!(await this.store.removeOidcClientId(p.tenantId, p.url, clientId))) throw gone(p)
  }

  async setThumbprints(p: OidcProviderRecord, thumbprints: readonly string[]): Promise<void> {
    if (thumbprints.length > MAX_THUMBPRINTS)
      throw new StrongroomError(
        'LIMIT_EXCEEDED',
        `An OpenID Connect provider has at most ${MAX_THUMBPRINTS} thumbprints`,
      )
    const t = [...new Set(thumbprints.map(thumbprint))]
    if (!(await this.store.setOidcThumbprints(p.tenantId, p.url, t))) throw gone(p)
  }
}

const gone = (p: OidcProviderRecord) =>
  new StrongroomError('NO_SUCH_ENTITY', `OpenIDConnect Provider not found for arn ${oidcArn(p)}`)

/** An inline JWKS must be a JSON object with a `keys` array (what a JWKS endpoint serves). */
function checkJwks(jwks: string): void {
  let v: unknown
  try {
    v = JSON.parse(jwks)
  } catch {
    v = undefined
  }
  if (typeof v !== 'object' || v === null || !Array.isArray((v as { keys?: unknown }).keys))
    throw new StrongroomError(
      'INVALID_PARAMETER_VALUE',
      'an inline JWKS is a JSON object with a `keys` array, as the issuer’s jwks_uri serves it',
    )
}
