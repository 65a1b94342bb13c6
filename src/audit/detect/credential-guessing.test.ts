/**
 * Outside review of issue 15: credentials guessed or stolen and tried from one place are
 * refused before they name a principal (SignatureDoesNotMatch, InvalidAccessKeyId,
 * InvalidToken), so the per-principal burst rule never sees them. The per-source rule counts
 * them: fifty from one address within a minute raise denied-burst-source; forty-nine do not.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { AuditEvent } from '../event.ts'
import { sampleEvent } from '../sinks/testing.ts'
import { Detector } from './engine.ts'
import { loadRules } from './load.ts'

const refused = (i: number, code: string): AuditEvent => ({
  ...sampleEvent(i, { decision: 'None' }),
  eventName: 'Unknown',
  eventTime: `2026-12-03T10:00:${String(i % 60).padStart(2, '0')}Z`,
  sourceIPAddress: '203.0.113.7',
  errorCode: code,
  strongroom: { ...sampleEvent(i).strongroom, decision: 'None', status: 403 },
})

describe('credential guessing from one address', () => {
  it('fifty refused signatures, keys or tokens within a minute raise denied-burst-source once', () => {
    const d = new Detector(loadRules())
    const codes = ['SignatureDoesNotMatch', 'InvalidAccessKeyId', 'InvalidToken']
    const alerts = Array.from({ length: 50 }, (_, i) =>
      d.observe(refused(i, codes[i % 3] ?? '')),
    ).flat()
    assert.deepEqual(
      alerts.map((a) => [a.strongroom.alert.ruleId, a.strongroom.alert.trigger]),
      [['denied-burst-source', 'req-49']],
    )
  })

  it('forty-nine do not', () => {
    const d = new Detector(loadRules())
    const alerts = Array.from({ length: 49 }, (_, i) =>
      d.observe(refused(i, 'SignatureDoesNotMatch')),
    ).flat()
    assert.deepEqual(alerts, [])
  })
})
