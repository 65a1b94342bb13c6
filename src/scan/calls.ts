/**
 * What an allow-listed callee may be given. A harmless function stays
 * harmless only with the arguments it is meant for: one that calls what it
 * is given (a default factory, an RNG helper, a rebuild function) launders a
 * computed call; one that allocates what it is told (bytearray(n), a storage,
 * an array shape, list(range(n)), Fraction('1e999999999')) is a denial of
 * service; tensor rebuilds carry backward hooks, callables run later.
 */
import { BIT_GENERATORS, NONE_STATE, STORAGE_ITEM_SIZE } from './allow-list.ts'
import {
  calleeOf,
  isCall,
  isGlobal,
  isTuple,
  NONE,
  type Call,
  type Dict,
  type Value,
} from './values.ts'

export interface Problem {
  readonly verdict: 'malicious' | 'suspicious'
  readonly rule: string
  readonly reason: string
}

/** Elements (or bytes) an allow-listed constructor may be asked to allocate from a number in the file. */
export const MAX_ALLOC = 1 << 24
/** Bytes one torch storage may claim in its persistent id. */
export const MAX_STORAGE_BYTES = 2 ** 36
/** Digits of an int or Fraction parsed from text, and a Fraction's decimal exponent (Python's int_max_str_digits). */
export const MAX_DIGITS = 4300

/** Codecs with which `_codecs.encode` turns text back into the bytes it came from. */
export const LATIN1 = new Set(['latin1', 'latin-1', 'iso-8859-1', 'iso8859-1', 'l1'])

const computed = (what: string): Problem => ({
  verdict: 'malicious',
  rule: 'pickle.computed-callable',
  reason: `${what} is given a value computed while loading, which it calls: a laundered computed call`,
})
const unexpected = (reason: string, verdict: Problem['verdict'] = 'suspicious'): Problem => ({
  verdict,
  rule: 'pickle.unexpected-arguments',
  reason,
})
const allocation = (reason: string): Problem => ({
  verdict: 'suspicious',
  rule: 'pickle.allocation-limit',
  reason: `${reason}: a denial of service, not an allocation the scanner lets pass`,
})

/** A value handed to a callee that calls it: only an imported global may be (its import is judged on its own). */
function callable(v: Value | undefined, what: string, noneOk = false): Problem | undefined {
  if (isGlobal(v)) return undefined
  if (noneOk && (v === undefined || v === NONE)) return undefined
  return computed(what)
}

/** The element count a shape asks for: a number or a tuple of numbers; Infinity when not literal. */
export function shapeCount(v: Value | undefined): number {
  if (typeof v === 'number') return v >= 0 ? v : Infinity
  if (!isTuple(v) || v.items === null) return Infinity
  let n = 1
  for (const d of v.items) {
    if (typeof d !== 'number' || d < 0) return Infinity
    n *= d
  }
  return n
}

/** How many items `range(args)` yields. */
export function rangeCount(items: readonly Value[] | null): number {
  if (items === null || !items.every((x) => typeof x === 'number')) return Infinity
  const [a, b, c] = items
  const [start, stop, step] = items.length === 1 ? [0, a ?? 0, 1] : [a ?? 0, b ?? 0, c ?? 1]
  if (step === 0) return 0
  return Math.max(0, Math.ceil((stop - start) / step))
}

/** Whether a container passed to a constructor would be materialised beyond the cap (list(range(2**40))). */
function hugeIterable(items: readonly Value[] | null): boolean {
  return (items ?? []).some((v) => isCall(v) && (v.count ?? 0) > MAX_ALLOC)
}

/** A dict or OrderedDict of tensor backward hooks with nothing in it. */
function emptyHooks(v: Value | undefined): boolean {
  if (v === undefined || v === NONE) return true
  if (typeof v === 'object' && v.k === 5) return v.n === 0
  const g = calleeOf(v)
  return g?.full === 'collections.OrderedDict' && !(v as Call).filled && emptyArgs((v as Call).args)
}

const emptyArgs = (a: Value) => isTuple(a) && a.items !== null && a.items.length === 0

/** Where each tensor rebuild takes its backward hooks. */
const HOOKS_AT: Readonly<Record<string, number>> = {
  'torch._utils._rebuild_tensor_v2': 5,
  'torch._utils._rebuild_tensor_v3': 5,
  'torch._utils._rebuild_qtensor': 6,
  'torch._utils._rebuild_parameter': 2,
  'torch._utils._rebuild_parameter_with_state': 2,
}

const RNG_HELPERS = new Set([
  'numpy.random._pickle.__generator_ctor',
  'numpy.random._pickle.__randomstate_ctor',
])
const BIT_CTOR = 'numpy.random._pickle.__bit_generator_ctor'

/** A bit generator named by literal, or one of numpy's own bit generator classes (numpy ≥ 1.25 pickles the class). */
function bitGenerator(v: Value | undefined, classesOk: boolean): boolean {
  if (v === undefined) return true
  if (typeof v === 'string') return BIT_GENERATORS.has(v)
  return classesOk && isGlobal(v) && [...BIT_GENERATORS.values()].includes(v.full)
}

