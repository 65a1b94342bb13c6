/**
 * Keras: the model configuration (config.json of a .keras archive, the
 * model_config attribute of a legacy .h5, or a JSON document on its own) is
 * walked for Lambda layers, modules outside keras and tensorflow, and calls
 * that turn safe mode off.
 */
import { malicious, suspicious } from './bytes.ts'
import { classify } from './rules.ts'
import { readAll, type ByteSource } from './source.ts'
import type { ScanContext } from './types.ts'

/** config.json of a .keras archive (or model_config of an .h5): Lambda layers and modules outside keras. */
function scanKerasConfig(src: ByteSource, path: string, ctx: ScanContext): void {
  let doc: unknown
  const text = new TextDecoder().decode(readAll(src))
  try {
    doc = JSON.parse(text)
  } catch {
    suspicious(ctx, path, 0, 'keras.bad-config', 'the model configuration is not JSON')
    return
  }
  walkKeras(doc, path, ctx, 0)
}

function walkKeras(v: unknown, path: string, ctx: ScanContext, depth: number): void {
  if (depth > 256 || typeof v !== 'object' || v === null) return
  if (Array.isArray(v)) {
    for (const x of v) walkKeras(x, path, ctx, depth + 1)
    return
  }
  const o = v as Record<string, unknown>
  if (
    Object.values(o).some(
      (x) => typeof x === 'string' && x.includes('enable_unsafe_deserialization'),
    )
  )
    malicious(
      ctx,
      path,
      0,
      'keras.unsafe-deserialization',
      'the configuration calls enable_unsafe_deserialization, turning safe mode off for what follows (CVE-2025-9906)',
      'enable_unsafe_deserialization',
    )
  if (o.class_name === 'Lambda')
    malicious(
      ctx,
      path,
      0,
      'keras.lambda',
      'a Lambda layer carries Python code that runs when the model loads with safe_mode off',
      'Lambda',
    )
  const module = o.module
  if (
    typeof module === 'string' &&
    !/^(keras|tensorflow|tf_keras|keras_nlp|keras_hub|keras_cv)(\.|$)/.test(module)
  ) {
    const name =
      typeof o.class_name === 'string'
        ? o.class_name
        : typeof o.config === 'string'
          ? o.config
          : '*'
    const c = classify(module, name, 4, ctx.strict)
    if (c.tier === 'dangerous')
      malicious(
        ctx,
        path,
        0,
        'keras.dangerous-module',
        `the configuration imports ${c.global}: ${c.reason}`,
        c.global,
      )
    else
      suspicious(
        ctx,
        path,
        0,
        'keras.foreign-module',
        `the configuration imports ${module}, outside keras and tensorflow`,
        module,
      )
  }
  for (const x of Object.values(o)) walkKeras(x, path, ctx, depth + 1)
}

/** Legacy .h5: the model_config attribute holds the same JSON, stored as text inside the HDF5 file. */
export function scanHdf5(src: ByteSource, path: string, ctx: ScanContext): void {
  // The bytes and their text are held together: at most half the memory left, and 256 MiB.
  const room = Math.floor((ctx.limits.maxMemory - ctx.held) / 2)
  const limit = Math.max(0, Math.min(src.size, 256 * 1024 * 1024, room))
  if (limit < src.size)
    suspicious(
      ctx,
      path,
      limit,
      'hdf5.partial',
      `only the first ${limit} bytes of the HDF5 file were searched for a model configuration (at most 256 MiB, within the scan's memory budget)`,
    )
  ctx.held += 2 * limit
  try {
    searchHdf5(new TextDecoder('latin1').decode(readAll(src, 0, limit)), path, ctx)
  } finally {
    ctx.release(2 * limit)
  }
}

function searchHdf5(text: string, path: string, ctx: ScanContext): void {
  let found = false
  for (
    let at = text.indexOf('{"class_name"');
    at >= 0;
    at = text.indexOf('{"class_name"', at + 1)
  ) {
    const end = balancedJsonEnd(text, at)
    if (end < 0) continue
    found = true
    let doc: unknown
    try {
      doc = JSON.parse(text.slice(at, end))
    } catch {
      continue
    }
    walkKeras(doc, path, ctx, 0)
    at = end - 1
  }
  if (!found && /"class_name":\s*"Lambda"/.test(text))
    malicious(
      ctx,
      path,
      0,
      'keras.lambda',
      'a Lambda layer carries Python code that runs when the model loads',
      'Lambda',
    )
}

function balancedJsonEnd(text: string, start: number): number {
  let depth = 0
  let inString = false
  for (let i = start; i < text.length && i < start + 64 * 1024 * 1024; i++) {
    const c = text[i]
    if (inString) {
      if (c === '\\') i++
      else if (c === '"') inString = false
    } else if (c === '"') inString = true
    else if (c === '{' || c === '[') depth++
    else if (c === '}' || c === ']') {
      depth--
      if (depth === 0) return i + 1
    }
  }
  return -1
}

/** A JSON document on its own is only checked when it is a Keras configuration. */
export function scanJson(src: ByteSource, path: string, ctx: ScanContext): void {
  if (src.size > 64 * 1024 * 1024) return
  // The bytes, their text and the parsed document: about four times the size, held while it is walked.
  if (!ctx.hold(4 * src.size, path, 0, 'the JSON document')) return
  try {
    const text = new TextDecoder().decode(readAll(src))
    if (text.includes('"class_name"')) scanKerasConfig(src, path, ctx)
  } finally {
    ctx.release(4 * src.size)
  }
}
