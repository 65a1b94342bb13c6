/**
 * LookupEvents' paging over the log: whatever the page size and however many records arrive
 * between pages, following NextToken gives every matching event the viewer may see exactly
 * once, newest first; and what another account's event shows is cut to the viewer's part
 * (https://docs.aws.amazon.com/awscloudtrail/latest/APIReference/API_LookupEvents.html).
 */
import assert from 'node:assert/strict'
import { it } from 'node:test'
import fc from 'fast-check'
import { StrongroomError } from '../errors.ts'
import type { AuditEvent } from './event.ts'
import { forViewer, lookupPage, type Lookup, type LookupKey } from './lookup.ts'

const A = '111111111111'
const B = '222222222222'

function event(i: number, caller: string, owner: string, name: string): AuditEvent {
  return {
    eventVersion: '1.11',
    eventTime: new Date(Date.UTC(2026, 11, 1) + i * 1000).toISOString().replace('.000Z', 'Z'),
    eventSource: 's3.amazonaws.com',
    eventName: name,
    awsRegion: 'us-east-1',
    sourceIPAddress: '10.0.0.1',
    userAgent: 'test',
    userIdentity:
      caller === 'anonymous'
        ? { type: 'AWSAccount', principalId: '', accountId: 'anonymous' }
        : {
            type: 'IAMUser',
            principalId: `AIDA${caller}`,
            arn: `arn:aws:iam::${caller}:user/u`,
            accountId: caller,
            accessKeyId: `AKIA${caller}`,
            userName: 'u',
          },
    requestParameters: null,
    responseElements: null,
    requestID: `R${String(i)}`,
    eventID: `E${String(i)}`,
    readOnly: name.startsWith('Get'),
    resources: [{ ARN: `arn:aws:s3:::b-${owner}`, accountId: owner, type: 'AWS::S3::Bucket' }],
    eventType: 'AwsApiCall',
    recipientAccountId: owner,
    strongroom: {
      decision: caller === owner ? 'Allow' : 'ImplicitDeny',
      statements: ['policy#Sid'],
      bytesIn: 0,
      bytesOut: 0,
      latencyMs: 1,
      status: 200,
      evaluations: [
        {
          action: 's3:GetObject',
          resource: `arn:aws:s3:::b-${owner}`,
          decision: 'Allow',
          trace: {
            decision: 'Allow',
            decidedBy: 'an identity-based policy allows the action',
            policies: [{ name: 'policy', kind: 'identity', statements: [] }] as never,
            absentKeys: ['aws:SourceIp'],
          },
        },
      ],
    },
  }
}

/** The log as lookupPage reads it; `list` may grow while it is read, as the log does. */
function from(list: readonly Buffer[]): AsyncIterable<[number, Buffer]> {
  return {
    async *[Symbol.asyncIterator]() {
      for (let i = 0; i < list.length; i++)
        yield await Promise.resolve([i, list[i] as Buffer] as [number, Buffer])
    },
  }
}

const arbEvent = fc.record({
  caller: fc.constantFrom(A, B, 'anonymous'),
  owner: fc.constantFrom(A, B),
  name: fc.constantFrom('GetObject', 'PutObject', 'DeleteObject'),
})

