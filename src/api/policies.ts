/**
 * The process-wide cache of compiled stored policies (identity, bucket and key policies), keyed
 * by the SHA-256 of the policy text with its kind and name: a changed policy has a new digest and
 * compiles afresh, so nothing needs invalidating by hand. A policy that no longer loads is kept
 * as an unloadable policy (it denies) and the operator is told once per text.
 */
import { createHash } from 'node:crypto'
import { isUnloadable, loadStoredPolicy, unloadableAlert, type LoadedPolicy } from '../iam/load.ts'
import type { PolicyKind } from '../iam/policy.ts'

const MAX_ENTRIES = 10_000

export class PolicyCache {
  private readonly compiled = new Map<string, LoadedPolicy>()
  /** Alerts already given, by owner and digest of the policy text: one alert per text. */
  private readonly alerted = new Set<string>()
  private readonly onAlert: (line: Record<string, unknown>) => void

  constructor(onAlert: (line: Record<string, unknown>) => void) {
    this.onAlert = onAlert
  }

  /** The compiled policy for this text; `owner` names it in an alert if it cannot be loaded. */
  load(text: string, kind: PolicyKind, name: string, owner: string): LoadedPolicy {
    const digest = createHash('sha256').update(text).digest('hex')
    const id = `${kind}\0${name}\0${digest}`
    let policy = this.compiled.get(id)
    if (policy === undefined) {
      policy = loadStoredPolicy(text, kind, name)
      if (this.compiled.size >= MAX_ENTRIES) this.compiled.clear()
      this.compiled.set(id, policy)
    }
    this.alertUnloadable(policy, owner)
    return policy
  }

  /** Tells the operator, once per stored text, that a policy cannot be loaded and now denies. */
  private alertUnloadable(p: LoadedPolicy, owner: string): void {
    if (!isUnloadable(p)) return
    const key = `${owner}\0${p.digest}`
    if (this.alerted.has(key)) return
    if (this.alerted.size >= 4096) this.alerted.clear()
    this.alerted.add(key)
    this.onAlert({
      time: new Date().toISOString(),
      level: 'alert',
      alert: 'policy-unloadable',
      owner,
      policy: p.name,
      sha256: p.digest,
      message: unloadableAlert(p),
    })
  }

  get size(): number {
    return this.compiled.size
  }
}
