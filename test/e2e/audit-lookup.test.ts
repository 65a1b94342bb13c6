/**
 * CloudTrail's LookupEvents through the clients auditors use, against the gateway's one URL:
 * the aws CLI (v1 and v2) and boto3's paginator read a tenant's events, newest first, and see
 * nothing of another tenant's; a caller without cloudtrail:LookupEvents is refused. On
 * PostgreSQL the events come from the installation's shared log.
 * https://docs.aws.amazon.com/cli/latest/reference/cloudtrail/lookup-events.html,
 * https://docs.aws.amazon.com/awscloudtrail/latest/APIReference/API_LookupEvents.html
 */
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3'
import {
  alice,
  aws,
  awsV2,
  bob,
  ca,
  endpoint,
  env,
  needs,
  newKey,
  putUserPolicy,
  run,
  sdk,
  start,
  stop,
  strongroom,
  type Creds,
} from './harness.ts'

let auditor: Creds

/** docs/audit.md's LookupEvents section: its auditor policy and its command, run as written. */
const page = readFileSync(join(import.meta.dirname, '..', '..', 'docs', 'audit.md'), 'utf8')
const section = page.slice(page.indexOf('### LookupEvents'))
const docPolicy = /```json\n([\s\S]*?)```/.exec(section)?.[1] ?? ''
const docCommand = /```sh\n([\s\S]*?)```/.exec(section)?.[1] ?? ''

interface Shown {
  EventName: string
  Username?: string
  AccessKeyId?: string
  CloudTrailEvent: string
}

before(async () => {
  await start()
  const a = sdk(alice)
  await a.send(new CreateBucketCommand({ Bucket: 'lookup-models' }))
  await a.send(new PutObjectCommand({ Bucket: 'lookup-models', Key: 'w.bin', Body: 'weights' }))
  // Another tenant's user reaches for vision's model and is refused.
  await assert.rejects(
    sdk(bob).send(new GetObjectCommand({ Bucket: 'lookup-models', Key: 'w.bin' })),
    /Access Denied/,
  )
  strongroom(['user', 'create', '--tenant', 'vision', 'auditor'])
  putUserPolicy('vision', 'auditor', 'audit', JSON.parse(docPolicy) as object)
  auditor = newKey('vision', 'auditor')
})
after(stop)

describe('LookupEvents through the aws CLI and boto3', () => {
  it('aws cloudtrail lookup-events (v1 and v2) finds a tenant’s write by its name', (t) => {
    if (!needs(t, 'aws', 'awsV2')) return
    for (const cli of [aws, awsV2]) {
      const r = cli(
        auditor,
        'cloudtrail',
        'lookup-events',
        '--lookup-attributes',
        'AttributeKey=EventName,AttributeValue=PutObject',
        '--output',
        'json',
      )
      assert.equal(r.code, 0, r.stderr)
      const events = (JSON.parse(r.stdout) as { Events: Shown[] }).Events
      assert.deepEqual(
        events.map((e) => [e.EventName, e.Username, e.AccessKeyId]),
        [['PutObject', 'alice', alice.id]],
      )
      const record = JSON.parse(events[0]?.CloudTrailEvent ?? '{}') as Record<string, unknown>
      assert.equal(record.eventSource, 's3.amazonaws.com')
    }
  })

  it('docs/audit.md: the auditor policy and command, as written', (t) => {
    if (!needs(t, 'aws')) return
    assert.match(docCommand, /^aws cloudtrail lookup-events /)
    const r = spawnSync('bash', ['-euo', 'pipefail', '-c', docCommand], {
      env: { ...env(auditor), STRONGROOM_ENDPOINT: endpoint },
      encoding: 'utf8',
    })
    assert.equal(r.status, 0, r.stderr)
    const events = (JSON.parse(r.stdout) as { Events: Shown[] }).Events
    assert.deepEqual(
      events.map((e) => e.EventName),
      ['PutObject'],
    )
  })

  it('boto3’s paginator reads every S3 event of the tenant, newest first, a page at a time', (t) => {
    if (!needs(t, 'boto3')) return
    const r = run(
      'python3',
      [
        '-c',
        [
          'import boto3, json',
          `ct = boto3.client('cloudtrail', endpoint_url='${endpoint}', verify='${ca}')`,
          "pages = ct.get_paginator('lookup_events').paginate(LookupAttributes=[{'AttributeKey': 'EventSource', 'AttributeValue': 's3.amazonaws.com'}], PaginationConfig={'PageSize': 1})",
          "names = [[e['EventName'] for e in p['Events']] for p in pages]",
          'print(json.dumps(names))',
        ].join('\n'),
      ],
      auditor,
    )
    assert.equal(r.code, 0, r.stderr)
    // One event a page; the other tenant's refused attempt is vision's event too.
    assert.deepEqual(JSON.parse(r.stdout), [['GetObject'], ['PutObject'], ['CreateBucket']])
  })

  it('the other tenant sees its own attempt and none of vision’s work; no permission, no events', (t) => {
    if (!needs(t, 'aws')) return
    // bob may do anything in S3 but has no cloudtrail:LookupEvents.
    const refused = aws(bob, 'cloudtrail', 'lookup-events')
    assert.notEqual(refused.code, 0)
    assert.match(refused.stderr, /AccessDeniedException/)
    assert.match(refused.stderr, /cloudtrail:LookupEvents/)
    const audioAuditor = newKey('audio', 'bob')
    putUserPolicy('audio', 'bob', 'audit', {
      Version: '2012-10-17',
      Statement: [{ Effect: 'Allow', Action: 'cloudtrail:LookupEvents', Resource: '*' }],
    })
    const r = aws(
      audioAuditor,
      'cloudtrail',
      'lookup-events',
      '--lookup-attributes',
      'AttributeKey=EventSource,AttributeValue=s3.amazonaws.com',
      '--output',
      'json',
    )
    assert.equal(r.code, 0, r.stderr)
    const events = (JSON.parse(r.stdout) as { Events: Shown[] }).Events
    assert.deepEqual(
      events.map((e) => [e.EventName, e.Username]),
      [['GetObject', 'bob']],
    )
  })
})
