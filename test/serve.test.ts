/**
 * Starting and stopping the server the way the README does: `npm start`, then a
 * signal to npm. The server must stop too, gracefully, and free its port.
 */
import assert from 'node:assert/strict'
import { spawn, spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { connect } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'

const ROOT = join(import.meta.dirname, '..')
const BIN = join(ROOT, 'bin', 'strongroom.js')
const work = mkdtempSync(join(tmpdir(), 'sr-serve-'))
after(() => rmSync(work, { recursive: true, force: true }))

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1')
    s.once('connect', () => {
      s.destroy()
      resolve(true)
    })
    s.once('error', () => resolve(false))
  })
}

describe('npm start', () => {
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    it(`${signal} to npm stops the server and frees its port`, async () => {
      const npm = spawn('npm', ['start'], {
        cwd: ROOT,
        env: {
          ...process.env,
          STRONGROOM_DATA_DIR: join(work, signal),
          STRONGROOM_LISTEN: '127.0.0.1:0',
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      })
      let out = ''
      npm.stdout.on('data', (d: Buffer) => (out += d.toString()))
      const port = await new Promise<number>((resolve, reject) => {
        npm.stdout.on('data', () => {
          const m = /ready at https:\/\/127\.0\.0\.1:(\d+)/.exec(out)
          if (m?.[1] !== undefined) resolve(Number(m[1]))
        })
        npm.once('exit', () => reject(new Error(`npm start exited: ${out}`)))
      })
      assert.equal(await portOpen(port), true)
      const exited = new Promise((resolve) => npm.once('exit', resolve))
      npm.kill(signal)
      await exited
      // npm may exit before the server has finished closing; give it a moment, bounded.
      for (let i = 0; i < 50 && (await portOpen(port)); i++)
        await new Promise((r) => setTimeout(r, 100))
      assert.equal(await portOpen(port), false, 'the server still holds its port')
      assert.match(out, /strongroom: process \d+; Ctrl-C or `kill \d+` stops it gracefully\n/)
      assert.match(out, /strongroom: stopped\n/)
    })
  }
})

describe('serve settings', () => {
  it('takes `listen` from the config file, and names the file and setting when it is wrong', async () => {
    const bad = join(work, 'bad.json')
    writeFileSync(bad, JSON.stringify({ listen: 'localhost' }))
    const r = spawnSync(process.execPath, [BIN, 'serve', '--dev', '--config', bad], {
      env: { ...process.env, STRONGROOM_DATA_DIR: join(work, 'cfg') },
      encoding: 'utf8',
    })
    assert.equal(r.status, 2)
    assert.match(
      r.stderr,
      /`listen` in .*bad\.json is `"localhost"`; expected HOST:PORT such as 127\.0\.0\.1:9443/,
    )
    const good = join(work, 'good.json')
    writeFileSync(good, JSON.stringify({ listen: '127.0.0.1:0' }))
    const server = spawn(process.execPath, [BIN, 'serve', '--dev', '--config', good], {
      env: { ...process.env, STRONGROOM_DATA_DIR: join(work, 'cfg') },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let out = ''
    await new Promise<void>((resolve, reject) => {
      server.stdout.on('data', (d: Buffer) => {
        out += d.toString()
        if (/ready at https:\/\/127\.0\.0\.1:\d+/.test(out)) resolve()
      })
      server.once('exit', () => reject(new Error(`serve exited: ${out}`)))
    })
    const exited = new Promise((resolve) => server.once('exit', resolve))
    server.kill('SIGTERM')
    assert.equal(await exited, 0)
  })
})
