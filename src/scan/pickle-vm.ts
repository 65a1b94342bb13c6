/**
 * A symbolic pickle machine: it runs the opcodes of protocols 0 to 5 the way
 * Python's unpickler does — stack, mark stack, memo, protocol changes — but
 * instead of importing and calling, it records what would be imported and
 * called, and judges it (pickle-judge.ts). One pass, no copy of large byte
 * arguments, no allocation for the opcodes that dominate large files
 * (floats, ints, appends).
 */
import { checkPersistentId } from './calls.ts'
import { PickleJudge } from './pickle-judge.ts'
import { setItem } from './pickle-reader.ts'
import { ANY, EMPTY_TUPLE, LONG_STRING, NONE, type Dict, type Value } from './values.ts'

export class Machine extends PickleJudge {
  /** Checked every 64 Ki opcodes: a tripped limit halts the scan of the file. */
  private withinLimits(): boolean {
    const limits = this.ctx.limits
    const path = this.o.path
    if (this.ops > limits.maxOpcodes)
      this.ctx.halt(path, 'maxOpcodes', `more than ${limits.maxOpcodes} opcodes`)
    else if (this.stack.length > limits.maxStack)
      this.ctx.halt(path, 'maxStack', `a stack deeper than ${limits.maxStack}`)
    else if (this.memo.size > limits.maxMemo)
      this.ctx.halt(path, 'maxMemo', `a memo larger than ${limits.maxMemo} entries`)
    return this.ctx.inTime(path)
  }

