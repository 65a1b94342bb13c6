/**
 * An event always fits in one log record (a C2SP tile entry holds at most 65,535 bytes): however
 * long and however escaped the strings a caller controls (keys, ARNs, user agents, parameters),
 * `encodeEvent` answers valid JSON within the bound, keeping the event's identity. Outside
 * review of issue 15: a 20,000-character RoleArn of control characters made a record of
 * 121,023 bytes, and the request went unrecorded.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import { encodeEvent, type AuditEvent } from './event.ts'
import { sampleEvent } from './sinks/testing.ts'
import { MAX_ENTRY_BYTES } from './tlog/tiles.ts'

const nasty = (n: number) =>
  fc.string({
    unit: fc.constantFrom('\u0001', '"', '\\', 'é', '𝄞', 'a'),
    minLength: 0,
    maxLength: n,
  })

describe('encodeEvent', () => {
  it('keeps an ordinary event as it is', () => {
    const e = sampleEvent(1)
    assert.equal(encodeEvent(e).toString(), JSON.stringify(e))
  })

  it('any event, however large its caller-controlled strings, is valid JSON within a tile entry', () => {
    fc.assert(
      fc.property(
        nasty(30_000),
        nasty(30_000),
        fc.array(nasty(5_000), { maxLength: 60 }),
        fc.nat({ max: 200 }),
        (key, agent, statements, evaluations) => {
          const base = sampleEvent(7)
          const e: AuditEvent = {
            ...base,
            userAgent: agent,
            requestParameters: { bucketName: key, key, extra: statements },
            resources: statements.map((s) => ({ ARN: `arn:aws:s3:::${s}`, accountId: s, type: s })),
            errorCode: key.slice(0, 100),
            errorMessage: key,
            strongroom: {
              ...base.strongroom,
              statements,
              evaluations: Array.from({ length: evaluations }, () => ({
                action: agent,
                resource: key,
                decision: 'ImplicitDeny' as const,
              })),
            },
          }
          const bytes = encodeEvent(e)
          assert.ok(bytes.length <= MAX_ENTRY_BYTES, `${bytes.length} bytes`)
          const back = JSON.parse(bytes.toString()) as AuditEvent
          assert.equal(back.requestID, 'req-7')
          assert.equal(back.eventName, 'GetObject')
        },
      ),
      { numRuns: 60 },
    )
  })
})
