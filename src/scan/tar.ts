/**
 * Tar archives (ustar, with GNU long names), and torch.save's oldest layout
 * inside one. Header (512 bytes): name @0 (100), size @124 (12, octal text),
 * type @156, "ustar" @257, prefix @345 (155). Data follows in 512-byte blocks.
 */
import { suspicious, u32, u64, type ScanNested } from './bytes.ts'
import { scanPickle } from './pickle.ts'
import { readAll, sliceSource, type ByteSource } from './source.ts'
import type { ScanContext } from './types.ts'

/** GNU long names longer than this are not read (a name, not a payload). */
const MAX_LONG_NAME = 64 * 1024

export function scanTar(
  src: ByteSource,
  path: string,
  ctx: ScanContext,
  depth: number,
  nested: ScanNested,
): void {
  const members: { name: string; data: number; size: number }[] = []
  let p = 0
  let longName: string | undefined
  while (p + 512 <= src.size) {
    const h = readAll(src, p, 512)
    if (h.every((b) => b === 0)) break
    const field = (at: number, len: number) => {
      const s = h.subarray(at, at + len)
      const z = s.indexOf(0)
      return new TextDecoder().decode(z < 0 ? s : s.subarray(0, z))
    }
    const sizeText = field(124, 12).trim()
    if (!/^[0-7]*$/.test(sizeText)) {
      suspicious(ctx, path, p, 'tar.bad-header', 'a tar header with an unreadable size')
      break
    }
    const size = parseInt(sizeText || '0', 8)
    const type = String.fromCharCode(h[156] ?? 0)
    const prefix = field(345, 155)
    const name = longName ?? (prefix === '' ? field(0, 100) : `${prefix}/${field(0, 100)}`)
    longName = undefined
    const data = p + 512
    if (type === 'L')
      longName = new TextDecoder()
        .decode(readAll(src, data, Math.min(size, MAX_LONG_NAME)))
        .replace(/\0+$/, '')
    else if (type === '0' || type === '\0' || type === '7') {
      if (++ctx.members > ctx.limits.maxMembers) {
        ctx.halt(path, 'maxMembers', `more than ${ctx.limits.maxMembers} archive members`)
        return
      }
      members.push({ name, data, size })
    }
    p = data + Math.ceil(size / 512) * 512
  }
  // torch.save's oldest layout: sys_info, pickle, and storages / tensors that mix pickles and raw data.
  const names = new Set(members.map((m) => m.name))
  const legacy = names.has('sys_info') && names.has('pickle') && names.has('storages')
  for (const m of members) {
    if (ctx.halted !== undefined) return
    const member = sliceSource(src, m.data, m.size)
    const memberPath = `${path}!${m.name}`
    if (legacy && (m.name === 'storages' || m.name === 'tensors'))
      scanLegacyRecords(member, memberPath, ctx, m.name)
    else nested(member, memberPath, depth + 1, 'member')
  }
}

/** Bytes per element of torch's legacy storage types. */
const STORAGE_BYTES: Readonly<Record<string, number>> = {
  DoubleStorage: 8,
  FloatStorage: 4,
  HalfStorage: 2,
  BFloat16Storage: 2,
  LongStorage: 8,
  IntStorage: 4,
  ShortStorage: 2,
  CharStorage: 1,
  ByteStorage: 1,
  BoolStorage: 1,
}

/**
 * The `storages` and `tensors` members of a legacy torch tar: a pickled count,
 * then per record a pickled tuple followed by raw bytes whose length the
 * record gives (torch/serialization.py, legacy_load). Every pickle is
 * scanned; the raw bytes are skipped by their computed length.
 */
function scanLegacyRecords(
  src: ByteSource,
  path: string,
  ctx: ScanContext,
  kind: 'storages' | 'tensors',
): void {
  const count = scanPickle(src, ctx, { path, maxPickles: 1 })
  let pos = count.end
  while (pos < src.size && ctx.halted === undefined) {
    const r = scanPickle(src, ctx, { path, maxPickles: 1, start: pos })
    if (r.pickles === 0) return
    pos = r.end
    if (kind === 'storages') {
      const type = r.lastGlobal?.replace(/^torch\./, '') ?? ''
      const width = STORAGE_BYTES[type]
      if (width === undefined) {
        suspicious(
          ctx,
          path,
          pos,
          'torch.legacy-layout',
          `a legacy storage of unknown type ${r.lastGlobal ?? '(none)'}: its size cannot be computed`,
        )
        return
      }
      pos += 8 + u64(readAll(src, pos, 8), 0) * width
    } else {
      const ndim = u32(readAll(src, pos, 4), 0)
      if (ndim > 64) {
        suspicious(
          ctx,
          path,
          pos,
          'torch.legacy-layout',
          `a legacy tensor record with ${ndim} dimensions`,
        )
        return
      }
      pos += 8 + 16 * ndim + 8
    }
  }
}
