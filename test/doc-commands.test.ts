/**
 * Every command the README and docs/ give is run here exactly as written, the way a reader
 * runs it: in a shell, from a checkout, with the machine's own PATH (whose `node` may be
 * older than 24: the pinned Node must be reached through npx or npm, never assumed).
 * A command that cannot run in a test (a server that runs until stopped, a long benchmark)
 * is checked for its form and for the paths it names. A new ```sh block in a doc fails
 * this test until it is given a place below.
 */
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs'
import { connect } from 'node:net'
import { tmpdir } from 'node:os'
import { delimiter, join } from 'node:path'
import { after, describe, it } from 'node:test'
import { needs } from './e2e/harness.ts'

const root = join(import.meta.dirname, '..')
const work = mkdtempSync(join(tmpdir(), 'sr-doc-commands-'))
after(() => rmSync(work, { recursive: true, force: true }))

/** The reader's PATH: the one npm gave the test, less the pinned Node npm put first. */
const readerPath = (process.env.PATH ?? '')
  .split(delimiter)
  .filter((p) => !p.includes(join('node_modules', '.bin')))
  .join(delimiter)

/** A checkout of the project in a fresh directory (its files linked), where a reader's commands may write. */
function checkout(name: string): string {
  const dir = join(work, name)
  mkdirSync(dir)
  for (const f of ['bin', 'src', 'docs', 'scripts', 'bench', 'node_modules', 'package.json'])
    symlinkSync(join(root, f), join(dir, f))
  return dir
}

function sh(lines: string, cwd: string, env: Record<string, string> = {}) {
  // setsid: a process group of its own, so that what the session leaves running can be stopped.
  return spawnSync('setsid', ['bash', '-euo', 'pipefail', '-c', lines], {
    cwd,
    env: { ...process.env, PATH: readerPath, ...env },
    encoding: 'utf8',
  })
}

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const c = connect(port, '127.0.0.1')
    c.once('connect', () => {
      c.destroy()
      resolve(true)
    })
    c.once('error', () => resolve(false))
  })
}

/** The ```sh blocks of a page, in order. */
function blocks(page: string): string[] {
  const text = readFileSync(join(root, page), 'utf8')
  return [...text.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1] ?? '')
}

