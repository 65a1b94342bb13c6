/**
 * The digest worker: hashes large bodies (MD5 for the ETag, SHA-256 when the
 * request signed its payload) off the gateway's event loop, so that the
 * main thread only decrypts TLS, seals and writes. Each body is a job: its
 * batches arrive in order on this port, each is acknowledged once hashed
 * (the sender's backpressure), and `end` replies with the digests.
 */
import { createHash, type Hash } from 'node:crypto'
import { parentPort } from 'node:worker_threads'

export type DigestRequest =
  | { readonly op: 'start'; readonly id: number; readonly algorithms: readonly string[] }
  | { readonly op: 'update'; readonly id: number; readonly bytes: Uint8Array }
  | { readonly op: 'end'; readonly id: number }
  | { readonly op: 'drop'; readonly id: number }

export type DigestReply =
  | { readonly op: 'ack'; readonly id: number }
  | { readonly op: 'digests'; readonly id: number; readonly digests: readonly Uint8Array[] }

const jobs = new Map<number, Hash[]>()
const port = parentPort
if (port !== null)
  port.on('message', (m: DigestRequest) => {
    switch (m.op) {
      case 'start':
        jobs.set(
          m.id,
          m.algorithms.map((a) => createHash(a)),
        )
        return
      case 'update':
        for (const h of jobs.get(m.id) ?? []) h.update(m.bytes)
        port.postMessage({ op: 'ack', id: m.id } satisfies DigestReply)
        return
      case 'end': {
        const digests = (jobs.get(m.id) ?? []).map((h) => h.digest())
        jobs.delete(m.id)
        port.postMessage({ op: 'digests', id: m.id, digests } satisfies DigestReply)
        return
      }
      case 'drop':
        jobs.delete(m.id)
        return
    }
  })
