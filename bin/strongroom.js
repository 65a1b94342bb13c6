#!/usr/bin/env node
// Plain JavaScript on purpose: it must run on any Node, to find the Node it needs.
import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { fileURLToPath, URL } from 'node:url'

const REQUIRED = 24

/** Runs this script again under the Node 24 that `npm ci` installs (the `node` devDependency). */
function underPinnedNode() {
  const pinned = fileURLToPath(new URL('../node_modules/node/bin/node', import.meta.url))
  if (!existsSync(pinned)) {
    process.stderr.write(
      `strongroom: Node.js ${REQUIRED} or newer is required (this is ${process.version}); run \`npm ci\` in the Strongroom checkout to install the pinned Node, or install Node ${REQUIRED}\n`,
    )
    process.exit(2)
  }
  const child = spawn(pinned, [...process.execArgv, ...process.argv.slice(1)], {
    stdio: 'inherit',
  })
  // Signals sent to this process stop the real one too (a terminal's Ctrl-C reaches both).
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(signal, () => child.kill(signal))
  child.on('exit', (code, signal) => {
    if (signal !== null) {
      process.removeAllListeners(signal)
      process.kill(process.pid, signal)
    }
    process.exit(code ?? 1)
  })
}

async function here() {
  // File writes and their fsyncs run in libuv's thread pool; four threads (the default)
  // would cap a busy gateway at four durable writes in flight (bench/gateway.ts: 4 KiB PUTs
  // 0.45 -> 0.53 of a plain server). Must be set before the pool is first used.
  process.env.UV_THREADPOOL_SIZE ??= '32'
  // The gateway's garbage is mostly short-lived body chunks; V8's default young generation
  // grows to tens of MiB under many concurrent uploads. A 2 MiB semi-space keeps 32 concurrent
  // 1 GiB uploads well under 256 MiB of RSS (bench/gateway.ts: 250 -> 188 MiB). It can only be
  // set at startup, so `serve` re-executes itself in place (same process id, same stdio).
  const SEMI_SPACE = '--max-semi-space-size=2'
  // glibc serves a freed megabyte-sized buffer's size from its heap from then on (the mmap
  // threshold rises to it), and a heap with live chunks scattered through it is never given
  // back: under 256 concurrent 4 KiB-1 MiB requests the gateway's RSS rose to 480-650 MiB while
  // its live buffers were under 180 MiB, and stayed there when the load stopped. A fixed
  // threshold (buffers of 64 KiB and more are mapped, and unmapped when freed) and a small trim
  // threshold return that memory (bench/load.ts, docs/benchmarks.md). Read at process start,
  // so set before the re-execution below; GLIBC_TUNABLES set (even empty) is left alone.
  if (process.argv[2] === 'serve')
    process.env.GLIBC_TUNABLES ??=
      'glibc.malloc.mmap_threshold=65536:glibc.malloc.trim_threshold=131072'
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
  process.exitCode = await main(process.argv.slice(2), {
    stdout: (s) => process.stdout.write(s),
    stderr: (s) => process.stderr.write(s),
    env: process.env,
  })
}

if (Number(process.versions.node.split('.')[0]) < REQUIRED) underPinnedNode()
else await here()
