/**
 * Builders for recorded audit streams: CloudTrail-shaped events as the gateway writes them
 * (src/audit/event.ts), with a seeded random source so that generate.ts writes the same bytes
 * every time. A Stream collects events and the alerts a scenario plants, each named by the
 * requestID that must raise it: the known answers come from how the stream was built, never
 * from running the detector.
 */
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { AuditEvent, UserIdentity } from '../../../src/audit/event.ts'

/** Monday 2 March 2026, 00:00 UTC: day 0 of every stream. */
export const T0 = Date.UTC(2026, 2, 2)
export const HOUR = 3_600_000
export const MIB = 1 << 20

export const at = (day: number, hour: number, min = 0, sec = 0): number =>
  T0 + day * 24 * HOUR + hour * HOUR + min * 60_000 + sec * 1000

/** mulberry32: small, seeded, good enough to vary sizes and times. */
export function random(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

export const ACCOUNTS = {
  research: '111122223333',
  vision: '444455556666',
  ops: '777788889999',
} as const

export interface Who {
  readonly account: string
  /** A user name, or a role name for a role session; undefined: anonymous. */
  readonly name?: string
  readonly role?: boolean
  /** Strongroom itself (a service event): the service named as `invokedBy`. */
  readonly service?: string
}

export const user = (account: string, name: string): Who => ({ account, name })
export const role = (account: string, name: string): Who => ({ account, name, role: true })
export const ANONYMOUS: Who = { account: 'anonymous' }
export const STRONGROOM: Who = { account: '', service: 'strongroom.internal' }

/** The cast: who acts in the recorded streams. */
export const alice = user(ACCOUNTS.research, 'alice')
export const bob = user(ACCOUNTS.research, 'bob')
export const ciBot = user(ACCOUNTS.research, 'ci-bot')
export const releaseBot = user(ACCOUNTS.research, 'release-bot')
export const eve = user(ACCOUNTS.research, 'eve')
export const keyAdmin = user(ACCOUNTS.research, 'key-admin')
export const padmin = user(ACCOUNTS.research, 'platform-admin')
export const trainer = role(ACCOUNTS.research, 'ml-trainer')
export const carol = user(ACCOUNTS.vision, 'carol')
export const frank = user(ACCOUNTS.vision, 'frank')
export const gina = user(ACCOUNTS.vision, 'gina')
export const mallory = user(ACCOUNTS.vision, 'mallory')
export const intern = user(ACCOUNTS.vision, 'intern')
export const scientist = role(ACCOUNTS.vision, 'data-scientist')
export const admin = user(ACCOUNTS.ops, 'admin')
export const auditor = role(ACCOUNTS.ops, 'security-audit')

/** The principal the detector groups by: the role's ARN for a role session. */
export function principal(w: Who): string {
  if (w.service !== undefined) return w.service
  if (w.name === undefined) return 'anonymous'
  return w.role === true
    ? `arn:aws:iam::${w.account}:role/${w.name}`
    : `arn:aws:iam::${w.account}:user/${w.name}`
}

export const UA = {
  cli: 'aws-cli/2.23.6 md/awscrt#0.23.8 ua/2.0 os/linux#6.8.0-51-generic md/arch#x86_64 lang/python#3.12.6 md/pyimpl#CPython cfg/retry-mode#standard md/installer#exe md/distrib#ubuntu.24 md/prompt#off md/command#s3.cp',
  boto3:
    'Boto3/1.35.75 md/Botocore#1.35.75 ua/2.0 os/linux#5.15.0-1071-aws md/arch#x86_64 lang/python#3.11.10 md/pyimpl#CPython cfg/retry-mode#legacy Botocore/1.35.75',
  boto3Upgraded:
    'Boto3/1.36.2 md/Botocore#1.36.2 ua/2.0 os/linux#5.15.0-1071-aws md/arch#x86_64 lang/python#3.11.10 md/pyimpl#CPython cfg/retry-mode#legacy Botocore/1.36.2',
  rclone: 'rclone/v1.68.2',
  sdkJs: 'aws-sdk-js/3.700.0 ua/2.1 os/linux#6.8.0 lang/js md/nodejs#22.11.0 api/s3#3.700.0 m/E',
  curl: 'curl/8.5.0',
  // The user agent AWS's guardduty-tester sends to raise PenTest:IAMUser/KaliLinux.
  kali: 'aws-cli/2.23.6 md/awscrt#1.0.0.dev0 ua/2.0 os/linux#6.12.13-cloud-amd64 md/arch#x86_64 lang/python#3.13.2 md/pyimpl#CPython cfg/retry-mode#standard md/installer#source md/distrib#kali.2025 md/prompt#off md/command#s3.ls',
  // As Unit 42 recorded it in CloudTrail (AWS CLI v1 on a Parrot kernel).
  parrot: 'aws-cli/1.19.1 Python/3.9.2 Linux/6.0.0-2parrot1-amd64 botocore/1.29.58',
  pentoo:
    'Boto3/1.34.0 md/Botocore#1.34.0 ua/2.0 os/linux#6.6.30-pentoo md/arch#x86_64 lang/python#3.12.3 md/pyimpl#CPython cfg/retry-mode#legacy Botocore/1.34.0',
  scout:
    'Scout-Suite/5.14.0 md/Botocore#1.35.75 ua/2.0 os/linux#6.10.11-cloud-amd64 md/arch#x86_64 lang/python#3.12.6 md/pyimpl#CPython cfg/retry-mode#legacy Scout Suite/5.14.0 (https://github.com/nccgroup/ScoutSuite)',
  trufflehog: 'TruffleHog',
  sqlmap: 'sqlmap/1.8.4#stable (https://sqlmap.org)',
  // Look-alikes that must not match: a browser add-on named Kalimba, a sync job named parrot.
  kalimba:
    'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Kalimba/2.1',
  parrotSync: 'rclone/v1.68.2 (parrot-sync)',
} as const

const SERVICE: Readonly<Record<string, string>> = {
  kms: 'kms.amazonaws.com',
  iam: 'iam.amazonaws.com',
  sts: 'sts.amazonaws.com',
  internal: 'strongroom.internal',
}
const READS = /^(Get|List|Head|Describe|Select)/

export interface Call {
  readonly time: number
  readonly who: Who
  readonly op: string
  /** s3 (default), kms, iam, sts or internal. */
  readonly service?: string
  readonly ip: string
  readonly ua: string
  readonly bucket?: string
  readonly key?: string
  /** The account that owns the bucket or key (default: the caller's). */
  readonly owner?: string
  readonly bytesOut?: number
  readonly bytesIn?: number
  readonly error?: string
  readonly params?: Readonly<Record<string, unknown>>
  readonly response?: Readonly<Record<string, unknown>>
  readonly resources?: AuditEvent['resources']
  readonly vpce?: string
  readonly session?: string
  readonly extra?: Readonly<Record<string, unknown>>
  readonly serviceEvent?: boolean
  /** The requestID, when the event belongs to a request already recorded (a scan verdict). */
  readonly requestId?: string
}

export interface Expected {
  readonly rule: string
  readonly group: string
  readonly trigger: string
  readonly note: string
}

export class Stream {
  readonly events: AuditEvent[] = []
  readonly alerts: Expected[] = []
  readonly rand: () => number
  private readonly ids = new Set<string>()

  constructor(seed: number) {
    this.rand = random(seed)
  }

  hex(n: number): string {
    let s = ''
    while (s.length < n) s += Math.floor(this.rand() * 16).toString(16)
    return s
  }

  /** A whole number from `lo` to `hi`. */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.rand() * (hi - lo + 1))
  }

  pick<T>(xs: readonly T[]): T {
    const x = xs[Math.floor(this.rand() * xs.length)]
    if (x === undefined) throw new Error('empty choice')
    return x
  }

  /** Records the call as an event; returns its requestID. */
  add(c: Call): string {
    let id = c.requestId ?? this.hex(16).toUpperCase()
    while (c.requestId === undefined && this.ids.has(id)) id = this.hex(16).toUpperCase()
    this.ids.add(id)
    this.events.push(build(c, id, this.hex(32), this.session(c)))
    return id
  }

  /** The event the call makes is the one that must raise `rule` for `group`. */
  expect(rule: string, group: string, trigger: string, note: string): void {
    this.alerts.push({ rule, group, trigger, note })
  }

  private session(c: Call): string {
    return c.session ?? `${c.who.name ?? 'anon'}-${new Date(c.time).toISOString().slice(0, 10)}`
  }

  /** Writes NAME.events.jsonl (in time order) and NAME.alerts.json beside this file. */
  write(name: string, description: string): void {
    const dir = import.meta.dirname
    const events = this.events
      .map((e, i) => ({ e, i }))
      .sort((a, b) => Date.parse(a.e.eventTime) - Date.parse(b.e.eventTime) || a.i - b.i)
      .map(({ e }) => JSON.stringify(e) + '\n')
    writeFileSync(join(dir, `${name}.events.jsonl`), events.join(''))
    const order = new Map(this.events.map((e, i) => [e.requestID, i]))
    const alerts = [...this.alerts].sort(
      (a, b) =>
        (order.get(a.trigger) ?? 0) - (order.get(b.trigger) ?? 0) || a.rule.localeCompare(b.rule),
    )
    const body = { stream: `${name}.events.jsonl`, description, alerts }
    writeFileSync(join(dir, `${name}.alerts.json`), JSON.stringify(body, null, 2) + '\n')
  }
}

