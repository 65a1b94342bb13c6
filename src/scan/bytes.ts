/** Little-endian readers, magic numbers and finding helpers shared by the format detectors. */
import type { ByteSource } from './source.ts'
import { newFinding, type ScanContext } from './types.ts'

export const u32 = (b: Uint8Array, i: number): number =>
  ((b[i] ?? 0) | ((b[i + 1] ?? 0) << 8) | ((b[i + 2] ?? 0) << 16) | ((b[i + 3] ?? 0) << 24)) >>> 0
export const u16 = (b: Uint8Array, i: number): number => (b[i] ?? 0) | ((b[i + 1] ?? 0) << 8)
export const u64 = (b: Uint8Array, i: number): number => u32(b, i) + u32(b, i + 4) * 0x100000000
export const startsWith = (b: Uint8Array, sig: readonly number[], at = 0): boolean =>
  sig.every((x, i) => b[at + i] === x)
export const ascii = (s: string): number[] => Array.from(s, (c) => c.charCodeAt(0))

function finding(verdict: 'suspicious' | 'malicious') {
  return (
    ctx: ScanContext,
    path: string,
    offset: number,
    rule: string,
    reason: string,
    subject?: string,
  ): void => {
    ctx.add(newFinding(path, offset, verdict, rule, reason, subject))
  }
}

export const suspicious = finding('suspicious')
export const malicious = finding('malicious')

/** Where a source sits: the file itself, an archive member, a member of a torch zip, or bytes embedded in another format. */
export type Where = 'top' | 'member' | 'torch-member' | 'embedded'

/** Scans a nested source (an archive member, embedded bytes) as the dispatcher does; returns the format found. */
export type ScanNested = (src: ByteSource, path: string, depth: number, where: Where) => string
