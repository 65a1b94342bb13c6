/**
 * Zip archives, read as leniently as torch reads them: members are found from
 * the central directory (zip64 included) and from local headers the
 * directory does not mention; bytes before the first member or after the
 * end record are scanned as embedded files; names that differ between the
 * two headers, duplicate names, odd flags and encrypted members are findings.
 * Stored members are scanned in place (a slice of the source, never copied);
 * deflated ones as they inflate (inflate.ts), or whole within the memory
 * budget when their format needs random access (decompress.ts).
 *
 * End of central directory (22 bytes + comment): PK\5\6, disk numbers (2+2),
 * entries on this disk (2), entries (2), directory size (4), directory
 * offset (4), comment length (2). Central header (46 bytes + name + extra +
 * comment): PK\1\2 … flags @8, method @10, compressed size @20, name length
 * @28, extra length @30, comment length @32, local header offset @42. Local
 * header (30 bytes + name + extra): PK\3\4 … flags @6, method @8, compressed
 * size @18, name length @26, extra length @28.
 */
import { ascii, startsWith, suspicious, u16, u32, u64, type ScanNested } from './bytes.ts'
import { decompress, scanInflated } from './decompress.ts'
import { bufferSource, readAll, sliceSource, type ByteSource } from './source.ts'
import type { ScanContext } from './types.ts'

export const ZIP_LOCAL = ascii('PK\x03\x04')

interface ZipEntry {
  readonly name: string
  readonly flags: number
  readonly method: number
  readonly csize: number
  /** The uncompressed size the archive declares (what loaders read). */
  readonly usize: number
  readonly local: number
}

export const EOCD = ascii('PK\x05\x06')
const CENTRAL = ascii('PK\x01\x02')
const ZIP64_LOCATOR = ascii('PK\x06\x07')
const KNOWN_FLAGS = 0x0001 | 0x0002 | 0x0004 | 0x0008 | 0x0800

