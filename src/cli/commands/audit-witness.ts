/**
 * `strongroom audit witness key | serve`: a witness of audit logs (src/audit/witness.ts) as a
 * small HTTP service speaking C2SP tlog-witness, meant to run on a machine the log's operator
 * does not control. Gateways configured with it (`auditWitnesses`) send it each newer
 * checkpoint; it cosigns only those consistent with the newest it cosigned.
 */
import { writeFile } from 'node:fs/promises'
import { createServer, type IncomingMessage } from 'node:http'
import { parseCosignerKey } from '../../audit/tlog/cosignature.ts'
import { COSIGNATURE_V1, generateKey, isKeyName } from '../../audit/tlog/note.ts'
import { MAX_ADD_CHECKPOINT_BYTES, Witness } from '../../audit/witness.ts'
import { hostPort } from '../../net/listeners.ts'
import { StrongroomError } from '../../errors.ts'
import { stringOpt, type Command } from '../command.ts'
import { readBounded, readVerifierKey } from './audit-verify.ts'

export const auditWitnessKey: Command = {
  name: 'audit witness key',
  summary: "Make a witness's key pair: the secret key to FILE, the public key to stdout.",
  args: 'NAME',
  positionals: [1, 1],
  options: {
    out: {
      type: 'string',
      value: 'FILE',
      description: 'where the secret key goes (required; made owner-only, never overwritten)',
    },
  },
  help: [
    'NAME names the witness, ideally a schema-less URL such as witness.example.com/audit. The',
    'keys are C2SP cosignature/v1 (Ed25519) keys: the secret one, PRIVATE+KEY+NAME+KEYID+…, is',
    'for `audit witness serve --key`; the public one, NAME+KEYID+BASE64(0x04 ‖ key), goes into',
    "the gateways' auditWitnesses and to whoever checks cosignatures (`audit verify",
    '--witness-key`).',
    '',
    'Example:',
    '  strongroom audit witness key witness.example.com/audit --out witness.key > witness.pub',
  ].join('\n'),
  async run(ctx) {
    const name = ctx.positionals[0] ?? ''
    const out = stringOpt(ctx, 'out')
    if (out === undefined || out === '')
      throw new StrongroomError('USAGE', '--out FILE is required: where the secret key goes')
    if (!isKeyName(name))
      throw new StrongroomError(
        'USAGE',
        `\`${name.slice(0, 80)}\` is not a key name: no spaces, no \`+\``,
      )
    const keys = generateKey(name, COSIGNATURE_V1)
    try {
      await writeFile(out, `${keys.signerKey}\n`, { mode: 0o600, flag: 'wx' })
    } catch (e) {
      throw new StrongroomError('IO', `cannot write \`${out}\`: ${(e as Error).message}`, {
        cause: e,
      })
    }
    ctx.print(keys.verifierKey, { name, witnessKey: keys.verifierKey, secretKeyFile: out })
    return 0
  },
}