const MATERIALISE = new Set([
  'builtins.list',
  'builtins.tuple',
  'builtins.set',
  'builtins.frozenset',
  'builtins.dict',
  'builtins.bytes',
  'builtins.bytearray',
  'collections.OrderedDict',
  'collections.Counter',
  'collections.deque',
  'torch.Size',
])

/** Problems with a call of the allow-listed `full` with `args`. */
export function checkCall(full: string, args: Value): Problem[] {
  const a = isTuple(args) ? args.items : null
  const out: Problem[] = []
  const add = (p: Problem | undefined) => {
    if (p !== undefined) out.push(p)
  }
  if (a === null && !isTuple(args) && full !== 'builtins.object')
    add(unexpected(`${full} called with arguments that are not a tuple`))
  if (MATERIALISE.has(full) && hugeIterable(a))
    add(allocation(`${full} of a range of more than ${MAX_ALLOC} items`))
  const hooks = HOOKS_AT[full]
  if (hooks !== undefined && a !== null && !emptyHooks(a[hooks]))
    out.push({
      verdict: 'malicious',
      rule: 'pickle.tensor-hooks',
      reason: `${full} with backward hooks: callables that run when the tensor's gradient is computed`,
    })
  if (full in STORAGE_ITEM_SIZE || full === 'torch.storage.TypedStorage') {
    const n = a?.[0]
    if (a !== null && a.length > 0 && (typeof n !== 'number' || n > MAX_ALLOC))
      add(allocation(`${full}(${typeof n === 'number' ? n : 'a computed size'}) allocates`))
  }
  switch (full) {
    case '_codecs.encode': {
      const codec = a?.[1]
      if (typeof codec !== 'string' || !LATIN1.has(codec.toLowerCase()))
        add(
          unexpected(
            `_codecs.encode with codec ${typeof codec === 'string' ? codec : 'computed at load time'} (only latin1 rebuilds bytes)`,
          ),
        )
      break
    }
    case 'collections.defaultdict':
      add(callable(a?.[0], 'defaultdict (as its default factory)', true))
      break
    case 'torch._tensor._rebuild_from_type_v2':
      add(callable(a?.[0], '_rebuild_from_type_v2 (as its rebuild function)'))
      add(callable(a?.[1], '_rebuild_from_type_v2 (as the tensor type)'))
      break
    case 'torch._utils._rebuild_wrapper_subclass':
      add(callable(a?.[0], '_rebuild_wrapper_subclass (as the tensor class)'))
      break
    case 'copyreg._reconstructor': {
      add(callable(a?.[0], 'copyreg._reconstructor (as the class)'))
      const base = a?.[1]
      if (
        isGlobal(base) &&
        !/^builtins\.(object|dict|list|set|frozenset|tuple|int|float|str|bytes|complex)$/.test(
          base.full,
        )
      )
        add(
          unexpected(
            `copyreg._reconstructor with base ${base.full}, whose __init__ it calls (only object and builtin containers rebuild data)`,
            'malicious',
          ),
        )
      else add(callable(base, 'copyreg._reconstructor (as the base class)'))
      break
    }
    case BIT_CTOR:
      if ((a?.length ?? 0) > 1 || !bitGenerator(a?.[0], true))
        add(
          unexpected(
            `${full} with ${describe(a?.[0])}, not one of numpy's bit generators: it calls what it is given`,
            'malicious',
          ),
        )
      break
    case 'torch.serialization._get_layout':
      if (typeof a?.[0] !== 'string')
        add(unexpected(`${full} with a layout name that is not a literal`))
      break
    case 'sklearn.tree._tree.Tree': {
      const outputs = a?.[2]
      if (typeof outputs !== 'number' || outputs > MAX_ALLOC)
        add(
          allocation(
            `sklearn Tree with ${typeof outputs === 'number' ? outputs : 'a computed number of'} outputs`,
          ),
        )
      break
    }
    case 'numpy.core.multiarray._reconstruct':
    case 'numpy._core.multiarray._reconstruct':
      add(callable(a?.[0], '_reconstruct (as the array type)'))
      if (shapeCount(a?.[1]) > MAX_ALLOC)
        add(allocation(`_reconstruct with a shape of more than ${MAX_ALLOC} elements`))
      break
    case 'numpy.ma.core._mareconstruct':
      add(callable(a?.[0], '_mareconstruct (as the array type)'))
      add(callable(a?.[1], '_mareconstruct (as the base class)'))
      if (shapeCount(a?.[2]) > MAX_ALLOC)
        add(allocation(`_mareconstruct with a shape of more than ${MAX_ALLOC} elements`))
      break
    case 'numpy.ndarray':
      if (shapeCount(a?.[0]) > MAX_ALLOC)
        add(allocation(`numpy.ndarray with a shape of more than ${MAX_ALLOC} elements`))
      break
    case 'builtins.bytearray':
    case 'builtins.bytes': {
      const n = a?.[0]
      if (typeof n === 'number' && n > MAX_ALLOC) add(allocation(`${full}(${n}) allocates`))
      else if (typeof n === 'object' && n.k === 0 && n !== NONE)
        add(allocation(`${full} of a number too large to read`))
      break
    }
    case 'builtins.int': {
      const s = a?.[0]
      if (typeof s === 'object' && s.k === 6)
        add(allocation(`int() of a string of more than ${MAX_DIGITS} digits`))
      else if (typeof s === 'string' && s.length > MAX_DIGITS)
        add(allocation(`int() of a string of ${s.length} digits`))
      break
    }
    case 'fractions.Fraction':
      for (const v of a ?? []) add(fractionArg(v))
      break
    default:
      if (/\.(__pyx_unpickle_\w+|newObj)$/.test(full)) {
        // Cython's helpers instantiate the class they are given: only their own.
        const own = full.replace(/\.__pyx_unpickle_(\w+)$/, '.$1')
        const cls = a?.[0]
        const ok = isGlobal(cls) && (own === full ? cls.tier === 'safe' : cls.full === own)
        if (!ok)
          add(
            unexpected(
              `${full} with ${describe(cls)}, which it instantiates (only its own extension class)`,
              'malicious',
            ),
          )
      } else if (RNG_HELPERS.has(full)) {
        const name = a?.[0]
        const ok =
          bitGenerator(name, false) || (calleeOf(name)?.full === BIT_CTOR && (a?.length ?? 0) === 1)
        const ctor = a?.[1]
        if (!ok || (ctor !== undefined && (!isGlobal(ctor) || ctor.full !== BIT_CTOR)))
          add(
            unexpected(
              `${full} with ${describe(ctor ?? name)}: only a literal bit generator name (or numpy's own bit generator) may be given, since it calls what it is given`,
              'malicious',
            ),
          )
      }
  }
  return out
}

