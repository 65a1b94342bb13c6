/**
 * The gateway benchmark's baseline, in its own process like the gateway: a plain
 * HTTPS server that streams PUT bodies to files and GET bodies from them (HEAD and DELETE
 * too, for bench/load.ts), with no authentication, no encryption and no fsync. Prints its URL once listening.
 *
 * Usage: node bench/plain-server.ts DIR [KEY.pem CERT.pem]   (without them: plain HTTP)
 */
import {
  createReadStream,
  createWriteStream,
  mkdirSync,
  readFileSync,
  rmSync,
  statSync,
} from 'node:fs'
import { createServer as createHttp, type IncomingMessage, type ServerResponse } from 'node:http'
import { createServer } from 'node:https'
import { join } from 'node:path'
import { pipeline } from 'node:stream/promises'

const [dir = '', keyFile = '', certFile = ''] = process.argv.slice(2)
mkdirSync(dir, { recursive: true })
const path = (url: string) => join(dir, Buffer.from(url).toString('base64url'))
const handler = (req: IncomingMessage, res: ServerResponse) => {
  const file = path((req.url ?? '/').split('?')[0] ?? '/')
  if (req.method === 'PUT') {
    pipeline(req, createWriteStream(file)).then(
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
