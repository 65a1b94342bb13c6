/**
 * The symbolic values of the pickle machine (pickle.ts): what the stack
 * holds instead of Python objects. Only what the rules need is kept: short
 * strings and small ints literally, imports as globals with their tier,
 * calls with their callee and arguments, and containers with whether
 * anything was put in them.
 */
import type { Tier } from './rules.ts'

/** A value the machine does not follow (a float, a persistent-load result, …). */
export interface Any {
  readonly k: 0
}
/** Bytes in the stream, by position: never copied. */
export interface Bytes {
  readonly k: 1
  readonly off: number
  readonly len: number
}
/** An imported class or function. */
export interface Global {
  readonly k: 2
  readonly full: string
  readonly tier: Tier
}
/** What calling `fn` with `args` returns (REDUCE, NEWOBJ, INST, OBJ). */
export interface Call {
  readonly k: 3
  readonly fn: Value
  readonly args: Value
  /** Items were added to it by container opcodes (SETITEMS, APPENDS, …). */
  filled: boolean
  /** For `builtins.range`: how many items it yields (Infinity when not a literal). */
  readonly count?: number
}
export interface Tuple {
  readonly k: 4
  /** null when too long to keep. */
  readonly items: readonly Value[] | null
}
export interface Dict {
  readonly k: 5
  /** String keys and their values (a bounded number), null until one is set. */
  map: Map<string, Value> | null
  /** Items set, whatever their keys. */
  n: number
}
/** A value known only to be a string, too long to keep. */
export interface LongString {
  readonly k: 6
}
/** A list (EMPTY_LIST, LIST). */
export interface List {
  readonly k: 7
}
/** A set (EMPTY_SET). */
export interface SetValue {
  readonly k: 8
}
export type Value =
  string | number | Any | Bytes | Global | Call | Tuple | Dict | LongString | List | SetValue

export const ANY: Any = { k: 0 }
/** `None`: an Any that can be told apart by identity. */
export const NONE: Any = { k: 0 }
export const LONG_STRING: LongString = { k: 6 }
export const EMPTY_TUPLE: Tuple = { k: 4, items: [] }

export const isGlobal = (v: Value | undefined): v is Global => typeof v === 'object' && v.k === 2
export const isCall = (v: Value | undefined): v is Call => typeof v === 'object' && v.k === 3
export const isTuple = (v: Value | undefined): v is Tuple => typeof v === 'object' && v.k === 4

/** The callee of a call, when it is an imported global. */
export function calleeOf(v: Value | undefined): Global | undefined {
  return isCall(v) && isGlobal(v.fn) ? v.fn : undefined
}

/** The arguments of a call as a list, null when not a kept tuple. */
export function itemsOf(args: Value): readonly Value[] | null {
  return isTuple(args) ? args.items : null
}
