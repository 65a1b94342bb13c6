/**
 * The key store settings an operator gives (`--key-store`, AWS_ENDPOINT_URL_KMS, pin-source),
 * attacked as an outsider's review did: secrets put where a setting goes are refused without
 * being echoed, and a PIN "file" that never ends is refused at once instead of read forever.
 * RFC 7512 (https://www.rfc-editor.org/rfc/rfc7512) puts token, object and type in the URI's
 * path and module-path and pin-source in its query.
 */
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createServer } from 'node:http'
import { after, describe, it } from 'node:test'
import { isStrongroomError, type ErrorCode } from '../../src/errors.ts'
import { awsKmsRoot } from '../../src/kms/external/awskms.ts'
import { keyStoreSecrets, parseKeyStore } from '../../src/kms/external/index.ts'

const work = mkdtempSync(join(tmpdir(), 'sr-key-store-settings-'))
after(() => rmSync(work, { recursive: true, force: true }))

const MODULE = '/usr/lib/softhsm/libsofthsm2.so'

function refused(f: () => unknown, code: ErrorCode, secret?: string): string {
  try {
    f()
  } catch (e) {
    assert.ok(isStrongroomError(e), `a StrongroomError, got ${String(e)}`)
    assert.equal(e.code, code, e.message)
    if (secret !== undefined) assert.ok(!e.message.includes(secret), `echoed: ${e.message}`)
    return e.message
  }
  assert.fail(`expected ${code}`)
}

