/**
 * One writer per audit log: DIR/log.lock holds the writer's pid, made with O_EXCL. A lock whose
 * process is gone (a crash, a SIGKILL) is taken over; one held by a live process is refused.
 */
import { readFileSync } from 'node:fs'
import { open, rm } from 'node:fs/promises'
import { StrongroomError } from '../errors.ts'

/** Locks held by this process (a pid alone cannot tell this process's lock from a dead one's). */
const held = new Set<string>()

export async function takeLock(path: string): Promise<void> {
  if (held.has(path))
    throw new StrongroomError('IO', `the audit log lock \`${path}\` is held by this process`)
  for (let attempt = 0; ; attempt++) {
    try {
      const fh = await open(path, 'wx', 0o600)
      await fh.writeFile(`${process.pid}\n`)
      await fh.close()
      held.add(path)
      return
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST' || attempt > 0)
        throw new StrongroomError(
          'IO',
          `cannot lock the audit log (\`${path}\`): ${(e as Error).message}`,
          { cause: e },
        )
    }
    const pid = lockHolder(path)
    if (pid !== undefined)
      throw new StrongroomError(
        'IO',
        `the audit log in \`${path.replace(/\/log\.lock$/, '')}\` is being written by process ${pid}: one process writes a log (give each gateway its own audit directory)`,
      )
    await rm(path, { force: true })
  }
}

/** The live process that holds the lock at `path` (this one, when it does). */
export function lockHolder(path: string): number | undefined {
  if (held.has(path)) return process.pid
  let pid: number
  try {
    pid = Number(readFileSync(path, 'utf8').trim())
  } catch {
    return undefined
  }
  return Number.isSafeInteger(pid) && pid > 0 && pid !== process.pid && alive(pid) ? pid : undefined
}

export async function releaseLock(path: string): Promise<void> {
  if (!held.delete(path)) return
  await rm(path, { force: true }).catch(() => undefined)
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM'
  }
}
