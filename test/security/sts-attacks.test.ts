/**
 * Attacks on STS as the issue lists them, each refused with AWS's error code and recorded:
 * parameters smuggled or misspelt, oversized requests, sessions stretched past their limits,
 * sessions minting sessions, revoked sessions, roles of another account, and forged web
 * identity tokens.
 * https://docs.aws.amazon.com/STS/latest/APIReference/CommonErrors.html
 * https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRoleWithWebIdentity.html
 * https://docs.aws.amazon.com/IAM/latest/UserGuide/id_credentials_temp_request.html
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { DecisionView } from '../../src/audit/read.ts'
import { after, before, describe, it } from 'node:test'
import { signedFormHeaders, type SigningKeys } from '../../src/api/sign.ts'
import { REVOKE_POLICY_NAME, revokeOlderSessionsPolicy } from '../../src/sts/revoke.ts'
import type { RoleRecord, TenantRecord } from '../../src/meta/identity.ts'
import { SignatureV4 } from '@smithy/signature-v4'
import { ListBucketsCommand, S3Client } from '@aws-sdk/client-s3'
import { Sha256, startInProcess, type InProcess } from '../api/inprocess.ts'

const dir = mkdtempSync(join(tmpdir(), 'sr-sts-attacks-'))
let g: InProcess
let tenant: TenantRecord
let other: TenantRecord
let role: RoleRecord
let admin: SigningKeys
const decisions: DecisionView[] = []
const doc = (Statement: object[]) => JSON.stringify({ Version: '2012-10-17', Statement })

before(async () => {
  g = await startInProcess(dir, { decisions })
  const t = await g.app.identity.findTenant('acme')
  assert.ok(t)
  tenant = t
  other = await g.app.identity.createTenant('rival')
  ;({ role } = await g.app.identity.createRole(tenant, {
    name: 'trainer',
    trustPolicy: doc([
      {
        Effect: 'Allow',
        Principal: { AWS: tenant.id },
        Action: ['sts:AssumeRole', 'sts:TagSession'],
      },
    ]),
  }))
  await g.app.identity.putRolePolicy(
    role,
    'chain',
    doc([{ Effect: 'Allow', Action: ['sts:AssumeRole', 's3:ListAllMyBuckets'], Resource: '*' }]),
  )
  admin = { id: g.admin.id, secret: g.admin.secret }
})
after(async () => {
  await g.close()
  rmSync(dir, { recursive: true, force: true })
})

/** Sends a form to STS (signed unless `keys` is undefined); answers `STATUS Code`. */
async function sts(keys: SigningKeys | undefined, form: string): Promise<string> {
  const url = new URL(`${g.running.url}/`)
  const headers =
    keys === undefined
      ? { 'content-type': 'application/x-www-form-urlencoded' }
      : signedFormHeaders(keys, { host: url.host, region: 'us-east-1', service: 'sts', body: form })
  const r = await fetch(url, { method: 'POST', headers, body: form })
  const text = await r.text()
  return `${String(r.status)} ${/<Code>([^<]*)<\/Code>/.exec(text)?.[1] ?? (r.status === 200 ? 'ok' : text.slice(0, 80))}`
}

/** The session credentials of an AssumeRole answer. */
async function assumed(keys: SigningKeys, form: string): Promise<SigningKeys> {
  const url = new URL(`${g.running.url}/`)
  const headers = signedFormHeaders(keys, {
    host: url.host,
    region: 'us-east-1',
    service: 'sts',
    body: form,
  })
  const text = await (await fetch(url, { method: 'POST', headers, body: form })).text()
  const pick = (tag: string) => new RegExp(`<${tag}>([^<]*)</${tag}>`).exec(text)?.[1] ?? ''
  return { id: pick('AccessKeyId'), secret: pick('SecretAccessKey'), token: pick('SessionToken') }
}

