import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { createServer, get, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { describe, it } from 'node:test'
import { StrongroomError } from '../../errors.ts'
import { send, WRITE_PIECE, writeAll } from './rest-xml.ts'

interface Answered {
  readonly got: Buffer
  /** The size of each write to the response, in order. */
  readonly writes: number[]
  /** The most writes outstanding (not yet taken by the connection) at once. */
  readonly most: number
}

/** Answers one GET with `respond`, recording each write to the response. */
async function answer(respond: (res: ServerResponse) => void): Promise<Answered> {
  const writes: number[] = []
  let outstanding = 0
  let most = 0
  const server = createServer((_req, res: ServerResponse) => {
    // Records what is handed to the response, then lets the real write happen.
    const real = res.write.bind(res) as (c: Uint8Array, cb: (e?: Error | null) => void) => boolean
    res.write = ((c: Uint8Array, cb: (e?: Error | null) => void) => {
      writes.push(c.length)
      most = Math.max(most, ++outstanding)
      return real(c, (e) => {
        outstanding--
        cb(e)
      })
    }) as typeof res.write
    respond(res)
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  try {
    const { port } = server.address() as AddressInfo
    const got = await new Promise<Buffer>((resolve, reject) => {
      get({ host: '127.0.0.1', port, path: '/' }, (res) => {
        const parts: Buffer[] = []
        res.on('data', (d: Buffer) => parts.push(d))
        res.on('end', () => resolve(Buffer.concat(parts)))
        res.on('error', reject)
      }).on('error', reject)
    })
    return { got, writes, most }
  } finally {
    server.close()
  }
}

/** Serves `chunks` through writeAll: the first as already read, the rest from an iterator. */
function serve(chunks: Buffer[]): Promise<Answered> {
  return answer((res) => {
    res.setHeader('Content-Length', String(chunks.reduce((n, c) => n + c.length, 0)))
    const [first, ...rest] = chunks
    const more = rest.values()
    const next = () => Promise.resolve(more.next())
    void writeAll(res, first === undefined ? [] : [first], { next })
  })
}

describe('writeAll', () => {
  it('sends every byte, a TLS record at most at a time, one write outstanding', async () => {
    const chunks = [randomBytes(1024 * 1024 + 3), randomBytes(5), randomBytes(3 * WRITE_PIECE)]
    const { got, writes, most } = await serve(chunks)
    assert.ok(got.equals(Buffer.concat(chunks)))
    // 1 MiB + 3 bytes is 64 full pieces and one of 3 bytes; then 5 bytes; then 3 full pieces.
    assert.equal(writes.length, 64 + 1 + 1 + 3)
    assert.equal(Math.max(...writes), WRITE_PIECE)
    assert.deepEqual(writes.slice(63, 67), [WRITE_PIECE, 3, 5, WRITE_PIECE])
    assert.equal(most, 1)
  })

  // Outside review of issue 11: a response whose connection had closed between two pieces
  // waited for a 'close' that had already happened, keeping the handler and its open blob.
  it('rejects at once on a connection already closed, closes the rest of the body, keeps no listener', async () => {
    let returned = 0
    const outcome = new Promise<{ error: unknown; listeners: number }>((resolve) => {
      const server = createServer((_req, res) => {
        res.destroy()
        const before = res.listenerCount('close')
        const rest: AsyncIterator<Uint8Array> = {
          next: () => Promise.resolve({ done: false, value: Buffer.alloc(10) }),
          return: () => {
            returned++
            return Promise.resolve({ done: true, value: undefined })
          },
        }
        writeAll(res, [Buffer.alloc(WRITE_PIECE * 2)], rest).then(
          () => resolve({ error: undefined, listeners: res.listenerCount('close') - before }),
          (error: unknown) => resolve({ error, listeners: res.listenerCount('close') - before }),
        )
      })
      server.listen(0, '127.0.0.1', () => {
        const { port } = server.address() as AddressInfo
        get({ host: '127.0.0.1', port, path: '/' }).on('error', () => server.close())
      })
    })
    const { error, listeners } = await outcome
    assert.ok(error instanceof StrongroomError)
    assert.equal(error.code, 'IO')
    assert.equal(returned, 1)
    assert.equal(listeners, 0)
  })

  it('sends an empty body as no write at all', async () => {
    const { got, writes } = await serve([])
    assert.equal(got.length, 0)
    assert.deepEqual(writes, [])
  })
})

describe('send', () => {
  it('sends a large document a record at a time, a small one with the end of the response', async () => {
    // 70,000 two-byte characters: 140,000 bytes, eight full pieces and the rest.
    const doc = 'é'.repeat(70_000)
    const large = await answer((res) => send(res, 'r1', 200, doc))
    assert.equal(large.got.toString(), doc)
    const full = Array<number>(8).fill(WRITE_PIECE)
    assert.deepEqual(large.writes, [...full, 140_000 - 8 * WRITE_PIECE])
    assert.equal(large.most, 1)
    const small = await answer((res) => send(res, 'r2', 200, 'é'.repeat(8_000)))
    assert.equal(small.got.toString(), 'é'.repeat(8_000))
    assert.deepEqual(small.writes, [])
  })
})
