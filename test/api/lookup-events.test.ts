/**
 * CloudTrail's LookupEvents over the audit log, through the JSON 1.1 codec, signed with the AWS
 * SDK's own SigV4 signer for the `cloudtrail` service: an auditor's role needs only
 * cloudtrail:LookupEvents and sees only its own account's events, newest first, a page at a
 * time (https://docs.aws.amazon.com/awscloudtrail/latest/APIReference/API_LookupEvents.html);
 * errors are `{"__type", "message"}` with x-amzn-ErrorType
 * (https://smithy.io/2.0/aws/protocols/aws-json-1_1-protocol.html).
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import type { AuditEvent } from '../../src/audit/event.ts'
import { CLOUDTRAIL_OPERATIONS } from '../../src/api/cloudtrail/lookup-events.ts'
import {
  callJson,
  startInProcess,
  type Creds,
  type InProcess,
  type JsonAnswer,
} from './inprocess.ts'

const TARGET = 'com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101'
const dir = mkdtempSync(join(tmpdir(), 'sr-lookup-events-'))
let g: InProcess
let acme = ''
let other = ''
let auditor: Creds
let intruder: Creds
/** Handler calls, by operation: the pipeline decides before any handler runs. */
const calls: string[] = []

type Answer = JsonAnswer

/** One JSON 1.1 call: signed for `cloudtrail` unless `c` is undefined. */
function call(
  c: Creds | undefined,
  input: unknown,
  o: { target?: string; raw?: string } = {},
): Promise<Answer> {
  const target = o.target ?? `${TARGET}.LookupEvents`
  return callJson(g.running.url, c, 'cloudtrail', target, input, o.raw)
}

interface Shown {
  EventId: string
  EventName: string
  ReadOnly: string
  AccessKeyId?: string
  EventTime: number
  EventSource: string
  Username?: string
  Resources: { ResourceType: string; ResourceName: string }[]
  CloudTrailEvent: string
}

const shown = (a: Answer) => (a.body.Events ?? []) as Shown[]
const names = (a: Answer) => shown(a).map((e) => e.EventName)

before(async () => {
  g = await startInProcess(dir, {
    jsonOperations: CLOUDTRAIL_OPERATIONS.map((op) => ({
      ...op,
      handler: (ctx) => {
        calls.push(op.name)
        return op.handler(ctx)
      },
    })),
  })
  const id = g.app.identity
  acme = (await id.findTenant('acme'))?.id ?? ''
  const t = await id.createTenant('other')
  other = t.id
  const a = await id.createUser(t, 'auditor')
  await id.putUserPolicy(
    a,
    'audit',
    JSON.stringify({
      Version: '2012-10-17',
      Statement: [{ Effect: 'Allow', Action: 'cloudtrail:LookupEvents', Resource: '*' }],
    }),
  )
  const i = await id.createUser(t, 'intruder')
  await id.putUserPolicy(
    i,
    'all-s3',
    JSON.stringify({
      Version: '2012-10-17',
      Statement: [{ Sid: 'Everything', Effect: 'Allow', Action: 's3:*', Resource: '*' }],
    }),
  )
  const ka = await id.createAccessKey(a)
  const ki = await id.createAccessKey(i)
  auditor = { id: ka.accessKeyId, secret: ka.secretAccessKey }
  intruder = { id: ki.accessKeyId, secret: ki.secretAccessKey }
  assert.equal((await g.send(g.admin, { method: 'PUT', path: '/models' })).status, 200)
  const put = { method: 'PUT', path: '/models/llm/w.bin', body: 'weights' }
  assert.equal((await g.send(g.admin, put)).status, 200)
  // Another tenant's user reaches for acme's model and is refused.
  const stolen = await g.send(intruder, { method: 'GET', path: '/models/llm/w.bin' })
  assert.equal(stolen.status, 403)
})
after(async () => {
  await g.close()
  rmSync(dir, { recursive: true, force: true })
})

