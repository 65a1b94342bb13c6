/**
 * Scale-out, as a client sees it: three stateless gateways on PostgreSQL + Ceph RGW behind
 * HAProxy (test/cluster/cluster.ts). A multipart upload whose requests land on different
 * gateways completes; a gateway SIGKILLed mid-upload loses nothing it acknowledged and the
 * client's retry goes through another; writers through the load balancer survive gateways
 * killed at random (the crash test's model); `strongroom doctor` finds the cluster sound; the
 * gateways' one audit log exports and verifies offline.
 */
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { randomBytes, randomInt } from 'node:crypto'
import { readFileSync, writeFileSync } from 'node:fs'
import { Agent } from 'node:https'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import { after, describe, it } from 'node:test'
import {
  CompleteMultipartUploadCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3'
import { GetSessionTokenCommand, STSClient } from '@aws-sdk/client-sts'
import { TileReader } from '../../src/audit/tlog/tiles.ts'
import { content, CrashHistory, seeded } from '../e2e/crash-history.ts'
import { NEEDS_CLUSTER, startCluster, type Cluster } from './cluster.ts'

const BIN = join(import.meta.dirname, '..', '..', 'bin', 'strongroom.js')
const cluster: Cluster | undefined = await startCluster()

if (cluster === undefined) {
  it(
    'a cluster of gateways on PostgreSQL + Ceph RGW behind HAProxy',
    { skip: NEEDS_CLUSTER },
    () => {},
  )
} else {
  const c = cluster
  after(() => c.stop())
  const ca = readFileSync(c.ca)
  const clients: S3Client[] = []
  after(() => {
    for (const s of clients) s.destroy()
  })
  const client = (endpoint: string, maxAttempts = 1) => {
    const s = new S3Client({
      endpoint,
      region: 'us-east-1',
      forcePathStyle: true,
      credentials: c.admin,
      maxAttempts,
      requestHandler: { httpsAgent: new Agent({ ca, keepAlive: false }) },
    })
    clients.push(s)
    return s
  }
  const gateway = (i: number) => {
    const g = c.gateways[i]
    assert.ok(g !== undefined)
    return client(g.url)
  }
  const lb = client(c.endpoint, 3)
  const read = async (s3: S3Client, Bucket: string, Key: string) => {
    const r = await s3.send(new GetObjectCommand({ Bucket, Key }))
    return Buffer.from((await r.Body?.transformToByteArray()) ?? [])
  }
  await lb.send(new CreateBucketCommand({ Bucket: 'models' }))

  describe('a cluster of three gateways behind HAProxy', () => {
    it('completes a multipart upload whose requests each land on a different gateway', async () => {
      const parts = [randomBytes(5 * 1024 * 1024), randomBytes(5 * 1024 * 1024), randomBytes(12345)]
      const created = await gateway(0).send(
        new CreateMultipartUploadCommand({ Bucket: 'models', Key: 'llm/weights.bin' }),
      )
      const etags = []
      for (const [i, body] of parts.entries()) {
        const r = await gateway((i + 1) % 3).send(
          new UploadPartCommand({
            Bucket: 'models',
            Key: 'llm/weights.bin',
            UploadId: created.UploadId,
            PartNumber: i + 1,
            Body: body,
          }),
        )
        etags.push({ PartNumber: i + 1, ETag: r.ETag })
      }
      await gateway(2).send(
        new CompleteMultipartUploadCommand({
          Bucket: 'models',
          Key: 'llm/weights.bin',
          UploadId: created.UploadId,
          MultipartUpload: { Parts: etags },
        }),
      )
      const whole = Buffer.concat(parts)
      for (const i of [0, 1, 2])
        assert.ok((await read(gateway(i), 'models', 'llm/weights.bin')).equals(whole))
    })

    it('loses nothing a gateway acknowledged before a SIGKILL mid-upload; the retry goes through another', async () => {
      const victim = c.gateways[0]
      assert.ok(victim !== undefined)
      const direct = gateway(0)
      const acknowledged = randomBytes(300_000)
      await direct.send(
        new PutObjectCommand({ Bucket: 'models', Key: 'acked.bin', Body: acknowledged }),
      )
      const upload = await direct.send(
        new CreateMultipartUploadCommand({ Bucket: 'models', Key: 'mp.bin' }),
      )
      const part1 = randomBytes(5 * 1024 * 1024)
      const p1 = await direct.send(
        new UploadPartCommand({
          Bucket: 'models',
          Key: 'mp.bin',
          UploadId: upload.UploadId,
          PartNumber: 1,
          Body: part1,
        }),
      )
      // A 64 MiB PUT streamed slowly to the victim, which is killed once 8 MiB are in.
      const big = randomBytes(64 * 1024 * 1024)
      let sent = 0
      let killed: Promise<void> | undefined
      const slow = Readable.from(
        (async function* () {
          for (let i = 0; i < big.length; i += 1 << 20) {
            if (sent >= 8 << 20) killed ??= victim.kill()
            sent += 1 << 20
            await new Promise((r) => setTimeout(r, 20))
            yield big.subarray(i, i + (1 << 20))
          }
        })(),
      )
      await assert.rejects(
        direct.send(
          new PutObjectCommand({
            Bucket: 'models',
            Key: 'big.bin',
            Body: slow,
            ContentLength: big.length,
          }),
        ),
      )
      await killed
      // Straight away, before HAProxy's health check has noticed: refused connections are redispatched.
      await lb.send(new PutObjectCommand({ Bucket: 'models', Key: 'big.bin', Body: big }))
      const part2 = randomBytes(1000)
      const p2 = await lb.send(
        new UploadPartCommand({
          Bucket: 'models',
          Key: 'mp.bin',
          UploadId: upload.UploadId,
          PartNumber: 2,
          Body: part2,
        }),
      )
      await lb.send(
        new CompleteMultipartUploadCommand({
          Bucket: 'models',
          Key: 'mp.bin',
          UploadId: upload.UploadId,
          MultipartUpload: {
            Parts: [
              { PartNumber: 1, ETag: p1.ETag },
              { PartNumber: 2, ETag: p2.ETag },
            ],
          },
        }),
      )
      assert.ok((await read(lb, 'models', 'acked.bin')).equals(acknowledged))
      assert.ok((await read(lb, 'models', 'big.bin')).equals(big))
      assert.ok((await read(lb, 'models', 'mp.bin')).equals(Buffer.concat([part1, part2])))
      await c.startGateway(0)
    })

    it('keeps every acknowledged write and no torn object while gateways are killed under writers', async (t) => {
      const SEED = Number(process.env.STRONGROOM_CRASH_SEED ?? randomInt(2 ** 31))
      t.diagnostic(`seed ${String(SEED)} (replay: STRONGROOM_CRASH_SEED=${String(SEED)})`)
      const random = seeded(SEED)
      const KEYS = Array.from({ length: 8 }, (_, i) => `ckpt/${String(i)}/model.bin`)
      const history = new CrashHistory()
      await lb.send(new CreateBucketCommand({ Bucket: 'crash' }))
      const writers = client(c.endpoint)
      for (let round = 0; round < 4; round++) {
        const target = 6 + Math.floor(random() * 6)
        const victim = Math.floor(random() * 3)
        let acked = 0
        let dead = false
        let killing: Promise<void> | undefined
        const deadline = setTimeout(() => (dead = true), 60_000)
        await Promise.all(
          Array.from({ length: 6 }, async () => {
            while (!dead) {
              const key = KEYS[Math.floor(random() * KEYS.length)] ?? ''
              const w = history.begin(key)
              try {
                await writers.send(
                  new PutObjectCommand({ Bucket: 'crash', Key: key, Body: content(key, w.v) }),
                )
                w.ack()
                if (++acked === target) {
                  dead = true
                  killing = c.gateways[victim]?.kill()
                }
              } catch {
                // The gateway died mid-request: this version may or may not have been committed.
              }
            }
          }),
        )
        clearTimeout(deadline)
        await killing
        history.killed()
        await c.startGateway(victim)
      }
      for (const key of KEYS) {
        let body: Buffer | undefined
        try {
          body = await read(lb, 'crash', key)
        } catch (e) {
          assert.equal((e as { name?: string }).name, 'NoSuchKey', String(e))
        }
        history.assertVisible(key, body)
      }
      t.diagnostic(
        `${String(history.attempted)} writes attempted, ${String(history.acknowledged)} acknowledged, 4 kills`,
      )
      assert.ok(history.acknowledged >= 24)
    })

    it('validates a session token on every gateway, whichever issued it (sealed, no lookup)', async () => {
      const sts = new STSClient({
        endpoint: c.gateways[0]?.url ?? '',
        region: 'us-east-1',
        credentials: c.admin,
        requestHandler: { httpsAgent: new Agent({ ca }) },
      })
      const { Credentials: session } = await sts.send(
        new GetSessionTokenCommand({ DurationSeconds: 900 }),
      )
      sts.destroy()
      assert.ok(
        session?.AccessKeyId?.startsWith('ASIA') === true && session.SessionToken !== undefined,
      )
      for (const g of c.gateways) {
        const s3 = new S3Client({
          endpoint: g.url,
          region: 'us-east-1',
          forcePathStyle: true,
          credentials: {
            accessKeyId: session.AccessKeyId,
            secretAccessKey: session.SecretAccessKey ?? '',
            sessionToken: session.SessionToken,
          },
          requestHandler: { httpsAgent: new Agent({ ca }) },
        })
        clients.push(s3)
        assert.ok((await read(s3, 'models', 'llm/weights.bin')).length > 0)
      }
    })

    it('passes `strongroom doctor`: PostgreSQL, RGW, root key, CA and every gateway’s clock', () => {
      const r = spawnSync(
        process.execPath,
        [
          BIN,
          'doctor',
          ...c.gateways.flatMap((g) => ['--gateway', g.url]),
          '--gateway',
          c.endpoint,
        ],
        { env: c.env, encoding: 'utf8' },
      )
      assert.equal(r.status, 0, r.stdout + r.stderr)
      const lines = r.stdout.trim().split('\n')
      assert.deepEqual(
        lines.map((l) => l.split(/\s+/).slice(0, 2).join(' ')),
        [
          'ok clock',
          'ok metadata',
          'ok blobs',
          'ok clock',
          'ok root',
          'ok ca',
          'ok clock',
          'ok clock',
          'ok clock',
          'ok clock',
        ],
      )
      assert.match(r.stdout, /metadata {2}PostgreSQL \d+\.\d+.*, schema \d+ \(this build’s\)/)
      assert.match(
        r.stdout,
        /blobs {5}s3:\/\/strongroom-blobs\/blobs: probe written, read back and deleted/,
      )
    })

    it('keeps one audit log for every gateway, killed ones included, that `audit export` writes out and `audit verify` checks offline', async () => {
      const ids: string[] = []
      for (let i = 0; i < c.gateways.length; i++) {
        const r = await gateway(i).send(
          new PutObjectCommand({ Bucket: 'models', Key: `audited/${i}`, Body: `by ${i}` }),
        )
        ids.push(r.$metadata.requestId ?? '')
      }
      // Any gateway seals at least once a second of activity.
      await new Promise((r) => setTimeout(r, 2500))
      const cli = (...args: string[]) =>
        spawnSync(process.execPath, [BIN, ...args], { env: c.env, encoding: 'utf8' })
      const out = join(c.dataDir, 'audit-export')
      const exported = cli('audit', 'export', out)
      assert.equal(exported.status, 0, exported.stdout + exported.stderr)
      assert.match(exported.stdout, /^exported \d+ records to .* \(\d+ in all/)
      const pub = cli('audit', 'public-key')
      assert.equal(pub.status, 0, pub.stderr)
      writeFileSync(join(c.dataDir, 'audit.pub'), pub.stdout)
      const verified = cli('audit', 'verify', out, '--public-key', join(c.dataDir, 'audit.pub'))
      assert.equal(verified.status, 0, verified.stdout + verified.stderr)
      const size = Number(/^OK: (\d+) records/.exec(verified.stdout)?.[1])
      const reader = new TileReader(out, size)
      const logged = new Set<string>()
      for (let b = 0; b * 256 < size; b++)
        for (const e of await reader.readBundle(b))
          logged.add((JSON.parse(e.toString()) as { requestID: string }).requestID)
      for (const id of ids) assert.ok(logged.has(id), `request ${id} is in the exported log`)
      // Any gateway's request is explained from the shared log, wherever the CLI runs.
      const explained = cli('explain', ids[2] ?? '')
      assert.equal(explained.status, 0, explained.stdout + explained.stderr)
      assert.match(explained.stdout, /PutObject/)
    })
  })
}
