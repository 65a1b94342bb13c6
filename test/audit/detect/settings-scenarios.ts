/**
 * The scenarios of generate.ts about security settings: keys disabled or scheduled for
 * deletion, policies that grant `*` or public access, public access blocks, audit settings,
 * scan verdicts, and credentials used after their role's sessions were revoked.
 */
import {
  ACCOUNTS,
  MIB,
  STRONGROOM,
  Stream,
  UA,
  admin,
  at,
  bob,
  carol,
  keyAdmin,
  mallory,
  padmin,
  principal,
  trainer,
  type Call,
  type Who,
} from './streams.ts'

const R = ACCOUNTS.research
const V = ACCOUNTS.vision

const kmsKey = (id: string) => [
  { ARN: `arn:aws:kms:us-east-1:${R}:key/${id}`, accountId: R, type: 'AWS::KMS::Key' },
]

function keyDisabled(): Stream {
  const s = new Stream(8)
  const A = '1234abcd-12ab-34cd-56ef-1234567890ab'
  const B = '0987dcba-09fe-87dc-65ba-ab0987654321'
  const C = '5c1e2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b'
  const kms = (who: Who, time: number, op: string, keyId?: string, extra: Partial<Call> = {}) => {
    const { params, ...rest } = extra
    return s.add({
      time,
      who,
      op,
      service: 'kms',
      ip: '10.20.30.5',
      ua: UA.cli,
      params: keyId === undefined ? { description: 'research models' } : { keyId, ...params },
      resources: keyId === undefined ? [] : kmsKey(keyId),
      ...(keyId === undefined ? {} : { response: { keyId: kmsKey(keyId)[0]?.ARN } }),
      ...rest,
    })
  }
  kms(keyAdmin, at(0, 9), 'CreateKey')
  kms(keyAdmin, at(0, 9, 5), 'DescribeKey', A)
  const disable = kms(keyAdmin, at(0, 10), 'DisableKey', A)
  s.expect(
    'key-disabled-or-scheduled-for-deletion',
    `${principal(keyAdmin)}|${A}`,
    disable,
    'DisableKey',
  )
  kms(keyAdmin, at(0, 10, 10), 'EnableKey', A)
  const schedule = kms(keyAdmin, at(0, 11), 'ScheduleKeyDeletion', B, {
    params: { pendingWindowInDays: 7 },
  })
  s.expect(
    'key-disabled-or-scheduled-for-deletion',
    `${principal(keyAdmin)}|${B}`,
    schedule,
    'ScheduleKeyDeletion',
  )
  kms(keyAdmin, at(0, 11, 20), 'CancelKeyDeletion', B)
  kms(bob, at(0, 12), 'DisableKey', C, { error: 'AccessDeniedException' }) // refused: the key is not disabled
  const again = kms(keyAdmin, at(0, 12, 30), 'ScheduleKeyDeletion', A, {
    params: { pendingWindowInDays: 30 },
  })
  s.expect(
    'key-disabled-or-scheduled-for-deletion',
    `${principal(keyAdmin)}|${A}`,
    again,
    'the same key, scheduled for deletion: never suppressed',
  )
  s.write(
    'key-disabled',
    'A key administrator disables a key, schedules two deletions (one cancelled): three alerts; creating, describing, enabling, cancelling and a refused DisableKey stay quiet.',
  )
  return s
}

