import assert from 'node:assert/strict'
import { COSIGNATURE_V1, generateKey } from './audit/tlog/note.ts'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { after, describe, it } from 'node:test'
import { loadConfig, parseSize } from './config.ts'
import { isStrongroomError } from './errors.ts'

const dir = mkdtempSync(join(tmpdir(), 'sr-config-'))
after(() => rmSync(dir, { recursive: true, force: true }))

function file(name: string, text: string): string {
  const p = join(dir, name)
  writeFileSync(p, text)
  return p
}

const invalid = (pattern: RegExp) => (e: unknown) => {
  assert.ok(isStrongroomError(e, 'CONFIG_INVALID'), String(e))
  assert.match(e.message, pattern)
  return true
}

describe('configuration', () => {
  it('has defaults', () => {
    const c = loadConfig({ env: {}, flags: {} })
    assert.equal(c.dataDir, resolve('./strongroom-data'))
    assert.equal(c.region, 'us-east-1')
    assert.equal(c.segmentSize, 1024 * 1024)
    assert.equal(c.rootKeyHex, undefined)
  })

  it('layers the file, then the environment, then flags', () => {
    const f = file(
      'layers.json',
      JSON.stringify({ dataDir: '/from/file', region: 'eu-west-1', segmentSize: '64KiB' }),
    )
    const fileOnly = loadConfig({ configFile: f, env: {}, flags: {} })
    assert.deepEqual(
      [fileOnly.dataDir, fileOnly.region, fileOnly.segmentSize],
      ['/from/file', 'eu-west-1', 65536],
    )
    const env = { STRONGROOM_DATA_DIR: '/from/env', STRONGROOM_REGION: 'ap-south-1' }
    const withEnv = loadConfig({ configFile: f, env, flags: {} })
    assert.deepEqual(
      [withEnv.dataDir, withEnv.region, withEnv.segmentSize],
      ['/from/env', 'ap-south-1', 65536],
    )
    const withFlags = loadConfig({ configFile: f, env, flags: { 'data-dir': '/from/flag' } })
    assert.deepEqual([withFlags.dataDir, withFlags.region], ['/from/flag', 'ap-south-1'])
    assert.equal(
      loadConfig({ env: { STRONGROOM_CONFIG: f }, flags: {} }).region,
      'eu-west-1',
      'STRONGROOM_CONFIG names the file',
    )
  })

  it('holds a deleted bucket name for an hour unless bucketNameHold says otherwise', () => {
    assert.equal(loadConfig({ env: {}, flags: {} }).bucketNameHold, 3600)
    const f = file('hold.json', JSON.stringify({ bucketNameHold: 60 }))
    assert.equal(loadConfig({ configFile: f, env: {}, flags: {} }).bucketNameHold, 60)
    const env = { STRONGROOM_BUCKET_NAME_HOLD: '0' }
    assert.equal(loadConfig({ configFile: f, env, flags: {} }).bucketNameHold, 0)
    assert.throws(
      () => loadConfig({ env: { STRONGROOM_BUCKET_NAME_HOLD: '-1' }, flags: {} }),
      invalid(/STRONGROOM_BUCKET_NAME_HOLD is `"-1"`; expected a number of seconds from 0/),
    )
  })

  it('gives each model scan 256 MiB unless scanMemoryMiB says otherwise', () => {
    assert.equal(loadConfig({ env: {}, flags: {} }).scanMemoryMiB, 256)
    const f = file('scan.json', JSON.stringify({ scanMemoryMiB: 64 }))
    assert.equal(loadConfig({ configFile: f, env: {}, flags: {} }).scanMemoryMiB, 64)
    const env = { STRONGROOM_SCAN_MEMORY_MIB: '1024' }
    assert.equal(loadConfig({ configFile: f, env, flags: {} }).scanMemoryMiB, 1024)
    for (const bad of ['8', '1.5', '256MiB'])
      assert.throws(
        () => loadConfig({ env: { STRONGROOM_SCAN_MEMORY_MIB: bad }, flags: {} }),
        invalid(/STRONGROOM_SCAN_MEMORY_MIB is `".*"`; expected a whole number of MiB from 16/),
      )
  })

  it('takes audit witnesses with a cosigner key, plain http:// only on loopback', () => {
    assert.deepEqual(loadConfig({ env: {}, flags: {} }).auditWitnesses, [])
    const key = generateKey('witness.example/w1', COSIGNATURE_V1).verifierKey
    const list = (url: string, k = key) => JSON.stringify([{ url, key: k }])
    for (const url of ['http://127.0.0.1:7380', 'http://[::1]:7380', 'https://witness.example/w1'])
      assert.deepEqual(
        loadConfig({ env: { STRONGROOM_AUDIT_WITNESSES: list(url) }, flags: {} }).auditWitnesses,
        [{ url, key }],
      )
    const logKey = generateKey('strongroom/audit/0000000000000001').verifierKey
    for (const bad of [
      list('http://witness.example:7380'),
      list('https://w.example', logKey),
      '{}',
    ])
      assert.throws(
        () => loadConfig({ env: { STRONGROOM_AUDIT_WITNESSES: bad }, flags: {} }),
        invalid(/STRONGROOM_AUDIT_WITNESSES is .*plain http:\/\/ only on loopback/),
      )
  })

  it('derives the admission limits from memory unless the file, environment or flags set them', () => {
    const MiB = 1024 * 1024
    assert.deepEqual(loadConfig({ env: {}, flags: {}, memory: 24 * 1024 * MiB }).admission, {
      maxInFlight: 32,
      maxBufferedBytes: 256 * MiB,
      maxQueued: 256,
      maxWaitMs: 2000,
    })
    const f = file('admission.json', JSON.stringify({ maxInFlight: 10, maxBuffered: '1GiB' }))
    const env = { STRONGROOM_ADMISSION_QUEUE: '0', STRONGROOM_MAX_IN_FLIGHT: '20' }
    const flags = { 'admission-wait': '0.5' }
    assert.deepEqual(loadConfig({ configFile: f, env, flags, memory: 512 * MiB }).admission, {
      maxInFlight: 20,
      maxBufferedBytes: 1024 * MiB,
      maxQueued: 0,
      maxWaitMs: 500,
    })
    assert.throws(
      () => loadConfig({ env: { STRONGROOM_MAX_IN_FLIGHT: '0' }, flags: {} }),
      invalid(/STRONGROOM_MAX_IN_FLIGHT is `"0"`; expected a number of requests from 1/),
    )
    assert.throws(
      () => loadConfig({ env: {}, flags: { 'max-buffered': '100KiB' } }),
      invalid(/--max-buffered .*expected a size from 1MiB to 64GiB/),
    )
  })

  it('names the setting, where it came from and the accepted values', () => {
    assert.throws(
      () => loadConfig({ env: { STRONGROOM_REGION: 'Mars' }, flags: {} }),
      invalid(/STRONGROOM_REGION is `"Mars"`; expected an AWS-style region/),
    )
    assert.throws(
      () => loadConfig({ env: {}, flags: { 'segment-size': '1GiB' } }),
      invalid(/--segment-size .*expected a size from 16 B to 64MiB/),
    )
    const f = file('bad-value.json', '{"segmentSize": 3}')
    assert.throws(
      () => loadConfig({ configFile: f, env: {}, flags: {} }),
      invalid(/`segmentSize` in .*bad-value\.json is `3`/),
    )
  })

  it('listeners: each with its profile and client-certificate mode; nothing weaker can be named', () => {
    const spec = [
      { listen: '127.0.0.1:9444', tlsProfile: 'modern', clientCertificates: 'required' },
      { listen: '[::1]:9445' },
    ]
    assert.deepEqual(
      loadConfig({ env: { STRONGROOM_LISTENERS: JSON.stringify(spec) }, flags: {} }).listeners,
      [
        { host: '127.0.0.1', port: 9444, tlsProfile: 'modern', clientCertificates: 'required' },
        { host: '::1', port: 9445, tlsProfile: 'intermediate', clientCertificates: 'none' },
      ],
    )
    assert.deepEqual(loadConfig({ env: {}, flags: {} }).listeners, [])
    for (const bad of [
      [{ listen: '127.0.0.1:9444', tlsProfile: 'old' }],
      [{ listen: '127.0.0.1:9444', tlsProfile: 'TLSv1.0' }],
      [{ listen: '127.0.0.1:9444', minVersion: 'TLSv1' }],
      [{ listen: '127.0.0.1:9444', clientCertificates: 'sometimes' }],
      [{ listen: 'localhost' }],
      Array.from({ length: 17 }, (_, i) => ({ listen: `127.0.0.1:${String(9000 + i)}` })),
      { listen: '127.0.0.1:9444' },
    ])
      assert.throws(
        () => loadConfig({ env: { STRONGROOM_LISTENERS: JSON.stringify(bad) }, flags: {} }),
        invalid(
          /^STRONGROOM_LISTENERS .*a list of at most 16 listeners, each \{"listen": "HOST:PORT"/,
        ),
      )
  })

  it('takes a PostgreSQL URL as `meta`, and never echoes one it refuses (it may hold a password)', () => {
    const url = 'postgres://strongroom:s3cret@db.internal/strongroom'
    assert.equal(loadConfig({ env: { STRONGROOM_META: url }, flags: {} }).meta, url)
    assert.equal(loadConfig({ env: {}, flags: {} }).meta, undefined)
    assert.throws(
      () => loadConfig({ env: { STRONGROOM_META: 'mysql://root:hunter2@db/x' }, flags: {} }),
      (e: unknown) => {
        assert.ok(isStrongroomError(e, 'CONFIG_INVALID'))
        assert.equal(
          e.message,
          'STRONGROOM_META is not a postgres:// or postgresql:// URL of the metadata database (its value is not shown: it may hold a password)',
        )
        return true
      },
    )
  })

  it('puts blobs in an S3-compatible bucket when `blobs` names one, with its endpoint, region and keys', () => {
    const env = {
      STRONGROOM_BLOBS: 's3://ml-blobs/strongroom',
      STRONGROOM_BLOBS_ENDPOINT: 'http://127.0.0.1:7480',
      STRONGROOM_BLOBS_ACCESS_KEY_ID: 'AKIDEXAMPLE',
      STRONGROOM_BLOBS_SECRET_ACCESS_KEY: 'wJalrXUtnFEMI',
    }
    assert.deepEqual(loadConfig({ env, flags: {} }).blobs, {
      url: 's3://ml-blobs/strongroom',
      endpoint: 'http://127.0.0.1:7480',
      region: 'us-east-1',
      credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI' },
    })
    const aws = loadConfig({
      env: { STRONGROOM_BLOBS: 's3://b1x', STRONGROOM_REGION: 'eu-west-1' },
      flags: {},
    })
    assert.deepEqual(aws.blobs, {
      url: 's3://b1x',
      endpoint: undefined,
      region: 'eu-west-1',
      credentials: undefined,
    })
    assert.equal(loadConfig({ env: {}, flags: {} }).blobs, undefined)
    const refused = (env: NodeJS.ProcessEnv, message: RegExp) =>
      assert.throws(() => loadConfig({ env, flags: {} }), invalid(message))
    refused(
      { STRONGROOM_BLOBS: 'file:///tmp' },
      /STRONGROOM_BLOBS is `"file:\/\/\/tmp"`; expected an s3:\/\//,
    )
    refused(
      { STRONGROOM_BLOBS_ENDPOINT: 'http://x:1' },
      /`blobsEndpoint` is set but `blobs` is not/,
    )
    refused(
      { STRONGROOM_BLOBS: 's3://bkt', STRONGROOM_BLOBS_ENDPOINT: 'http://u:p@x/path' },
      /STRONGROOM_BLOBS_ENDPOINT/,
    )
    refused(
      { STRONGROOM_BLOBS: 's3://bkt', STRONGROOM_BLOBS_ACCESS_KEY_ID: 'AKID' },
      /set both STRONGROOM_BLOBS_ACCESS_KEY_ID and STRONGROOM_BLOBS_SECRET_ACCESS_KEY/,
    )
  })

  it('points at the line and column of a config file error', () => {
    const unknown = file('unknown.json', '{\n  "dataDir": "/x",\n  "dataDri": "/y"\n}\n')
    assert.throws(
      () => loadConfig({ configFile: unknown, env: {}, flags: {} }),
      invalid(/unknown\.json:3:3: unknown setting `dataDri`/),
    )
    const broken = file('broken.json', '{\n  "dataDir": "/x",\n}\n')
    assert.throws(
      () => loadConfig({ configFile: broken, env: {}, flags: {} }),
      invalid(/broken\.json:3:\d+: not valid JSON/),
    )
    assert.throws(
      () => loadConfig({ configFile: join(dir, 'missing.json'), env: {}, flags: {} }),
      invalid(/config file `.*missing\.json` does not exist/),
    )
    // At most 1 MiB is read: a device that never ends is refused, not read until memory runs out.
    assert.throws(
      () => loadConfig({ configFile: '/dev/zero', env: {}, flags: {} }),
      invalid(/config file `\/dev\/zero` holds more than 1048576 bytes/),
    )
    assert.throws(
      () => loadConfig({ configFile: file('array.json', '[]'), env: {}, flags: {} }),
      invalid(/must be a JSON object/),
    )
  })

  it('reads sizes in bytes, KiB and MiB', () => {
    assert.equal(parseSize('1MiB'), 1048576)
    assert.equal(parseSize('64k'), 65536)
    assert.equal(parseSize(4096), 4096)
    assert.equal(parseSize('12 parsecs'), undefined)
    assert.equal(parseSize(1.5), undefined)
  })
})