function identity(w: Who, session: string, time: number, keyId: string): UserIdentity {
  if (w.service !== undefined) {
    // As src/audit/service-events.ts writes it (AuditEvent's UserIdentity gains this member
    // with the service events).
    const service: Record<string, unknown> = { type: 'AWSService', invokedBy: w.service }
    return service as unknown as UserIdentity
  }
  if (w.name === undefined) return { type: 'AWSAccount', principalId: '', accountId: 'anonymous' }
  const pid = `AIDA${keyId.slice(0, 17).toUpperCase()}`
  if (w.role !== true)
    return {
      type: 'IAMUser',
      principalId: pid,
      arn: principal(w),
      accountId: w.account,
      accessKeyId: `AKIA${keyId.slice(0, 16).toUpperCase()}`,
      userName: w.name,
    }
  const roleId = `AROA${keyId.slice(0, 17).toUpperCase()}`
  return {
    type: 'AssumedRole',
    principalId: `${roleId}:${session}`,
    arn: `arn:aws:sts::${w.account}:assumed-role/${w.name}/${session}`,
    accountId: w.account,
    accessKeyId: `ASIA${keyId.slice(0, 16).toUpperCase()}`,
    sessionContext: {
      sessionIssuer: {
        type: 'Role',
        principalId: roleId,
        arn: principal(w),
        accountId: w.account,
        userName: w.name,
      },
      attributes: {
        creationDate: new Date(Math.floor(time / HOUR) * HOUR).toISOString().replace('.000Z', 'Z'),
        mfaAuthenticated: 'false',
      },
    },
  }
}

