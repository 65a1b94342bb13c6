/**
 * Runs a command beside a throwaway Ceph RGW (test/ceph/server.ts), with
 * STRONGROOM_TEST_RGW_ENDPOINT, _ACCESS_KEY_ID and _SECRET_ACCESS_KEY naming it, then stops
 * it: CI's e2e run on PostgreSQL + RGW, one RGW for every test file (each takes its own bucket).
 *
 * Usage: node scripts/with-rgw.ts COMMAND [ARGS...]
 */
import { spawn } from 'node:child_process'
import { NEEDS_CEPH, startRgw } from '../test/ceph/server.ts'

const [command, ...args] = process.argv.slice(2)
if (command === undefined) {
  process.stderr.write('usage: node scripts/with-rgw.ts COMMAND [ARGS...]\n')
  process.exit(2)
}
const rgw = await startRgw()
if (rgw === undefined) {
  process.stderr.write(`with-rgw: ${NEEDS_CEPH}\n`)
  process.exit(1)
}
process.stderr.write(`with-rgw: Ceph RGW at ${rgw.endpoint}\n`)
const child = spawn(command, args, {
  stdio: 'inherit',
  env: {
    ...process.env,
    STRONGROOM_TEST_RGW_ENDPOINT: rgw.endpoint,
    STRONGROOM_TEST_RGW_ACCESS_KEY_ID: rgw.accessKeyId,
    STRONGROOM_TEST_RGW_SECRET_ACCESS_KEY: rgw.secretAccessKey,
  },
})
const code = await new Promise<number>((resolve) =>
  child.once('exit', (c, signal) => resolve(c ?? (signal === null ? 1 : 128))),
)
await rgw.stop()
process.exit(code)
