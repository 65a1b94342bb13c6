/**
 * Known answers: each recorded stream under test/audit/detect/ (written once by generate.ts)
 * is replayed through the default rules, and must raise exactly the alerts its
 * NAME.alerts.json plants, by rule, group and triggering requestID, and no other. Every stream
 * is therefore also a test that the other sixteen rules stay quiet on it.
 */
import assert from 'node:assert/strict'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import type { AuditEvent } from '../event.ts'
import { message, type Alert } from './alert.ts'
import { Detector } from './engine.ts'
import { loadRules } from './load.ts'

const DIR = join(import.meta.dirname, '..', '..', '..', 'test', 'audit', 'detect')
const rules = loadRules()

interface Planted {
  readonly rule: string
  readonly group: string
  readonly trigger: string
}

function stream(name: string): AuditEvent[] {
  return readFileSync(join(DIR, `${name}.events.jsonl`), 'utf8')
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as AuditEvent)
}

function planted(name: string): Planted[] {
  const body = JSON.parse(readFileSync(join(DIR, `${name}.alerts.json`), 'utf8')) as {
    alerts: Planted[]
  }
  return body.alerts.map(({ rule, group, trigger }) => ({ rule, group, trigger }))
}

/** Alerts in stream order, and by rule id for one event (the order the answers are written in). */
function replay(d: Detector, events: readonly AuditEvent[]): { alert: Alert; at: number }[] {
  const out: { alert: Alert; at: number }[] = []
  events.forEach((e, at) => {
    for (const alert of d.observe(e)) out.push({ alert, at })
  })
  return out.sort(
    (x, y) =>
      x.at - y.at || x.alert.strongroom.alert.ruleId.localeCompare(y.alert.strongroom.alert.ruleId),
  )
}

const summary = (alerts: { alert: Alert }[]): Planted[] =>
  alerts.map(
    ({
      alert: {
        strongroom: { alert: a },
      },
    }) => ({ rule: a.ruleId, group: a.group, trigger: a.trigger }),
  )

const STREAMS = [
  'audit-settings',
  'benign',
  'cross-tenant',
  'denied-burst',
  'download-exfiltration',
  'first-seen',
  'key-disabled',
  'mass-delete',
  'pentest-agent',
  'policy',
  'public-access-block',
  'revoked-session',
  'scan-verdict',
]

describe('recorded streams through the default rules', () => {
  it('has one stream per rule category, each with its answers', () => {
    const names = readdirSync(DIR)
      .filter((f) => f.endsWith('.events.jsonl'))
      .map((f) => f.replace('.events.jsonl', ''))
      .sort()
    assert.deepEqual(names, STREAMS)
    for (const n of names) assert.ok(readdirSync(DIR).includes(`${n}.alerts.json`), n)
  })

  it('every default rule is planted in some stream', () => {
    const fired = new Set(STREAMS.flatMap((n) => planted(n).map((p) => p.rule)))
    assert.deepEqual(
      rules.map((r) => r.id).filter((id) => !fired.has(id)),
      [],
    )
  })

  for (const name of STREAMS)
    it(`${name}: raises exactly the planted alerts`, () => {
      const events = stream(name)
      const d = new Detector(rules)
      const got = replay(d, events)
      assert.deepEqual(summary(got), planted(name))
      assert.equal(d.stats().errors, 0)
      assert.equal(d.stats().events, events.length)
      for (const { alert, at } of got) {
        const a = alert.strongroom.alert
        const trigger = events[at]
        assert.equal(a.trigger, trigger?.requestID)
        assert.equal(a.evidence.at(-1), a.trigger, 'the trigger is the last piece of evidence')
        assert.equal(alert.eventTime, trigger?.eventTime)
        assert.equal(alert.eventSource, 'strongroom.internal')
        assert.equal(alert.eventName, 'DetectionAlert')
        assert.equal(alert.eventType, 'AwsServiceEvent')
        assert.doesNotMatch(message(alert), /[\n\r]/)
        assert.match(message(alert), new RegExp(`^${a.severity.toUpperCase()} ${a.ruleId} `))
      }
    })

  it('the benign stream is long enough that every first-seen rule is past its learning week', () => {
    const events = stream('benign')
    const span = Date.parse(events.at(-1)?.eventTime ?? '') - Date.parse(events[0]?.eventTime ?? '')
    assert.ok(span > 7 * 86_400_000, `${span}`)
  })

  for (const name of ['download-exfiltration', 'mass-delete', 'first-seen', 'denied-burst'])
    it(`${name}: a restart from a snapshot mid-stream raises the same alerts`, () => {
      const events = stream(name)
      const whole = summary(replay(new Detector(rules), events))
      for (const cut of [1, Math.floor(events.length / 2), events.length - 3]) {
        const before = new Detector(rules)
        const first = replay(before, events.slice(0, cut))
        const after = new Detector(rules)
        after.restore(JSON.parse(JSON.stringify(before.snapshot())))
        const second = replay(after, events.slice(cut))
        assert.deepEqual([...summary(first), ...summary(second)], whole, `cut at ${cut}`)
      }
    })

  it('replaying a stream twice from scratch gives byte-identical alerts', () => {
    const events = stream('policy')
    const a = replay(new Detector(rules), events).map((x) => JSON.stringify(x.alert))
    const b = replay(new Detector(rules), events).map((x) => JSON.stringify(x.alert))
    assert.deepEqual(a, b)
  })
})