const arn = () => `arn:aws:iam::${tenant.id}:role/trainer`
const assume = (extra = '', name = 's1') =>
  `Action=AssumeRole&Version=2011-06-15&RoleSessionName=${name}&RoleArn=${encodeURIComponent(arn())}${extra}`

describe('STS attacks', () => {
  it('a misspelt session-policy parameter is refused, not ignored (a session wider than asked)', async () => {
    assert.equal(await sts(admin, assume('&policy=%7B%7D')), '400 InvalidParameterValue')
  })

  it('a parameter given twice is refused (which value counts is not left to chance)', async () => {
    assert.equal(
      await sts(
        admin,
        `${assume()}&RoleArn=${encodeURIComponent(`arn:aws:iam::${other.id}:role/x`)}`,
      ),
      '400 InvalidParameterValue',
    )
  })

  it('malformed percent-encoding and a body over 64 KiB are refused, nothing crashes', async () => {
    assert.equal(
      await sts(admin, 'Action=GetCallerIdentity&Version=2011-06-15&X=%zz'),
      '400 InvalidParameterValue',
    )
    assert.equal(
      await sts(admin, `${assume()}&Policy=${'a'.repeat(70_000)}`),
      '400 ValidationError',
    )
  })

  it('an oversized session policy and an illegal session name are refused', async () => {
    const big = encodeURIComponent(
      doc([
        { Effect: 'Allow', Action: 's3:GetObject', Resource: `arn:aws:s3:::${'b'.repeat(2100)}` },
      ]),
    )
    assert.equal(await sts(admin, assume(`&Policy=${big}`)), '400 ValidationError')
    assert.equal(await sts(admin, assume('', 'a%2Fb')), '400 ValidationError')
    assert.equal(await sts(admin, assume('', 'x')), '400 ValidationError')
  })

  it('DurationSeconds out of range, and a role chain past one hour, are refused', async () => {
    assert.equal(await sts(admin, assume('&DurationSeconds=899')), '400 ValidationError')
    assert.equal(await sts(admin, assume('&DurationSeconds=3601')), '400 ValidationError')
    assert.equal(await sts(admin, assume('&DurationSeconds=1e3')), '400 ValidationError')
    const session = await assumed(admin, assume())
    assert.equal(
      await sts(session, assume('&DurationSeconds=3601', 'chained')),
      '400 ValidationError',
    )
    assert.equal(await sts(session, assume('', 'chained')), '200 ok')
  })

  it('an unsigned AssumeRole is refused, and a role of another account that does not trust the caller', async () => {
    assert.equal(await sts(undefined, assume()), '403 MissingAuthenticationToken')
    const theirs = await g.app.identity.createRole(other, {
      name: 'theirs',
      trustPolicy: doc([
        { Effect: 'Allow', Principal: { AWS: other.id }, Action: 'sts:AssumeRole' },
      ]),
    })
    const before = decisions.length
    assert.equal(
      await sts(
        admin,
        `Action=AssumeRole&Version=2011-06-15&RoleSessionName=x1&RoleArn=${encodeURIComponent(`arn:aws:iam::${other.id}:role/${theirs.role.name}`)}`,
      ),
      '403 AccessDenied',
    )
    assert.deepEqual(
      decisions.slice(before).map((d) => [d.action, d.decision]),
      [['sts:AssumeRole', 'ImplicitDeny']],
    )
  })

  it('a GetSessionToken session mints no further user sessions and calls no IAM action', async () => {
    const url = new URL(`${g.running.url}/`)
    const form = 'Action=GetSessionToken&Version=2011-06-15'
    const headers = signedFormHeaders(admin, {
      host: url.host,
      region: 'us-east-1',
      service: 'sts',
      body: form,
    })
    const text = await (await fetch(url, { method: 'POST', headers, body: form })).text()
    const pick = (tag: string) => new RegExp(`<${tag}>([^<]*)</${tag}>`).exec(text)?.[1] ?? ''
    const s: SigningKeys = {
      id: pick('AccessKeyId'),
      secret: pick('SecretAccessKey'),
      token: pick('SessionToken'),
    }
    assert.equal(await sts(s, form), '403 AccessDenied')
    assert.equal(
      await sts(s, 'Action=GetFederationToken&Version=2011-06-15&Name=fed'),
      '403 AccessDenied',
    )
    const iam = 'Action=ListUsers&Version=2010-05-08'
    const iamHeaders = signedFormHeaders(s, {
      host: url.host,
      region: 'us-east-1',
      service: 'iam',
      body: iam,
    })
    const r = await fetch(url, { method: 'POST', headers: iamHeaders, body: iam })
    assert.equal(r.status, 403)
    assert.match(await r.text(), /<Code>AccessDenied<\/Code>/)
  })

  it('a revoked session is refused on its next request; a later one is not', async () => {
    const session = await assumed(admin, assume('', 'revoked'))
    const list = 'Action=AssumeRole&Version=2011-06-15'
    assert.equal(
      await sts(session, `${list}&RoleSessionName=ok1&RoleArn=${encodeURIComponent(arn())}`),
      '200 ok',
    )
    await new Promise((r) => setTimeout(r, 5))
    await g.app.identity.putRolePolicy(
      role,
      REVOKE_POLICY_NAME,
      revokeOlderSessionsPolicy(Date.now()),
    )
    try {
      assert.equal(
        await sts(session, `${list}&RoleSessionName=ok2&RoleArn=${encodeURIComponent(arn())}`),
        '403 AccessDenied',
      )
      await new Promise((r) => setTimeout(r, 5))
      const fresh = await assumed(admin, assume('', 'fresh'))
      assert.equal(
        await sts(fresh, `${list}&RoleSessionName=ok3&RoleArn=${encodeURIComponent(arn())}`),
        '200 ok',
      )
    } finally {
      await g.app.identity.putRolePolicy(
        role,
        REVOKE_POLICY_NAME,
        doc([{ Effect: 'Deny', Action: 'none:None', Resource: '*' }]),
      )
    }
  })

  it('a list with a gap (Tags.member.2 without .1) is refused, not silently dropped', async () => {
    assert.equal(
      await sts(admin, assume('&Tags.member.2.Key=team&Tags.member.2.Value=x')),
      '400 InvalidParameterValue',
    )
    assert.equal(
      await sts(admin, assume('&TransitiveTagKeys.member.99999999999999999999=a')),
      '400 InvalidParameterValue',
    )
  })

  it('a chained session carries its source identity only into a role that allows sts:SetSourceIdentity', async () => {
    const mk = (name: string, actions: string[]) =>
      g.app.identity.createRole(tenant, {
        name,
        trustPolicy: doc([{ Effect: 'Allow', Principal: { AWS: tenant.id }, Action: actions }]),
      })
    const { role: a } = await mk('sourced', ['sts:AssumeRole', 'sts:SetSourceIdentity'])
    await g.app.identity.putRolePolicy(
      a,
      'chain',
      doc([
        { Effect: 'Allow', Action: ['sts:AssumeRole', 'sts:SetSourceIdentity'], Resource: '*' },
      ]),
    )
    await mk('plain', ['sts:AssumeRole'])
    const s1 = await assumed(
      admin,
      `Action=AssumeRole&Version=2011-06-15&RoleSessionName=s1&SourceIdentity=alice&RoleArn=${encodeURIComponent(`arn:aws:iam::${tenant.id}:role/sourced`)}`,
    )
    const into = (name: string) =>
      `Action=AssumeRole&Version=2011-06-15&RoleSessionName=s2&RoleArn=${encodeURIComponent(`arn:aws:iam::${tenant.id}:role/${name}`)}`
    assert.equal(await sts(s1, into('plain')), '403 AccessDenied')
    assert.equal(await sts(s1, into('sourced')), '200 ok')
  })

  it('a federated session dies with its user: a user made again under the name does not revive it', async () => {
    const tenantRec = tenant
    const fed = await g.app.identity.createUser(tenantRec, 'fedu')
    await g.app.identity.putUserPolicy(
      fed,
      'fed',
      doc([{ Effect: 'Allow', Action: 'sts:GetFederationToken', Resource: '*' }]),
    )
    const k = await g.app.identity.createAccessKey(fed)
    const form = `Action=GetFederationToken&Version=2011-06-15&Name=fedsession&Policy=${encodeURIComponent(doc([{ Effect: 'Allow', Action: 's3:*', Resource: '*' }]))}`
    const s = await assumed({ id: k.accessKeyId, secret: k.secretAccessKey }, form)
    const list = () =>
      new S3Client({
        endpoint: g.running.url,
        region: 'us-east-1',
        forcePathStyle: true,
        maxAttempts: 1,
        credentials: { accessKeyId: s.id, secretAccessKey: s.secret, sessionToken: s.token ?? '' },
      })
        .send(new ListBucketsCommand({}))
        .then(
          () => 'ok',
          (e: unknown) => (e instanceof Error ? e.name : String(e)),
        )
    assert.equal(await list(), 'AccessDenied')
    for (const key of await g.app.identity.listAccessKeys(fed))
      await g.app.identity.deleteAccessKey(key.id)
    await g.app.identity.deleteUserPolicy(fed, 'fed')
    await g.app.identity.deleteUser(fed)
    const again = await g.app.identity.createUser(tenantRec, 'fedu')
    await g.app.identity.putUserPolicy(
      again,
      'all',
      doc([{ Effect: 'Allow', Action: '*', Resource: '*' }]),
    )
    assert.equal(await list(), 'AccessDenied')
  })

  it('a presigned GetCallerIdentity (no body) is accepted; a body under UNSIGNED-PAYLOAD is not', async () => {
    const url = new URL(`${g.running.url}/`)
    const signer = new SignatureV4({
      service: 'sts',
      region: 'us-east-1',
      credentials: { accessKeyId: admin.id, secretAccessKey: admin.secret },
      sha256: Sha256,
    })
    const presigned = await signer.presign(
      {
        method: 'GET',
        protocol: 'http:',
        hostname: url.hostname,
        port: Number(url.port),
        path: '/',
        query: { Action: 'GetCallerIdentity', Version: '2011-06-15' },
        headers: { host: url.host },
      },
      { expiresIn: 60 },
    )
    const q = new URLSearchParams(presigned.query as Record<string, string>).toString()
    const ok = await fetch(`${g.running.url}/?${q}`)
    assert.equal(ok.status, 200, await ok.clone().text())
    assert.match(await ok.text(), /<Arn>arn:aws:iam::\d{12}:user\/admin<\/Arn>/)
    const smuggled = await fetch(`${g.running.url}/?${q}`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'Extra=1',
    })
    assert.equal(smuggled.status, 403)
  })
})