describe('LookupEvents', () => {
  it('answers an account’s events newest first, each with its CloudTrail record', async () => {
    const a = await call(g.admin, {})
    assert.equal(a.status, 200, JSON.stringify(a.body))
    assert.deepEqual(names(a), ['GetObject', 'PutObject', 'CreateBucket'])
    const [get, put] = shown(a)
    assert.ok(get !== undefined && put !== undefined)
    assert.equal(put.ReadOnly, 'false')
    assert.equal(get.ReadOnly, 'true')
    assert.equal(put.EventSource, 's3.amazonaws.com')
    assert.equal(put.Username, 'admin')
    assert.equal(put.AccessKeyId, g.admin.id)
    assert.deepEqual(put.Resources, [
      { ResourceType: 'AWS::S3::Bucket', ResourceName: 'models' },
      { ResourceType: 'AWS::S3::Object', ResourceName: 'models/llm/w.bin' },
    ])
    const record = JSON.parse(put.CloudTrailEvent) as AuditEvent
    assert.equal(record.eventID, put.EventId)
    assert.equal(record.recipientAccountId, acme)
    assert.equal(Date.parse(record.eventTime) / 1000, put.EventTime)
    // Within one account the deciding statements are named; no policy text leaves.
    assert.deepEqual(record.strongroom.statements, [
      'all#0',
      'key policy of alias/s3-default#Enable IAM User Permissions',
    ])
    assert.deepEqual(record.strongroom.evaluations?.[0]?.trace?.policies, [])
    assert.equal(get.AccessKeyId, intruder.id)
    // The other tenant's attempt: acme sees who and what, not the intruder's own policy.
    const attempt = JSON.parse(get.CloudTrailEvent) as AuditEvent
    assert.equal(attempt.strongroom.decision, 'ImplicitDeny')
    assert.deepEqual(attempt.strongroom.statements, [])
    assert.ok(!get.CloudTrailEvent.includes('Everything'), get.CloudTrailEvent)
  })

  it('attack: an auditor of one tenant reads another tenant’s events, or its policies', async () => {
    const a = await call(auditor, {})
    assert.equal(a.status, 200, JSON.stringify(a.body))
    // The intruder's attempt is its tenant's event too; acme's own work is not, and nor is
    // this lookup's own event until it is answered.
    assert.deepEqual(names(a), ['GetObject'])
    const record = JSON.parse(shown(a)[0]?.CloudTrailEvent ?? '{}') as AuditEvent
    assert.equal(record.strongroom.decision, 'ImplicitDeny')
    // Between two accounts neither side sees the other's statements or missing keys.
    assert.deepEqual(record.strongroom.statements, [])
    for (const d of record.strongroom.evaluations ?? []) {
      assert.deepEqual(d.trace?.policies ?? [], [])
      assert.deepEqual(d.trace?.absentKeys ?? [], [])
    }
    const again = await call(auditor, {})
    // Its first lookup is now its own event, newest.
    assert.deepEqual(names(again), ['LookupEvents', 'GetObject'])
    const lookup = JSON.parse(shown(again)[0]?.CloudTrailEvent ?? '{}') as AuditEvent
    assert.equal(lookup.eventSource, 'cloudtrail.amazonaws.com')
    assert.equal(lookup.readOnly, true)
    assert.equal(lookup.recipientAccountId, other)
  })

  it('refuses a caller without cloudtrail:LookupEvents, in JSON, before the handler runs', async () => {
    const before = calls.length
    const a = await call(g.nobody, {})
    assert.equal(a.status, 400)
    assert.equal(a.type, 'AccessDeniedException')
    assert.equal(a.body.__type, 'AccessDeniedException')
    assert.match(String(a.body.message), /cloudtrail:LookupEvents/)
    const unsigned = await call(undefined, {})
    assert.equal(unsigned.type, 'MissingAuthenticationTokenException')
    // A member the operation does not take is refused before it is decided, too.
    assert.equal((await call(g.nobody, { Colour: 1 })).type, 'ValidationException')
    assert.equal(calls.length, before, 'no handler ran')
    assert.equal((await call(auditor, {})).status, 200)
    assert.deepEqual(calls.slice(before), ['LookupEvents'])
  })

  it('attack: a NextToken replayed by another account, with other filters, or forged', async () => {
    const attributes = {
      LookupAttributes: [{ AttributeKey: 'EventSource', AttributeValue: 's3.amazonaws.com' }],
    }
    const first = await call(g.admin, { ...attributes, MaxResults: 2 })
    assert.deepEqual(names(first), ['GetObject', 'PutObject'])
    const token = first.body.NextToken
    assert.equal(typeof token, 'string')
    const second = await call(g.admin, { ...attributes, MaxResults: 2, NextToken: token })
    assert.deepEqual(names(second), ['CreateBucket'])
    assert.equal(second.body.NextToken, undefined)
    // The same token with other attributes, or by another account, is not a token of theirs.
    const other = await call(g.admin, { MaxResults: 2, NextToken: token })
    assert.equal(other.type, 'InvalidNextTokenException')
    const stranger = await call(auditor, { ...attributes, NextToken: token })
    assert.equal(stranger.type, 'InvalidNextTokenException')
    const forged = await call(g.admin, { ...attributes, NextToken: 'MTAwLmFhYWFh' })
    assert.equal(forged.type, 'InvalidNextTokenException')
  })

  it('filters by CloudTrail’s attributes and by Strongroom’s, all of which must hold', async () => {
    const by = async (...pairs: [string, string][]) =>
      names(
        await call(g.admin, {
          LookupAttributes: pairs.map(([k, v]) => ({ AttributeKey: k, AttributeValue: v })),
        }),
      )
    assert.deepEqual(await by(['EventName', 'PutObject']), ['PutObject'])
    // The intruder's attempt, and `nobody`'s lookup above.
    assert.deepEqual(await by(['Decision', 'ImplicitDeny']), ['LookupEvents', 'GetObject'])
    assert.deepEqual(await by(['AccessKeyId', intruder.id]), ['GetObject'])
    assert.deepEqual(await by(['Username', 'admin'], ['ReadOnly', 'false']), [
      'PutObject',
      'CreateBucket',
    ])
    assert.deepEqual(await by(['ResourceName', 'models/llm/w.bin']), ['GetObject', 'PutObject'])
    assert.deepEqual(
      await by(['ResourcePrefix', 'arn:aws:s3:::models/llm/'], ['Action', 's3:PutObject']),
      ['PutObject'],
    )
    assert.deepEqual(await by(['Source', '127.0.0.0/8'], ['EventName', 'CreateBucket']), [
      'CreateBucket',
    ])
    assert.deepEqual(await by(['Source', '10.0.0.0/8']), [])
  })

  it('takes a time range, at or after StartTime and at or before EndTime', async () => {
    const all = shown(
      await call(g.admin, {
        LookupAttributes: [{ AttributeKey: 'EventSource', AttributeValue: 's3.amazonaws.com' }],
      }),
    )
    const oldest = all.at(-1)?.EventTime ?? 0
    const exact = await call(g.admin, {
      StartTime: oldest,
      EndTime: oldest,
      LookupAttributes: [{ AttributeKey: 'EventName', AttributeValue: 'CreateBucket' }],
    })
    assert.deepEqual(names(exact), ['CreateBucket'])
    const before = await call(g.admin, { EndTime: oldest - 1 })
    assert.deepEqual(names(before), [])
    const later = await call(g.admin, { StartTime: Date.now() / 1000 + 3600 })
    assert.deepEqual(names(later), [])
  })

  it('answers bad input with CloudTrail’s exceptions', async () => {
    const cases: [unknown, string][] = [
      [{ MaxResults: 51 }, 'InvalidMaxResultsException'],
      [{ MaxResults: 0 }, 'InvalidMaxResultsException'],
      [{ StartTime: 200, EndTime: 100 }, 'InvalidTimeRangeException'],
      [{ StartTime: 'yesterday' }, 'ValidationException'],
      [{ EventCategory: 'Data' }, 'InvalidEventCategoryException'],
      [
        { LookupAttributes: [{ AttributeKey: 'Colour', AttributeValue: 'red' }] },
        'InvalidLookupAttributesException',
      ],
      [
        { LookupAttributes: [{ AttributeKey: 'EventName', AttributeValue: '' }] },
        'InvalidLookupAttributesException',
      ],
      [
        {
          LookupAttributes: [
            { AttributeKey: 'EventName', AttributeValue: 'A' },
            { AttributeKey: 'EventName', AttributeValue: 'B' },
          ],
        },
        'InvalidLookupAttributesException',
      ],
      [
        { LookupAttributes: [{ AttributeKey: 'Source', AttributeValue: '10.0.0.0/99' }] },
        'InvalidLookupAttributesException',
      ],
      [{ LookupAttributes: 'EventName' }, 'InvalidLookupAttributesException'],
      [{ Lookupattributes: [] }, 'ValidationException'],
      [{ NextToken: 7 }, 'InvalidNextTokenException'],
    ]
    for (const [input, type] of cases) {
      const a = await call(g.admin, input)
      assert.equal(a.status, 400, JSON.stringify(input))
      assert.equal(a.type, type, JSON.stringify(input))
      assert.equal(a.body.__type, type)
    }
    assert.equal((await call(g.admin, {}, { raw: '[1]' })).type, 'SerializationException')
    assert.equal((await call(g.admin, {}, { raw: '{"a":' })).type, 'SerializationException')
    const unknown = await call(g.admin, {}, { target: `${TARGET}.DeleteTrail` })
    assert.equal(unknown.type, 'UnknownOperationException')
    // Insights events: Strongroom makes none.
    assert.deepEqual((await call(g.admin, { EventCategory: 'insight' })).body, { Events: [] })
  })

  it('attack: the rule that refused another tenant names no policy or statement of the owner', async () => {
    const policy = JSON.stringify({
      Version: '2012-10-17',
      Statement: [
        {
          Sid: 'SECRETDenyOtherWrites',
          Effect: 'Deny',
          Principal: { AWS: `arn:aws:iam::${other}:root` },
          Action: 's3:PutObject',
          Resource: 'arn:aws:s3:::models/*',
        },
      ],
    })
    assert.equal(
      (await g.send(g.admin, { method: 'PUT', path: '/models?policy', body: policy })).status,
      204,
    )
    const put = { method: 'PUT', path: '/models/planted.bin', body: 'x' }
    assert.equal((await g.send(intruder, put)).status, 403)
    const a = await call(auditor, {
      LookupAttributes: [{ AttributeKey: 'EventName', AttributeValue: 'PutObject' }],
    })
    assert.deepEqual(names(a), ['PutObject'])
    const record = shown(a)[0]?.CloudTrailEvent ?? ''
    assert.match(record, /"decision":"ExplicitDeny"/)
    assert.ok(!record.includes('SECRET') && !record.includes('bucket policy of'), record)
    // The owner sees the attempt and its outcome; which statement decided stays on the host
    // (`strongroom explain`): the words cannot tell one side's policies from the other's.
    const own = await call(g.admin, {
      LookupAttributes: [{ AttributeKey: 'AccessKeyId', AttributeValue: intruder.id }],
      MaxResults: 1,
    })
    const seen = shown(own)[0]?.CloudTrailEvent ?? ''
    assert.match(seen, /"decidedBy":"an explicit Deny in a policy that applies"/)
    assert.ok(!seen.includes('SECRET'), seen)
  })

  it('attack: copying another tenant’s object into one’s own bucket is the source owner’s event too', async () => {
    assert.equal((await g.send(intruder, { method: 'PUT', path: '/loot' })).status, 200)
    const copy = {
      method: 'PUT',
      path: '/loot/stolen.bin',
      headers: { 'x-amz-copy-source': '/models/llm/w.bin' },
    }
    assert.equal((await g.send(intruder, copy)).status, 403)
    const a = await call(g.admin, {
      LookupAttributes: [{ AttributeKey: 'EventName', AttributeValue: 'CopyObject' }],
    })
    assert.deepEqual(names(a), ['CopyObject'])
    // The copy's destination, then its source, each with its own owner.
    assert.deepEqual(shown(a)[0]?.Resources, [
      { ResourceType: 'AWS::S3::Bucket', ResourceName: 'loot' },
      { ResourceType: 'AWS::S3::Object', ResourceName: 'loot/stolen.bin' },
      { ResourceType: 'AWS::S3::Object', ResourceName: 'models/llm/w.bin' },
    ])
    const record = JSON.parse(shown(a)[0]?.CloudTrailEvent ?? '{}') as AuditEvent
    assert.equal(record.userIdentity.type, 'IAMUser')
    assert.equal(record.strongroom.decision, 'ImplicitDeny')
    // The copy was refused at its source: the destination was never read, its owner unknown.
    assert.deepEqual(
      record.resources.map((r) => r.accountId),
      ['', '', acme],
    )
  })
})
