/**
 * The examples in the docs are run as written: a reader who copies them gets
 * exactly what the page says.
 */
import assert from 'node:assert/strict'
import { spawn, spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, it } from 'node:test'

const root = join(import.meta.dirname, '..')
const block = (text: string, lang: string, n = 0) => {
  const blocks = [...text.matchAll(new RegExp('```' + lang + '\\n([\\s\\S]*?)```', 'g'))].map(
    (m) => m[1] ?? '',
  )
  const b = blocks[n]
  assert.ok(b !== undefined, `no ${lang} block #${n}`)
  return b
}

describe('docs/iam-simulator.md', () => {
  const page = readFileSync(join(root, 'docs', 'iam-simulator.md'), 'utf8')

  it('shows the example file as it is', () => {
    assert.equal(
      block(page, 'jsonl'),
      readFileSync(join(root, 'docs', 'examples', 'simulate.jsonl'), 'utf8'),
    )
  })

  it('prints what the page says the example command prints', () => {
    const command = block(page, 'sh').trim()
    assert.equal(
      command,
      'npx strongroom policy simulate --input docs/examples/simulate.jsonl --explain',
    )
    const r = spawnSync(
      process.execPath,
      [
        'bin/strongroom.js',
        'policy',
        'simulate',
        '--input',
        'docs/examples/simulate.jsonl',
        '--explain',
      ],
      {
        cwd: root,
        encoding: 'utf8',
      },
    )
    assert.equal(r.stdout, block(page, 'text'))
    assert.equal(r.status, 1, 'one of the two requests is denied')
  })
})

describe('docs/iam-simulator.md: policy validate', () => {
  const page = readFileSync(join(root, 'docs', 'iam-simulator.md'), 'utf8')

  it('prints the warnings the page shows for the example policy', () => {
    const command = block(page, 'sh', 2).trim()
    assert.equal(command, 'npx strongroom policy validate docs/examples/typos-policy.json')
    const r = spawnSync(process.execPath, ['bin/strongroom.js', ...command.split(' ').slice(2)], {
      cwd: root,
      encoding: 'utf8',
    })
    assert.equal(r.stdout, block(page, 'text', 1))
    assert.equal(r.status, 0, 'warnings alone do not fail')
  })
})

