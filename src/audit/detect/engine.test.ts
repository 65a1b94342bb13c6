/**
 * The engine kind by kind on small hand-made streams, its bounds, its snapshots, and two
 * properties: observe never throws whatever it is given, and a detector restored from a
 * snapshot raises exactly the alerts an uninterrupted one does.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import { isStrongroomError } from '../../errors.ts'
import type { AuditEvent } from '../event.ts'
import { alertEvent, message, type Alert } from './alert.ts'
import { Detector, type DetectorOptions } from './engine.ts'
import { loadRules, parseRules } from './load.ts'
import type { Rule } from './rules.ts'

const T = Date.UTC(2026, 2, 2) / 1000

interface Ev {
  t: number
  who?: string
  op?: string
  id?: string
  err?: string
  ip?: string
  ua?: string
  owner?: string
  account?: string
  bytes?: number
  extra?: Record<string, unknown>
}

let n = 0
/** A CloudTrail-shaped event `t` seconds after day 0 (as loosely typed as the stream is). */
function ev(e: Ev): AuditEvent {
  const account = e.account ?? '111122223333'
  const who = e.who ?? 'alice'
  return {
    eventTime: new Date((T + e.t) * 1000).toISOString().replace('.000Z', 'Z'),
    eventSource: 's3.amazonaws.com',
    eventName: e.op ?? 'GetObject',
    awsRegion: 'us-east-1',
    sourceIPAddress: e.ip ?? '10.0.0.1',
    userAgent: e.ua ?? 'aws-cli/2.0',
    userIdentity:
      who === 'anonymous'
        ? { type: 'AWSAccount', principalId: '', accountId: 'anonymous' }
        : {
            type: 'IAMUser',
            principalId: who,
            arn: `arn:aws:iam::${account}:user/${who}`,
            accountId: account,
          },
    requestID: e.id ?? `R${++n}`,
    recipientAccountId: e.owner ?? account,
    resources: [],
    ...(e.err === undefined ? {} : { errorCode: e.err }),
    strongroom: { bytesOut: e.bytes ?? 0 },
    ...e.extra,
  } as unknown as AuditEvent
}

const rules = (body: string): Rule[] => parseRules(`rules:\n${body}`, 'test.yaml')
const one = (kind: string, extra: string) =>
  rules(
    `  - id: r\n    title: T\n    severity: low\n    description: D\n    kind: ${kind}\n${extra}`,
  )

function run(rs: Rule[], events: AuditEvent[], opts?: DetectorOptions): string[] {
  const d = new Detector(rs, opts)
  return events.flatMap((e) => d.observe(e).map((a) => a.strongroom.alert.trigger))
}

describe('threshold', () => {
  const r = one('threshold', '    count: 3\n    window: 10s\n    suppress: 0')
  it('fires when the last `count` events fall within the window', () => {
    const got = run(r, [
      ev({ t: 0, id: 'a' }),
      ev({ t: 5, id: 'b' }),
      ev({ t: 16, id: 'c' }),
      ev({ t: 17, id: 'd' }),
      ev({ t: 18, id: 'e' }),
    ])
    assert.deepEqual(got, ['e'], '0,5,16 spans 16 s; 16,17,18 fits')
  })
  it('starts counting afresh after it fires', () => {
    const got = run(
      r,
      [0, 1, 2, 3, 4, 5].map((t) => ev({ t, id: `x${t}` })),
    )
    assert.deepEqual(got, ['x2', 'x5'])
  })
  it('counts each group apart', () => {
    const got = run(
      r,
      [0, 1, 2].flatMap((t) => [
        ev({ t, who: 'a', id: `a${t}` }),
        ev({ t, who: 'b', id: `b${t}` }),
      ]),
    )
    assert.deepEqual(got, ['a2', 'b2'])
  })
})

describe('suppression', () => {
  it('keeps a group quiet for `suppress` after an alert, then lets it speak', () => {
    const r = one('match', '    suppress: 60s')
    assert.deepEqual(
      run(
        r,
        [0, 30, 59, 60, 61].map((t) => ev({ t, id: `s${t}` })),
      ),
      ['s0', 's60'],
    )
  })
  it('with suppress 0, alerts on every event, even out of order', () => {
    const r = one('match', '    suppress: 0')
    assert.deepEqual(
      run(
        r,
        [10, 5, 5].map((t, i) => ev({ t, id: `o${i}` })),
      ),
      ['o0', 'o1', 'o2'],
    )
  })
})

