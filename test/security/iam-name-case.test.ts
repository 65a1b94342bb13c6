/**
 * A Deny written on a user's ARN holds whatever case the request spells the user's name in:
 * IAM names are found regardless of case, so the decision is on the stored user's ARN (found by
 * an outside review: UserName=ADMIN slipped past a Deny on user/admin, and a user could lift its
 * own Deny by spelling itself DEV).
 * https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html#reference_iam-quotas-names
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import {
  CreateAccessKeyCommand,
  DeleteUserPolicyCommand,
  ListAccessKeysCommand,
  PutUserPolicyCommand,
  SimulatePrincipalPolicyCommand,
} from '@aws-sdk/client-iam'
import { doc, harness, outcome, type Harness } from '../iam-api/client.ts'
import type { Creds } from '../api/inprocess.ts'

let h: Harness
let dev: Creds

before(async () => {
  h = await harness('iam-name-case')
  const id = h.g.app.identity
  const tenant = await id.tenant('acme')
  const user = await id.createUser(tenant, 'dev')
  await id.putUserPolicy(
    user,
    'guard',
    doc([
      { Effect: 'Allow', Action: 'iam:*', Resource: '*' },
      {
        Effect: 'Deny',
        Action: 'iam:*',
        Resource: [`arn:aws:iam::${tenant.id}:user/admin`, `arn:aws:iam::${tenant.id}:user/dev`],
      },
    ]),
  )
  const k = await id.createAccessKey(user)
  dev = { id: k.accessKeyId, secret: k.secretAccessKey }
})
after(() => h.close())

describe('IAM names in another case', () => {
  it('a Deny on user/admin holds for ADMIN and Admin: no key listed or made for the administrator', async () => {
    for (const UserName of ['admin', 'ADMIN', 'Admin']) {
      assert.match(
        await outcome(h.iam(dev).send(new ListAccessKeysCommand({ UserName }))),
        /^403 AccessDenied: .* on resource: arn:aws:iam::\d{12}:user\/admin$/,
        UserName,
      )
      assert.match(
        await outcome(h.iam(dev).send(new CreateAccessKeyCommand({ UserName }))),
        /^403 AccessDenied: /,
        UserName,
      )
    }
  })

  it('a user cannot lift its own Deny or grant itself more by spelling itself DEV', async () => {
    assert.match(
      await outcome(
        h.iam(dev).send(new DeleteUserPolicyCommand({ UserName: 'Dev', PolicyName: 'guard' })),
      ),
      /^403 AccessDenied: /,
    )
    assert.match(
      await outcome(
        h.iam(dev).send(
          new PutUserPolicyCommand({
            UserName: 'DEV',
            PolicyName: 'escalate',
            PolicyDocument: doc([{ Effect: 'Allow', Action: '*', Resource: '*' }]),
          }),
        ),
      ),
      /^403 AccessDenied: /,
    )
    assert.match(
      await outcome(
        h.iam(dev).send(
          new SimulatePrincipalPolicyCommand({
            PolicySourceArn: `arn:aws:iam::${h.account}:user/ADMIN`,
            ActionNames: ['s3:GetObject'],
          }),
        ),
      ),
      /^403 AccessDenied: /,
    )
  })
})
