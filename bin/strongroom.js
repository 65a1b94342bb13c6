#!/usr/bin/env node
// Plain JavaScript on purpose: it must run on any Node to say which Node it needs.
const REQUIRED = 24
const major = Number(process.versions.node.split('.')[0])
if (major < REQUIRED) {
  process.stderr.write(
    `strongroom: Node.js ${REQUIRED} or newer is required (this is ${process.version}); run it through npm (npm start -- ARGS) after npm ci, or install Node ${REQUIRED}\n`,
  )
  process.exit(2)
}
// File writes and their fsyncs run in libuv's thread pool; four threads (the default)
// would cap a busy gateway at four durable writes in flight (bench/gateway.ts: 4 KiB PUTs
// 0.45 -> 0.53 of a plain server). Must be set before the pool is first used.
process.env.UV_THREADPOOL_SIZE ??= '32'
const { main } = await import('../src/cli/main.ts')
const code = await main(process.argv.slice(2), {
  stdout: (s) => process.stdout.write(s),
  stderr: (s) => process.stderr.write(s),
  env: process.env,
})
process.exitCode = code