describe('baseline', () => {
  const r = one(
    'baseline',
    '    sum: strongroom.bytesOut\n    factor: 10\n    minActiveHours: 3\n    historyDays: 1\n    minValue: 0',
  )
  const hourly = (hours: number, bytes = 100) =>
    Array.from({ length: hours }, (_, h) => ev({ t: h * 3600, bytes }))
  it('stays quiet until the group has `minActiveHours` of history', () => {
    assert.deepEqual(run(r, [...hourly(2), ev({ t: 2 * 3600, bytes: 5000, id: 'early' })]), [])
    assert.deepEqual(run(r, [...hourly(3), ev({ t: 3 * 3600, bytes: 5000, id: 'late' })]), ['late'])
  })
  it('fires once, at the event whose total reaches factor × median', () => {
    const spike = [1, 2, 3, 4].map((i) => ev({ t: 10 * 3600 + i, bytes: 300, id: `p${i}` }))
    assert.deepEqual(run(r, [...hourly(10), ...spike]), ['p4'], '900 < 1000 ≤ 1200')
  })
  it('forgets hours older than historyDays', () => {
    const old = hourly(5, 10_000)
    const recent = [30, 31, 32].map((h) => ev({ t: h * 3600, bytes: 100 }))
    assert.deepEqual(
      run(r, [...old, ...recent, ev({ t: 33 * 3600, bytes: 1000, id: 'now' })]),
      ['now'],
      'the old 10,000s are past a day',
    )
  })
  it('counts a late event into its own hour and raises nothing for it', () => {
    assert.deepEqual(run(r, [...hourly(6), ev({ t: 3600, bytes: 1e9, id: 'late' })]), [])
  })
  it('holds to minValue when the median is small', () => {
    const floor = one(
      'baseline',
      '    factor: 2\n    minActiveHours: 1\n    minValue: 5\n    suppress: 0',
    )
    const events = [ev({ t: 0 }), ...[1, 2, 3, 4, 5].map((i) => ev({ t: 3600 + i, id: `f${i}` }))]
    assert.deepEqual(run(floor, events), ['f5'], 'median 1 event: limit max(2 × 1, 5) = 5, not 2')
  })
})

describe('first-seen', () => {
  const r = one(
    'first-seen',
    '    field: eventName\n    learning: 1h\n    retain: 2h\n    maxValues: 2',
  )
  it('learns quietly, then reports a new value once', () => {
    const got = run(r, [
      ev({ t: 0, op: 'A' }),
      ev({ t: 100, op: 'B' }),
      ev({ t: 3600, op: 'C', id: 'c' }),
      ev({ t: 3601, op: 'C' }),
    ])
    assert.deepEqual(got, ['c'])
  })
  it('reports a value again once it has not been seen for `retain`', () => {
    const got = run(r, [
      ev({ t: 0, op: 'A' }),
      ev({ t: 3600, op: 'B', id: 'b' }),
      ev({ t: 4000, op: 'A' }),
      ev({ t: 4000 + 7201, op: 'A', id: 'again' }),
    ])
    assert.deepEqual(got, ['b', 'again'])
  })
  it('remembers at most maxValues, forgetting the least recently seen', () => {
    const got = run(r, [
      ev({ t: 0, op: 'A' }),
      ev({ t: 1, op: 'B' }),
      ev({ t: 2, op: 'C' }),
      ev({ t: 3600, op: 'A', id: 'a' }),
    ])
    assert.deepEqual(got, ['a'])
  })
})

describe('cross-tenant', () => {
  const r = one('cross-tenant', '    suppress: 0')
  it('fires when the owner is another account, not for anonymous callers unless asked', () => {
    const events = [
      ev({ t: 0, id: 'own' }),
      ev({ t: 1, owner: '444455556666', id: 'x' }),
      ev({ t: 2, who: 'anonymous', owner: '1', id: 'anon' }),
    ]
    assert.deepEqual(run(r, events), ['x'])
    const anyone = one('cross-tenant', '    includeAnonymous: true\n    suppress: 0')
    assert.deepEqual(run(anyone, events), ['x', 'anon'])
  })
})

describe('bounds', () => {
  it('forgets the least recently seen group past maxGroups', () => {
    const r = one('threshold', '    count: 2\n    window: 1h\n    maxGroups: 2')
    const events = [
      ev({ t: 0, who: 'a' }),
      ev({ t: 1, who: 'b' }),
      ev({ t: 2, who: 'c' }),
      ev({ t: 3, who: 'a', id: 'a2' }),
      ev({ t: 4, who: 'c', id: 'c2' }),
    ]
    assert.deepEqual(run(r, events), ['c2'], 'a was forgotten when c came')
    assert.deepEqual(run(r, events, { maxGroups: 1 }), [], 'the detector option caps lower')
  })
  it('uses now() for an event without a usable time', () => {
    const r = one('threshold', '    count: 2\n    window: 10s')
    const d = new Detector(r, { now: () => (T + 5) * 1000 })
    d.observe(ev({ t: 0 }))
    const got = d.observe({ ...ev({ t: 0, id: 'untimed' }), eventTime: 'yesterday' })
    assert.equal(got[0]?.strongroom.alert.trigger, 'untimed')
    assert.equal(got[0].eventTime, '2026-03-02T00:00:05Z')
  })
  it('ignores its own alerts fed back to it', () => {
    const r = one('match', '    suppress: 0')
    const d = new Detector(r)
    const [a] = d.observe(ev({ t: 0 }))
    assert.ok(a !== undefined)
    assert.deepEqual(d.observe(a as unknown as AuditEvent), [])
    assert.equal(d.stats().events, 1)
  })
})

