/**
 * The scenarios of generate.ts about something new or foreign in how a principal works:
 * first-seen operations, networks, clients and endpoints after a learning week, and the user
 * agents of penetration-testing distributions and tools.
 */
import {
  ACCOUNTS,
  ANONYMOUS,
  MIB,
  Stream,
  UA,
  WORK,
  alice,
  at,
  auditor,
  carol,
  ciBot,
  days,
  eve,
  frank,
  gina,
  intern,
  principal,
  scientist,
  steady,
  type Call,
  type Who,
} from './streams.ts'

const R = ACCOUNTS.research

function firstSeen(): Stream {
  const s = new Stream(6)
  const ops = ['GetObject', 'ListObjectsV2', 'PutObject'] as const
  let i = 0
  const usual = (): Omit<Call, 'time' | 'who'> => {
    const op = i < ops.length ? ops[i] : s.pick(ops)
    i++
    return {
      op: op ?? 'GetObject',
      ip: `198.51.100.${s.int(10, 40)}`,
      ua: UA.boto3,
      bucket: 'vision-datasets',
      ...(op === 'ListObjectsV2' ? {} : { key: `imagenet/train/${s.int(1, 9999)}.jpg` }),
      bytesOut: op === 'GetObject' ? s.int(1, 3) * MIB : 0,
    }
  }
  steady(s, scientist, days(9), WORK, [1, 3], usual)
  // Day 2, still learning: a first HeadObject is learned, not reported.
  s.add({ time: at(2, 9, 30), who: scientist, ...usual(), op: 'HeadObject', bytesOut: 0 })
  const on8 = (hour: number, c: Partial<Call>) =>
    s.add({ time: at(8, hour, 31), who: scientist, ...usual(), op: 'GetObject', ...c })
  const g = principal(scientist)
  const op = on8(10, { op: 'GetBucketPolicy', bytesOut: 0 })
  s.expect('first-operation', g, op, 'GetBucketPolicy, never called in eight days')
  const net = on8(11, { ip: '203.0.113.77' })
  s.expect('first-network', g, net, 'a request from 203.0.113.0/24')
  const agent = on8(12, { ua: UA.curl })
  s.expect('first-user-agent', g, agent, 'curl, after eight days of boto3')
  const vpce = on8(13, { vpce: 'vpce-0f00ba11c0ffee000' })
  s.expect('first-endpoint', g, vpce, 'through a VPC endpoint, after eight days on the public one')
  on8(14, { ip: '198.51.100.200', ua: UA.boto3Upgraded }) // same /24, boto3 upgraded: quiet
  on8(15, { op: 'HeadObject', bytesOut: 0 }) // learned on day 2: quiet
  // A new user on day 8 starts its own learning week: quiet.
  for (const [n, op2] of ['ListBuckets', 'GetObject', 'PutObject'].entries())
    s.add({
      time: at(8, 16, n * 7),
      who: intern,
      op: op2,
      ip: '203.0.113.5',
      ua: UA.curl,
      ...(op2 === 'ListBuckets' ? {} : { bucket: 'vision-datasets', key: 'x.jpg' }),
    })
  s.write(
    'first-seen',
    'Nine days of a data scientist role; after the learning week, a new operation, network, client and endpoint each raise one alert; a new host in a known /24, a boto3 upgrade, an operation learned during the week and a brand-new user stay quiet.',
  )
  return s
}

function pentest(): Stream {
  const s = new Stream(7)
  const call = (
    who: Who,
    time: number,
    ua: string,
    op = 'ListBuckets',
    extra: Partial<Call> = {},
  ) => s.add({ time, who, op, ip: '203.0.113.150', ua, ...extra })
  const kali = call(eve, at(0, 9), UA.kali)
  s.expect(
    'pentest-user-agent',
    `${principal(eve)}|aws-cli`,
    kali,
    'AWS CLI on Kali (md/distrib#kali)',
  )
  for (const m of [1, 2, 3, 4, 5])
    call(eve, at(0, 9, m), UA.kali, 'ListObjectsV2', { bucket: 'research-models' }) // suppressed
  const parrot = call(frank, at(0, 10), UA.parrot)
  s.expect(
    'pentest-user-agent',
    `${principal(frank)}|aws-cli`,
    parrot,
    'AWS CLI on a Parrot kernel',
  )
  const pentoo = call(gina, at(0, 10, 30), UA.pentoo, 'GetObject', {
    bucket: 'vision-datasets',
    key: 'a.jpg',
    bytesOut: MIB,
  })
  s.expect('pentest-user-agent', `${principal(gina)}|boto3`, pentoo, 'boto3 on Pentoo')
  const again = call(eve, at(0, 11, 30), UA.kali, 'GetBucketPolicy', { bucket: 'research-models' })
  s.expect(
    'pentest-user-agent',
    `${principal(eve)}|aws-cli`,
    again,
    'Kali again, after the hour of suppression',
  )
  for (const [n, op] of [
    'ListBuckets',
    'GetBucketPolicy',
    'GetBucketAcl',
    'GetPublicAccessBlock',
    'ListUsers',
    'ListRoles',
    'GetBucketEncryption',
    'ListPolicies',
    'GetAccountSummary',
    'GetBucketVersioning',
  ].entries()) {
    const id = call(
      auditor,
      at(0, 12, 0, n * 3),
      UA.scout,
      op,
      op.startsWith('GetBucket') || op === 'GetPublicAccessBlock'
        ? { bucket: 'ops-logs' }
        : { service: op === 'ListBuckets' ? 's3' : 'iam' },
    )
    if (n === 0)
      s.expect(
        'pentest-user-agent',
        `${principal(auditor)}|scout-suite`,
        id,
        'a Scout Suite audit: once for the run',
      )
  }
  const truffle = call(ciBot, at(0, 13), UA.trufflehog, 'GetCallerIdentity', { service: 'sts' })
  s.expect(
    'pentest-user-agent',
    `${principal(ciBot)}|trufflehog`,
    truffle,
    "TruffleHog verifying ci-bot's leaked key",
  )
  const sqlmap = call(ANONYMOUS, at(0, 14), UA.sqlmap, 'GetObject', {
    bucket: 'research-public',
    key: "index.html?id=1'--",
    owner: R,
    error: 'AccessDenied',
  })
  s.expect('pentest-user-agent', 'anonymous|sqlmap', sqlmap, 'sqlmap against a public bucket')
  call(alice, at(0, 15), UA.kalimba, 'GetObject', {
    bucket: 'research-notebooks',
    key: 'a.ipynb',
    bytesOut: MIB,
  }) // Kalimba is not Kali
  call(carol, at(0, 15, 10), UA.parrotSync, 'ListObjectsV2', { bucket: 'vision-datasets' }) // nor is parrot-sync
  s.write(
    'pentest-agent',
    'Kali, Parrot and Pentoo clients, a Scout Suite run, TruffleHog and sqlmap each raise one alert per principal and client an hour; user agents that only look alike stay quiet.',
  )
  return s
}

export const NOVELTY = [firstSeen, pentest]
