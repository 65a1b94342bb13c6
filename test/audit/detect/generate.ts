/**
 * Writes the recorded streams the detection tests replay (NAME.events.jsonl) and their known
 * answers (NAME.alerts.json): every alert a stream must raise, by rule, group and the
 * requestID that triggers it, and nothing else. The answers are planted by the scenarios
 * (below, in novelty-scenarios.ts and in settings-scenarios.ts), never computed by the
 * detector. Run once, commit the output:
 *
 *   node test/audit/detect/generate.ts && npx prettier --write 'test/audit/detect/*.json'
 *
 * Seeded: the same run writes the same bytes. Each stream is replayed through the default
 * rules (src/audit/detect/rules.yaml), so every stream is also a test that the other rules
 * stay quiet on it.
 */
import { NOVELTY } from './novelty-scenarios.ts'
import { SETTINGS } from './settings-scenarios.ts'
import {
  ACCOUNTS,
  ANONYMOUS,
  MIB,
  Stream,
  UA,
  ALL,
  WORK,
  admin,
  alice,
  at,
  bob,
  carol,
  ciBot,
  days,
  hours,
  mallory,
  principal,
  releaseBot,
  steady,
  trainer,
} from './streams.ts'

const R = ACCOUNTS.research
const V = ACCOUNTS.vision

const VPCE = 'vpce-0a1b2c3d4e5f60718'
const shard = (s: Stream) =>
  `models/llama-ft/shard-${String(s.int(0, 63)).padStart(5, '0')}.safetensors`

function benign(): Stream {
  const s = new Stream(1)
  // alice: reads and writes by hand, from the office network, with the CLI and boto3.
  const aliceOps = ['GetObject', 'PutObject', 'ListObjectsV2', 'HeadObject'] as const
  let i = 0
  steady(s, alice, days(8), WORK, [1, 3], () => {
    const op = i < aliceOps.length ? aliceOps[i] : s.pick(aliceOps)
    const ua = i === 0 ? UA.cli : i === 1 ? UA.boto3 : s.pick([UA.cli, UA.boto3])
    i++
    const key = op === 'ListObjectsV2' ? undefined : `notebooks/run-${s.int(1, 400)}.ipynb`
    return {
      op: op ?? 'GetObject',
      ip: `10.20.30.${s.int(10, 60)}`,
      ua,
      bucket: 'research-notebooks',
      ...(key === undefined ? {} : { key }),
      bytesOut: op === 'GetObject' ? s.int(1, 20) * MIB : 0,
      bytesIn: op === 'PutObject' ? s.int(1, 5) * MIB : 0,
    }
  })
  // ml-trainer: a training job reading shards around the clock through the VPC endpoint.
  steady(s, trainer, days(8), ALL, [1, 2], () => ({
    op: 'GetObject',
    ip: `10.20.40.${s.int(2, 250)}`,
    ua: UA.boto3,
    vpce: VPCE,
    bucket: 'research-models',
    key: shard(s),
    bytesOut: s.int(60, 140) * MIB,
  }))
  // carol: syncs a data set with rclone; deletes a few files; now and then a refusal.
  const carolOps = ['GetObject', 'PutObject', 'DeleteObject', 'ListObjectsV2'] as const
  let j = 0
  steady(s, carol, days(8), WORK, [1, 2], () => {
    const op = j < carolOps.length ? carolOps[j] : s.pick(carolOps)
    j++
    const denied = j > carolOps.length && s.rand() < 0.04
    return {
      op: op ?? 'GetObject',
      ip: `192.0.2.${s.int(20, 30)}`,
      ua: UA.rclone,
      bucket: 'vision-datasets',
      ...(op === 'ListObjectsV2' ? {} : { key: `coco/val/${s.int(1, 5000)}.jpg` }),
      bytesOut: op === 'GetObject' && !denied ? s.int(1, 4) * MIB : 0,
      ...(denied ? { error: 'AccessDenied' } : {}),
    }
  })
  // admin: a daily look at the ops tenant's own bucket policy.
  for (const d of days(8))
    s.add({
      time: at(d, 8, 5),
      who: admin,
      op: 'GetBucketPolicy',
      ip: '198.18.0.10',
      ua: UA.cli,
      bucket: 'ops-logs',
    })
  s.write(
    'benign',
    'Eight days of ordinary work in three tenants (hand use, a training job through a VPC endpoint, a sync job with the odd refusal, an admin): no alert at all.',
  )
  return s
}