describe('alerts', () => {
  it('are deterministic CloudTrail service events, one line as a message', () => {
    const input = {
      ruleId: 'r',
      title: 'T',
      severity: 'high' as const,
      group: 'g',
      time: T,
      trigger: { requestID: 'REQ', awsRegion: 'us-east-1', recipientAccountId: '1', resources: [] },
      evidence: ['A', 'REQ'],
      summary: 'line one\nline two\u2028three\u0000',
    }
    const a: Alert = alertEvent(input)
    assert.deepEqual(alertEvent(input), a)
    assert.equal(a.userIdentity.type, 'AWSService')
    assert.match(a.eventID, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/)
    assert.equal(a.strongroom.alert.summary, 'line one?line two?three?')
    assert.equal(
      message(a),
      'HIGH r g: line one?line two?three? (2026-03-02T00:00:00Z, request REQ, 2 events)',
    )
  })
  it('carry a summary template filled from the event, with its newlines removed', () => {
    const r = one('match', "    summary: 'agent {userAgent} on {eventName}'")
    const [a] = new Detector(r).observe(ev({ t: 0, ua: 'evil\r\nX-Injected: 1' }))
    assert.equal(a?.strongroom.alert.summary, 'agent evil??X-Injected: 1 on GetObject')
  })
})

describe('snapshots', () => {
  const r = one('threshold', '    count: 3\n    window: 1h')
  it('carry the state across a restart through JSON', () => {
    const before = new Detector(r)
    before.observe(ev({ t: 0 }))
    before.observe(ev({ t: 1 }))
    const after = new Detector(r)
    after.restore(JSON.parse(JSON.stringify(before.snapshot())))
    assert.equal(after.observe(ev({ t: 2, id: 'third' }))[0]?.strongroom.alert.trigger, 'third')
  })
  it('drop the state of a rule whose parameters changed', () => {
    const before = new Detector(r)
    before.observe(ev({ t: 0 }))
    before.observe(ev({ t: 1 }))
    const changed = one('threshold', '    count: 3\n    window: 2h')
    const after = new Detector(changed)
    after.restore(before.snapshot())
    assert.deepEqual(after.observe(ev({ t: 2 })), [])
  })
  it('refuse what is not a snapshot, keeping the state as it was', () => {
    const d = new Detector(r)
    d.observe(ev({ t: 0 }))
    d.observe(ev({ t: 1 }))
    const good = d.snapshot()
    const entry = (groups: unknown) => ({
      ...good,
      rules: { r: { sig: good.rules.r?.sig, groups } },
    })
    for (const bad of [
      null,
      {},
      { format: 'other', rules: {} },
      entry('x'),
      entry([['k', { a: 'soon', t: [], r: [] }]]),
      entry([['k', { a: null, t: [1, 2, 3, 4], r: ['a', 'b', 'c', 'd'] }]]),
      entry([['k', { a: null, t: [1], r: [] }]]),
    ])
      assert.throws(
        () => {
          d.restore(bad)
        },
        (e: unknown) => isStrongroomError(e, 'INVALID_ARGUMENT'),
      )
    assert.equal(d.observe(ev({ t: 2, id: 'still' }))[0]?.strongroom.alert.trigger, 'still')
  })
})