describe('key store settings', () => {
  it('attack: a PIN in the PKCS#11 URI (pin-value) is refused and never echoed', () => {
    const m = refused(
      () =>
        parseKeyStore(
          'pkcs11',
          `pkcs11:token=Strongroom;object=root?module-path=${MODULE}&pin-value=4711-0815`,
          {},
        ),
      'CONFIG_INVALID',
      '4711-0815',
    )
    assert.match(m, /pin-value=<redacted>/)
    assert.match(m, /use pin-source=file:\/path or STRONGROOM_PKCS11_PIN/)
  })

  it('attack: a token in a Vault URL or credentials in the KMS endpoint are refused and never echoed', () => {
    const m = refused(
      () => parseKeyStore('vault', 'https://user:hvs.INURLSECRET@vault:8200/v1/transit/keys/k', {}),
      'CONFIG_INVALID',
      'hvs.INURLSECRET',
    )
    assert.match(m, /https:<redacted>@vault:8200/)
    refused(
      () =>
        parseKeyStore('awskms', 'alias/root', {
          AWS_REGION: 'eu-west-1',
          AWS_ENDPOINT_URL_KMS: 'https://AKIAX:wJalrSECRET@kms.internal',
        }),
      'CONFIG_INVALID',
      'wJalrSECRET',
    )
  })

  it('attack: plain http to a KMS endpoint on another host is refused (the root would cross in the clear)', () => {
    const m = refused(
      () =>
        parseKeyStore('awskms', 'alias/root', {
          AWS_REGION: 'eu-west-1',
          AWS_ENDPOINT_URL_KMS: 'http://kms.example:80',
        }),
      'CONFIG_INVALID',
    )
    assert.match(m, /plain http to a host other than this one/)
    const local = parseKeyStore('awskms', 'alias/root', {
      AWS_REGION: 'eu-west-1',
      AWS_ENDPOINT_URL_KMS: 'http://127.0.0.1:4566',
    })
    assert.deepEqual(local.settings, {
      kind: 'awskms',
      keyId: 'alias/root',
      region: 'eu-west-1',
      endpoint: 'http://127.0.0.1:4566',
    })
  })

  it('a Vault URL with a query parameter other than one namespace is refused', () => {
    const base = 'https://vault:8200/v1/transit/keys/k'
    assert.match(
      refused(() => parseKeyStore('vault', `${base}?token=x`, {}), 'CONFIG_INVALID'),
      /`token` \(only namespace is read\)/,
    )
    assert.match(
      refused(
        () => parseKeyStore('vault', `${base}?namespace=a&namespace=b`, {}),
        'CONFIG_INVALID',
      ),
      /`namespace` twice/,
    )
    assert.deepEqual(parseKeyStore('vault', `${base}?namespace=ml`, {}).settings, {
      kind: 'vault',
      address: 'https://vault:8200',
      mount: 'transit',
      key: 'k',
      namespace: 'ml',
    })
  })

  it('a PKCS#11 URI with attributes in the wrong part, unknown ones, or control characters is refused', () => {
    const cases: [string, RegExp][] = [
      [`pkcs11:token=T;object=o;module-path=${MODULE}`, /`module-path` belongs in the URI's query/],
      [`pkcs11:token=T;object=o?module-path=${MODULE}&x=1`, /`x` is not an attribute/],
      [`pkcs11:object=o?token=U&module-path=${MODULE}`, /`token` belongs in the URI's path/],
      [
        `pkcs11:token=T;object=o?module-path=${MODULE}%00.txt`,
        /`module-path` holds a control character/,
      ],
      [`pkcs11:token=T%0a;object=o?module-path=${MODULE}`, /`token` holds a control character/],
    ]
    for (const [uri, why] of cases)
      assert.match(
        refused(() => parseKeyStore('pkcs11', uri, {}), 'CONFIG_INVALID'),
        why,
        uri,
      )
    assert.deepEqual(
      parseKeyStore('pkcs11', `pkcs11:token=T;object=o;type=secret-key?module-path=${MODULE}`, {})
        .settings,
      { kind: 'pkcs11', module: MODULE, token: 'T', key: 'o' },
    )
  })

  it('attack: a pin-source that never ends (/dev/zero) or is huge is refused after 4 KiB, not read to the end', () => {
    const big = join(work, 'big-pin')
    writeFileSync(big, Buffer.alloc(64 * 1024, 0x31))
    for (const [file, why] of [
      ['/dev/zero', /holds more than 4096 bytes/],
      [big, /holds more than 4096 bytes/],
      [work, /is a directory/],
      [join(work, 'missing'), /does not exist/],
    ] as const) {
      const choice = parseKeyStore(
        'pkcs11',
        `pkcs11:token=T;object=o?module-path=${MODULE}&pin-source=file:${file}`,
        {},
      )
      assert.match(
        refused(() => keyStoreSecrets(choice, {}, undefined), 'ROOT_KEY_MISSING'),
        why,
      )
    }
    // A pipe, as from the shell's <(command), is read to its end.
    const piped = spawnSync(
      'bash',
      [
        '-c',
        `node -e "import('${join(import.meta.dirname, '..', '..', 'src', 'kms', 'root.ts')}').then((m) => process.stdout.write(m.readSmallFile(process.argv[1], 'the PIN file', 4096, 'ROOT_KEY_MISSING')))" <(printf 4711-0815)`,
      ],
      { encoding: 'utf8' },
    )
    assert.equal(piped.stdout, '4711-0815', piped.stderr)
    const pin = join(work, 'pin')
    writeFileSync(pin, '4711-0815\n')
    const choice = parseKeyStore(
      'pkcs11',
      `pkcs11:token=T;object=o?module-path=${MODULE}&pin-source=file:${pin}`,
      {},
    )
    assert.deepEqual(keyStoreSecrets(choice, {}, undefined), { pin: '4711-0815' })
  })

  it('attack: PINs and credentials in other spellings (percent-encoded names, odd URL forms, query, fragment) are never echoed', () => {
    const M = MODULE
    for (const [kind, spec] of [
      ['pkcs11', `pkcs11:token=T;object=r?module-path=${M}&pin%2Dvalue=S3cr3t`],
      ['pkcs11', `pkcs11:token=T;object=r?module-path=${M}&%70in-value=S3cr3t`],
      ['pkcs11', `pkcs11:token=T;object=r?module-path=${M}&pin-value%3DS3cr3t`],
      ['pkcs11', `pkcs11:token=T;object=r?module-path=${M}&pin-source=S3cr3t`],
      ['vault', 'https:/user:S3cr3t@vault.example/v1/transit/keys/k'],
      ['vault', 'https:user:S3cr3t@vault.example/v1/transit/keys/k'],
      ['vault', 'https:\\\\user:S3cr3t@vault.example/v1/transit/keys/k'],
      ['vault', 'https://vault.example/v1/transit/keys/k?token=S3cr3t'],
      ['vault', 'https://vault.example/v1/transit/keys/k#S3cr3t'],
    ] as const)
      refused(() => parseKeyStore(kind, spec, {}), 'CONFIG_INVALID', 'S3cr3t')
    for (const endpoint of [
      'https:/user:S3cr3t@kms.example',
      'http://kms.example/?X-Amz-Security-Token=S3cr3t',
    ])
      refused(
        () =>
          parseKeyStore('awskms', 'alias/root', {
            AWS_REGION: 'eu-west-1',
            AWS_ENDPOINT_URL_KMS: endpoint,
          }),
        'CONFIG_INVALID',
        'S3cr3t',
      )
  })

  it('attack: an endpoint from AWS_ENDPOINT_URL or the endpoint_url of a config file is never used unchecked', async () => {
    // The global variable is checked as AWS_ENDPOINT_URL_KMS is.
    assert.match(
      refused(
        () =>
          parseKeyStore('awskms', 'alias/root', {
            AWS_REGION: 'eu-west-1',
            AWS_ENDPOINT_URL: 'http://kms.example',
          }),
        'CONFIG_INVALID',
      ),
      /plain http to a host other than this one/,
    )
    // The SDK would read these itself; the provider tells it not to: nothing reaches them.
    let hits = 0
    const server = createServer((_req, res) => {
      hits++
      res.end('{}')
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    const port = (server.address() as { port: number }).port
    const config = join(work, 'aws-config')
    writeFileSync(config, `[default]\nendpoint_url = http://127.0.0.1:${String(port)}\n`)
    const saved = { file: process.env.AWS_CONFIG_FILE, url: process.env.AWS_ENDPOINT_URL }
    process.env.AWS_CONFIG_FILE = config
    process.env.AWS_ENDPOINT_URL = `http://127.0.0.1:${String(port)}`
    try {
      // A region no DNS answers for: AWS's own endpoint for it fails at once, here and in CI.
      const root = awsKmsRoot(
        { kind: 'awskms', keyId: 'alias/root', region: 'xx-nowhere-1' },
        { aws: { accessKeyId: 'AKIAEXAMPLE', secretAccessKey: 'secret' } },
      )
      try {
        await assert.rejects(root.wrap(Buffer.alloc(32), Buffer.from('aad')))
      } finally {
        await root.close()
      }
      assert.equal(hits, 0)
    } finally {
      if (saved.file === undefined) delete process.env.AWS_CONFIG_FILE
      else process.env.AWS_CONFIG_FILE = saved.file
      if (saved.url === undefined) delete process.env.AWS_ENDPOINT_URL
      else process.env.AWS_ENDPOINT_URL = saved.url
      server.close()
    }
  })
})