function describe(v: Value | undefined): string {
  if (typeof v === 'string') return `'${v.slice(0, 40)}'`
  if (isGlobal(v)) return v.full
  if (isCall(v)) return 'a value computed while loading'
  return 'an argument that is not a literal name'
}

/** Fraction(text) computes 10**exponent: a literal with few digits and a small exponent only. */
function fractionArg(v: Value): Problem | undefined {
  if (typeof v === 'number') return undefined
  if (typeof v === 'string') {
    const m = /^\s*[+-]?(\d*)\.?(\d*)(?:[eE]([+-]?\d+))?(?:\s*\/\s*(\d+))?\s*$/.exec(v)
    if (m === null) return undefined // Python refuses it
    const digits = (m[1]?.length ?? 0) + (m[2]?.length ?? 0) + (m[4]?.length ?? 0)
    const exp = Math.abs(Number(m[3] ?? '0'))
    if (digits <= MAX_DIGITS && exp <= MAX_DIGITS) return undefined
    return allocation(
      `Fraction('${v.slice(0, 24)}…') with an exponent or length beyond ${MAX_DIGITS}`,
    )
  }
  if (typeof v === 'object' && v.k === 0 && v !== NONE) return undefined // a float or a number too large for a safe integer: already materialised by the file
  return allocation('Fraction of a value computed while loading (a Decimal or a big power)')
}

/** BUILD of an allow-listed class that takes a path: the attribute must be None. */
export function checkState(target: Value, state: Value): Problem | undefined {
  const g = calleeOf(target)
  const keys = g === undefined ? undefined : NONE_STATE[g.full]
  if (keys === undefined || g === undefined) return undefined
  const map = typeof state === 'object' && state.k === 5 ? state.map : null
  for (const k of keys) {
    const v = map?.get(k)
    if (v === NONE || (v === undefined && map !== null && map.size === (state as Dict).n)) continue
    return unexpected(`${g.full} with ${k} set: it reads and writes that path`)
  }
  return undefined
}

/** BUILD of a numpy array: an object array of more than the cap allocates before its items are checked. */
export function checkArrayState(target: Value, state: Value): Problem | undefined {
  const g = calleeOf(target)
  if (g === undefined || !/^numpy\.(_?core\.multiarray\._reconstruct)$/.test(g.full))
    return undefined
  if (!isTuple(state) || state.items === null) return undefined
  const [, shape, , , raw] = state.items
  const isBytes = typeof raw === 'object' && raw.k === 1
  if (!isBytes && shapeCount(shape) > MAX_ALLOC)
    return allocation(`an array state whose shape asks for more than ${MAX_ALLOC} elements`)
  return undefined
}

/** A torch persistent id: ('storage', class, key, location, numel, …). */
export function checkPersistentId(pid: Value): Problem | undefined {
  if (!isTuple(pid) || pid.items === null || pid.items[0] !== 'storage') return undefined
  const cls = pid.items[1]
  const numel = pid.items[4]
  const size = isGlobal(cls) ? (STORAGE_ITEM_SIZE[cls.full] ?? 1) : 1
  if (typeof numel !== 'number' || numel * size > MAX_STORAGE_BYTES)
    return allocation(
      `a torch storage of ${typeof numel === 'number' ? `${numel * size} bytes` : 'a size computed while loading'} (more than ${MAX_STORAGE_BYTES})`,
    )
  return undefined
}
