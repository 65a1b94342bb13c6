/**
 * The audit stream (src/audit/stream.ts): what the log makes durable reaches every sink in
 * index order, the detector watches it and its alerts become events of the log themselves, and
 * a sink restarted after missing events is given them from the log. The sinks' own delivery
 * guarantees are tested in src/audit/sinks/; the rules in src/audit/detect/.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { isStrongroomError } from '../../src/errors.ts'
import { encodeEvent, type AuditEvent } from '../../src/audit/event.ts'
import { AuditLog } from '../../src/audit/log.ts'
import { events } from '../../src/audit/read.ts'
import { parseSinkSpecs } from '../../src/audit/sinks/config.ts'
import { sampleEvent } from '../../src/audit/sinks/testing.ts'
import { startAuditStream } from '../../src/audit/stream.ts'
import { generateKey } from '../../src/audit/tlog/note.ts'

const root = mkdtempSync(join(tmpdir(), 'sr-stream-'))
after(() => rmSync(root, { recursive: true, force: true }))
const origin = 'strongroom/audit/test'
const key = generateKey(origin)
const open = (dir: string) =>
  AuditLog.open({
    dir,
    signerKey: key.signerKey,
    verifierKey: key.verifierKey,
    origin,
    onAlert: () => {},
  })

/** The events a file sink wrote, in file order. */
function filed(dir: string): AuditEvent[] {
  return readdirSync(dir)
    .sort()
    .flatMap((f) => readFileSync(join(dir, f), 'utf8').trim().split('\n'))
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as AuditEvent)
}

describe('audit stream', () => {
  it('every durable event reaches the file sink in order; a Kali user agent raises an alert that is logged and exported', async () => {
    const dir = join(root, 'a')
    const files = join(root, 'a-files')
    const log = await open(dir)
    const alerts: string[] = []
    const stream = await startAuditStream(log, {
      sinks: parseSinkSpecs([{ type: 'file', name: 'siem', dir: files }]),
      rules: undefined,
      env: {},
      onAlert: (l) => alerts.push(l),
    })
    await log.append(encodeEvent(sampleEvent(0)))
    const kali = {
      ...sampleEvent(1),
      userAgent: 'aws-cli/2.15.0 md/Botocore#1.34 os/linux#6.12.38+kali-amd64',
    }
    await log.append(encodeEvent(kali))
    await log.flush()
    await stream.close()
    await log.close()
    const logged: AuditEvent[] = []
    for await (const e of events(dir)) logged.push(e)
    assert.deepEqual(
      logged.map((e) => e.eventName),
      ['GetObject', 'GetObject', 'DetectionAlert'],
    )
    const alert = logged[2] as unknown as {
      strongroom: { alert: { ruleId: string; trigger: string } }
    }
    assert.equal(alert.strongroom.alert.ruleId, 'pentest-user-agent')
    assert.equal(alert.strongroom.alert.trigger, 'req-1')
    assert.equal(alerts.length, 1)
    assert.match(alerts[0] ?? '', /pentest-user-agent/)
    assert.deepEqual(
      filed(files).map((e) => e.eventID),
      logged.map((e) => e.eventID),
    )
  })

  it('a sink that missed events (a crash, a sink added later) is given them from the log first', async () => {
    const dir = join(root, 'b')
    const files = join(root, 'b-files')
    const log = await open(dir)
    for (let i = 0; i < 5; i++) await log.append(encodeEvent(sampleEvent(i)))
    const stream = await startAuditStream(log, {
      sinks: parseSinkSpecs([{ type: 'file', name: 'late', dir: files }]),
      rules: 'off',
      env: {},
      onAlert: () => {},
    })
    await log.append(encodeEvent(sampleEvent(5)))
    await log.flush()
    await stream.close()
    await log.close()
    assert.deepEqual(
      filed(files).map((e) => e.requestID),
      ['req-0', 'req-1', 'req-2', 'req-3', 'req-4', 'req-5'],
    )
  })
})

describe('auditSinks setting', () => {
  it('names each sink and defaults the format to CloudTrail', () => {
    assert.deepEqual(
      parseSinkSpecs([
        { type: 'file', dir: '/var/log/sr' },
        { type: 'webhook', url: 'https://siem.example/in', tokenEnv: 'SIEM_TOKEN', format: 'ocsf' },
        { type: 'syslog', host: 'siem.example', port: 6514 },
      ]),
      [
        { type: 'file', name: 'file-0', format: 'cloudtrail', dir: '/var/log/sr' },
        {
          type: 'webhook',
          name: 'webhook-1',
          format: 'ocsf',
          url: 'https://siem.example/in',
          tokenEnv: 'SIEM_TOKEN',
        },
        {
          type: 'syslog',
          name: 'syslog-2',
          format: 'cloudtrail',
          host: 'siem.example',
          port: 6514,
        },
      ],
    )
  })

  for (const [raw, problem] of [
    [{}, /a list of at most 16 sinks/],
    [[{ type: 'kafka' }], /`type` is `file`, `webhook` or `syslog`/],
    [[{ type: 'file', dir: '/x', path: '/y' }], /`path` is not a setting of a file sink/],
    [
      [{ type: 'webhook', url: 'https://x', tokenEnv: 's3cr3t-token-value' }],
      /names an environment variable/,
    ],
    [[{ type: 'syslog', host: 'x', port: 70000 }], /`port` is a whole number/],
    [
      [
        { type: 'file', dir: '/a', name: 'x' },
        { type: 'file', dir: '/b', name: 'x' },
      ],
      /`name` is unique/,
    ],
  ] as const)
    it(`refuses ${JSON.stringify(raw).slice(0, 70)}`, () => {
      assert.throws(
        () => parseSinkSpecs(raw),
        (e) => isStrongroomError(e, 'CONFIG_INVALID') && problem.test((e as Error).message),
      )
    })

  it("docs/audit.md's example is a valid setting, as written", () => {
    const page = readFileSync(join(import.meta.dirname, '..', '..', 'docs', 'audit.md'), 'utf8')
    const section = page.slice(page.indexOf('\n## Sinks\n'))
    const block = /```json\n([\s\S]*?)```/.exec(section)?.[1] ?? ''
    const specs = parseSinkSpecs((JSON.parse(block) as { auditSinks: unknown }).auditSinks)
    assert.deepEqual(
      specs.map((x) => `${x.type}:${x.name}:${x.format}`),
      ['file:archive:ocsf', 'webhook:siem:cloudtrail', 'syslog:soc:cloudtrail'],
    )
  })

  it('a secret given by value is never echoed in the error', () => {
    assert.throws(
      () => parseSinkSpecs([{ type: 'webhook', url: 'https://x', tokenEnv: 'Bearer abc123' }]),
      (e) => !(e as Error).message.includes('abc123'),
    )
  })
})