/** What a block's lines run, with comments and blank lines dropped. */
const commands = (block: string) =>
  block
    .split('\n')
    .map((l) => l.replace(/\s+#.*$/, '').trim())
    .filter((l) => l !== '' && !l.startsWith('#'))

/** Every doc that has shell blocks, and how many this file accounts for. */
const COVERED: Record<string, number> = {
  'README.md': 5,
  'docs/benchmarks.md': 16,
  // four here, the admin-key and key-policy blocks in test/docs.test.ts, the KMS block in
  // test/e2e/kms.test.ts
  'docs/gateway.md': 7,
  'CONTRIBUTING.md': 1,
  'docs/iam-simulator.md': 3, // simulate and the typos example in test/docs.test.ts
  'docs/identity.md': 4,
}

describe('commands in README.md and docs/', () => {
  it('every page with shell blocks is accounted for here', () => {
    const pages = [
      'README.md',
      'CONTRIBUTING.md',
      ...readdirSync(join(root, 'docs')).map((f) => `docs/${f}`),
    ]
    for (const page of pages.filter((p) => p.endsWith('.md'))) {
      const n = blocks(page).length
      if (n === 0 || page in COVERED || OTHER_TESTS.has(page)) continue
      assert.fail(
        `${page} has ${n} shell blocks that no test runs: add it to test/doc-commands.test.ts`,
      )
    }
    for (const [page, n] of Object.entries(COVERED)) assert.equal(blocks(page).length, n, page)
  })

  it('README and CONTRIBUTING: the build and test commands are the ones CI runs', () => {
    assert.deepEqual(commands(blocks('CONTRIBUTING.md')[0] ?? ''), ['npm ci && npm test'])
    const [start = '', test = ''] = blocks('README.md')
    assert.deepEqual(commands(start), ['npm ci && npm start'])
    assert.deepEqual(commands(test), ['npm ci && npm test'])
    const ci = readFileSync(join(root, '.ci', 'run'), 'utf8')
    assert.match(ci, /^npm ci --no-audit --no-fund$/m)
    assert.match(ci, /^npm test$/m)
  })

  it('README: keys, encrypt, ranged decrypt and rotation, as written', () => {
    const dir = checkout('readme-using')
    const model = randomBytes(3000)
    writeFileSync(join(dir, 'model.pt'), model)
    const r = sh(blocks('README.md')[2] ?? '', dir)
    assert.equal(r.status, 0, r.stderr)
    assert.deepEqual(readFileSync(join(dir, 'model.pt')), model, 'decrypt gives the bytes back')
    assert.deepEqual(readFileSync(join(dir, 'header.bin')), model.subarray(0, 1024))
    assert.ok(readFileSync(join(dir, 'model.pt.sr')).length > model.length)
  })

  it('README: scanning exits 1 on what is not clean, 0 on a clean directory', () => {
    const dir = checkout('readme-scan')
    mkdirSync(join(dir, 'checkpoints'))
    // A minimal .npy of one float32: a format the scanner reads as clean data.
    const header = "{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }"
    const pad = 64 - ((10 + header.length + 1) % 64)
    const npy = Buffer.concat([
      Buffer.from('\x93NUMPY\x01\x00', 'latin1'),
      Buffer.from([(header.length + pad + 1) & 0xff, (header.length + pad + 1) >> 8]),
      Buffer.from(header + ' '.repeat(pad) + '\n'),
      Buffer.alloc(4),
    ])
    writeFileSync(join(dir, 'checkpoints', 'weights.npy'), npy)
    const clean = sh(blocks('README.md')[3] ?? '', dir)
    assert.equal(clean.status, 0, clean.stdout + clean.stderr)
    assert.equal(
      (JSON.parse(clean.stdout.split('\n')[0] ?? '') as { verdict: string }).verdict,
      'clean',
    )
    // cos.system by GLOBAL, called with one argument: the textbook payload.
    writeFileSync(
      join(dir, 'checkpoints', 'evil.pkl'),
      Buffer.from("cos\nsystem\n(S'id'\ntR.", 'latin1'),
    )
    const bad = sh(blocks('README.md')[3] ?? '', dir)
    assert.equal(bad.status, 1)
    assert.match(bad.stdout, /"verdict":"malicious"/)
  })

  it('README: policy validate and simulate, as written', () => {
    const dir = checkout('readme-policy')
    writeFileSync(
      join(dir, 'bucket-policy.json'),
      JSON.stringify({
        Version: '2012-10-17',
        Statement: [
          {
            Effect: 'Allow',
            Principal: { AWS: 'arn:aws:iam::111122223333:user/alice' },
            Action: 's3:GetObject',
            Resource: 'arn:aws:s3:::models/*',
          },
        ],
      }),
    )
    const [validate = '', simulate = ''] = commands(blocks('README.md')[4] ?? '')
    const v = sh(validate, dir)
    assert.equal(v.status, 0, v.stdout + v.stderr)
    const s = sh(simulate, dir)
    assert.equal(s.status, 1, 'the example input holds one denied request')
    assert.match(s.stdout, /Deny/)
  })

  it('docs/gateway.md: start, users and keys, then the aws CLI, as written', async (t) => {
    const find = (marker: string) => blocks('docs/gateway.md').find((b) => b.includes(marker)) ?? ''
    const start = find('npm start')
    const serve = find('serve --data-dir')
    const users = find('user create')
    const clients = find('s3 mb')
    assert.deepEqual(commands(start), ['npm ci && npm start'])
    const dir = checkout('gateway')
    const page = readFileSync(join(root, 'docs', 'gateway.md'), 'utf8')
    writeFileSync(join(dir, 'models.json'), /```json\n([\s\S]*?)```/.exec(page)?.[1] ?? '')
    // One terminal session: the exports, the server in the background, then the admin commands.
    const [serveLine = '', ...exports] = commands(serve).reverse()
    const usersLines = commands(users)
    const setup = [
      ...exports.reverse(),
      `${serveLine} > serve.log 2>&1 &`,
      'for i in $(seq 300); do grep -q "ready at" serve.log && break; sleep 0.1; done',
      ...usersLines.slice(0, -1),
      `${usersLines.at(-1) ?? ''} > key.json`,
    ].join('\n')
    let group = 0
    try {
      const r = sh(setup, dir)
      group = r.pid
      assert.equal(r.status, 0, r.stderr + readFileSync(join(dir, 'serve.log'), 'utf8'))
      assert.match(
        readFileSync(join(dir, 'serve.log'), 'utf8'),
        /strongroom: ready at https:\/\/127\.0\.0\.1:9443 \(CA certificate: .*ca\.pem\)/,
      )
      const key = JSON.parse(readFileSync(join(dir, 'key.json'), 'utf8')) as {
        AccessKeyId: string
        SecretAccessKey: string
      }
      if (!needs(t, 'aws')) return
      writeFileSync(join(dir, 'model.safetensors'), randomBytes(1000))
      const client = commands(clients)
        .join('\n')
        .replace('AWS_ACCESS_KEY_ID=…', `AWS_ACCESS_KEY_ID=${key.AccessKeyId}`)
        .replace('AWS_SECRET_ACCESS_KEY=…', `AWS_SECRET_ACCESS_KEY=${key.SecretAccessKey}`)
      const c = sh(client, dir, {
        AWS_CONFIG_FILE: '/dev/null',
        AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
      })
      assert.equal(c.status, 0, c.stderr)
      assert.match(c.stdout, /^make_bucket: vision-models\n/)
      assert.match(
        c.stdout,
        /upload: \.\/model\.safetensors to s3:\/\/vision-models\/model\.safetensors/,
      )
    } finally {
      // The server the session left running: stop it as a reader would, and wait for the port.
      if (group > 0) process.kill(-group, 'SIGTERM')
      for (let i = 0; i < 100 && (await portOpen(9443)); i++)
        await new Promise((r) => setTimeout(r, 100))
    }
  })

  it('docs/identity.md: a role, its policy, and a boto3 job run as the role, as written', (t) => {
    if (!needs(t, 'boto3')) return
    const dir = checkout('identity')
    const page = readFileSync(join(root, 'docs', 'identity.md'), 'utf8')
    const json = [...page.matchAll(/```json\n([\s\S]*?)```/g)].map((m) => m[1] ?? '')
    const python = /```python\n([\s\S]*?)```/.exec(page)?.[1] ?? ''
    const env = { STRONGROOM_ROOT_KEY: randomBytes(32).toString('hex') }
    writeFileSync(
      join(dir, 'all.json'),
      JSON.stringify({
        Version: '2012-10-17',
        Statement: [{ Effect: 'Allow', Action: ['s3:*', 'kms:*'], Resource: '*' }],
      }),
    )
    // What the page assumes: a running gateway, and buckets of the tenant vision.
    const setup = [
      'npx strongroom serve --listen 127.0.0.1:0 > serve.log 2>&1 &',
      'for i in $(seq 300); do grep -q "ready at" serve.log && break; sleep 0.1; done',
      'npx strongroom tenant create vision --json > tenant.json',
      'npx strongroom user create --tenant vision alice',
      'npx strongroom user put-policy --tenant vision --user alice --name all --document all.json',
      'npx strongroom access-key create --tenant vision --user alice --json > key.json',
      `python3 -c "import boto3, json; k = json.load(open('key.json')); s3 = boto3.client('s3', endpoint_url=open('strongroom-data/endpoint').read().split()[0], verify='strongroom-data/ca.pem', region_name='us-east-1', aws_access_key_id=k['AccessKeyId'], aws_secret_access_key=k['SecretAccessKey']); [s3.create_bucket(Bucket=b) for b in ('datasets', 'models')]; s3.put_object(Bucket='datasets', Key='train.csv', Body=b'x,y\\n1,2\\n')"`,
    ].join('\n')
    let group = 0
    try {
      const r = sh(setup, dir, env)
      group = r.pid
      assert.equal(r.status, 0, r.stderr + readFileSync(join(dir, 'serve.log'), 'utf8'))
      const id = (JSON.parse(readFileSync(join(dir, 'tenant.json'), 'utf8')) as { id: string }).id
      writeFileSync(join(dir, 'trust.json'), (json[0] ?? '').replace('111122223333', id))
      writeFileSync(join(dir, 'train.json'), json[1] ?? '')
      writeFileSync(join(dir, 'train.py'), python)
      const [role = '', job = ''] = blocks('docs/identity.md')
      const made = sh(commands(role).join('\n'), dir, env)
      assert.equal(made.status, 0, made.stderr)
      assert.match(made.stdout, /created role trainer \(arn:aws:iam::\d{12}:role\/trainer\)/)
      assert.match(made.stdout, /trainer\tarn:aws:iam::\d{12}:role\/trainer/)
      const ran = sh(commands(job).join('\n'), dir, env)
      assert.equal(ran.status, 0, ran.stderr)
      assert.equal(ran.stdout, 'model written\n')
      // Assuming the role by hand, with alice's key in the environment.
      if (!needs(t, 'aws')) return
      writeFileSync(join(dir, 'assume.json'), (json[2] ?? '').replace('111122223333', id))
      const key = JSON.parse(readFileSync(join(dir, 'key.json'), 'utf8')) as {
        AccessKeyId: string
        SecretAccessKey: string
      }
      const byHand = sh(
        commands(blocks('docs/identity.md')[2] ?? '')
          .join('\n')
          .replaceAll('111122223333', id),
        dir,
        { ...env, AWS_ACCESS_KEY_ID: key.AccessKeyId, AWS_SECRET_ACCESS_KEY: key.SecretAccessKey },
      )
      assert.equal(byHand.status, 0, byHand.stderr)
      assert.deepEqual(byHand.stdout.split('\n').slice(0, 3), [
        `attached assume-trainer to alice`,
        `arn:aws:iam::${id}:user/alice`,
        `arn:aws:sts::${id}:assumed-role/trainer/by-hand`,
      ])
      assert.match(byHand.stdout, /revoked every session of role trainer issued before /)
      // Web identity: the provider (its keys inline) and the pod's role, as written.
      writeFileSync(
        join(dir, 'jwks.json'),
        JSON.stringify({
          keys: [
            {
              kty: 'EC',
              crv: 'P-256',
              kid: 'k',
              x: 'f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU',
              y: 'x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0',
            },
          ],
        }),
      )
      writeFileSync(join(dir, 'pod-trust.json'), (json[3] ?? '').replace('111122223333', id))
      const pods = sh(commands(blocks('docs/identity.md')[3] ?? '').join('\n'), dir, env)
      assert.equal(pods.status, 0, pods.stderr)
      assert.equal(
        pods.stdout,
        `created OpenID Connect provider arn:aws:iam::${id}:oidc-provider/oidc.cluster.example.com\ncreated role pod-trainer (arn:aws:iam::${id}:role/pod-trainer)\n`,
      )
    } finally {
      if (group > 0) process.kill(-group, 'SIGTERM')
    }
  })

  it("docs/iam-simulator.md: validating a bucket policy is the README's command, run above", () => {
    const readme = commands(blocks('README.md')[4] ?? '')[0]
    assert.deepEqual(commands(blocks('docs/iam-simulator.md')[1] ?? ''), [readme])
  })

  it('docs/benchmarks.md: each command names a benchmark that exists and runs on the pinned Node', () => {
    for (const block of blocks('docs/benchmarks.md')) {
      for (const line of commands(block)) {
        const m =
          /^npm ci && npx node (bench\/[\w-]+\.ts)( .*)?$/.exec(line) ??
          /^npm run bench$/.exec(line)
        assert.ok(m, `unexpected form: ${line}`)
        if (m[1] !== undefined) assert.ok(existsSync(join(root, m[1])), m[1])
      }
    }
  })
})

/** Pages whose commands another test runs (test/docs.test.ts, the e2e suite, test/audit/cli.test.ts). */
// keys.md: test/kms/pkcs11.test.ts; network.md: test/cert-cli.test.ts
const OTHER_TESTS = new Set(['docs/scanner.md', 'docs/audit.md', 'docs/keys.md', 'docs/network.md'])
