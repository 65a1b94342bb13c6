/**
 * A throwaway SoftHSM2 token for tests: its own config and token directory under a temp
 * directory (SOFTHSM2_CONF is set for this process before the module loads), a token made
 * with `softhsm2-util --init-token`, removed by `stop`.
 *
 * Without Debian's softhsm2 `softHsm` answers undefined and the caller skips with one line
 * naming the package; with STRONGROOM_REQUIRE_TOOLS=1 (CI) it fails instead.
 */
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

export const NEEDS_SOFTHSM = 'needs Debian package softhsm2 (apt-get install softhsm2)'
export const SOFTHSM_MODULE = '/usr/lib/softhsm/libsofthsm2.so'

export interface SoftHsm {
  /** The PKCS#11 URI of key `object` on token `token` (made with `token()`). */
  uri(token: string, object: string): string
  /** Makes a token with this label and user PIN. */
  token(label: string, pin: string): void
  readonly dir: string
  stop(): void
}

export function softHsm(): SoftHsm | undefined {
  const util = spawnSync('sh', ['-c', 'command -v softhsm2-util'], { encoding: 'utf8' })
  if (util.status !== 0 || !existsSync(SOFTHSM_MODULE)) {
    if (process.env.STRONGROOM_REQUIRE_TOOLS === '1')
      assert.fail(`${NEEDS_SOFTHSM}; STRONGROOM_REQUIRE_TOOLS=1`)
    return undefined
  }
  const dir = mkdtempSync(join(tmpdir(), 'sr-softhsm-'))
  mkdirSync(join(dir, 'tokens'))
  const conf = join(dir, 'softhsm2.conf')
  writeFileSync(
    conf,
    `directories.tokendir = ${join(dir, 'tokens')}\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n`,
  )
  process.env.SOFTHSM2_CONF = conf
  return {
    dir,
    uri: (token, object) =>
      `pkcs11:token=${encodeURIComponent(token)};object=${encodeURIComponent(object)}?module-path=${SOFTHSM_MODULE}`,
    token(label, pin) {
      const r = spawnSync(
        'softhsm2-util',
        ['--init-token', '--free', '--label', label, '--so-pin', `so-${pin}`, '--pin', pin],
        { encoding: 'utf8', env: { ...process.env, SOFTHSM2_CONF: conf } },
      )
      assert.equal(r.status, 0, `softhsm2-util --init-token: ${r.stderr}${r.stdout}`)
    },
    stop() {
      rmSync(dir, { recursive: true, force: true })
    },
  }
}