function s3Resources(c: Call, owner: string): AuditEvent['resources'] {
  if (c.bucket === undefined) return []
  const bucket = { ARN: `arn:aws:s3:::${c.bucket}`, accountId: owner, type: 'AWS::S3::Bucket' }
  if (c.key === undefined) return [bucket]
  return [
    { ARN: `arn:aws:s3:::${c.bucket}/${c.key}`, accountId: owner, type: 'AWS::S3::Object' },
    bucket,
  ]
}

function build(c: Call, requestID: string, rnd: string, session: string): AuditEvent {
  const service = c.service ?? 's3'
  const owner = c.owner ?? (c.who.name === undefined ? ACCOUNTS.research : c.who.account)
  const readOnly = READS.test(c.op)
  // Stable per principal, so one user keeps one key id across the stream.
  const keyId = Buffer.from(principal(c.who)).toString('hex').slice(-17).padStart(17, '0')
  const params =
    c.params ??
    (c.bucket === undefined
      ? null
      : {
          bucketName: c.bucket,
          Host: `${c.bucket}.s3.strongroom.example`,
          ...(c.key === undefined ? {} : { key: c.key }),
        })
  // A service event (scan verdict) answers no one: no decision, status or latency.
  const svc = c.serviceEvent === true
  const status = svc ? 0 : c.error === undefined ? 200 : c.error === 'ExpiredToken' ? 400 : 403
  const event = {
    eventVersion: '1.11',
    eventTime: new Date(Math.floor(c.time / 1000) * 1000).toISOString().replace('.000Z', 'Z'),
    eventSource: SERVICE[service] ?? `${service}.amazonaws.com`,
    eventName: c.op,
    awsRegion: 'us-east-1',
    sourceIPAddress: c.ip,
    userAgent: c.ua,
    userIdentity: identity(c.who, session, c.time, keyId),
    requestParameters: params,
    responseElements: readOnly ? null : (c.response ?? null),
    requestID,
    eventID: `${rnd.slice(0, 8)}-${rnd.slice(8, 12)}-4${rnd.slice(13, 16)}-a${rnd.slice(17, 20)}-${rnd.slice(20, 32)}`,
    readOnly,
    resources: c.resources ?? s3Resources(c, owner),
    eventType: c.serviceEvent === true ? 'AwsServiceEvent' : 'AwsApiCall',
    recipientAccountId: owner,
    ...(c.vpce === undefined ? {} : { vpcEndpointId: c.vpce }),
    ...(c.error === undefined
      ? {}
      : {
          errorCode: c.error,
          errorMessage:
            c.error === 'ExpiredToken' ? 'The provided token has expired.' : 'Access Denied',
        }),
    strongroom: {
      decision: svc
        ? 'None'
        : c.error === undefined
          ? 'Allow'
          : c.error === 'ExpiredToken'
            ? 'None'
            : 'ImplicitDeny',
      statements: [],
      bytesIn: c.bytesIn ?? 0,
      bytesOut: c.bytesOut ?? 0,
      latencyMs: svc ? 0 : 3 + (parseInt(rnd.slice(0, 2), 16) % 40),
      status,
      ...c.extra,
    },
  } satisfies AuditEvent
  return event
}

/** The hours from `from` up to (not including) `to`. */
export function hours(from: number, to: number): number[] {
  return Array.from({ length: to - from }, (_, i) => from + i)
}

/** Days 0 to n - 1. */
export const days = (n: number): number[] => Array.from({ length: n }, (_, i) => i)
export const WORK = hours(9, 18)
export const ALL = hours(0, 24)

/** A steady worker: `perHour` calls each hour of `hrs` on each of `on`. */
export function steady(
  s: Stream,
  who: Who,
  on: number[],
  hrs: number[],
  perHour: [number, number],
  call: () => Omit<Call, 'time' | 'who'>,
): void {
  for (const d of on)
    for (const h of hrs) {
      const n = s.int(perHour[0], perHour[1])
      for (let i = 0; i < n; i++) {
        const time = at(d, h, Math.floor((i * 60) / n) + s.int(0, Math.floor(59 / n)), s.int(0, 59))
        s.add({ time, who, ...call() })
      }
    }
}