function policy(): Stream {
  const s = new Stream(9)
  const doc = (...Statement: object[]) => ({ Version: '2012-10-17', Statement })
  const bucketPolicy = (time: number, bucket: string, p: object, error?: string) =>
    s.add({
      time,
      who: padmin,
      op: 'PutBucketPolicy',
      ip: '10.20.30.7',
      ua: UA.cli,
      bucket,
      params: {
        bucketName: bucket,
        Host: `${bucket}.s3.strongroom.example`,
        policy: '',
        bucketPolicy: p,
      },
      ...(error === undefined ? {} : { error }),
    })
  const iam = (time: number, op: string, params: Record<string, unknown>) =>
    s.add({
      time,
      who: padmin,
      op,
      service: 'iam',
      ip: '10.20.30.7',
      ua: UA.cli,
      params,
      resources: [],
    })
  const read = (bucket: string) => ({
    Effect: 'Allow',
    Action: 's3:GetObject',
    Resource: `arn:aws:s3:::${bucket}/*`,
  })
  const pub = bucketPolicy(
    at(0, 9),
    'research-public',
    doc({ Sid: 'PublicRead', Principal: '*', ...read('research-public') }),
  )
  s.expect(
    'policy-grants-public',
    `${principal(padmin)}|arn:aws:s3:::research-public`,
    pub,
    'Principal * reading every object',
  )
  bucketPolicy(
    at(0, 9, 10),
    'research-models',
    doc({
      Sid: 'VisionReads',
      Principal: { AWS: `arn:aws:iam::${V}:root` },
      ...read('research-models'),
    }),
  ) // one named account: quiet
  bucketPolicy(
    at(0, 9, 20),
    'research-data',
    doc({
      Sid: 'EndpointOnly',
      Principal: '*',
      ...read('research-data'),
      Condition: { StringEquals: { 'aws:SourceVpce': 'vpce-0a1b2c3d4e5f60718' } },
    }),
  ) // held to one endpoint: quiet
  const both = bucketPolicy(
    at(0, 10),
    'research-scratch',
    doc({
      Sid: 'Everything',
      Effect: 'Allow',
      Principal: { AWS: '*' },
      Action: '*',
      Resource: ['arn:aws:s3:::research-scratch', 'arn:aws:s3:::research-scratch/*'],
    }),
  )
  s.expect(
    'policy-grants-public',
    `${principal(padmin)}|arn:aws:s3:::research-scratch`,
    both,
    'everyone, every action: public',
  )
  s.expect(
    'policy-grants-all-actions',
    `${principal(padmin)}|PutBucketPolicy`,
    both,
    'everyone, every action: every action',
  )
  bucketPolicy(
    at(0, 10, 30),
    'research-models',
    doc({ Principal: '*', ...read('research-models') }),
    'AccessDenied',
  ) // refused: nothing written
  const inline = iam(at(0, 11), 'PutRolePolicy', {
    roleName: 'ml-trainer',
    policyName: 'debug',
    policyDocument: JSON.stringify(doc({ Effect: 'Allow', Action: '*', Resource: '*' })),
  })
  s.expect(
    'policy-grants-all-actions',
    `${principal(padmin)}|PutRolePolicy`,
    inline,
    'inline role policy Action *',
  )
  const attach = iam(at(0, 11, 15), 'AttachRolePolicy', {
    roleName: 'ml-trainer',
    policyArn: 'arn:aws:iam::aws:policy/AdministratorAccess',
  })
  s.expect(
    'policy-grants-all-actions',
    `${principal(padmin)}|AttachRolePolicy`,
    attach,
    'AdministratorAccess attached',
  )
  iam(at(0, 11, 20), 'AttachRolePolicy', {
    roleName: 'ml-trainer',
    policyArn: 'arn:aws:iam::aws:policy/ReadOnlyAccess',
  }) // quiet
  iam(at(0, 11, 30), 'CreatePolicyVersion', {
    policyArn: `arn:aws:iam::${R}:policy/readers`,
    setAsDefault: true,
    policyDocument: JSON.stringify(doc(read('research-models'))),
  }) // quiet
  const notAction = iam(at(0, 12), 'PutUserPolicy', {
    userName: 'bob',
    policyName: 'all-but-iam',
    policyDocument: JSON.stringify(doc({ Effect: 'Allow', NotAction: 'iam:*', Resource: '*' })),
  })
  s.expect(
    'policy-grants-all-actions',
    `${principal(padmin)}|PutUserPolicy`,
    notAction,
    'Allow with NotAction: everything else',
  )
  // How AWS revokes a role's sessions: a Deny * policy. Denies grant nothing: quiet.
  iam(at(0, 12, 30), 'PutRolePolicy', {
    roleName: 'ml-trainer',
    policyName: 'AWSRevokeOlderSessions',
    policyDocument: JSON.stringify(
      doc({
        Effect: 'Deny',
        Action: ['*'],
        Resource: ['*'],
        Condition: { DateLessThan: { 'aws:TokenIssueTime': '2026-03-02T12:30:00Z' } },
      }),
    ),
  })
  s.add({
    time: at(0, 13),
    who: padmin,
    op: 'DeleteBucketPolicy',
    ip: '10.20.30.7',
    ua: UA.cli,
    bucket: 'research-public',
  })
  s.write(
    'policy',
    'Policies that grant public access, every action, or AdministratorAccess raise alerts (one event raises two); a policy for one named account, one held to a VPC endpoint, a refused write, ReadOnlyAccess, a narrow managed policy, a Deny * revocation and a deletion stay quiet.',
  )
  return s
}

