/**
 * Where the gateway is, for the commands that talk to it (`run`, `whoami`): the URL given, else
 * the one a running `serve` recorded in the data directory.
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { StrongroomError } from '../errors.ts'

/** Where a running `serve` writes its URL in the data directory. */
export const ENDPOINT_FILE = 'endpoint'

/**
 * The gateway's URL: given, else the one a running `serve` recorded in the data directory, if
 * the process that recorded it still runs (a crashed gateway's port may be anyone's now).
 */
export function gatewayUrl(given: string | undefined, dataDir: string): string {
  let url = given
  if (url === undefined || url === '') {
    const file = join(dataDir, ENDPOINT_FILE)
    let recorded: string
    try {
      recorded = readFileSync(file, 'utf8')
    } catch {
      throw new StrongroomError(
        'USAGE',
        `no gateway to send the job to: start \`strongroom serve\` on ${dataDir}, or pass --endpoint URL (or set STRONGROOM_ENDPOINT)`,
      )
    }
    const [line = '', pid = ''] = recorded.split('\n')
    if (!/^\d{1,10}$/.test(pid) || !alive(Number(pid)))
      throw new StrongroomError(
        'USAGE',
        `the gateway recorded in ${file} (process ${pid.slice(0, 12) || 'unknown'}) is not running: start \`strongroom serve\` again, or pass --endpoint URL`,
      )
    url = line.trim()
  }
  if (!/^https?:\/\/[^\s/]+\/?$/.test(url))
    throw new StrongroomError('USAGE', `the endpoint \`${url.slice(0, 80)}\` is not an http(s) URL`)
  return url.replace(/\/$/, '')
}

/** Whether a process of this id exists (EPERM: it does, as another user's). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM'
  }
}
