/**
 * `strongroom serve` as a child process, for the end-to-end and cluster tests and the
 * benchmarks: started with `args` and `env`, answered once it prints `ready at URL`, refused
 * with what it wrote to stderr when it exits first or is not ready within `timeoutMs` (60 s).
 * `nodeArgs` go to node before the script (--cpu-prof, say).
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { join } from 'node:path'

export const BIN = join(import.meta.dirname, '..', 'bin', 'strongroom.js')

/** What stderr keeps of a gateway's output: its last MiB. */
const KEPT = 1 << 20

export interface ServeProcess {
  readonly url: string
  readonly proc: ChildProcess
  /** What the gateway wrote to stderr (its last MiB). */
  stderr(): string
  /** Sends `signal` (SIGTERM: a graceful stop) and resolves once the process has exited. */
  stop(signal?: NodeJS.Signals): Promise<void>
}

export async function spawnServe(
  args: readonly string[],
  env: NodeJS.ProcessEnv,
  o: {
    readonly timeoutMs?: number
    readonly nodeArgs?: readonly string[]
    /** Another build's bin/strongroom.js (a before/after benchmark). */
    readonly bin?: string
  } = {},
): Promise<ServeProcess> {
  const timeoutMs = o.timeoutMs ?? 60_000
  const proc = spawn(process.execPath, [...(o.nodeArgs ?? []), o.bin ?? BIN, 'serve', ...args], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let errors = ''
  proc.stderr.on('data', (d: Buffer) => {
    errors = (errors + d.toString()).slice(-KEPT)
  })
  const stop = async (signal: NodeJS.Signals = 'SIGTERM') => {
    if (proc.exitCode !== null || proc.signalCode !== null) return
    const exited = new Promise((r) => proc.once('exit', r))
    proc.kill(signal)
    await exited
  }
  try {
    const url = await new Promise<string>((resolve, reject) => {
      let out = ''
      proc.stdout.on('data', (d: Buffer) => {
        out += d.toString()
        const m = /ready at (https?:\/\/\S+)/.exec(out)
        if (m?.[1] !== undefined) resolve(m[1])
      })
      proc.once('exit', (code) =>
        reject(new Error(`serve exited with ${String(code)}: ${errors.slice(-4000)}`)),
      )
      // unref: a pending timer must not hold the process open once the gateway is ready.
      setTimeout(
        () =>
          reject(
            new Error(
              `serve was not ready within ${timeoutMs / 1000} s: ${out}${errors.slice(-4000)}`,
            ),
          ),
        timeoutMs,
      ).unref()
    })
    return { url, proc, stderr: () => errors, stop }
  } catch (e) {
    await stop('SIGKILL')
    throw e
  }
}
