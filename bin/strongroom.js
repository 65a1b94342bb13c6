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
// The gateway's garbage is mostly short-lived body chunks; V8's default young generation
// grows to tens of MiB under many concurrent uploads. A 2 MiB semi-space keeps 32 concurrent
// 1 GiB uploads well under 256 MiB of RSS (bench/gateway.ts: 250 -> 188 MiB). It can only be
// set at startup, so `serve` re-executes itself in place (same process id, same stdio).
const SEMI_SPACE = '--max-semi-space-size=2'
if (
  process.argv[2] === 'serve' &&
  typeof process.execve === 'function' &&
  !process.execArgv.some((a) => a.startsWith('--max-semi-space-size'))
) {
  process.execve(
    process.execPath,
    [process.execPath, SEMI_SPACE, ...process.execArgv, ...process.argv.slice(1)],
    process.env,
  )
}
const { main } = await import('../src/cli/main.ts')
const code = await main(process.argv.slice(2), {
  stdout: (s) => process.stdout.write(s),
  stderr: (s) => process.stderr.write(s),
  env: process.env,
})
process.exitCode = code