function crossTenant(): Stream {
  const s = new Stream(2)
  steady(s, alice, [0], WORK, [1, 3], () => ({
    op: 'GetObject',
    ip: '10.20.30.14',
    ua: UA.cli,
    bucket: 'research-notebooks',
    key: `notebooks/run-${s.int(1, 40)}.ipynb`,
    bytesOut: 2 * MIB,
  }))
  steady(s, carol, [0], WORK, [1, 2], () => ({
    op: 'GetObject',
    ip: '192.0.2.21',
    ua: UA.rclone,
    bucket: 'vision-datasets',
    key: `coco/val/${s.int(1, 500)}.jpg`,
    bytesOut: MIB,
  }))
  const probe = (min: number) =>
    s.add({
      time: at(0, 14, min),
      who: carol,
      op: 'GetObject',
      ip: '192.0.2.21',
      ua: UA.rclone,
      bucket: 'research-models',
      key: 'models/llama-ft/config.json',
      owner: R,
      error: 'AccessDenied',
    })
  const first = probe(2)
  s.expect(
    'cross-tenant-access',
    `${principal(carol)}|${R}`,
    first,
    'vision user tries a research bucket: refused, still reported',
  )
  for (const m of [3, 5, 9]) probe(m) // the same group within an hour: suppressed
  const shared = s.add({
    time: at(0, 15, 30),
    who: alice,
    op: 'ListObjectsV2',
    ip: '10.20.30.14',
    ua: UA.cli,
    bucket: 'vision-shared',
    owner: V,
  })
  s.expect(
    'cross-tenant-access',
    `${principal(alice)}|${V}`,
    shared,
    'research user lists a vision bucket shared with it: allowed, reported',
  )
  s.add({
    time: at(0, 16),
    who: ANONYMOUS,
    op: 'GetObject',
    ip: '203.0.113.40',
    ua: UA.curl,
    bucket: 'research-public',
    key: 'README.md',
    owner: R,
    bytesOut: 4096,
  }) // anonymous: no tenant of its own, not cross-tenant
  s.write(
    'cross-tenant',
    'A day of own-tenant work; a vision user probes a research bucket four times (one alert, the rest suppressed); a research user reads a shared vision bucket; an anonymous read of a public object is not cross-tenant.',
  )
  return s
}

function deniedBurst(): Stream {
  const s = new Stream(3)
  // mallory's stolen key, tried from three networks in turn: 30 refusals in 45 s.
  const ops = ['ListBuckets', 'GetObject', 'ListUsers', 'GetBucketPolicy', 'ListRoles'] as const
  for (let n = 1; n <= 30; n++) {
    const op = ops[n % ops.length] ?? 'ListBuckets'
    const id = s.add({
      time: at(0, 3, 0, 0) + n * 1500,
      who: mallory,
      op,
      service: op.startsWith('List') && op !== 'ListBuckets' ? 'iam' : 's3',
      ip: ['198.51.100.7', '203.0.113.90', '192.0.2.200'][n % 3] ?? '',
      ua: UA.boto3,
      ...(op === 'GetObject' ? { bucket: 'vision-datasets', key: 'secrets.env' } : {}),
      error: 'AccessDenied',
    })
    if (n === 20)
      s.expect('denied-burst-principal', principal(mallory), id, '20th refusal within a minute')
  }
  // An anonymous scanner from one address: 60 refused GETs in 50 s.
  for (let n = 1; n <= 60; n++) {
    const id = s.add({
      time: at(0, 5, 0, 0) + Math.floor((n * 50_000) / 60),
      who: ANONYMOUS,
      op: 'GetObject',
      ip: '203.0.113.66',
      ua: UA.curl,
      bucket: 'research-models',
      key: ['.env', 'backup.tar', 'id_rsa', 'config.json', 'weights.bin'][n % 5] ?? '',
      owner: R,
      error: 'AccessDenied',
    })
    if (n === 50)
      s.expect(
        'denied-burst-source',
        '203.0.113.66',
        id,
        '50th refusal from one address within a minute',
      )
  }
  // bob mistypes a bucket name eight times: below any threshold.
  for (let n = 0; n < 8; n++)
    s.add({
      time: at(0, 10, 0, n * 4),
      who: bob,
      op: 'GetObject',
      ip: '10.20.30.31',
      ua: UA.cli,
      bucket: 'research-modles',
      key: 'a',
      error: 'AccessDenied',
    })
  // carol refused 25 times, but one every 72 s: never 20 within a minute.
  for (let n = 0; n < 25; n++)
    s.add({
      time: at(0, 11) + n * 72_000,
      who: carol,
      op: 'PutObject',
      ip: '192.0.2.21',
      ua: UA.rclone,
      bucket: 'vision-datasets',
      key: `locked/${n}`,
      error: 'AccessDenied',
    })
  s.write(
    'denied-burst',
    'Stolen credentials tried from three networks (per-principal alert only), an anonymous scanner from one address (per-source alert only), and two slower or smaller runs of refusals that must stay quiet.',
  )
  return s
}

