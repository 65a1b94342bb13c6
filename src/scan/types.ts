/** Findings, verdicts and limits of a scan. */

export type Verdict = 'clean' | 'suspicious' | 'malicious'
export type Severity = 'critical' | 'high' | 'medium' | 'low'

export interface Finding {
  /** Where: the file, then each container member (`model.pt!archive/data.pkl`), `!@N` for embedded bytes at offset N. */
  readonly path: string
  /** Byte offset within the innermost member. */
  readonly offset: number
  readonly verdict: Exclude<Verdict, 'clean'>
  readonly severity: Severity
  /** Stable rule id, e.g. `pickle.dangerous-global`. */
  readonly rule: string
  /** The global (module.name) or layer the finding is about, when there is one. */
  readonly subject?: string
  /** One line saying why. */
  readonly reason: string
}

/** A finding with the severity its verdict carries (critical when malicious, medium when suspicious). */
export function newFinding(
  path: string,
  offset: number,
  verdict: Finding['verdict'],
  rule: string,
  reason: string,
  subject?: string,
): Finding {
  return {
    path,
    offset,
    verdict,
    severity: verdict === 'malicious' ? 'critical' : 'medium',
    rule,
    reason,
    ...(subject === undefined ? {} : { subject }),
  }
}

export interface Limits {
  /** Opcodes per pickle stream. */
  readonly maxOpcodes: number
  readonly maxMemo: number
  readonly maxStack: number
  /** Containers inside containers. */
  readonly maxDepth: number
  /** Members of all archives in one file. */
  readonly maxMembers: number
  /** Bytes decompressed in one file. */
  readonly maxDecompressed: number
  /** Wall-clock time per file. */
  readonly maxMillis: number
}

export const DEFAULT_LIMITS: Limits = {
  maxOpcodes: 2_000_000_000,
  maxMemo: 4_000_000,
  maxStack: 4_000_000,
  maxDepth: 8,
  maxMembers: 100_000,
  maxDecompressed: 4 * 1024 * 1024 * 1024,
  maxMillis: 10 * 60 * 1000,
}

/** Thrown when a limit trips: the scan of the file stops there, and says so. */
export class LimitError extends Error {
  readonly limit: keyof Limits
  constructor(limit: keyof Limits, message: string) {
    super(message)
    this.name = 'LimitError'
    this.limit = limit
  }
}

export const MAX_FINDINGS = 200

/** State shared by everything scanned inside one file. */
export class ScanContext {
  readonly limits: Limits
  readonly strict: boolean
  readonly findings: Finding[] = []
  readonly deadline: number
  decompressed = 0
  members = 0
  omitted = 0
  private readonly seen = new Set<string>()

  constructor(limits: Limits, strict = false, now = Date.now()) {
    this.limits = limits
    this.strict = strict
    this.deadline = now + limits.maxMillis
  }

  /** Records a finding once per (path, rule, subject); beyond MAX_FINDINGS only counts it. */
  add(f: Finding): void {
    const key = `${f.path}\0${f.rule}\0${f.subject ?? f.reason}`
    if (this.seen.has(key)) return
    this.seen.add(key)
    if (this.findings.length >= MAX_FINDINGS) {
      this.omitted++
      return
    }
    this.findings.push(f)
  }

  checkTime(): void {
    if (Date.now() > this.deadline)
      throw new LimitError('maxMillis', `the scan took longer than ${this.limits.maxMillis} ms`)
  }
}

export function verdictOf(findings: readonly Finding[]): Verdict {
  if (findings.some((f) => f.verdict === 'malicious')) return 'malicious'
  return findings.length > 0 ? 'suspicious' : 'clean'
}
