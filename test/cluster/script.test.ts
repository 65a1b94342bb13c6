/**
 * `npm run cluster` as a person uses it: it prints where everything is, one line each, serves
 * S3 at the endpoint with the admin key over the CA it names, and on Ctrl-C (SIGINT) stops
 * every process it started and removes every file it made.
 */
import assert from 'node:assert/strict'
import { spawn, spawnSync } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { Agent } from 'node:https'
import { dirname, join } from 'node:path'
import { it } from 'node:test'
import { CreateBucketCommand, ListBucketsCommand, S3Client } from '@aws-sdk/client-s3'
import { NEEDS_CLUSTER } from './cluster.ts'

const SCRIPT = join(import.meta.dirname, '..', '..', 'scripts', 'cluster.ts')
const installed = ['/usr/sbin/haproxy', '/usr/bin/radosgw'].every((p) => existsSync(p))

it(
  'npm run cluster: prints endpoint, ca, admin and one line per gateway, serves, and cleans up on Ctrl-C',
  { skip: !installed && process.env.STRONGROOM_REQUIRE_TOOLS !== '1' ? NEEDS_CLUSTER : false },
  async () => {
    const proc = spawn(process.execPath, [SCRIPT, '2'], { stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    let err = ''
    proc.stderr.on('data', (d: Buffer) => (err += d.toString()))
    const exited = new Promise<number | null>((r) => proc.once('exit', r))
    await new Promise<void>((resolve, reject) => {
      proc.stdout.on('data', (d: Buffer) => {
        out += d.toString()
        if ((out.match(/^gateway: /gm) ?? []).length === 2) resolve()
      })
      void exited.then(() => reject(new Error(`cluster exited: ${err}`)))
      setTimeout(() => reject(new Error(`cluster did not start: ${out}${err}`)), 120_000).unref()
    })
    const lines = out.trim().split('\n')
    assert.deepEqual(
      lines.map((l) => l.split(':')[0]),
      ['endpoint', 'ca', 'admin', 'gateway', 'gateway'],
    )
    const value = (name: string) =>
      (lines.find((l) => l.startsWith(`${name}: `)) ?? '').slice(name.length + 2)
    const [accessKeyId = '', secretAccessKey = ''] = value('admin').split(' ')
    const ca = value('ca')
    for (const g of lines.filter((l) => l.startsWith('gateway: ')))
      assert.match(g, /^gateway: \d+ https:\/\/127\.0\.0\.1:\d+$/)
    const s3 = new S3Client({
      endpoint: value('endpoint'),
      region: 'us-east-1',
      forcePathStyle: true,
      credentials: { accessKeyId, secretAccessKey },
      requestHandler: { httpsAgent: new Agent({ ca: readFileSync(ca) }) },
    })
    await s3.send(new CreateBucketCommand({ Bucket: 'models' }))
    const listed = await s3.send(new ListBucketsCommand({}))
    assert.deepEqual(
      listed.Buckets?.map((b) => b.Name),
      ['models'],
    )
    s3.destroy()
    const work = dirname(dirname(ca))
    proc.kill('SIGINT')
    assert.equal(await exited, 0, err)
    assert.equal(existsSync(work), false, `${work} is left behind`)
    const left = spawnSync('pgrep', ['-af', work], { encoding: 'utf8' })
    assert.equal(left.stdout.trim(), '', 'HAProxy (its configuration is in the directory) is gone')
    for (const g of lines.filter((l) => l.startsWith('gateway: '))) {
      const pid = Number(g.split(' ')[1])
      assert.throws(() => process.kill(pid, 0), { code: 'ESRCH' }, `gateway ${String(pid)} is gone`)
    }
  },
)
