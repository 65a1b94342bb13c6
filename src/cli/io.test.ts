/**
 * The CLI's file plumbing: inputs and their errors, outputs that appear only when complete,
 * the sealed stdin spool, and the progress bar's output on a terminal.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import { after, describe, it } from 'node:test'
import { isStrongroomError } from '../errors.ts'
import { createOutput, openInput, progress, spool } from './io.ts'

const dir = mkdtempSync(join(tmpdir(), 'sr-io-'))
after(() => rmSync(dir, { recursive: true, force: true }))

async function ioMessage(p: Promise<unknown>): Promise<string> {
  try {
    await p
  } catch (e) {
    assert.ok(isStrongroomError(e, 'IO'), String(e))
    return e.message
  }
  assert.fail('succeeded')
}

async function* chunks(...parts: (string | Buffer)[]) {
  for (const p of parts) yield Buffer.from(p)
  await Promise.resolve()
}

async function collect(source: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const out: Uint8Array[] = []
  for await (const c of source) out.push(c)
  return Buffer.concat(out)
}

describe('CLI inputs', () => {
  it('a regular file: its size, positioned reads and a stream of its bytes', async () => {
    const data = randomBytes(3000)
    const p = join(dir, 'in.bin')
    writeFileSync(p, data)
    const input = await openInput(p)
    try {
      assert.equal(input.size, 3000)
      assert.ok(input.random !== undefined)
      assert.ok(Buffer.from(await input.random.read(100, 10)).equals(data.subarray(100, 110)))
      assert.ok((await collect(input.stream())).equals(data))
    } finally {
      await input.close()
    }
  })

  it('a missing file or a directory: IO errors that say which and why', async () => {
    assert.equal(
      await ioMessage(openInput(join(dir, 'absent'))),
      `cannot read \`${join(dir, 'absent')}\`: it does not exist`,
    )
    mkdirSync(join(dir, 'sub'))
    assert.match(
      await ioMessage(openInput(join(dir, 'sub'))),
      /it (is not a regular file|is a directory)/,
    )
  })
})

describe('CLI outputs', () => {
  it('appear only on commit, complete, owner-only; nothing is left beside them', async () => {
    const p = join(dir, 'out.bin')
    const out = createOutput(p)
    await out.write(chunks('hello ', 'world'))
    assert.ok(!existsSync(p), 'visible before commit')
    await out.commit()
    assert.equal(readFileSync(p, 'utf8'), 'hello world')
    assert.deepEqual(
      readdirSync(dir).filter((f) => f.endsWith('.tmp')),
      [],
    )
  })

  it('an aborted write leaves neither the file nor its temporary', async () => {
    const p = join(dir, 'aborted.bin')
    const out = createOutput(p)
    await out.write(chunks('partial'))
    await out.abort()
    assert.ok(!existsSync(p))
    assert.deepEqual(
      readdirSync(dir).filter((f) => f.includes('aborted')),
      [],
    )
    // Aborting before anything was written is harmless.
    await createOutput(join(dir, 'never.bin')).abort()
  })

  it('a directory that does not exist: an IO error naming the path', async () => {
    const p = join(dir, 'no-such-dir', 'x.bin')
    assert.equal(
      await ioMessage(createOutput(p).write(chunks('x'))),
      `cannot write \`${p}\`: it does not exist`,
    )
  })

  it('`-` writes to the given stdout and leaves it open', async () => {
    const seen: Buffer[] = []
    const stdout = new Writable({
      write(c: Buffer, _e, cb) {
        seen.push(c)
        cb()
      },
    })
    const out = createOutput('-', stdout)
    await out.write(chunks('a', 'b'))
    await out.commit()
    assert.equal(Buffer.concat(seen).toString(), 'ab')
    assert.equal(stdout.writableEnded, false)
  })
})

describe('stdin spool', () => {
  it('gives back exactly what went in, chunk boundaries and all, from an unlinked file', async () => {
    const parts = [randomBytes(10), Buffer.alloc(0), randomBytes(70_000), randomBytes(1)]
    const before = readdirSync(dir)
    const s = await spool(chunks(...parts), dir)
    try {
      assert.deepEqual(readdirSync(dir), before, 'the spool file is unlinked at once')
      assert.equal(s.size, 70_011)
      assert.equal(s.random, undefined)
      assert.ok((await collect(s.stream())).equals(Buffer.concat(parts)))
      // It can be read twice (encrypt reads it once to seal).
      assert.ok((await collect(s.stream())).equals(Buffer.concat(parts)))
    } finally {
      await s.close()
    }
  })
})

describe('progress bar', () => {
  /** A terminal-like stream that records what is drawn. */
  function terminal(isTTY: boolean) {
    const text: string[] = []
    const stream = Object.assign(
      new Writable({
        write(c: Buffer, _e, cb) {
          text.push(c.toString())
          cb()
        },
      }),
      { isTTY },
    ) as unknown as NodeJS.WriteStream
    return { stream, text }
  }

  it('draws on a terminal for large work, ending with a newline at 100%', async () => {
    const t = terminal(true)
    const total = 16 * 1024 * 1024
    const bar = progress('sealing', total, t.stream)
    await collect(bar.count(chunks(Buffer.alloc(total))))
    bar.end()
    const last = t.text.at(-2) ?? ''
    assert.match(last, /^\rsealing \[#{30}\] 100% 16\.0\/16\.0 MiB {2}\d+ MiB\/s $/)
    assert.equal(t.text.at(-1), '\n')
  })

  it('stays silent when stderr is not a terminal, or the work is small', async () => {
    for (const [isTTY, total] of [
      [false, 64 << 20],
      [true, 1024],
    ] as const) {
      const t = terminal(isTTY)
      const bar = progress('x', total, t.stream)
      await collect(bar.count(chunks(Buffer.alloc(1024))))
      bar.end()
      assert.deepEqual(t.text, [])
    }
  })

  it('an unknown total draws the amount without a bar or percentage', async () => {
    const t = terminal(true)
    const bar = progress('reading', undefined, t.stream)
    await collect(bar.count(chunks(Buffer.alloc(2 << 20))))
    bar.end()
    assert.match(t.text.at(-2) ?? '', /^\rreading 2\.0 MiB {2}\d+ MiB\/s $/)
  })
})
