/**
 * Whatever a client sends the IAM API, it gets one of IAM's error codes, never a 500: raw
 * query-protocol requests with missing, malformed, oversized and out-of-range parameters,
 * each answered with the code IAM uses for it.
 * https://docs.aws.amazon.com/IAM/latest/APIReference/CommonErrors.html
 */
import assert from 'node:assert/strict'
import { after, before, it } from 'node:test'
import { signHeaders, type Creds } from '../api/inprocess.ts'
import { harness, type Harness } from './client.ts'

let h: Harness

before(async () => {
  h = await harness('iam-bad-input')
})
after(() => h.close())

async function post(c: Creds, form: string): Promise<string> {
  const url = new URL(`${h.g.running.url}/`)
  const body = Buffer.from(`Version=2010-05-08&${form}`)
  const base = { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' }
  const headers = await signHeaders(c, 'POST', url, body, base, 'iam')
  const r = await fetch(url, { method: 'POST', headers, body })
  const text = await r.text()
  return `${String(r.status)} ${/<Code>([^<]*)<\/Code>/.exec(text)?.[1] ?? ''}`
}

const TRUST = encodeURIComponent(
  JSON.stringify({
    Version: '2012-10-17',
    Statement: [
      { Effect: 'Allow', Principal: { Service: 'x.amazonaws.com' }, Action: 'sts:AssumeRole' },
    ],
  }),
)

it('answers each malformed request with IAM’s code for it', async () => {
  const cases: [string, string][] = [
    ['Action=CreateRole&RoleName=r', '400 MissingParameter'],
    ['Action=CreateRole&AssumeRolePolicyDocument=' + TRUST, '400 MissingParameter'],
    ['Action=CreateRole&RoleName=&AssumeRolePolicyDocument=' + TRUST, '400 ValidationError'],
    ['Action=CreateRole&RoleName=r&AssumeRolePolicyDocument=', '400 ValidationError'],
    ['Action=CreateRole&RoleName=r&AssumeRolePolicyDocument=%7B', '400 MalformedPolicyDocument'],
    [
      `Action=CreateRole&RoleName=r&MaxSessionDuration=abc&AssumeRolePolicyDocument=${TRUST}`,
      '400 ValidationError',
    ],
    [
      `Action=CreateRole&RoleName=r&MaxSessionDuration=99999999999&AssumeRolePolicyDocument=${TRUST}`,
      '400 ValidationError',
    ],
    [
      `Action=CreateRole&RoleName=r&Path=%2F%00%2F&AssumeRolePolicyDocument=${TRUST}`,
      '400 ValidationError',
    ],
    [
      // A snowman: outside the description's characters.
      `Action=CreateRole&RoleName=r&Description=%E2%98%83&AssumeRolePolicyDocument=${TRUST}`,
      '400 ValidationError',
    ],
    [
      `Action=CreateRole&RoleName=r&Tags.member.1.Value=v&AssumeRolePolicyDocument=${TRUST}`,
      '400 ValidationError',
    ],
    [
      `Action=CreateRole&RoleName=r&Tags.member.2.Key=k&AssumeRolePolicyDocument=${TRUST}`,
      '400 InvalidParameterValue',
    ],
    [
      `Action=CreateRole&RoleName=r&RoleNme=x&AssumeRolePolicyDocument=${TRUST}`,
      '400 InvalidParameterValue',
    ],
    ['Action=ListRoles&MaxItems=0', '400 ValidationError'],
    ['Action=ListRoles&MaxItems=-1', '400 ValidationError'],
    ['Action=ListRoles&Marker=%00%01', '400 ValidationError'],
    ['Action=ListRoles&Marker=not-a-marker', '200 '],
    ['Action=ListRoles&PathPrefix=ml', '400 ValidationError'],
    ['Action=GetRole&RoleName=ghost', '404 NoSuchEntity'],
    ['Action=GetPolicy&PolicyArn=x', '400 ValidationError'],
    [
      'Action=GetPolicy&PolicyArn=arn%3Aaws%3Aiam%3A%3Anotanaccount%3Apolicy%2Fp',
      '400 InvalidParameterValue',
    ],
    [
      'Action=GetPolicy&PolicyArn=arn%3Aaws%3Aiam%3A%3Aaws%3Apolicy%2FAdministratorAccess',
      '404 NoSuchEntity',
    ],
    [
      'Action=GetPolicyVersion&PolicyArn=arn%3Aaws%3Aiam%3A%3Aaws%3Apolicy%2FX&VersionId=v0',
      '400 ValidationError',
    ],
    ['Action=ListPolicies&Scope=Everything', '400 ValidationError'],
    ['Action=ListPolicies&OnlyAttached=yes', '400 ValidationError'],
    ['Action=UpdateAccessKey&AccessKeyId=short&Status=Active', '400 ValidationError'],
    [
      'Action=GetAccessKeyLastUsed&AccessKeyId=AKIA%2F%2F%2F%2F%2F%2F%2F%2F%2F%2F%2F%2F%2F%2F%2F%2F',
      '400 ValidationError',
    ],
    ['Action=CreateOpenIDConnectProvider&Url=ftp%3A%2F%2Fx', '400 InvalidParameterValue'],
    [
      'Action=GetOpenIDConnectProvider&OpenIDConnectProviderArn=arn%3Aaws%3Aiam%3A%3A1%3Aoidc-provider%2F',
      '404 NoSuchEntity',
    ],
    ['Action=CreateGroup&GroupName=' + 'g'.repeat(129), '400 ValidationError'],
    ['Action=Frobnicate', '400 InvalidAction'],
    [
      `Action=CreatePolicy&PolicyName=p&PolicyDocument=${'x'.repeat(70_000)}`,
      '400 ValidationError',
    ],
  ]
  const got: [string, string][] = []
  for (const [form] of cases) got.push([form.slice(0, 120), await post(h.g.admin, form)])
  assert.deepEqual(
    got,
    cases.map(([form, want]) => [form.slice(0, 120), want]),
  )
})
