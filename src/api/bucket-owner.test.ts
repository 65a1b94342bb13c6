/**
 * The bucket-owner rule against the real IAM engine, and the structural
 * check that keeps it complete: every S3 action the gateway authorizes is
 * either a bucket-configuration action (owner only) or a data action, so a
 * new bucket operation cannot be added without deciding which.
 */
import assert from 'node:assert/strict'
import { readdirSync, readFileSync } from 'node:fs'
import { describe, it } from 'node:test'
import type { AuthzRequest, PolicySet } from '../iam/evaluate.ts'
import { authorize } from '../iam/evaluate.ts'
import { parsePolicyText, type Policy } from '../iam/policy.ts'
import { LOCKOUT_PROOF_ACTIONS, OWNER_ONLY_ACTIONS, ownerRule } from './bucket-owner.ts'

/** Actions on a bucket's data (and CreateBucket, ListAllMyBuckets): policies alone decide them. */
const DATA_ACTIONS = new Set([
  's3:ListAllMyBuckets',
  's3:CreateBucket',
  's3:GetBucketLocation',
  's3:ListBucket',
  's3:ListBucketVersions',
  's3:ListBucketMultipartUploads',
  's3:ListMultipartUploadParts',
  's3:GetObject',
  's3:GetObjectVersion',
  's3:PutObject',
  's3:DeleteObject',
  's3:DeleteObjectVersion',
  's3:GetObjectTagging',
  's3:GetObjectVersionTagging',
  's3:PutObjectTagging',
  's3:PutObjectVersionTagging',
  's3:DeleteObjectTagging',
  's3:DeleteObjectVersionTagging',
  's3:AbortMultipartUpload',
  's3:GetObjectAcl',
  's3:PutObjectRetention',
  's3:GetObjectRetention',
  's3:PutObjectLegalHold',
  's3:GetObjectLegalHold',
  's3:BypassGovernanceRetention',
  's3:GetObjectAttributes',
  's3:GetObjectVersionAttributes',
  's3:GetObjectVersionAcl',
  's3:PutObjectAcl',
  's3:PutObjectVersionAcl',
])
/** Condition keys that look like actions. */
const CONDITION_KEYS = new Set([
  's3:VersionId',
  's3:TlsVersion',
  's3:ExistingObjectTag',
  's3:RequestObjectTag',
  's3:RequestObjectTagKeys',
])

const OWNER = '111122223333'
const OTHER = '444455556666'
const BUCKET = 'arn:aws:s3:::models'

function policy(kind: 'identity' | 'resource', doc: object): Policy {
  const p = parsePolicyText(JSON.stringify(doc), kind, kind).policy
  assert.ok(p !== undefined)
  return p
}
const allowAll = policy('identity', {
  Version: '2012-10-17',
  Statement: [{ Effect: 'Allow', Action: 's3:*', Resource: '*' }],
})
const administrator = policy('identity', {
  Version: '2012-10-17',
  Statement: [{ Effect: 'Allow', Action: '*', Resource: '*' }],
})
const publicAll = policy('resource', {
  Version: '2012-10-17',
  Statement: [
    { Effect: 'Allow', Principal: '*', Action: 's3:*', Resource: [BUCKET, `${BUCKET}/*`] },
  ],
})
const denyAll = policy('resource', {
  Version: '2012-10-17',
  Statement: [
    { Effect: 'Deny', Principal: '*', Action: 's3:*', Resource: [BUCKET, `${BUCKET}/*`] },
  ],
})

function decide(
  account: string,
  action: string,
  identity: Policy[],
  resource: Policy,
  signed = true,
) {
  const req: AuthzRequest = {
    principal: signed ? `arn:aws:iam::${account}:user/u` : '*',
    principalAccount: signed ? account : '',
    action,
    resource: BUCKET,
    resourceAccount: OWNER,
    context: {},
  }
  const set: PolicySet = { identity, resource }
  return ownerRule(req, set, authorize(req, set), signed, authorize)
}

