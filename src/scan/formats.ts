/**
 * Formats checked by their headers: numpy .npy (an object array is a pickle),
 * safetensors (strictly: the header must describe the data exactly) and GGUF
 * (counts, and chat templates that escape the Jinja sandbox).
 *
 * .npy: \x93NUMPY, major, minor, header length (2 bytes in version 1, 4
 * after), a Python dict literal, then the data. safetensors: header length
 * (8 bytes), a JSON object of tensors {dtype, shape, data_offsets}, the data.
 * GGUF: "GGUF", version (4), tensor count (8), key count (8), keys, tensors.
 */
import { malicious, suspicious, u16, u32, u64 } from './bytes.ts'
import { scanPickle } from './pickle.ts'
import { readAll, sliceSource, type ByteSource } from './source.ts'
import type { ScanContext } from './types.ts'

export function scanNpy(
  src: ByteSource,
  head: Uint8Array,
  path: string,
  ctx: ScanContext,
  embed: (s: ByteSource, p: string) => void,
): void {
  const major = head[6] ?? 0
  const headerLen = major === 1 ? u16(head, 8) : u32(head, 8)
  const start = major === 1 ? 10 : 12
  if (major < 1 || major > 3 || start + headerLen > src.size) {
    suspicious(
      ctx,
      path,
      6,
      'npy.bad-header',
      `an .npy header of version ${major} that cannot be read`,
    )
    return
  }
  const header = new TextDecoder().decode(readAll(src, start, headerLen))
  const descr = /['"]descr['"]\s*:\s*(.*?)\s*,\s*['"]fortran_order/s.exec(header)?.[1]
  if (descr === undefined) {
    suspicious(ctx, path, start, 'npy.bad-header', 'an .npy header without a readable descr')
    return
  }
  const types = descr.startsWith('[')
    ? [...descr.matchAll(/\(\s*(?:'[^']*'|"[^"]*"|\([^)]*\))\s*,\s*['"]([^'"]*)['"]/g)].map(
        (m) => m[1] ?? '',
      )
    : [descr.replace(/^['"]|['"]$/g, '')]
  if (types.some((t) => /^[|<>=]?O\d*$/.test(t))) {
    // An object array is a pickle: np.load(allow_pickle=True) unpickles what follows the header.
    const at = start + headerLen
    scanPickle(sliceSource(src, at, src.size - at), ctx, {
      path: `${path}!@${at}`,
      scanEmbedded: embed,
    })
  }
}

// ---- safetensors: strict header checks

const SAFETENSORS_DTYPES: Readonly<Record<string, number>> = {
  BOOL: 1,
  U8: 1,
  I8: 1,
  F8_E5M2: 1,
  F8_E4M3: 1,
  F8_E8M0: 1,
  I16: 2,
  U16: 2,
  F16: 2,
  BF16: 2,
  I32: 4,
  U32: 4,
  F32: 4,
  I64: 8,
  U64: 8,
  F64: 8,
  C64: 8,
}

export function looksLikeSafetensors(head: Uint8Array, size: number): boolean {
  if (size < 10) return false
  const n = u64(head, 0)
  return n >= 2 && n <= size - 8 && head[8] === 0x7b
}

export function scanSafetensors(src: ByteSource, path: string, ctx: ScanContext): void {
  const n = u64(readAll(src, 0, 8), 0)
  if (n <= 100 * 1024 * 1024 && !ctx.hold(2 * n, path, 8, 'the safetensors header')) return
  const why = safetensorsProblem(src)
  if (n <= 100 * 1024 * 1024) ctx.release(2 * n)
  if (why !== undefined)
    suspicious(ctx, path, 8, 'safetensors.invalid', `a malformed safetensors file: ${why}`)
}

/** What is wrong with a safetensors file, or undefined when its header is sound and exact. */
function safetensorsProblem(src: ByteSource): string | undefined {
  const n = u64(readAll(src, 0, 8), 0)
  if (n > 100 * 1024 * 1024) return 'a header larger than 100 MB'
  let header: unknown
  const text = readAll(src, 8, n)
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(text))
  } catch {
    return 'the header is not JSON'
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header))
    return 'the header is not a JSON object'
  const dataSize = src.size - 8 - n
  const spans: [number, number, string][] = []
  for (const [name, t] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (
        typeof t !== 'object' ||
        t === null ||
        Object.values(t as Record<string, unknown>).some((v) => typeof v !== 'string')
      )
        return '__metadata__ must map strings to strings'
      continue
    }
    const {
      dtype,
      shape,
      data_offsets: offs,
    } = t as { dtype?: unknown; shape?: unknown; data_offsets?: unknown }
    const width = typeof dtype === 'string' ? SAFETENSORS_DTYPES[dtype] : undefined
    if (width === undefined) return `tensor ${name} has an unknown dtype ${String(dtype)}`
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && (d as number) >= 0))
      return `tensor ${name} has an invalid shape`
    if (!Array.isArray(offs) || offs.length !== 2 || !offs.every((d) => Number.isSafeInteger(d)))
      return `tensor ${name} has invalid data_offsets`
    const [b, e] = offs as [number, number]
    if (b < 0 || e < b || e > dataSize)
      return `tensor ${name} spans bytes ${b}..${e}, outside the ${dataSize}-byte data section`
    const elems = (shape as number[]).reduce((a, d) => a * d, 1)
    if (elems * width !== e - b)
      return `tensor ${name}: shape × dtype is ${elems * width} bytes but its span is ${e - b}`
    spans.push([b, e, name])
  }
  spans.sort((x, y) => x[0] - y[0] || x[1] - y[1])
  let at = 0
  for (const [b, e, name] of spans) {
    if (b < at) return `tensor ${name} overlaps the tensor before it`
    if (b > at) return `bytes ${at}..${b} belong to no tensor`
    at = e
  }
  if (at !== dataSize) return `${dataSize - at} bytes of trailing data after the last tensor`
  return undefined
}

// ---- GGUF header sanity

export function scanGguf(head: Uint8Array, src: ByteSource, path: string, ctx: ScanContext): void {
  const version = u32(head, 4)
  if (version < 1 || version > 3) {
    suspicious(ctx, path, 4, 'gguf.invalid', `GGUF version ${version} is not one the scanner knows`)
    return
  }
  if (src.size < 24) {
    suspicious(ctx, path, 4, 'gguf.invalid', 'a GGUF header cut short')
    return
  }
  const tensors = u64(head, 8)
  const kvs = u64(head, 16)
  if (tensors > 1_000_000 || kvs > 1_000_000)
    suspicious(
      ctx,
      path,
      8,
      'gguf.invalid',
      `implausible counts in the GGUF header (${tensors} tensors, ${kvs} keys)`,
    )
  // Chat templates are Jinja run by llama.cpp bindings (CVE-2024-34359): look for sandbox escapes.
  const n = Math.min(src.size, 16 * 1024 * 1024)
  if (!ctx.hold(2 * n, path, 0, 'the GGUF metadata')) return
  const text = new TextDecoder('latin1').decode(readAll(src, 0, n))
  ctx.release(2 * n)
  const tpl = /tokenizer\.chat_template/.exec(text)
  if (
    tpl !== null &&
    /__(class|globals|subclasses|builtins|import|init|mro|base)__|\bos\.|popen|subprocess/.test(
      text.slice(tpl.index, tpl.index + 65_536),
    )
  )
    malicious(
      ctx,
      path,
      tpl.index,
      'gguf.template-injection',
      'the chat template reaches Python internals (a Jinja sandbox escape)',
    )
}