export function scanZip(
  src: ByteSource,
  path: string,
  ctx: ScanContext,
  depth: number,
  nested: ScanNested,
): void {
  const size = src.size
  const eocd = endRecord(src)
  const entries: ZipEntry[] = []
  let delta = 0
  /** False when the directory was too large for the memory budget: then no member is called hidden. */
  let directoryRead = true
  if (eocd < 0) {
    suspicious(
      ctx,
      path,
      size,
      'zip.no-end-record',
      'a zip without an end-of-central-directory record: members are found by their local headers only',
    )
  } else {
    const e = readAll(src, eocd, 22)
    let count = u16(e, 10)
    let cdSize = u32(e, 12)
    let cdOffset = u32(e, 16)
    const end = eocd + 22 + u16(e, 20)
    // A zip64 end record (56 bytes) and its locator (20) sit between the central directory and
    // the end record: torch's writer always puts them there.
    let cdEnd = eocd
    const loc = eocd >= 76 ? readAll(src, eocd - 20, 20) : new Uint8Array(0)
    if (startsWith(loc, ZIP64_LOCATOR)) {
      const z = readAll(src, eocd - 76, 56)
      if (u32(z, 0) === 0x06064b50) {
        cdEnd = eocd - 76
        if (count === 0xffff || cdSize === 0xffffffff || cdOffset === 0xffffffff) {
          count = u64(z, 32)
          cdSize = u64(z, 40)
          cdOffset = u64(z, 48)
        }
      }
    }
    if (end < size) {
      suspicious(
        ctx,
        path,
        end,
        'zip.trailing-data',
        `${size - end} bytes after the end of the archive, which zip readers ignore but other loaders may read`,
      )
      nested(sliceSource(src, end, size - end), `${path}!@${end}`, depth + 1, 'embedded')
    }
    // Bytes before the first member shift every offset; the central directory ends at the EOCD.
    delta = Math.max(0, cdEnd - cdSize - cdOffset)
    if (delta > 0) {
      suspicious(
        ctx,
        path,
        0,
        'zip.prefix-data',
        `${delta} bytes before the first member: a polyglot file`,
      )
      nested(sliceSource(src, 0, delta), `${path}!@0`, depth + 1, 'embedded')
    }
    // The directory's size is the file's word: it is held whole only if it fits the budget.
    const cdLength = Math.max(0, Math.min(cdSize, size - cdOffset - delta))
    const held = ctx.hold(cdLength, path, cdOffset + delta, 'the central directory')
    const cd = held ? readAll(src, cdOffset + delta, cdLength) : new Uint8Array(0)
    let p = 0
    for (let n = 0; n < count && startsWith(cd, CENTRAL, p); n++) {
      const nameLen = u16(cd, p + 28)
      const extraLen = u16(cd, p + 30)
      const commentLen = u16(cd, p + 32)
      let csize = u32(cd, p + 20)
      let usize = u32(cd, p + 24)
      let local = u32(cd, p + 42)
      if (csize === 0xffffffff || usize === 0xffffffff || local === 0xffffffff) {
        // zip64 extra field: sizes and offset as 8-byte values, in that order, when saturated.
        for (let x = p + 46 + nameLen; x + 4 <= p + 46 + nameLen + extraLen;) {
          const id = u16(cd, x)
          const len = u16(cd, x + 2)
          if (id === 1) {
            let q = x + 4
            if (usize === 0xffffffff) {
              usize = u64(cd, q)
              q += 8
            }
            if (csize === 0xffffffff) {
              csize = u64(cd, q)
              q += 8
            }
            if (local === 0xffffffff) local = u64(cd, q)
          }
          x += 4 + len
        }
      }
      entries.push({
        name: new TextDecoder().decode(cd.subarray(p + 46, p + 46 + nameLen)),
        flags: u16(cd, p + 8),
        method: u16(cd, p + 10),
        csize,
        usize,
        local: local + delta,
      })
      p += 46 + nameLen + extraLen + commentLen
    }
    if (held) ctx.release(cdLength)
    directoryRead = held
    if (held && entries.length < count)
      suspicious(
        ctx,
        path,
        cdOffset + delta,
        'zip.bad-directory',
        `the central directory lists ${count} members but only ${entries.length} could be read`,
      )
  }
  // Local headers the directory does not mention are members too: torch-style readers may find them.
  const listed = new Set(entries.map((x) => x.local))
  for (const local of walkLocalHeaders(src, delta)) {
    if (listed.has(local.local)) continue
    if (directoryRead)
      suspicious(
        ctx,
        path,
        local.local,
        'zip.hidden-member',
        `the member ${local.name} has a local header but is not in the central directory`,
      )
    entries.push(local)
  }
  const torch = entries.some((x) => /(^|\/)data\.pkl$/.test(x.name))
  const names = new Map<string, number>()
  for (const x of entries) names.set(x.name, (names.get(x.name) ?? 0) + 1)
  for (const [name, n] of names)
    if (n > 1)
      suspicious(
        ctx,
        path,
        0,
        'zip.duplicate-name',
        `${n} members are named ${name}: readers disagree on which one they load`,
      )
  for (const x of entries) {
    if (ctx.halted !== undefined) return
    if (++ctx.members > ctx.limits.maxMembers) {
      ctx.halt(path, 'maxMembers', `more than ${ctx.limits.maxMembers} archive members`)
      return
    }
    const memberPath = `${path}!${x.name}`
    const lh = readAll(src, x.local, 30)
    if (!startsWith(lh, ZIP_LOCAL)) {
      suspicious(
        ctx,
        memberPath,
        x.local,
        'zip.bad-member',
        'the member has no local header where the directory says',
      )
      continue
    }
    const localName = new TextDecoder().decode(readAll(src, x.local + 30, u16(lh, 26)))
    if (localName !== x.name)
      suspicious(
        ctx,
        memberPath,
        x.local,
        'zip.name-mismatch',
        `the local header names it ${localName}: readers disagree on its name`,
      )
    const flags = x.flags | u16(lh, 6)
    if ((flags & 0x0001) !== 0) {
      suspicious(ctx, memberPath, x.local, 'zip.encrypted', 'an encrypted member cannot be scanned')
      continue
    }
    if ((flags & ~KNOWN_FLAGS) !== 0)
      suspicious(
        ctx,
        memberPath,
        x.local,
        'zip.odd-flags',
        `unusual flag bits 0x${flags.toString(16)} (0x40 made Python's zipfile refuse a member torch still loads: CVE-2025-1945)`,
      )
    const dataAt = x.local + 30 + u16(lh, 26) + u16(lh, 28)
    const stored = sliceSource(src, dataAt, x.csize)
    if (x.method === 0) {
      nested(stored, memberPath, depth + 1, torch ? 'torch-member' : 'member')
      continue
    }
    if (x.method !== 8) {
      suspicious(
        ctx,
        memberPath,
        x.local,
        'zip.unsupported-method',
        `compression method ${x.method} is not supported, so the member cannot be scanned`,
      )
      continue
    }
    const where = torch ? 'torch-member' : 'member'
    // As it inflates, in bounded memory; whole (within the budget) if the format needs random access.
    const scanIt = (member: ByteSource) => nested(member, memberPath, depth + 1, where)
    if (scanInflated(ctx, memberPath, stored, x.usize, scanIt)) continue
    const out = decompress(ctx, memberPath, 0, stored, 'deflate')
    if (out === undefined) continue
    try {
      scanIt(bufferSource(out.bytes))
    } finally {
      out.release()
    }
  }
}

/** The offset of the end-of-central-directory record, searched in the last 64 KiB; -1 if none. */
export function endRecord(src: ByteSource): number {
  const tailStart = Math.max(0, src.size - 65_557)
  const tail = readAll(src, tailStart)
  for (let i = tail.length - 22; i >= 0; i--)
    if (startsWith(tail, EOCD, i) && i + 22 + u16(tail, i + 20) <= tail.length) return tailStart + i
  return -1
}

function* walkLocalHeaders(src: ByteSource, from: number): Generator<ZipEntry> {
  let p = from
  for (let n = 0; n < 1_000_000 && p + 30 <= src.size; n++) {
    const lh = readAll(src, p, 30)
    if (!startsWith(lh, ZIP_LOCAL)) return
    const flags = u16(lh, 6)
    const csize = u32(lh, 18)
    const nameLen = u16(lh, 26)
    const extraLen = u16(lh, 28)
    // With a data descriptor the size is not in the local header: the walk cannot go on.
    if ((flags & 0x0008) !== 0 && csize === 0) return
    yield {
      name: new TextDecoder().decode(readAll(src, p + 30, nameLen)),
      flags,
      method: u16(lh, 8),
      csize,
      usize: u32(lh, 22),
      local: p,
    }
    p += 30 + nameLen + extraLen + csize
  }
}
