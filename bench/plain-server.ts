/**
 * The gateway benchmark's baseline, in its own process like the gateway: a plain
 * HTTPS server that streams PUT bodies to files and GET bodies from them (HEAD and DELETE
 * too, for bench/load.ts), with no authentication, no encryption and no fsync. Multipart
 * uploads write each part to a file of its own; Complete writes the list of part files as
 * the object (the parts stay where they are, as the gateway keeps them). Prints its URL
 * once listening.
 *
 * Usage: node bench/plain-server.ts DIR [KEY.pem CERT.pem]   (without them: plain HTTP)
 * PLAIN_DURABLE=1: every file is flushed to disk (fsync) before the answer, as the gateway
 * does, to separate the cost of durability from the cost of everything else.
 */
import { randomBytes } from 'node:crypto'
import {
  createReadStream,
  createWriteStream,
  mkdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs'
import { createServer as createHttp, type IncomingMessage, type ServerResponse } from 'node:http'
import { createServer } from 'node:https'
import { join } from 'node:path'
import { pipeline } from 'node:stream/promises'

const [dir = '', keyFile = '', certFile = ''] = process.argv.slice(2)
mkdirSync(dir, { recursive: true })
const durable = process.env.PLAIN_DURABLE === '1'
const path = (url: string) => join(dir, Buffer.from(url).toString('base64url'))
const handler = (req: IncomingMessage, res: ServerResponse) => {
  const [pathname = '/', search = ''] = (req.url ?? '/').split('?')
  const file = path(pathname)
  const query = new URLSearchParams(search)
  const uploadId = query.get('uploadId')
  const xml = (body: string) =>
    res
      .writeHead(200, { 'Content-Type': 'application/xml' })
      .end(`<?xml version="1.0" encoding="UTF-8"?>\n${body}`)
  if (req.method === 'POST' && query.has('uploads')) {
    req.resume()
    const id = randomBytes(16).toString('hex')
    xml(
      `<InitiateMultipartUploadResult><Bucket>bench</Bucket><Key>k</Key><UploadId>${id}</UploadId></InitiateMultipartUploadResult>`,
    )
  } else if (req.method === 'PUT' && uploadId !== null) {
    const part = join(dir, `${uploadId}.${query.get('partNumber') ?? ''}`)
    pipeline(req, createWriteStream(part, { flush: durable })).then(
      () => res.writeHead(200, { ETag: '"0"' }).end(),
      () => res.writeHead(500).end(),
    )
  } else if (req.method === 'POST' && uploadId !== null) {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const numbers = [
        ...Buffer.concat(chunks)
          .toString()
          .matchAll(/<PartNumber>(\d+)</g),
      ]
      writeFileSync(file, numbers.map((m) => `${uploadId}.${m[1] ?? ''}`).join('\n'), {
        flush: durable,
      })
      xml(
        `<CompleteMultipartUploadResult><Bucket>bench</Bucket><Key>k</Key><ETag>"0-${numbers.length}"</ETag></CompleteMultipartUploadResult>`,
      )
    })
  } else if (req.method === 'PUT') {
    pipeline(req, createWriteStream(file, { flush: durable })).then(
      () => res.writeHead(200, { ETag: '"0"' }).end(),
      () => res.writeHead(500).end(),
    )
  } else if (req.method === 'GET' || req.method === 'HEAD') {
    let size: number
    try {
      size = statSync(file).size
    } catch {
      res.writeHead(404).end()
      return
    }
    res.writeHead(200, { 'Content-Length': String(size) })
    if (req.method === 'HEAD') res.end()
    else pipeline(createReadStream(file), res).catch(() => res.destroy())
  } else if (req.method === 'DELETE') {
    rmSync(file, { force: true })
    res.writeHead(204).end()
  } else res.writeHead(405).end()
}
const tls = keyFile !== '' && certFile !== ''
const server = tls
  ? createServer(
      { key: readFileSync(keyFile), cert: readFileSync(certFile), minVersion: 'TLSv1.2' },
      handler,
    )
  : createHttp(handler)
server.listen(0, '127.0.0.1', () => {
  const port = (server.address() as { port: number }).port
  process.stdout.write(`${tls ? 'https' : 'http'}://127.0.0.1:${port}\n`)
})
process.on('SIGTERM', () => server.close(() => process.exit(0)))