it('pages through every visible matching event once, newest first, while records arrive', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(arbEvent, { maxLength: 60 }),
      fc.array(arbEvent, { maxLength: 20 }),
      fc.integer({ min: 1, max: 7 }),
      fc.option(fc.constantFrom('GetObject', 'PutObject'), { nil: undefined }),
      fc.constantFrom(A, B),
      async (first, arriving, max, name, viewer) => {
        const log = first.map((e, i) =>
          Buffer.from(JSON.stringify(event(i, e.caller, e.owner, e.name))),
        )
        const attributes = new Map<LookupKey, string>(
          name === undefined ? [] : [['EventName', name]],
        )
        const expected = first
          .map((e, i) => ({ ...e, i }))
          .filter(
            (e) =>
              (e.caller === viewer || e.owner === viewer) &&
              (name === undefined || e.name === name),
          )
          .map((e) => `E${String(e.i)}`)
          .reverse()
        const seen: string[] = []
        let token: string | undefined
        let pages = 0
        do {
          const l: Lookup = {
            viewer,
            filter: {},
            attributes,
            max,
            ...(token === undefined ? {} : { nextToken: token }),
          }
          const page = await lookupPage(from(log), l)
          assert.ok(page.events.length <= max)
          seen.push(...page.events.map((e) => e.eventID))
          token = page.nextToken
          // Records arriving between pages land above the first page: later pages never move.
          if (pages++ === 0)
            for (const e of arriving)
              log.push(Buffer.from(JSON.stringify(event(log.length, e.caller, e.owner, e.name))))
        } while (token !== undefined)
        assert.deepEqual(seen, expected)
      },
    ),
    { numRuns: 150 },
  )
})

it('cuts another account’s part out of an event between two accounts', () => {
  const between = forViewer(event(1, B, A, 'GetObject'), A)
  assert.deepEqual(between.strongroom.statements, [])
  // The rule's own words name whose policy decided: between two accounts, general words.
  assert.deepEqual(between.strongroom.evaluations?.[0]?.trace, {
    decision: 'Allow',
    decidedBy: 'allowed by the policies that apply',
    policies: [],
    absentKeys: [],
  })
  const own = forViewer(event(1, A, A, 'GetObject'), A)
  assert.deepEqual(own.strongroom.statements, ['policy#Sid'])
  const trace = own.strongroom.evaluations?.[0]?.trace
  assert.ok(trace !== undefined)
  assert.deepEqual(trace.policies, [])
  assert.deepEqual(trace.absentKeys, ['aws:SourceIp'])
  // An anonymous caller is no other account: the owner sees which of its statements applied.
  const anonymous = forViewer(event(1, 'anonymous', A, 'GetObject'), A)
  assert.deepEqual(anonymous.strongroom.statements, ['policy#Sid'])
})

it('refuses a NextToken made for another lookup, or not made at all', async () => {
  const log = [0, 1, 2].map((i) => Buffer.from(JSON.stringify(event(i, A, A, 'GetObject'))))
  const base: Lookup = { viewer: A, filter: {}, attributes: new Map(), max: 1 }
  const page = await lookupPage(from(log), base)
  assert.ok(page.nextToken !== undefined)
  const invalid = (l: Lookup) =>
    assert.rejects(
      lookupPage(from(log), l),
      (e: unknown) => e instanceof StrongroomError && e.code === 'INVALID_NEXT_TOKEN',
    )
  await invalid({ ...base, viewer: B, nextToken: page.nextToken })
  await invalid({ ...base, filter: { since: 1 }, nextToken: page.nextToken })
  await invalid({
    ...base,
    attributes: new Map([['EventName', 'GetObject']]),
    nextToken: page.nextToken,
  })
  await invalid({ ...base, nextToken: 'x' })
  await invalid({
    ...base,
    nextToken: Buffer.from('1.aaaaaaaaaaaaaaaaaaaaaa').toString('base64url'),
  })
  // A well-formed token for an event this log does not have is not a page either.
  const ghost = Buffer.from(page.nextToken, 'base64url').toString('latin1').replace(/^E2/, 'E9')
  await invalid({ ...base, nextToken: Buffer.from(ghost, 'latin1').toString('base64url') })
  // The token names an event, not a position in the log: it says nothing of others' activity.
  assert.match(Buffer.from(page.nextToken, 'base64url').toString('latin1'), /^E2\./)
  // A page size of its own is fine: the token is bound to the filters, not the size.
  const next = await lookupPage(from(log), { ...base, max: 5, nextToken: page.nextToken })
  assert.deepEqual(
    next.events.map((e) => e.eventID),
    ['E1', 'E0'],
  )
})
