/**
 * SimulateCustomPolicy and SimulatePrincipalPolicy through the AWS SDK for JavaScript, answered
 * by the engine that decides real requests: decisions, matched statements, missing context keys,
 * per-layer details, context entries and pages.
 * https://docs.aws.amazon.com/IAM/latest/APIReference/API_SimulateCustomPolicy.html
 * https://docs.aws.amazon.com/IAM/latest/APIReference/API_SimulatePrincipalPolicy.html
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import {
  SimulateCustomPolicyCommand,
  SimulatePrincipalPolicyCommand,
  type EvaluationResult,
} from '@aws-sdk/client-iam'
import { doc, harness, outcome, type Harness } from './client.ts'

let h: Harness
before(async () => {
  h = await harness('iam-simulate')
  const tenant = await h.g.app.identity.tenant('acme')
  const dev = await h.g.app.identity.createUser(tenant, 'dev')
  await h.g.app.identity.putUserPolicy(
    dev,
    'read',
    doc([
      { Sid: 'Read', Effect: 'Allow', Action: 's3:GetObject', Resource: 'arn:aws:s3:::datasets/*' },
    ]),
  )
})
after(() => h.close())

const READ_ONLY_TLS = doc([
  {
    Sid: 'ReadOverTls',
    Effect: 'Allow',
    Action: 's3:GetObject',
    Resource: 'arn:aws:s3:::datasets/*',
    Condition: { Bool: { 'aws:SecureTransport': 'true' } },
  },
  { Sid: 'NoDelete', Effect: 'Deny', Action: 's3:DeleteObject', Resource: '*' },
])

const summary = (r: EvaluationResult[] | undefined) =>
  (r ?? []).map(
    (e) => `${e.EvalActionName ?? ''} ${e.EvalResourceName ?? ''} ${e.EvalDecision ?? ''}`,
  )

describe('SimulateCustomPolicy', () => {
  it('answers each action on each resource with the engine’s decision and what decided it', async () => {
    const r = await h.iam(h.g.admin).send(
      new SimulateCustomPolicyCommand({
        PolicyInputList: [READ_ONLY_TLS],
        ActionNames: ['s3:GetObject', 's3:DeleteObject', 's3:PutObject'],
        ResourceArns: ['arn:aws:s3:::datasets/x'],
        ContextEntries: [
          {
            ContextKeyName: 'aws:SecureTransport',
            ContextKeyType: 'boolean',
            ContextKeyValues: ['true'],
          },
        ],
      }),
    )
    assert.deepEqual(summary(r.EvaluationResults), [
      's3:GetObject arn:aws:s3:::datasets/x allowed',
      's3:DeleteObject arn:aws:s3:::datasets/x explicitDeny',
      's3:PutObject arn:aws:s3:::datasets/x implicitDeny',
    ])
    const [get, del] = r.EvaluationResults ?? []
    assert.deepEqual(
      get?.MatchedStatements?.map((s) => [s.SourcePolicyId, s.SourcePolicyType]),
      [['PolicyInputList.1#ReadOverTls', 'IAM Policy']],
    )
    assert.deepEqual(del?.EvalDecisionDetails, { 'IAM Policy: PolicyInputList.1': 'explicitDeny' })
    assert.equal(r.IsTruncated, false)
  })

  it('names the context keys a condition read that the simulation did not give', async () => {
    const r = await h.iam(h.g.admin).send(
      new SimulateCustomPolicyCommand({
        PolicyInputList: [READ_ONLY_TLS],
        ActionNames: ['s3:GetObject'],
        ResourceArns: ['arn:aws:s3:::datasets/x'],
      }),
    )
    assert.equal(r.EvaluationResults?.[0]?.EvalDecision, 'implicitDeny')
    assert.deepEqual(r.EvaluationResults[0].MissingContextValues, ['aws:SecureTransport'])
  })

  it('pages with MaxItems and Marker', async () => {
    const ask = (Marker?: string) =>
      h.iam(h.g.admin).send(
        new SimulateCustomPolicyCommand({
          PolicyInputList: [READ_ONLY_TLS],
          ActionNames: ['s3:GetObject', 's3:PutObject', 's3:DeleteObject'],
          MaxItems: 2,
          Marker,
        }),
      )
    const first = await ask()
    assert.equal(first.EvaluationResults?.length, 2)
    assert.equal(first.IsTruncated, true)
    const second = await ask(first.Marker)
    assert.deepEqual(summary(second.EvaluationResults), ['s3:DeleteObject * explicitDeny'])
    assert.equal(second.IsTruncated, false)
  })

  it('refuses a malformed policy, and a caller without iam:SimulateCustomPolicy', async () => {
    assert.match(
      await outcome(
        h.iam(h.g.admin).send(
          new SimulateCustomPolicyCommand({
            PolicyInputList: ['{"Version":'],
            ActionNames: ['s3:GetObject'],
          }),
        ),
      ),
      /^400 MalformedPolicyDocumentException: /,
    )
    assert.match(
      await outcome(
        h.iam(h.g.nobody).send(
          new SimulateCustomPolicyCommand({
            PolicyInputList: [READ_ONLY_TLS],
            ActionNames: ['s3:GetObject'],
          }),
        ),
      ),
      /^403 AccessDenied: User: .*user\/nobody is not authorized to perform: iam:SimulateCustomPolicy/,
    )
  })
})

describe('SimulatePrincipalPolicy', () => {
  it('evaluates a user’s own policies, as the gateway would for its requests', async () => {
    const r = await h.iam(h.g.admin).send(
      new SimulatePrincipalPolicyCommand({
        PolicySourceArn: `arn:aws:iam::${h.account}:user/dev`,
        ActionNames: ['s3:GetObject', 's3:PutObject'],
        ResourceArns: ['arn:aws:s3:::datasets/train.csv'],
      }),
    )
    assert.deepEqual(summary(r.EvaluationResults), [
      's3:GetObject arn:aws:s3:::datasets/train.csv allowed',
      's3:PutObject arn:aws:s3:::datasets/train.csv implicitDeny',
    ])
    assert.deepEqual(
      r.EvaluationResults?.[0]?.MatchedStatements?.map((s) => s.SourcePolicyId),
      ['read#Read'],
    )
  })

  it('refuses a principal of another account or one that does not exist', async () => {
    for (const arn of [
      'arn:aws:iam::999999999999:user/dev',
      `arn:aws:iam::${h.account}:user/ghost`,
    ])
      assert.match(
        await outcome(
          h.iam(h.g.admin).send(
            new SimulatePrincipalPolicyCommand({
              PolicySourceArn: arn,
              ActionNames: ['s3:GetObject'],
            }),
          ),
        ),
        /^404 NoSuchEntityException: /,
      )
  })
})