describe('managed session policies (outside review)', () => {
  const probe = (session: SigningKeys, name: string) => sts(session, assume('', name))
  const withPolicy = (arn: string, name: string) =>
    assumed(admin, assume(`&PolicyArns.member.1.arn=${encodeURIComponent(arn)}`, name))
  const policyArnOf = (path: string, name: string) =>
    `arn:aws:iam::${tenant.id}:policy${path}${name}`
  const allow = (action: string) => doc([{ Effect: 'Allow', Action: action, Resource: '*' }])

  it('PolicyArns in any shape but PolicyArns.member.N.arn is refused, not read as no policy (a session wider than asked)', async () => {
    await g.app.identity.createPolicy(tenant, {
      name: 'shape',
      path: '/',
      description: '',
      document: allow('s3:ListAllMyBuckets'),
    })
    const at = encodeURIComponent(policyArnOf('/', 'shape'))
    for (const key of [
      'PolicyArns.1.arn',
      'PolicyArns.Member.1.arn',
      'PolicyArns.members.1.arn',
      'PolicyArns..member.1.arn',
      'PolicyArns.member.01.arn',
    ])
      assert.equal(await sts(admin, assume(`&${key}=${at}`)), '400 InvalidParameterValue', key)
    // A field the structure does not have is refused too, beside a good one.
    assert.equal(
      await sts(admin, assume(`&PolicyArns.member.1.arn=${at}&PolicyArns.member.1.Arn=${at}`)),
      '400 InvalidParameterValue',
    )
    assert.equal(
      await sts(admin, assume('&Tags.member.1.key=team&Tags.member.1.Value=a')),
      '400 InvalidParameterValue',
    )
    // The shape AWS defines works, and narrows: the session may not call AssumeRole.
    const session = await withPolicy(policyArnOf('/', 'shape'), 'shaped')
    assert.equal(await probe(session, 'probe1'), '403 AccessDenied')
  })

  it('a deleted session policy stays deleted: a policy made later under its name, on any path or the same ARN, is not it', async () => {
    const ro = await g.app.identity.createPolicy(tenant, {
      name: 'ReadOnly',
      path: '/secure/',
      description: '',
      document: allow('s3:ListAllMyBuckets'),
    })
    const session = await withPolicy(policyArnOf('/secure/', 'ReadOnly'), 'kept')
    assert.equal(await probe(session, 'probe2'), '403 AccessDenied')
    await g.app.identity.deletePolicy(ro)
    assert.equal(await probe(session, 'probe3'), '403 AccessDenied')
    // Another path, another case: the name alone must not match it.
    const other = await g.app.identity.createPolicy(tenant, {
      name: 'readonly',
      path: '/team-a/',
      description: '',
      document: allow('*'),
    })
    assert.equal(await probe(session, 'probe4'), '403 AccessDenied')
    await g.app.identity.deletePolicy(other)
    // The same ARN made again, wider: another policy (another unique id).
    await g.app.identity.createPolicy(tenant, {
      name: 'ReadOnly',
      path: '/secure/',
      description: '',
      document: allow('*'),
    })
    assert.equal(await probe(session, 'probe5'), '403 AccessDenied')
    // A session given the new one has it.
    const fresh = await withPolicy(policyArnOf('/secure/', 'ReadOnly'), 'fresh-ro')
    assert.equal(await probe(fresh, 'probe6'), '200 ok')
  })

  it('a managed session policy over 2,048 characters (an inline one’s limit) still works', async () => {
    const statements = [
      { Effect: 'Allow', Action: 'sts:AssumeRole', Resource: '*' },
      ...Array.from({ length: 40 }, (_, i) => ({
        Sid: `Padding${String(i)}`,
        Effect: 'Allow',
        Action: 's3:GetObject',
        Resource: `arn:aws:s3:::bucket-${String(i)}/*`,
      })),
    ]
    const document = doc(statements)
    assert.ok(document.length > 2048 && document.length <= 6144, String(document.length))
    await g.app.identity.createPolicy(tenant, { name: 'big', path: '/', description: '', document })
    const session = await withPolicy(policyArnOf('/', 'big'), 'big')
    assert.equal(await probe(session, 'probe7'), '200 ok')
  })

  it('a transitive tag cannot be set again in a chained session, whatever the case of its key', async (t) => {
    // The role's sessions may tag the sessions they chain to (sts:TagSession).
    await g.app.identity.putRolePolicy(role, 'tag', allow('sts:TagSession'))
    t.after(() => g.app.identity.deleteRolePolicy(role, 'tag'))
    const first = await assumed(
      admin,
      assume(
        '&Tags.member.1.Key=team&Tags.member.1.Value=a&TransitiveTagKeys.member.1=TEAM',
        'tagged',
      ),
    )
    assert.equal(
      await sts(first, assume('&Tags.member.1.Key=team&Tags.member.1.Value=b', 'retagged')),
      '400 InvalidParameterValue',
    )
    assert.equal(await sts(first, assume('', 'inherits')), '200 ok')
  })
})
