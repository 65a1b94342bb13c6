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
  /**
   * Bytes one scan may hold at once: buffers read whole (a central directory,
   * a configuration, a header) and decompressed members with their input.
   * What does not fit is not scanned, and says so (rule `limit.maxMemory`).
   */
  readonly maxMemory: number
}

export const DEFAULT_LIMITS: Limits = {
  maxOpcodes: 2_000_000_000,
  maxMemo: 4_000_000,
  maxStack: 4_000_000,
  maxDepth: 8,
  maxMembers: 100_000,
  maxDecompressed: 4 * 1024 * 1024 * 1024,
  maxMillis: 10 * 60 * 1000,
  maxMemory: 256 * 1024 * 1024,
}

export const MAX_FINDINGS = 200

export interface Checkpoint {
  readonly findings: number
  readonly omitted: number
  readonly maliciousOmitted: boolean
  readonly seen: number
  readonly members: number
}

/** A limit that ended the scan of a whole file. */
export interface Halt {
  readonly limit: keyof Limits
  readonly message: string
}

/**
 * State shared by everything scanned inside one file. Limits are results: a
 * limit that ends the scan of a file is recorded here (`halt`), and every
 * loop of the scanner stops when it sees `halted`; a limit that only skips a
 * part (a member too large for the memory budget) is a finding and the scan
 * goes on. Either way the verdict cannot be clean.
 */
export class ScanContext {
  readonly limits: Limits
  readonly strict: boolean
  readonly findings: Finding[] = []
  readonly deadline: number
  decompressed = 0
  members = 0
  omitted = 0
  /** A malicious finding was beyond MAX_FINDINGS, so not kept. */
  maliciousOmitted = false
  /** Bytes of the memory budget held now. */
  held = 0
  halted: Halt | undefined
  private readonly seen = new Set<string>()
  /** The keys of `seen` in the order they were added, for rollback. */
  private readonly seenOrder: string[] = []

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
    this.seenOrder.push(key)
    if (this.findings.length >= MAX_FINDINGS) {
      this.omitted++
      // The report keeps the first findings, but the verdict is of them all.
      if (f.verdict === 'malicious') this.maliciousOmitted = true
      return
    }
    this.findings.push(f)
  }

  /** A point to return to (`rollback`) when a way of scanning a part turns out not to work. */
  checkpoint(): Checkpoint {
    return {
      findings: this.findings.length,
      omitted: this.omitted,
      maliciousOmitted: this.maliciousOmitted,
      seen: this.seenOrder.length,
      members: this.members,
    }
  }

  /** Forgets the findings (and members counted) since `c`; a halt stays. */
  rollback(c: Checkpoint): void {
    this.findings.length = c.findings
    this.omitted = c.omitted
    this.maliciousOmitted = c.maliciousOmitted
    for (const key of this.seenOrder.splice(c.seen)) this.seen.delete(key)
    this.members = c.members
  }

  /** Ends the scan of the file at `path`: the finding says which limit and that the rest was not read. */
  halt(path: string, limit: keyof Limits, message: string): void {
    if (this.halted !== undefined) return
    this.halted = { limit, message }
    this.add(
      newFinding(
        path,
        0,
        'suspicious',
        `limit.${limit}`,
        `the scan stopped: ${message} (limit ${limit}); what was not read cannot be called clean`,
      ),
    )
  }

  /** False (and the scan halted) once the time is up. */
  inTime(path: string): boolean {
    if (this.halted !== undefined) return false
    if (Date.now() <= this.deadline) return true
    this.halt(path, 'maxMillis', `the scan took longer than ${this.limits.maxMillis} ms`)
    return false
  }

  /**
   * Reserves `n` bytes of the memory budget for `what` at `path`; when they do
   * not fit, records that the part was not scanned and returns false.
   */
  hold(n: number, path: string, offset: number, what: string): boolean {
    if (this.held + n <= this.limits.maxMemory) {
      this.held += n
      return true
    }
    this.overMemory(path, offset, `${what} needs ${n} bytes`)
    return false
  }

  /** Records a part left unscanned because it does not fit in the memory budget. */
  overMemory(path: string, offset: number, what: string): void {
    this.add(
      newFinding(
        path,
        offset,
        'suspicious',
        'limit.maxMemory',
        `scan incomplete: ${what}, over the scan's memory budget of ${this.limits.maxMemory} bytes (${this.held} held); it was not scanned, so the file cannot be called clean`,
      ),
    )
  }

  release(n: number): void {
    this.held = Math.max(0, this.held - n)
  }
}

/** The verdict of a scan: its findings' worst, counting those beyond the cap. */
export function verdictOfScan(ctx: ScanContext): Verdict {
  return ctx.maliciousOmitted ? 'malicious' : verdictOf(ctx.findings)
}

export function verdictOf(findings: readonly Finding[]): Verdict {
  if (findings.some((f) => f.verdict === 'malicious')) return 'malicious'
  return findings.length > 0 ? 'suspicious' : 'clean'
}
