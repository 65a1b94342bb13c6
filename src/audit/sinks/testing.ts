/**
 * What the sink tests share: a CA and a server certificate for 127.0.0.1 and localhost, made by
 * the gateway's own X.509 code (src/net/testing.ts), numbered events, and de-duplication by seq done the
 * way a receiver would do it. Only tests import this module.
 */
import type { AuditEvent } from '../event.ts'

export { testCertificates, type TestCertificates } from '../../net/testing.ts'

/** Event number `i`: an allowed GetObject unless `over` says otherwise. */
export function sampleEvent(
  i: number,
  over: { eventName?: string; decision?: AuditEvent['strongroom']['decision'] } = {},
): AuditEvent {
  return {
    eventVersion: '1.11',
    eventTime: '2026-01-02T03:04:05Z',
    eventSource: 's3.amazonaws.com',
    eventName: over.eventName ?? 'GetObject',
    awsRegion: 'us-east-1',
    sourceIPAddress: '192.0.2.10',
    userAgent: 'aws-cli/2',
    userIdentity: { type: 'AWSAccount', principalId: '', accountId: 'anonymous' },
    requestParameters: { bucketName: 'models', key: `weights/${i}.safetensors` },
    responseElements: null,
    requestID: `req-${i}`,
    eventID: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
    readOnly: true,
    resources: [
      { ARN: `arn:aws:s3:::models/weights/${i}`, accountId: '', type: 'AWS::S3::Object' },
    ],
    eventType: 'AwsApiCall',
    recipientAccountId: '111122223333',
    strongroom: {
      decision: over.decision ?? 'Allow',
      statements: [],
      bytesIn: 0,
      bytesOut: 1024,
      latencyMs: 1.5,
      status: 200,
    },
  }
}

/** The seqs in the order they first arrived, repeats removed: what a de-duplicating receiver keeps. */
export function firstArrivals(seqs: Iterable<number>): number[] {
  const seen = new Set<number>()
  const out: number[] = []
  for (const s of seqs) {
    if (seen.has(s)) continue
    seen.add(s)
    out.push(s)
  }
  return out
}

/** from, from+1, …, below `to`. */
export function range(from: number, to: number): number[] {
  return Array.from({ length: Math.max(0, to - from) }, (_, i) => from + i)
}