describe('docs/scanner.md', () => {
  const page = readFileSync(join(root, 'docs', 'scanner.md'), 'utf8')

  it('prints what the page says the example commands print', () => {
    const [gen = '', scan = ''] = block(page, 'sh').trim().split('\n')
    const dir = mkdtempSync(join(tmpdir(), 'sr-docs-'))
    try {
      const local = (line: string) => line.replaceAll('/tmp/sr-corpus', dir).split(' ')
      const [npx = '', node = '', script = '', out = ''] = local(gen)
      assert.deepEqual([npx, node], ['npx', 'node'])
      assert.equal(script, 'scripts/gen-scan-corpus.ts')
      const g = spawnSync(process.execPath, [script, out], { cwd: root, encoding: 'utf8' })
      assert.equal(g.status, 0, g.stderr)
      const args = local(scan)
      assert.deepEqual(args.slice(0, 3), ['npx', 'strongroom', 'scan'])
      const r = spawnSync(process.execPath, ['bin/strongroom.js', ...args.slice(2)], {
        cwd: root,
        encoding: 'utf8',
      })
      assert.equal(r.stdout, block(page, 'text').replaceAll('/tmp/sr-corpus', dir))
      assert.equal(r.status, 1)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})

describe('docs/gateway.md', () => {
  const page = readFileSync(join(root, 'docs', 'gateway.md'), 'utf8')
  const BIN = join(root, 'bin', 'strongroom.js')
  /** The block of `sh` lines that holds `marker`, each `npx strongroom ARGS` as arguments. */
  const commands = (marker: string) => {
    const b = [...page.matchAll(/```sh\n([\s\S]*?)```/g)]
      .map((m) => m[1] ?? '')
      .find((x) => x.includes(marker))
    assert.ok(b !== undefined, marker)
    return b
      .trim()
      .split('\n')
      .map((line) => {
        assert.ok(line.startsWith('npx strongroom '), line)
        return line.slice('npx strongroom '.length).split(' ')
      })
  }

  it('replaces and retires the bootstrap admin key, and shares a key with another tenant, as written', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sr-docs-gw-'))
    const sr = (args: string[]) => {
      const r = spawnSync(process.execPath, [BIN, ...args], { cwd: dir, encoding: 'utf8' })
      assert.equal(r.status, 0, `${args.join(' ')}: ${r.stderr}`)
      return r.stdout
    }
    try {
      // The bootstrap admin, as the Start section gives it.
      const server = spawn(process.execPath, [BIN, 'serve', '--dev', '--listen', '127.0.0.1:0'], {
        cwd: dir,
        env: {
          ...process.env,
          STRONGROOM_ADMIN_ACCESS_KEY_ID: 'AKIAEXAMPLEADMIN0001',
          STRONGROOM_ADMIN_SECRET_ACCESS_KEY: 'docs-example-secret-0123456789',
        },
        stdio: ['ignore', 'pipe', 'ignore'],
      })
      await new Promise<void>((resolve, reject) => {
        let out = ''
        server.stdout.on('data', (d: Buffer) => {
          out += d.toString()
          if (out.includes('ready at')) resolve()
        })
        server.on('exit', (code) => reject(new Error(`serve exited with ${String(code)}`)))
      })
      const exited = new Promise((resolve) => server.once('exit', resolve))
      server.kill('SIGTERM')
      await exited

      const admin = commands('access-key create --tenant admin')
      for (const args of admin) sr(args)
      const left = sr(['access-key', 'list', '--tenant', 'admin', '--user', 'admin'])
      assert.doesNotMatch(left, /AKIAEXAMPLEADMIN0001/)
      assert.match(left, /^AKIA[0-9A-Z]{16} {2}Active {4}\S+Z\n$/)

      sr(['tenant', 'create', 'vision'])
      sr(['tenant', 'create', 'audio'])
      sr(['key', 'create', '--tenant', 'vision', '--alias', 's3-default'])
      const ids = new Map(
        (JSON.parse(sr(['tenant', 'list', '--json'])) as { id: string; name: string }[]).map(
          (t) => [t.name, t.id],
        ),
      )
      const policy = block(page, 'json', 1)
        .replaceAll('111122223333', ids.get('vision') ?? '')
        .replaceAll('444455556666', ids.get('audio') ?? '')
      writeFileSync(join(dir, 'vision-key-policy.json'), policy)
      const [put = [], get = []] = commands('key put-policy')
      assert.equal(sr(put).split('  ')[1], 'alias/s3-default')
      assert.equal(sr(get), policy)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})

describe('docs/identity.md', () => {
  it('lists exactly the IAM and STS actions the gateway serves', async () => {
    const { IAM_OPERATIONS } = await import('../src/api/iam/table.ts')
    const { STS_OPERATIONS } = await import('../src/api/sts/operations.ts')
    const { WEB_IDENTITY_OPERATION } = await import('../src/api/sts/web-identity.ts')
    const page = readFileSync(join(import.meta.dirname, '..', 'docs', 'identity.md'), 'utf8')
    const listed = (label: string) =>
      (new RegExp(`^${label} actions[^:]*: ([\\s\\S]*?)\\.$`, 'm').exec(page)?.[1] ?? '')
        .split(/,\s*/)
        .map((x) => x.trim())
    const iam = IAM_OPERATIONS.map((o) => o.name).sort()
    assert.deepEqual(listed('IAM'), iam)
    assert.match(page, new RegExp(`IAM actions \\(${String(iam.length)}\\)`))
    assert.deepEqual(
      listed('STS'),
      [...STS_OPERATIONS, WEB_IDENTITY_OPERATION].map((o) => o.name).sort(),
    )
  })
})

describe('docs/scaling.md', () => {
  it('its cluster configuration loads as written: PostgreSQL metadata, blobs on an S3 endpoint', async () => {
    const { loadConfig } = await import('../src/config.ts')
    const page = readFileSync(join(root, 'docs', 'scaling.md'), 'utf8')
    const json = /```json\n([\s\S]*?)```/.exec(page)?.[1]
    assert.ok(json !== undefined, 'a json block')
    const dir = mkdtempSync(join(tmpdir(), 'sr-scaling-doc-'))
    try {
      const file = join(dir, 'cluster.json')
      writeFileSync(file, json)
      const config = loadConfig({ configFile: file, env: {}, flags: {} })
      assert.equal(config.meta, 'postgres://strongroom@db.internal/strongroom')
      assert.deepEqual(config.blobs, {
        url: 's3://ml-artifacts-sealed/strongroom',
        endpoint: 'https://rgw.internal:7480',
        region: 'us-east-1',
        credentials: undefined,
      })
      assert.deepEqual(config.listen, { host: '0.0.0.0', port: 9443 })
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})

describe('docs/terraform.md', () => {
  const page = readFileSync(join(root, 'docs', 'terraform.md'), 'utf8')
  const replay = readFileSync(join(root, 'test', 'e2e', 'terraform_replay.py'), 'utf8')

  it('shows the module the replay applies: the same resources, names and settings', () => {
    const module = block(page, 'hcl', 1)
    const types = new Set([...module.matchAll(/^resource "([a-z0-9_]+)"/gm)].map((m) => m[1]))
    assert.deepEqual([...types].sort(), [
      'aws_iam_access_key',
      'aws_iam_policy',
      'aws_iam_role',
      'aws_iam_role_policy',
      'aws_iam_role_policy_attachment',
      'aws_iam_user',
      'aws_kms_alias',
      'aws_kms_key',
      'aws_s3_bucket',
      'aws_s3_bucket_policy',
      'aws_s3_bucket_public_access_block',
      'aws_s3_bucket_server_side_encryption_configuration',
      'aws_s3_bucket_versioning',
    ])
    const names =
      /DATA, MODELS = "([^"]+)", "([^"]+)"\nROLE, USER, READERS = "([^"]+)", "([^"]+)", "([^"]+)"\nALIAS = "([^"]+)"/.exec(
        replay,
      )
    assert.ok(names, 'the replay names its resources')
    for (const name of names.slice(1)) assert.ok(module.includes(`"${name}"`), name)
    for (const setting of [
      'vision team key',
      'training jobs',
      'rotation_period_in_days = 180',
      'AccountAdministersButDoesNotDecrypt',
      'OnlyTrainingDecrypts',
      'TlsOnly',
    ])
      assert.ok(module.includes(setting), setting)
    for (const setting of ['"vision team key"', '"training jobs"', 'RotationPeriodInDays=180'])
      assert.ok(replay.includes(setting), setting)
  })
})

describe('docs/dependencies.md', () => {
  it('names every runtime and development dependency in package.json, and says how many', () => {
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as Record<
      string,
      Record<string, string> | undefined
    >
    const page = readFileSync(join(root, 'docs', 'dependencies.md'), 'utf8')
    const named = (n: string) => page.includes(`\`${n}\``)
    const all = ['dependencies', 'devDependencies', 'optionalDependencies'].flatMap((k) =>
      Object.keys(pkg[k] ?? {}),
    )
    assert.deepEqual(
      all.filter((n) => !named(n)),
      [],
    )
    const words = [
      'zero',
      'one',
      'two',
      'three',
      'four',
      'five',
      'six',
      'seven',
      'eight',
      'nine',
      'ten',
    ]
    const runtime = Object.keys(pkg.dependencies ?? {}).length
    assert.ok(
      page.includes(`**${words[runtime] ?? String(runtime)} runtime dependencies**`),
      `${String(runtime)} runtime`,
    )
  })
})