  /**
   * Reads one pickle to its STOP: true when it got there, false when a limit
   * halted the scan (the halt is a finding). Throws SCAN_MALFORMED on
   * malformed input (`fail`).
   */
  run(): boolean {
    const cur = this.cur
    for (;;) {
      if ((++this.ops & 0xffff) === 0 && !this.withinLimits()) return false
      const at = cur.pos
      let i = cur.need(1)
      if (i < 0) this.fail(cur.size, 'end of data')
      const op = cur.buf[i] ?? 0
      cur.pos++
      const stack = this.stack
      switch (op) {
        case 0x47: // BINFLOAT
          i = cur.need(8)
          if (i < 0) this.fail(cur.size, 'missing argument')
          cur.pos += 8
          stack.push(ANY)
          break
        case 0x4b: // BININT1
          stack.push(this.u8())
          break
        case 0x4d: // BININT2
          stack.push(this.u16())
          break
        case 0x4a: // BININT
          stack.push(this.i32())
          break
        case 0x61: {
          // APPEND
          this.pop(at)
          const t = this.top(at)
          if (typeof t !== 'object' || t.k !== 7) this.fill(t, 'list', at, 'APPEND')
          break
        }
        case 0x65: // APPENDS
        case 0x90: {
          // ADDITEMS
          this.dropMark(at)
          const t = this.top(at)
          const kind = op === 0x65 ? 'list' : 'set'
          if (typeof t !== 'object' || t.k !== (op === 0x65 ? 7 : 8))
            this.fill(t, kind, at, op === 0x65 ? 'APPENDS' : 'ADDITEMS')
          break
        }
        case 0x28: // MARK
          this.marks.push(stack.length)
          break
        case 0x94: // MEMOIZE
          this.memo.set(this.memo.size, this.top(at))
          break
        case 0x71: // BINPUT
          this.memo.set(this.u8(), this.top(at))
          break
        case 0x72: // LONG_BINPUT
          this.memo.set(this.u32(), this.top(at))
          break
        case 0x70: // PUT
          this.memo.set(this.intLine(this.line(), at), this.top(at))
          break
        case 0x68: // BINGET
        case 0x6a: // LONG_BINGET
        case 0x67: {
          // GET
          const idx =
            op === 0x68 ? this.u8() : op === 0x6a ? this.u32() : this.intLine(this.line(), at)
          const v = this.memo.get(idx)
          if (v === undefined) this.fail(at, `memo key ${idx} was never stored`)
          stack.push(v)
          break
        }
        case 0x95: // FRAME
          this.u64()
          break
        case 0x80: {
          // PROTO
          const p = this.u8()
          if (p > 5) this.fail(at, `unsupported protocol ${p}`)
          this.protocol = p
          break
        }
        case 0x2e: {
          // STOP
          this.pop(at)
          const outer = this.nested.pop()
          if (outer !== undefined) {
            // The end of a joblib object array: back to the outer pickle, the array in its place.
            ;[this.stack, this.marks] = outer
            break
          }
          return true
        }
        case 0x4e: // NONE
          stack.push(NONE)
          break
        case 0x88: // NEWTRUE
        case 0x89: // NEWFALSE
          stack.push(ANY)
          break
        case 0x8f: // EMPTY_SET
          stack.push({ k: 8 })
          break
        case 0x5d: // EMPTY_LIST
          stack.push({ k: 7 })
          break
        case 0x7d: // EMPTY_DICT
          stack.push({ k: 5, map: null, n: 0 })
          break
        case 0x29: // EMPTY_TUPLE
          stack.push(EMPTY_TUPLE)
          break
        case 0x85: // TUPLE1
          stack.push(this.tuple([this.pop(at)]))
          break
        case 0x86: {
          // TUPLE2
          const b = this.pop(at)
          stack.push(this.tuple([this.pop(at), b]))
          break
        }
        case 0x87: {
          // TUPLE3
          const c = this.pop(at)
          const b = this.pop(at)
          stack.push(this.tuple([this.pop(at), b, c]))
          break
        }
        case 0x74: // TUPLE
          stack.push(this.tuple(this.popMark(at)))
          break
        case 0x6c: // LIST
          this.dropMark(at)
          stack.push({ k: 7 })
          break
        case 0x91: // FROZENSET
          this.dropMark(at)
          stack.push(ANY)
          break
        case 0x64: {
          // DICT
          const items = this.popMark(at)
          const d: Dict = { k: 5, map: null, n: 0 }
          for (let j = 0; j + 1 < items.length; j += 2) setItem(d, items[j], items[j + 1])
          stack.push(d)
          break
        }
        case 0x73: {
          // SETITEM
          const v = this.pop(at)
          const k = this.pop(at)
          const d = this.top(at)
          if (typeof d === 'object' && d.k === 5) setItem(d, k, v)
          else this.fill(d, 'dict', at, 'SETITEM')
          break
        }
        case 0x75: {
          // SETITEMS
          const items = this.popMark(at)
          const d = this.top(at)
          if (typeof d === 'object' && d.k === 5)
            for (let j = 0; j + 1 < items.length; j += 2) setItem(d, items[j], items[j + 1])
          else if (items.length > 0) this.fill(d, 'dict', at, 'SETITEMS')
          break
        }
        case 0x30: // POP
          if (stack.length > (this.marks[this.marks.length - 1] ?? 0)) stack.pop()
          else this.dropMark(at)
          break
        case 0x31: // POP_MARK
          this.dropMark(at)
          break
        case 0x32: // DUP
          stack.push(this.top(at))
          break
        case 0x8c: // SHORT_BINUNICODE
          stack.push(this.text(this.u8(), at))
          break
        case 0x58: // BINUNICODE
          stack.push(this.text(this.u32(), at))
          break
        case 0x8d: // BINUNICODE8
          stack.push(this.text(this.u64(), at))
          break
        case 0x55: // SHORT_BINSTRING
          stack.push(this.text(this.u8(), at))
          break
        case 0x54: // BINSTRING
          stack.push(this.text(this.u32(), at))
          break
        case 0x43: // SHORT_BINBYTES
          stack.push(this.bytes(this.u8()))
          break
        case 0x42: // BINBYTES
          stack.push(this.bytes(this.u32()))
          break
        case 0x8e: // BINBYTES8
        case 0x96: // BYTEARRAY8
          stack.push(this.bytes(this.u64()))
          break
        case 0x53: {
          // STRING: a quoted repr
          const s = this.line()
          stack.push(/^(['"]).*\1$/s.test(s) ? s.slice(1, -1) : LONG_STRING)
          break
        }
        case 0x56: // UNICODE: raw-unicode-escape
          stack.push(
            this.line().replace(/\\u([0-9a-fA-F]{4})/g, (_m, h: string) =>
              String.fromCharCode(parseInt(h, 16)),
            ),
          )
          break
        case 0x49: {
          // INT (and the protocol-0 booleans 00 / 01)
          const s = this.line()
          if (!/^[+-]?\d+L?$/.test(s.trim())) this.fail(at, 'INT argument is not a number')
          const n = Number(s.trim().replace(/L$/, ''))
          stack.push(Number.isSafeInteger(n) ? n : ANY)
          break
        }
        case 0x4c: // LONG
          if (!/^[+-]?\d+L?$/.test(this.line().trim()))
            this.fail(at, 'LONG argument is not a number')
          stack.push(ANY)
          break
        case 0x46: // FLOAT
          this.line()
          stack.push(ANY)
          break
        case 0x8a: {
          // LONG1
          const n = this.u8()
          stack.push(this.long(n, at))
          break
        }
        case 0x8b: {
          // LONG4
          const n = this.i32()
          if (n < 0) this.fail(at, 'LONG4 with a negative length')
          stack.push(this.long(n, at))
          break
        }
        case 0x63: {
          // GLOBAL
          const module = this.line()
          const name = this.line()
          stack.push(this.global(module, name, at))
          break
        }
        case 0x93: {
          // STACK_GLOBAL
          const name = this.pop(at)
          const module = this.pop(at)
          if (typeof module !== 'string' || typeof name !== 'string') {
            this.finding(
              at,
              'malicious',
              'pickle.computed-import',
              'STACK_GLOBAL imports a module or name computed while loading, not written in the file: a known way to hide the import from scanners',
            )
            stack.push({ k: 2, full: '(computed)', tier: 'dangerous' })
          } else stack.push(this.global(module, name, at))
          break
        }
        case 0x69: {
          // INST
          const module = this.line()
          const name = this.line()
          const cls = this.global(module, name, at)
          stack.push(this.call(cls, this.tuple(this.popMark(at)), at, 'INST'))
          break
        }
        case 0x82: // EXT1
        case 0x83: // EXT2
        case 0x84: {
          // EXT4
          const code = op === 0x82 ? this.u8() : op === 0x83 ? this.u16() : this.i32()
          const ext = this.extensions.get(code)
          if (ext === undefined) {
            this.finding(
              at,
              'malicious',
              'pickle.unresolved-extension',
              `EXT opcode ${code} names a global through the copyreg extension registry, which this stream did not fill`,
            )
            stack.push({ k: 2, full: `(extension ${code})`, tier: 'dangerous' })
          } else stack.push(this.global(ext[0], ext[1], at))
          break
        }
        case 0x52: {
          // REDUCE
          const args = this.pop(at)
          const fn = this.pop(at)
          stack.push(this.call(fn, args, at, 'REDUCE'))
          break
        }
        case 0x81: {
          // NEWOBJ
          const args = this.pop(at)
          const cls = this.pop(at)
          stack.push(this.call(cls, args, at, 'NEWOBJ'))
          break
        }
        case 0x92: {
          // NEWOBJ_EX
          this.pop(at)
          const args = this.pop(at)
          const cls = this.pop(at)
          stack.push(this.call(cls, args, at, 'NEWOBJ_EX'))
          break
        }
        case 0x6f: {
          // OBJ
          const items = this.popMark(at)
          if (items.length === 0) this.fail(at, 'OBJ without a class')
          stack.push(this.call(items[0] as Value, this.tuple(items.slice(1)), at, 'OBJ'))
          break
        }
        case 0x62: {
          // BUILD
          const state = this.pop(at)
          this.build(this.top(at), state, at)
          break
        }
        case 0x50: // PERSID
          this.line()
          stack.push(ANY)
          break
        case 0x51: {
          // BINPERSID
          const p = checkPersistentId(this.pop(at))
          if (p !== undefined) this.problem(at, p)
          stack.push(ANY)
          break
        }
        case 0x97: // NEXT_BUFFER
          stack.push(ANY)
          break
        case 0x98: // READONLY_BUFFER
          this.top(at)
          break
        default:
          this.fail(at, `unknown opcode 0x${op.toString(16).padStart(2, '0')}`)
      }
    }
  }
}