export const auditWitnessServe: Command = {
  name: 'audit witness serve',
  summary: 'Run a witness: cosign the checkpoints of the given logs that extend what it saw.',
  args: '',
  positionals: [0, 0],
  options: {
    key: { type: 'string', value: 'FILE', description: 'the secret key from `audit witness key`' },
    'log-key': {
      type: 'string',
      multiple: true,
      value: 'FILE',
      description: "a log's public key (`audit public-key`); repeat for several logs",
    },
    state: {
      type: 'string',
      value: 'DIR',
      description: 'where the newest checkpoint of each log and refused ones are kept',
    },
    listen: {
      type: 'string',
      value: 'HOST:PORT',
      description: 'address to listen on (default 127.0.0.1:7380)',
    },
  },
  help: [
    'Speaks C2SP tlog-witness (https://c2sp.org/tlog-witness): POST /add-checkpoint with',
    '`old SIZE`, a consistency proof and a checkpoint. It cosigns (c2sp.org/tlog-cosignature) a',
    "checkpoint signed by a log's key only when it extends the newest it cosigned for that log,",
    'and keeps that one in DIR (fsynced before it answers). A checkpoint that does not (a fork,',
    'a rollback) is refused and kept in DIR/evidence, with a line on stderr. Run it on a machine',
    "the log's operator does not control; requests need no authentication (the log's signature",
    'is checked), so anyone who can reach it can at most make it check signatures.',
    '',
    'Examples:',
    '  strongroom audit witness serve --key witness.key --log-key audit.pub --state /var/lib/witness',
    '  strongroom audit witness serve --key witness.key --log-key a.pub --log-key b.pub --state w --listen 0.0.0.0:7380',
  ].join('\n'),
  async run(ctx) {
    const keyFile = stringOpt(ctx, 'key')
    const state = stringOpt(ctx, 'state')
    const logKeys = (ctx.values['log-key'] as string[] | undefined) ?? []
    if (keyFile === undefined || state === undefined || logKeys.length === 0)
      throw new StrongroomError(
        'USAGE',
        '--key FILE, --state DIR and at least one --log-key FILE are required',
      )
    const cosigner = parseCosignerKey(
      (await readBounded(keyFile, 'the witness key file', 4096)).toString('utf8').trim(),
    )
    const logs = await Promise.all(logKeys.map((f) => readVerifierKey(f)))
    const listen = stringOpt(ctx, 'listen') ?? '127.0.0.1:7380'
    const parsed = hostPort(listen)
    if (parsed === undefined)
      throw new StrongroomError('USAGE', `--listen \`${listen.slice(0, 80)}\` is not HOST:PORT`)
    const { host, port } = parsed
    const witness = await Witness.open(state, cosigner, logs, (p) => ctx.warn(p))
    // Slow or held-open requests are dropped within seconds (checked every second, not every
    // 30 s), connections are capped, and so are the bytes buffered for all of them at once.
    const server = createServer({ connectionsCheckingInterval: 1000 }, (req, res) => {
      const reply = ({ status, contentType, body }: Answer) => {
        res.writeHead(status, {
          'content-type': contentType,
          'content-length': Buffer.byteLength(body),
        })
        res.end(body)
      }
      answer(witness, req).then(reply, (e: unknown) => {
        ctx.warn(`a request failed: ${(e as Error).message}`)
        reply(text(500, 'the witness failed to answer'))
      })
    })
    server.requestTimeout = 10_000
    server.headersTimeout = 5_000
    server.maxConnections = MAX_CONNECTIONS
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(port, host, resolve)
    })
    const address = server.address()
    const at = typeof address === 'object' && address !== null ? address.port : port
    ctx.write(
      `strongroom: witness ${cosigner.name} ready at http://${host.includes(':') ? `[${host}]` : host}:${at} for ${logs.map((l) => l.name).join(', ')}\n`,
    )
    await new Promise<void>((resolve) => {
      const stop = () => server.close(() => resolve())
      process.once('SIGINT', stop)
      process.once('SIGTERM', stop)
    })
    return 0
  },
}

type Answer = { status: number; contentType: string; body: string }

const MAX_CONNECTIONS = 256
/** Bytes of request bodies held at once, over every connection. */
const MAX_BUFFERED = 32 << 20
let buffered = 0

const text = (status: number, body: string): Answer => ({
  status,
  contentType: 'text/plain; charset=utf-8',
  body: `${body}\n`,
})

async function answer(witness: Witness, req: IncomingMessage): Promise<Answer> {
  // The path as sent, query aside: nothing here needs a URL parser (which throws on `[`).
  if ((req.url ?? '').split('?')[0] !== '/add-checkpoint') {
    req.resume()
    return text(404, 'not found: this witness answers POST /add-checkpoint')
  }
  if (req.method !== 'POST') {
    req.resume()
    return text(405, 'add-checkpoint is a POST')
  }
  const chunks: Buffer[] = []
  let size = 0
  try {
    try {
      for await (const chunk of req) {
        size += (chunk as Buffer).length
        buffered += (chunk as Buffer).length
        if (size > MAX_ADD_CHECKPOINT_BYTES) {
          req.destroy()
          return text(400, `the request is over ${MAX_ADD_CHECKPOINT_BYTES} bytes`)
        }
        if (buffered > MAX_BUFFERED) {
          req.destroy()
          return text(503, 'the witness is busy: try again shortly')
        }
        chunks.push(chunk as Buffer)
      }
    } catch {
      return text(400, 'the request body did not arrive')
    }
    try {
      return await witness.addCheckpoint(Buffer.concat(chunks))
    } catch (e) {
      // The state could not be written: nothing was cosigned.
      return text(503, `the witness cannot record the checkpoint: ${(e as Error).message}`)
    }
  } finally {
    // Counted until the request is answered: its bytes are held until then.
    buffered -= size
  }
}