describe('the bucket-owner rule', () => {
  it('every S3 action the gateway authorizes is classified as bucket configuration or data', () => {
    const dir = new URL('./s3/', import.meta.url)
    const source = readdirSync(dir)
      .filter((f) => f.endsWith('.ts'))
      .map((f) => readFileSync(new URL(f, dir), 'utf8'))
      .join('\n')
    const used = new Set(
      [...source.matchAll(/'(s3:[A-Z]\w+)'/g)]
        .map((m) => m[1] ?? '')
        .filter((a) => !CONDITION_KEYS.has(a)),
    )
    assert.ok(used.size > 20, 'the gateway source was read')
    const unclassified = [...used].filter((a) => !OWNER_ONLY_ACTIONS.has(a) && !DATA_ACTIONS.has(a))
    assert.deepEqual(
      unclassified,
      [],
      'decide for each: a bucket-configuration action (OWNER_ONLY_ACTIONS in bucket-owner.ts) or a data action (DATA_ACTIONS here)',
    )
    for (const a of DATA_ACTIONS) assert.ok(!OWNER_ONLY_ACTIONS.has(a), a)
    for (const a of LOCKOUT_PROOF_ACTIONS) assert.ok(OWNER_ONLY_ACTIONS.has(a), a)
  })

  it('another tenant that a public bucket policy allows is refused every configuration action and DeleteBucket, and the trace names the rule', () => {
    for (const action of OWNER_ONLY_ACTIONS) {
      const r = decide(OTHER, action, [allowAll], publicAll)
      assert.equal(r.outsider, true, action)
      assert.equal(r.decision, 'ExplicitDeny')
      assert.match(r.trace?.decidedBy ?? '', /^bucket-owner rule: /)
    }
  })

  it('an anonymous caller that a public bucket policy allows is refused them too', () => {
    for (const action of ['s3:PutBucketPolicy', 's3:DeleteBucket', 's3:PutBucketVersioning']) {
      const r = decide('', action, [], publicAll, false)
      assert.deepEqual([r.decision, r.outsider], ['ExplicitDeny', true], action)
    }
  })

  it('data actions stay what the policies say, for outsiders too', () => {
    for (const action of DATA_ACTIONS) {
      const r = decide(OTHER, action, [allowAll], publicAll)
      assert.deepEqual([r.decision, r.outsider], ['Allow', false], action)
    }
  })

  it("an outsider the policies deny is just denied (AccessDenied, not the rule's 405)", () => {
    const r = decide(OTHER, 's3:PutBucketPolicy', [], publicAll)
    assert.deepEqual([r.decision, r.outsider], ['ImplicitDeny', false])
  })

  it("a Deny-all bucket policy cannot take Get/Put/DeleteBucketPolicy from the owning tenant's administrator", () => {
    for (const action of LOCKOUT_PROOF_ACTIONS) {
      const r = decide(OWNER, action, [administrator], denyAll)
      assert.equal(r.decision, 'Allow', action)
      assert.match(r.trace?.decidedBy ?? '', /administrator may .*cannot lock its owner out/)
    }
  })

  it('an owner user granted s3:* (not an administrator) stays bound by a bucket-policy Deny of PutBucketPolicy', () => {
    // The guardrail pattern: only the security role may change the policy. On AWS only the
    // account's root escapes it (https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutBucketPolicy.html).
    for (const action of LOCKOUT_PROOF_ACTIONS)
      assert.equal(decide(OWNER, action, [allowAll], denyAll).decision, 'ExplicitDeny', action)
  })

  it('but the Deny holds for the owner on every other action, and for owner users whose own policies do not allow it', () => {
    for (const action of ['s3:PutBucketVersioning', 's3:DeleteBucket', 's3:GetObject'])
      assert.equal(decide(OWNER, action, [administrator], denyAll).decision, 'ExplicitDeny', action)
    const readOnly = policy('identity', {
      Version: '2012-10-17',
      Statement: [{ Effect: 'Allow', Action: 's3:GetObject', Resource: '*' }],
    })
    assert.equal(decide(OWNER, 's3:PutBucketPolicy', [readOnly], denyAll).decision, 'ExplicitDeny')
    const selfDeny = policy('identity', {
      Version: '2012-10-17',
      Statement: [
        { Effect: 'Allow', Action: '*', Resource: '*' },
        { Effect: 'Deny', Action: 's3:PutBucketPolicy', Resource: '*' },
      ],
    })
    assert.equal(decide(OWNER, 's3:PutBucketPolicy', [selfDeny], denyAll).decision, 'ExplicitDeny')
  })
})