function publicAccessBlock(): Stream {
  const s = new Stream(10)
  const on = {
    BlockPublicAcls: true,
    IgnorePublicAcls: true,
    BlockPublicPolicy: true,
    RestrictPublicBuckets: true,
  }
  const put = (time: number, bucket: string, config: object) =>
    s.add({
      time,
      who: padmin,
      op: 'PutPublicAccessBlock',
      ip: '10.20.30.7',
      ua: UA.cli,
      bucket,
      params: {
        bucketName: bucket,
        Host: `${bucket}.s3.strongroom.example`,
        publicAccessBlock: '',
        PublicAccessBlockConfiguration: config,
      },
    })
  const g = (b: string) => `${principal(padmin)}|arn:aws:s3:::${b}`
  put(at(0, 9), 'research-models', on)
  const off = put(at(0, 10), 'research-public', { ...on, BlockPublicPolicy: false })
  s.expect('public-access-block-off', g('research-public'), off, 'BlockPublicPolicy false')
  const three = { BlockPublicAcls: true, IgnorePublicAcls: true, BlockPublicPolicy: true }
  const omitted = put(at(0, 11), 'research-web', three)
  s.expect(
    'public-access-block-off',
    g('research-web'),
    omitted,
    'RestrictPublicBuckets left out: S3 takes it as false',
  )
  const del = s.add({
    time: at(0, 12),
    who: padmin,
    op: 'DeletePublicAccessBlock',
    ip: '10.20.30.7',
    ua: UA.cli,
    bucket: 'research-data',
  })
  s.expect('public-access-block-off', g('research-data'), del, 'DeletePublicAccessBlock')
  s.add({
    time: at(0, 12, 30),
    who: bob,
    op: 'DeletePublicAccessBlock',
    ip: '10.20.30.31',
    ua: UA.cli,
    bucket: 'research-models',
    error: 'AccessDenied',
  }) // refused
  s.add({
    time: at(0, 13),
    who: padmin,
    op: 'GetPublicAccessBlock',
    ip: '10.20.30.7',
    ua: UA.cli,
    bucket: 'research-models',
  })
  s.write(
    'public-access-block',
    'A block written with every setting on stays quiet; one with a setting off, one with a setting left out, and a deletion raise alerts; a refused deletion and a read stay quiet.',
  )
  return s
}

function auditSettings(): Stream {
  const s = new Stream(11)
  const internal = (
    who: Who,
    time: number,
    op: string,
    params: Record<string, unknown> | undefined,
    error?: string,
  ) =>
    s.add({
      time,
      who,
      op,
      service: 'internal',
      ip: '198.18.0.10',
      ua: UA.cli,
      ...(params === undefined ? {} : { params }),
      ...(error === undefined ? {} : { error }),
    })
  internal(admin, at(0, 9), 'GetAuditSettings', undefined)
  const change = internal(admin, at(0, 10), 'UpdateAuditSettings', {
    sinks: ['file'],
    redactRequestParameters: true,
  })
  s.expect('audit-settings-changed', principal(admin), change, 'the audit sinks changed')
  const tried = internal(mallory, at(0, 11), 'UpdateAuditSettings', { sinks: [] }, 'AccessDenied')
  s.expect(
    'audit-settings-changed',
    principal(mallory),
    tried,
    'a refused attempt to turn the audit sinks off',
  )
  s.write(
    'audit-settings',
    'Reading the audit settings stays quiet; changing them, and trying to, raise alerts.',
  )
  return s
}

