/**
 * The request-context stage: the condition keys AWS would set for a request (where it came
 * from, how it was signed, what it asks for), computed once per request. Resource ARNs come
 * from the operation's declaration (operation.ts).
 */
import type { IncomingMessage } from 'node:http'
import type { TLSSocket } from 'node:tls'
import type { Caller, Conditions } from './operation.ts'
import { header } from './protocols/rest-xml.ts'

/** The condition keys AWS sets for every request, whatever its service. */
export function requestConditions(
  req: IncomingMessage,
  c: Caller,
  now: number,
  region: string,
): Record<string, string | string[]> {
  const socket = req.socket as Partial<TLSSocket>
  const tls = typeof socket.getProtocol === 'function' ? socket.getProtocol() : null
  const ip = (req.socket.remoteAddress ?? '').replace(/^::ffff:/, '')
  const out: Record<string, string | string[]> = {
    'aws:SecureTransport': tls === null ? 'false' : 'true',
    'aws:CurrentTime': new Date(now).toISOString(),
    'aws:EpochTime': String(Math.floor(now / 1000)),
    'aws:RequestedRegion': region,
  }
  if (ip !== '') out['aws:SourceIp'] = ip
  // https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html
  const claims = c.session?.claims
  if (c.session !== undefined && claims !== undefined) {
    out['aws:PrincipalType'] =
      claims.kind === 'role' ? 'AssumedRole' : claims.kind === 'user' ? 'User' : 'FederatedUser'
    out['aws:PrincipalArn'] = c.session.principalArn
    if (c.userId !== undefined) out['aws:userid'] = c.userId
    if (c.userName !== undefined) out['aws:username'] = c.userName
    out['aws:TokenIssueTime'] = new Date(claims.issuedAt).toISOString()
    // Temporary credentials always carry it; no session is made with MFA yet.
    out['aws:MultiFactorAuthPresent'] = 'false'
    if (claims.sourceIdentity !== undefined) out['aws:SourceIdentity'] = claims.sourceIdentity
  } else if (c.userName !== undefined && c.userId !== undefined) {
    out['aws:PrincipalType'] = 'User'
    out['aws:userid'] = c.userId
    out['aws:username'] = c.userName
  } else out['aws:PrincipalType'] = 'Anonymous'
  for (const [k, v] of c.principalTags ?? []) out[`aws:PrincipalTag/${k}`] = v
  // Every tenant is an account of the one organization: a signed caller is in it, and so is
  // every resource (data-perimeter policies test these).
  const org = c.guardrails?.ids.organizationId
  if (org !== undefined) {
    if (c.tenant !== undefined) out['aws:PrincipalOrgID'] = org
    out['aws:ResourceOrgID'] = org
  }
  return out
}

/** The condition keys AWS sets for an S3 request: the common ones and S3's own. */
export function s3Conditions(
  req: IncomingMessage,
  c: Caller,
  query: ReadonlyMap<string, string>,
  now: number,
  region: string,
): Conditions {
  const out = requestConditions(req, c, now, region)
  const socket = req.socket as Partial<TLSSocket>
  const tls = typeof socket.getProtocol === 'function' ? socket.getProtocol() : null
  if (tls !== null) out['s3:TlsVersion'] = tls.replace(/^TLSv/, '')
  if (c.auth !== undefined) {
    out['s3:signatureversion'] = 'AWS4-HMAC-SHA256'
    out['s3:authType'] = c.auth.kind === 'header' ? 'REST-HEADER' : 'REST-QUERY-STRING'
    out['s3:signatureAge'] = String(
      Math.max(
        0,
        now -
          (Date.parse(
            c.auth.amzDate.replace(
              /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/,
              '$1-$2-$3T$4:$5:$6Z',
            ),
          ) || now),
      ),
    )
  }
  for (const [k, name] of [
    ['prefix', 's3:prefix'],
    ['delimiter', 's3:delimiter'],
    ['max-keys', 's3:max-keys'],
    ['versionId', 's3:VersionId'],
  ] as const) {
    const v = query.get(k)
    if (v !== undefined) out[name] = v
  }
  const sse = header(req, 'x-amz-server-side-encryption')
  if (sse !== undefined) out['s3:x-amz-server-side-encryption'] = sse
  const sseKey = header(req, 'x-amz-server-side-encryption-aws-kms-key-id')
  if (sseKey !== undefined) out['s3:x-amz-server-side-encryption-aws-kms-key-id'] = sseKey
  return out
}
