/**
 * OpenID Connect identity providers through the AWS SDK for JavaScript's IAM client, and the
 * lookup AssumeRoleWithWebIdentity makes (IdentityService.oidcProviderByIssuer).
 * https://docs.aws.amazon.com/IAM/latest/APIReference/API_CreateOpenIDConnectProvider.html (https URL, path, no query; 100 client ids; 5 thumbprints)
 * https://docs.aws.amazon.com/IAM/latest/APIReference/API_GetOpenIDConnectProvider.html (Url without its scheme)
 * https://docs.aws.amazon.com/IAM/latest/APIReference/API_AddClientIDToOpenIDConnectProvider.html
 * https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_identifiers.html (arn:aws:iam::ACCOUNT:oidc-provider/HOST/PATH)
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import {
  AddClientIDToOpenIDConnectProviderCommand,
  CreateOpenIDConnectProviderCommand,
  DeleteOpenIDConnectProviderCommand,
  GetOpenIDConnectProviderCommand,
  ListOpenIDConnectProvidersCommand,
  ListOpenIDConnectProviderTagsCommand,
  RemoveClientIDFromOpenIDConnectProviderCommand,
  UpdateOpenIDConnectProviderThumbprintCommand,
  type IAMClient,
} from '@aws-sdk/client-iam'
import { harness, outcome, type Harness } from './client.ts'

let h: Harness
let admin: IAMClient
let arn: string
const THUMB = '9e99a48a9960b14926bb7f3b02e22da2b0ab7280'

before(async () => {
  h = await harness('iam-oidc')
  admin = h.iam(h.g.admin)
})
after(() => h.close())

describe('OpenID Connect providers', () => {
  it('creates one from an issuer URL: its ARN is the host and path', async () => {
    const r = await admin.send(
      new CreateOpenIDConnectProviderCommand({
        Url: 'https://IDP.example.com/realms/ml/',
        ClientIDList: ['sts.amazonaws.com'],
        ThumbprintList: [THUMB.toUpperCase()],
        Tags: [{ Key: 'team', Value: 'ml' }],
      }),
    )
    arn = `arn:aws:iam::${h.account}:oidc-provider/idp.example.com/realms/ml`
    assert.equal(r.OpenIDConnectProviderArn, arn)
    assert.deepEqual(r.Tags, [{ Key: 'team', Value: 'ml' }])
    const g = await admin.send(
      new GetOpenIDConnectProviderCommand({ OpenIDConnectProviderArn: arn }),
    )
    assert.equal(g.Url, 'idp.example.com/realms/ml')
    assert.deepEqual(g.ClientIDList, ['sts.amazonaws.com'])
    assert.deepEqual(g.ThumbprintList, [THUMB])
    assert.ok(g.CreateDate instanceof Date)
    assert.deepEqual(
      (
        await admin.send(
          new ListOpenIDConnectProviderTagsCommand({ OpenIDConnectProviderArn: arn }),
        )
      ).Tags,
      [{ Key: 'team', Value: 'ml' }],
    )
    assert.equal(
      await outcome(
        admin.send(
          new CreateOpenIDConnectProviderCommand({ Url: 'https://idp.example.com/realms/ml' }),
        ),
      ),
      '409 EntityAlreadyExistsException: Provider with url https://idp.example.com/realms/ml already exists.',
    )
  })

  it('refuses what is not an https issuer, and malformed thumbprints', async () => {
    for (const Url of ['http://idp.example.com', 'https://idp.example.com/?a=1', 'idp.example.com'])
      assert.match(
        await outcome(admin.send(new CreateOpenIDConnectProviderCommand({ Url }))),
        /^400 InvalidParameterValue: The URL .* is not valid: /,
        Url,
      )
    assert.equal(
      await outcome(
        admin.send(
          new CreateOpenIDConnectProviderCommand({
            Url: 'https://x.example.com',
            ThumbprintList: ['abc'],
          }),
        ),
      ),
      "400 ValidationError: 1 validation error detected: Value 'abc' at 'thumbprintList' failed to satisfy constraint: Member must have length 40 and be hexadecimal",
    )
  })

  it('adds and removes audiences, replaces thumbprints, lists and deletes', async () => {
    await admin.send(
      new AddClientIDToOpenIDConnectProviderCommand({
        OpenIDConnectProviderArn: arn,
        ClientID: 'ci',
      }),
    )
    await admin.send(
      new RemoveClientIDFromOpenIDConnectProviderCommand({
        OpenIDConnectProviderArn: arn,
        ClientID: 'sts.amazonaws.com',
      }),
    )
    const other = 'b'.repeat(40)
    await admin.send(
      new UpdateOpenIDConnectProviderThumbprintCommand({
        OpenIDConnectProviderArn: arn,
        ThumbprintList: [other],
      }),
    )
    const g = await admin.send(
      new GetOpenIDConnectProviderCommand({ OpenIDConnectProviderArn: arn }),
    )
    assert.deepEqual(g.ClientIDList, ['ci'])
    assert.deepEqual(g.ThumbprintList, [other])
    const found = await h.g.app.identity.oidcProviderByIssuer(
      h.account,
      'https://idp.example.com/realms/ml',
    )
    assert.deepEqual(found && { ...found, createdAt: 0 }, {
      arn,
      url: 'https://idp.example.com/realms/ml',
      clientIds: ['ci'],
      thumbprints: [other],
      createdAt: 0,
    })
    assert.equal(
      await h.g.app.identity.oidcProviderByIssuer(h.account, 'https://other.example.com'),
      undefined,
    )
    assert.equal(
      await h.g.app.identity.oidcProviderByIssuer(
        '999999999999',
        'https://idp.example.com/realms/ml',
      ),
      undefined,
    )
    assert.deepEqual(
      (await admin.send(new ListOpenIDConnectProvidersCommand({}))).OpenIDConnectProviderList,
      [{ Arn: arn }],
    )
    await admin.send(new DeleteOpenIDConnectProviderCommand({ OpenIDConnectProviderArn: arn }))
    assert.equal(
      await outcome(
        admin.send(new GetOpenIDConnectProviderCommand({ OpenIDConnectProviderArn: arn })),
      ),
      `404 NoSuchEntityException: OpenIDConnect Provider not found for arn ${arn}`,
    )
  })

  it("keeps an air-gapped site's JWKS inline, and finds another account's provider for no one", async () => {
    const t = await h.g.app.identity.findTenant('acme')
    assert.ok(t)
    const jwks = '{"keys":[{"kty":"RSA","kid":"k1","n":"AQAB","e":"AQAB"}]}'
    await h.g.app.identity.oidc.create(t, {
      url: 'https://kubernetes.default.svc',
      clientIds: ['strongroom'],
      thumbprints: [],
      jwks,
    })
    assert.equal(
      (await h.g.app.identity.oidcProviderByIssuer(t.id, 'https://kubernetes.default.svc'))?.jwks,
      jwks,
    )
    await assert.rejects(
      h.g.app.identity.oidc.create(t, {
        url: 'https://x.example.com',
        clientIds: [],
        thumbprints: [],
        jwks: '[]',
      }),
      /an inline JWKS is a JSON object with a `keys` array/,
    )
    const other = await h.g.app.identity.createTenant('other')
    assert.equal(
      await outcome(
        admin.send(
          new GetOpenIDConnectProviderCommand({
            OpenIDConnectProviderArn: `arn:aws:iam::${other.id}:oidc-provider/kubernetes.default.svc`,
          }),
        ),
      ),
      `404 NoSuchEntityException: OpenIDConnect Provider not found for arn arn:aws:iam::${other.id}:oidc-provider/kubernetes.default.svc`,
    )
    assert.equal(
      await outcome(h.iam(h.g.nobody).send(new ListOpenIDConnectProvidersCommand({}))),
      `403 AccessDenied: User: arn:aws:iam::${h.account}:user/nobody is not authorized to perform: iam:ListOpenIDConnectProviders on resource: *`,
    )
  })
})