function downloadExfiltration(): Stream {
  const s = new Stream(4)
  // ml-trainer reads about 100 MiB an hour (one shard), every hour, for eight days.
  const normal = (d: number, h: number, n = 1) => {
    for (let i = 0; i < n; i++)
      s.add({
        time: at(d, h, i * 25 + s.int(0, 9)),
        who: trainer,
        op: 'GetObject',
        ip: `10.20.40.${s.int(2, 250)}`,
        ua: UA.boto3,
        vpce: VPCE,
        bucket: 'research-models',
        key: shard(s),
        bytesOut: s.int(90, 110) * MIB,
      })
  }
  for (const d of days(8)) for (const h of ALL) normal(d, h)
  // alice reads about 20 MiB an hour at work.
  for (const d of days(8))
    for (const h of WORK)
      s.add({
        time: at(d, h, s.int(0, 50)),
        who: alice,
        op: 'GetObject',
        ip: '10.20.30.14',
        ua: UA.cli,
        bucket: 'research-notebooks',
        key: `data/part-${s.int(1, 99)}.parquet`,
        bytesOut: s.int(16, 24) * MIB,
      })
  // Day 8, 10:00: five times the median (a long evaluation run): no alert.
  normal(8, 10)
  s.add({
    time: at(8, 10, 40),
    who: trainer,
    op: 'GetObject',
    ip: '10.20.40.17',
    ua: UA.boto3,
    vpce: VPCE,
    bucket: 'research-models',
    key: 'models/llama-ft/full.tar',
    bytesOut: 400 * MIB,
  })
  for (const h of hours(11, 15)) normal(8, h)
  // Day 8, 15:00: the same role pulls 1.5 GiB and more: the 1.5 GiB GET crosses 10×.
  normal(8, 15)
  const big = s.add({
    time: at(8, 15, 45),
    who: trainer,
    op: 'GetObject',
    ip: '10.20.40.17',
    ua: UA.boto3,
    vpce: VPCE,
    bucket: 'research-models',
    key: 'models/base/weights.tar',
    bytesOut: 1536 * MIB,
  })
  s.expect(
    'download-volume-spike',
    principal(trainer),
    big,
    'hour total passes 10× the hourly median of the past week',
  )
  s.add({
    time: at(8, 15, 50),
    who: trainer,
    op: 'GetObject',
    ip: '10.20.40.17',
    ua: UA.boto3,
    vpce: VPCE,
    bucket: 'research-models',
    key: 'models/base/tokenizer.tar',
    bytesOut: 900 * MIB,
  }) // same hour: once
  // alice, day 8: 200 MiB in an hour, ten times her median but under the 256 MiB floor.
  for (let i = 0; i < 10; i++)
    s.add({
      time: at(8, 11, i * 5),
      who: alice,
      op: 'GetObject',
      ip: '10.20.30.14',
      ua: UA.cli,
      bucket: 'research-notebooks',
      key: `data/part-${i}.parquet`,
      bytesOut: 20 * MIB,
    })
  s.write(
    'download-exfiltration',
    'Eight days of hourly downloads for a training role and a user; then a 5× hour (quiet), a 10×+ hour (one alert, at the GET that crosses), and a 10× hour for a small downloader that stays under the 256 MiB floor.',
  )
  return s
}