describe('properties', () => {
  const defaults = loadRules()

  it('observe never throws, whatever it is given, and says so in its stats', () => {
    const key = fc.constantFrom(
      'eventTime',
      'eventName',
      'eventSource',
      'userIdentity',
      'userAgent',
      'sourceIPAddress',
      'requestParameters',
      'responseElements',
      'resources',
      'recipientAccountId',
      'errorCode',
      'strongroom',
      'requestID',
      'vpcEndpointId',
      '__proto__',
      'constructor',
    )
    const eventLike = fc.dictionary(
      key,
      fc.anything({ maxDepth: 3, withNullPrototype: true, withObjectString: true }),
    )
    const shaped = fc.record({
      eventName: fc.constantFrom(
        'PutBucketPolicy',
        'PutRolePolicy',
        'DeleteObjects',
        'GetObject',
        'ScanVerdict',
        'DisableKey',
      ),
      eventTime: fc.oneof(fc.constant('2026-03-02T00:00:00Z'), fc.string()),
      userIdentity: fc.anything({ maxDepth: 3 }),
      requestParameters: fc.record({
        bucketPolicy: fc.anything({ maxDepth: 4 }),
        policyDocument: fc.oneof(fc.json(), fc.string()),
        delete: fc.anything({ maxDepth: 2 }),
      }),
      resources: fc.anything({ maxDepth: 2 }),
      userAgent: fc.oneof(fc.string(), fc.anything()),
      sourceIPAddress: fc.oneof(fc.ipV4(), fc.ipV6(), fc.string()),
    })
    fc.assert(
      fc.property(
        fc.array(fc.oneof(fc.anything(), eventLike, shaped), { maxLength: 20 }),
        (events) => {
          const d = new Detector(defaults)
          for (const e of events)
            for (const a of d.observe(e as AuditEvent)) assert.doesNotMatch(message(a), /[\n\r]/)
          assert.equal(d.stats().errors, 0)
        },
      ),
      { numRuns: 300 },
    )
  })

  const small = rules(`
  - { id: burst, title: T, severity: low, description: D, kind: threshold, count: 3, window: 60s, where: { field: errorCode, exists: true } }
  - { id: volume, title: T, severity: low, description: D, kind: baseline, sum: strongroom.bytesOut, factor: 1.5, historyDays: 1, minActiveHours: 1 }
  - { id: novel, title: T, severity: low, description: D, kind: first-seen, field: eventName, learning: 1h, retain: 3h, maxValues: 2 }
  - { id: net, title: T, severity: low, description: D, kind: first-seen, field: sourceNetwork, learning: 30m, suppress: 10m }
  - { id: cross, title: T, severity: low, description: D, kind: cross-tenant, suppress: 5m }
  - { id: deny, title: T, severity: low, description: D, kind: match, suppress: 5m, groupBy: [principal, eventName], where: { field: errorCode, equals: AccessDenied } }
`)
  const step = fc.record({
    // Mostly forwards, sometimes far, now and then backwards: streams arrive out of order.
    dt: fc.oneof(
      { weight: 6, arbitrary: fc.integer({ min: 0, max: 30 }) },
      { weight: 3, arbitrary: fc.integer({ min: 0, max: 5400 }) },
      { weight: 1, arbitrary: fc.integer({ min: -7200, max: 0 }) },
    ),
    who: fc.constantFrom('a', 'b', 'c', 'd', 'anonymous'),
    op: fc.constantFrom('GetObject', 'PutObject', 'DeleteObject', 'ListBuckets', 'DisableKey'),
    ip: fc.constantFrom('10.0.0.1', '10.0.1.1', '192.0.2.7', '2001:db8::1'),
    err: fc.option(fc.constantFrom('AccessDenied', 'NoSuchKey'), { nil: undefined }),
    owner: fc.constantFrom('111122223333', '444455556666'),
    bytes: fc.nat(1000),
  })

  it('a detector restored from a snapshot raises what an uninterrupted one does', () => {
    const fired = new Set<string>()
    fc.assert(
      fc.property(
        fc.array(step, { maxLength: 150 }),
        fc.nat(),
        fc.constantFrom(undefined, 2),
        (steps, cutAt, maxGroups) => {
          let t = 0
          const events = steps.map((s, i) => {
            t += s.dt
            return ev({
              t,
              who: s.who,
              op: s.op,
              ip: s.ip,
              owner: s.owner,
              bytes: s.bytes,
              id: `E${i}`,
              ...(s.err === undefined ? {} : { err: s.err }),
            })
          })
          const opts = maxGroups === undefined ? {} : { maxGroups }
          const all = (d: Detector, es: AuditEvent[]) =>
            es.flatMap((e) => d.observe(e).map((a) => JSON.stringify(a)))
          const whole = all(new Detector(small, opts), events)
          for (const w of whole) fired.add((JSON.parse(w) as Alert).strongroom.alert.ruleId)
          const cut = events.length === 0 ? 0 : cutAt % (events.length + 1)
          const first = new Detector(small, opts)
          const before = all(first, events.slice(0, cut))
          const second = new Detector(small, opts)
          second.restore(JSON.parse(JSON.stringify(first.snapshot())))
          assert.deepEqual([...before, ...all(second, events.slice(cut))], whole)
        },
      ),
      { numRuns: 300 },
    )
    // The streams are busy enough to exercise every kind's state, not just empty ones.
    assert.deepEqual([...fired].sort(), ['burst', 'cross', 'deny', 'net', 'novel', 'volume'])
  })
})