function scanVerdict(): Stream {
  const s = new Stream(12)
  // As src/audit/service-events.ts writes a verdict: a service event carrying the upload's
  // requestID, the object as its resource, the uploader in its parameters.
  const upload = (time: number, key: string, verdict: string, format: string) => {
    const put = s.add({
      time,
      who: carol,
      op: 'PutObject',
      ip: '192.0.2.21',
      ua: UA.rclone,
      bucket: 'vision-models',
      key,
      bytesIn: 300 * MIB,
    })
    return s.add({
      time: time + 20_000,
      who: STRONGROOM,
      requestId: put,
      op: 'ScanVerdict',
      service: 'internal',
      serviceEvent: true,
      ip: 'strongroom.internal',
      ua: 'strongroom.internal',
      owner: '',
      resources: [
        { ARN: `arn:aws:s3:::vision-models/${key}`, accountId: '', type: 'AWS::S3::Object' },
      ],
      params: {
        bucketName: 'vision-models',
        key,
        verdict,
        outcome: verdict === 'malicious' ? 'quarantined' : 'stored',
        scanPolicy: 'enforce',
        format,
        findings:
          verdict === 'clean'
            ? []
            : [
                {
                  rule: 'pickle.dangerous-global',
                  severity: verdict === 'malicious' ? 'critical' : 'medium',
                },
              ],
        uploadedBy: principal(carol),
      },
    })
  }
  upload(at(0, 9), 'resnet50/model.safetensors', 'clean', 'safetensors')
  upload(at(0, 10), 'yolo/best.pt', 'suspicious', 'zip')
  const bad = upload(at(0, 11), 'community/evil.pkl', 'malicious', 'pickle')
  s.expect(
    'malicious-scan-verdict',
    'arn:aws:s3:::vision-models/community/evil.pkl',
    bad,
    "a pickle that runs code on load (the verdict carries the upload's requestID)",
  )
  s.write(
    'scan-verdict',
    'Three uploads scanned: clean and suspicious verdicts stay quiet, a malicious one raises an alert.',
  )
  return s
}

function revokedSession(): Stream {
  const s = new Stream(13)
  const get = (time: number, session: string, extra: Partial<Call> = {}) =>
    s.add({
      time,
      who: trainer,
      session,
      op: 'GetObject',
      ip: '10.20.40.12',
      ua: UA.boto3,
      vpce: 'vpce-0a1b2c3d4e5f60718',
      bucket: 'research-models',
      key: 'models/llama-ft/shard-00001.safetensors',
      bytesOut: 50 * MIB,
      ...extra,
    })
  for (let m = 0; m < 240; m += 20) get(at(0, 8) + m * 60_000, 'job-41')
  s.add({
    time: at(0, 12),
    who: padmin,
    op: 'PutRolePolicy',
    service: 'iam',
    ip: '10.20.30.7',
    ua: UA.cli,
    resources: [],
    params: {
      roleName: 'ml-trainer',
      policyName: 'AWSRevokeOlderSessions',
      policyDocument: JSON.stringify({
        Version: '2012-10-17',
        Statement: [
          {
            Effect: 'Deny',
            Action: ['*'],
            Resource: ['*'],
            Condition: { DateLessThan: { 'aws:TokenIssueTime': '2026-03-02T12:00:00Z' } },
          },
        ],
      }),
    },
  })
  const revoked = { error: 'AccessDenied', bytesOut: 0, extra: { sessionRevoked: true } }
  const first = get(at(0, 12, 5), 'job-41', revoked)
  s.expect(
    'revoked-session-use',
    principal(trainer),
    first,
    'the revoked session, used five minutes after',
  )
  get(at(0, 12, 6), 'job-41', revoked) // suppressed
  get(at(0, 12, 9), 'job-41', revoked) // suppressed
  get(at(0, 12, 10), 'job-42') // a session issued after the revocation: quiet
  const later = get(at(0, 12, 40), 'job-41', { ...revoked, error: 'ExpiredToken' })
  s.expect(
    'revoked-session-use',
    principal(trainer),
    later,
    'the same credential half an hour later (ExpiredToken)',
  )
  s.write(
    'revoked-session',
    "A role's sessions are revoked; its old session is refused three times within ten minutes (one alert) and again half an hour later (a second); a new session works quietly.",
  )
  return s
}

export const SETTINGS = [
  keyDisabled,
  policy,
  publicAccessBlock,
  auditSettings,
  scanVerdict,
  revokedSession,
]