function massDelete(): Stream {
  const s = new Stream(5)
  // ci-bot cleans build outputs during the working day: a few deletes and overwrites an hour.
  for (const d of days(8))
    for (const h of WORK) {
      const n = s.int(2, 4)
      for (let i = 0; i < n; i++) {
        const overwrite = i % 3 === 2
        s.add({
          time: at(d, h, i * 9 + s.int(0, 5)),
          who: ciBot,
          op: overwrite ? 'PutObject' : 'DeleteObject',
          ip: '10.20.50.5',
          ua: UA.sdkJs,
          bucket: 'research-builds',
          key: `ci/${s.hex(8)}/out.bin`,
          ...(overwrite ? { bytesIn: MIB, response: { overwrote: true } } : {}),
        })
      }
    }
  // ...and once a day a small batch delete, so DeleteObjects is nothing new for it.
  for (const d of days(8)) {
    const n = s.int(3, 6)
    const Object = Array.from({ length: n }, () => ({ Key: `ci/${s.hex(8)}/out.bin` }))
    s.add({
      time: at(d, 17, 55),
      who: ciBot,
      op: 'DeleteObjects',
      ip: '10.20.50.5',
      ua: UA.sdkJs,
      bucket: 'research-builds',
      params: { bucketName: 'research-builds', delete: { Object, Quiet: true } },
    })
  }
  // release-bot republishes one artifact an hour at work.
  for (const d of days(8))
    for (const h of WORK)
      s.add({
        time: at(d, h, 20),
        who: releaseBot,
        op: 'PutObject',
        ip: '10.20.50.9',
        ua: UA.boto3,
        bucket: 'research-releases',
        key: `release/v${s.int(1, 30)}/model.safetensors`,
        bytesIn: 50 * MIB,
        response: { overwrote: true },
      })
  // Day 8, 03:00: ci-bot deletes 40 objects: under the floor of 100.
  for (let i = 0; i < 40; i++)
    s.add({
      time: at(8, 3, 0, i * 30),
      who: ciBot,
      op: 'DeleteObject',
      ip: '10.20.50.5',
      ua: UA.sdkJs,
      bucket: 'research-builds',
      key: `ci/old/${i}`,
    })
  // Day 8, 10:00: one DeleteObjects of 150 keys, then more.
  const keys = Array.from({ length: 150 }, (_, i) => ({ Key: `models/${i}.safetensors` }))
  const batch = s.add({
    time: at(8, 10, 2),
    who: ciBot,
    op: 'DeleteObjects',
    ip: '10.20.50.5',
    ua: UA.sdkJs,
    bucket: 'research-builds',
    params: { bucketName: 'research-builds', delete: { Object: keys, Quiet: true } },
  })
  s.expect(
    'mass-delete-or-overwrite',
    principal(ciBot),
    batch,
    'one batch deletes 150 objects: past max(10× median, 100)',
  )
  s.add({
    time: at(8, 10, 5),
    who: ciBot,
    op: 'DeleteObjects',
    ip: '10.20.50.5',
    ua: UA.sdkJs,
    bucket: 'research-builds',
    params: { bucketName: 'research-builds', delete: { Object: keys.slice(0, 50) } },
  })
  // Day 8, 13:00: release-bot uploads 150 new objects: writes, not overwrites.
  for (let i = 0; i < 150; i++)
    s.add({
      time: at(8, 13, 0, i * 10),
      who: releaseBot,
      op: 'PutObject',
      ip: '10.20.50.9',
      ua: UA.boto3,
      bucket: 'research-releases',
      key: `release/v31/part-${i}`,
      bytesIn: MIB,
      response: { overwrote: false },
    })
  // Day 8, 14:00: release-bot overwrites 105 artifacts; the 100th crosses the floor.
  for (let i = 1; i <= 105; i++) {
    const id = s.add({
      time: at(8, 14, 0, i * 20),
      who: releaseBot,
      op: 'PutObject',
      ip: '10.20.50.9',
      ua: UA.boto3,
      bucket: 'research-releases',
      key: `release/v${i % 30}/model.safetensors`,
      bytesIn: 50 * MIB,
      response: { overwrote: true },
    })
    if (i === 100)
      s.expect(
        'mass-delete-or-overwrite',
        principal(releaseBot),
        id,
        '100th overwrite in the hour: the floor, above 10× its median',
      )
  }
  s.write(
    'mass-delete',
    'Eight days of routine deletes and overwrites; then 40 deletes (under the floor), a DeleteObjects of 150 keys (alert), 150 new uploads (not overwrites: quiet) and 105 overwrites (alert at the 100th).',
  )
  return s
}

const ACTIVITY = [benign, crossTenant, deniedBurst, downloadExfiltration, massDelete]

if (import.meta.main) for (const f of [...ACTIVITY, ...NOVELTY, ...SETTINGS]) f()
