/**
 * OidcStore: the OpenID Connect identity providers a tenant trusts (AssumeRoleWithWebIdentity
 * accepts their tokens): the issuer, the audiences (client ids) accepted, the thumbprints of its
 * TLS certificates and, for sites without a route to the issuer, its JWKS inline.
 */

export interface OidcProviderRecord {
  readonly tenantId: string
  /** The issuer without its scheme, host in lower case, no trailing slash: `token.example.com/a`. */
  readonly url: string
  /** Audiences accepted, in the order added. */
  readonly clientIds: readonly string[]
  /** Hex SHA-1 thumbprints (40 lower-case digits) of the issuer's certificates. */
  readonly thumbprints: readonly string[]
  /** The issuer's JSON Web Key Set as JSON, for sites that cannot fetch it; null to fetch it. */
  readonly jwks: string | null
  readonly createdAt: number
}

export interface OidcStore {
  /** ENTITY_EXISTS when the tenant has a provider of that URL. */
  createOidcProvider(provider: OidcProviderRecord): Promise<void>
  getOidcProvider(tenantId: string, url: string): Promise<OidcProviderRecord | undefined>
  /** By URL. */
  listOidcProviders(tenantId: string): Promise<OidcProviderRecord[]>
  /** Deletes it and its tags; false when there is none. */
  deleteOidcProvider(tenantId: string, url: string): Promise<boolean>
  /**
   * Adds an audience (adding it again changes nothing); false when there is no such provider;
   * LIMIT_EXCEEDED, writing nothing, past `max`.
   */
  addOidcClientId(tenantId: string, url: string, clientId: string, max: number): Promise<boolean>
  /** Removes an audience (one it does not have is ignored); false when there is no such provider. */
  removeOidcClientId(tenantId: string, url: string, clientId: string): Promise<boolean>
  /** Replaces the thumbprints; false when there is no such provider. */
  setOidcThumbprints(
    tenantId: string,
    url: string,
    thumbprints: readonly string[],
  ): Promise<boolean>
}
