/**
 * `strongroom serve` refusing to start, in this process through the CLI's entry point: each
 * refusal is one line with what to do, and nothing is left listening.
 * (Serving itself is tested in test/gateway/, which runs `serve` the same way.)
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer, type AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { main } from '../main.ts'

const work = mkdtempSync(join(tmpdir(), 'sr-serve-'))
after(() => rmSync(work, { recursive: true, force: true }))

function env(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const e: NodeJS.ProcessEnv = {}
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('STRONGROOM_')) e[k] = v
  return { ...e, ...extra }
}

async function run(args: string[], extra: Record<string, string> = {}) {
  let stdout = ''
  let stderr = ''
  const code = await main(args, {
    stdout: (s) => (stdout += s),
    stderr: (s) => (stderr += s),
    env: env(extra),
  })
  return { code, stdout, stderr }
}

describe('strongroom serve refuses to start', () => {
  it('without a data directory, a root key or --dev: DATA_DIR_MISSING saying both ways out', async () => {
    const r = await run(['serve', '--data-dir', join(work, 'none'), '--listen', '127.0.0.1:0'])
    assert.equal(r.code, 1)
    assert.equal(
      r.stderr,
      `strongroom: no data directory at \`${join(work, 'none')}\`; run \`strongroom init\` first, or \`strongroom serve --dev\` for a development server [DATA_DIR_MISSING]\n`,
    )
  })

  it('on an address already in use: IO, naming the address and the option to change it', async () => {
    const blocker = createServer()
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve))
    const { port } = blocker.address() as AddressInfo
    try {
      const dd = join(work, 'busy')
      const r = await run(
        ['serve', '--dev', '--insecure-http', '--data-dir', dd, '--listen', `127.0.0.1:${port}`],
        {
          STRONGROOM_ADMIN_ACCESS_KEY_ID: 'AKIASERVETEST0000001',
          STRONGROOM_ADMIN_SECRET_ACCESS_KEY: 'serve-test-secret-0123456789',
        },
      )
      assert.equal(r.code, 1)
      assert.match(
        r.stderr,
        new RegExp(
          `127\\.0\\.0\\.1:${port} is already in use; stop what listens there or choose another address with --listen HOST:PORT \\[IO\\]\\n$`,
        ),
      )
      // The data directory was made, and the admin key given exists now: a second start with
      // the same id and another secret is refused rather than silently keeping the old one.
      const other = await run(
        ['serve', '--insecure-http', '--data-dir', dd, '--listen', `127.0.0.1:${port}`],
        {
          STRONGROOM_ADMIN_ACCESS_KEY_ID: 'AKIASERVETEST0000001',
          STRONGROOM_ADMIN_SECRET_ACCESS_KEY: 'another-secret-0123456789',
        },
      )
      assert.equal(other.code, 2)
      assert.match(
        other.stderr,
        /names an existing key with another secret or owner; choose another id \[CONFIG_INVALID\]\n$/,
      )
    } finally {
      await new Promise((resolve) => blocker.close(resolve))
    }
  })

  it('a malformed --listen is a usage error', async () => {
    const r = await run(['serve', '--dev', '--data-dir', join(work, 'x'), '--listen', 'nowhere'])
    assert.equal(r.code, 2)
    assert.match(r.stderr, /--listen/)
  })
})
