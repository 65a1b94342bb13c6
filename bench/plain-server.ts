/**
 * The gateway benchmark's baseline, in its own process like the gateway: a plain
 * HTTPS server that streams PUT bodies to files and GET bodies from them, with
 * no authentication, no encryption and no fsync. Prints its URL once listening.
 *
 * Usage: node bench/plain-server.ts DIR KEY.pem CERT.pem
 */
import { createReadStream, createWriteStream, mkdirSync, readFileSync, statSync } from 'node:fs'
import { createServer } from 'node:https'
import { join } from 'node:path'
import { pipeline } from 'node:stream/promises'

const [dir = '', keyFile = '', certFile = ''] = process.argv.slice(2)
mkdirSync(dir, { recursive: true })
const path = (url: string) => join(dir, Buffer.from(url).toString('base64url'))
const server = createServer(
  { key: readFileSync(keyFile), cert: readFileSync(certFile), minVersion: 'TLSv1.2' },
  (req, res) => {
    const file = path((req.url ?? '/').split('?')[0] ?? '/')
    if (req.method === 'PUT') {
      pipeline(req, createWriteStream(file)).then(
        () => res.writeHead(200, { ETag: '"0"' }).end(),
        () => res.writeHead(500).end(),
      )
    } else if (req.method === 'GET') {
      let size: number
      try {
        size = statSync(file).size
      } catch {
        res.writeHead(404).end()
        return
      }
      res.writeHead(200, { 'Content-Length': String(size) })
      pipeline(createReadStream(file), res).catch(() => res.destroy())
    } else res.writeHead(405).end()
  },
)
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`https://127.0.0.1:${(server.address() as { port: number }).port}\n`)
})
process.on('SIGTERM', () => server.close(() => process.exit(0)))
