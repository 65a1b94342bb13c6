/**
 * A worker thread of BundleHasher: hashes the bundles it is sent, one at a time, and answers
 * each with its hashes or with the error reading it threw (code and message; an Error does
 * not survive postMessage as itself).
 */
import { parentPort } from 'node:worker_threads'
import { isStrongroomError } from '../../errors.ts'
import { hashBundle, type HashJob, type HashReply } from './bundle-hash.ts'

const port = parentPort
if (port === null) throw Error('bundle-worker.ts runs only as a worker thread')
port.on('message', ({ id, dir, index, width }: HashJob) => {
  let reply: HashReply
  try {
    reply = { id, hashes: hashBundle(dir, index, width) }
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e)
    reply = { id, error: isStrongroomError(e) ? { code: e.code, message } : { message } }
  }
  port.postMessage(reply)
})
port.postMessage('ready')
