/**
 * The scanner's own corpus, built deterministically from the builders: every
 * technique named in issue 5, the published scanner bypasses we know of
 * (CVE and advisory ids in the names), and benign files built to trip naive
 * scanners. `node scripts/gen-scan-corpus.ts DIR` writes them out as files.
 */
import { gzipSync, deflateSync } from 'node:zlib'
import { concat, gguf, ndarray, npy, p, safetensors, tar, text, zip } from './builders.ts'
import { GADGETS } from './gadgets.ts'

export type Label = 'benign' | 'suspicious' | 'malicious'

export interface Case {
  readonly name: string
  readonly label: Label
  readonly why: string
  /** A rule id the scan must report (for cases that are not benign). */
  readonly rule?: string
  readonly bytes: Uint8Array
}

const osSystem = (proto = 2) => p().proto(proto).call('os', 'system', 'true').stop().done()

/** Raw float32 bytes with text a grep-based scanner would take for a pickle import. */
const trickyTensor = concat(
  new Uint8Array(new Float32Array([1.5, -2.25, 3.125, 0]).buffer),
  text('cos\nsystem\n(S"rm"\ntR'),
  new Uint8Array(new Float32Array([7, 8, 9, 10]).buffer),
)

function stateDict(extra?: (b: ReturnType<typeof p>) => void): Uint8Array {
  const b = p()
    .proto(2)
    .global('collections', 'OrderedDict')
    .tuple(0)
    .reduce()
    .binput(0)
    .mark()
    .str('encoder.weight')
    .global('torch._utils', '_rebuild_tensor_v2')
    .mark()
    .mark()
    .str('storage')
    .global('torch', 'FloatStorage')
    .str('0')
    .str('cpu')
    .int(8)
    .tuple()
    .raw('Q')
    .int(0)
    .int(8)
    .tuple(1)
    .int(1)
    .tuple(1)
    .raw(0x89)
    .global('collections', 'OrderedDict')
    .tuple(0)
    .reduce()
    .tuple()
    .reduce()
  extra?.(b)
  return b.setitems().stop().done()
}

function torchZip(
  pkl: Uint8Array,
  prefix = 'archive',
  more: Parameters<typeof zip>[0] = [],
): Uint8Array {
  return zip([
    { name: `${prefix}/data.pkl`, data: pkl },
    { name: `${prefix}/byteorder`, data: text('little') },
    { name: `${prefix}/data/0`, data: trickyTensor },
    { name: `${prefix}/version`, data: text('3\n') },
    ...more,
  ])
}

/** A joblib dump of one float64 array: the wrapper, alignment padding, then the raw bytes. */
function joblibArray(dtype: string, body: Uint8Array, count: number): Uint8Array {
  return concat(
    p()
      .proto(4)
      .sg('joblib.numpy_pickle', 'NumpyArrayWrapper')
      .tuple(0)
      .newobj()
      .emptyDict()
      .mark()
      .str('subclass')
      .sg('numpy', 'ndarray')
      .str('shape')
      .int(count)
      .tuple(1)
      .str('order')
      .str('C')
      .str('dtype')
      .sg('numpy', 'dtype')
      .str(dtype)
      .raw(0x89, 0x88)
      .tuple(3)
      .reduce()
      .mark()
      .int(3)
      .str('<')
      .none()
      .none()
      .none()
      .int(-1)
      .int(-1)
      .int(0)
      .tuple()
      .build()
      .str('allow_mmap')
      .raw(0x89)
      .str('numpy_array_alignment_bytes')
      .int(16)
      .setitems()
      .build()
      .done(),
    dtype === 'O' ? new Uint8Array(0) : Uint8Array.of(3, 0xff, 0xff, 0xff),
    body,
    p().stop().done(),
  )
}

const lambdaConfig = JSON.stringify({
  class_name: 'Sequential',
  config: {
    layers: [
      { module: 'keras.layers', class_name: 'InputLayer', config: { batch_shape: [null, 4] } },
      {
        module: 'keras.layers',
        class_name: 'Lambda',
        config: { function: { class_name: '__lambda__', config: { code: '4wEAAAAAAAAA' } } },
      },
    ],
  },
})

const kerasArchive = (config: string) =>
  zip([
    { name: 'metadata.json', data: text('{"keras_version": "3.6.0"}'), deflate: true },
    { name: 'config.json', data: text(config), deflate: true },
    {
      name: 'model.weights.h5',
      data: concat(
        Uint8Array.of(0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a),
        new Uint8Array(200),
      ),
    },
  ])

const denseConfig = JSON.stringify({
  module: 'keras',
  class_name: 'Sequential',
  config: {
    layers: [
      {
        module: 'keras.layers',
        class_name: 'Dense',
        config: {
          units: 4,
          activation: { module: 'keras.activations', class_name: 'function', config: 'gelu' },
        },
      },
    ],
  },
})

function hdf5With(attr: string): Uint8Array {
  return concat(
    Uint8Array.of(0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a),
    new Uint8Array(96),
    text('model_config'),
    new Uint8Array(8),
    text(attr),
    new Uint8Array(64),
  )
}

/** A legacy torch tar (torch < 0.4): sys_info, pickle, and storages (count, then per storage its args pickle, numel, raw bytes). */
function legacyTar(storageArgs: Uint8Array): Uint8Array {
  const numel = new Uint8Array(8)
  new DataView(numel.buffer).setBigUint64(0, BigInt(trickyTensor.length / 4), true)
  return tar([
    {
      name: 'sys_info',
      data: p().proto(2).emptyDict().str('little_endian').raw(0x88).setitem().stop().done(),
    },
    { name: 'pickle', data: p().proto(2).str('0').raw('Q').stop().done() },
    { name: 'tensors', data: p().proto(2).int(0).stop().done() },
    {
      name: 'storages',
      data: concat(p().proto(2).int(1).stop().done(), storageArgs, numel, trickyTensor),
    },
  ])
}

const hex = (h: string) => Uint8Array.from(Buffer.from(h, 'hex'))

const f32 = (n: number) => new Uint8Array(new Float32Array(n).fill(0.5).buffer)

export const CASES: readonly Case[] = [
  // ---- pickle protocols and opcodes
  {
    name: 'pickle-p0-text-global-reduce',
    label: 'malicious',
    why: 'protocol 0: GLOBAL os system, STRING argument, TUPLE, REDUCE',
    rule: 'pickle.dangerous-global',
    bytes: p().global('os', 'system').mark().string('id').tuple().reduce().stop().done(),
  },
  {
    name: 'pickle-p1-binstring',
    label: 'malicious',
    why: 'protocol 1 opcodes (SHORT_BINSTRING) without a PROTO header',
    rule: 'pickle.dangerous-global',
    bytes: p()
      .global('subprocess', 'check_output')
      .mark()
      .binstring('id')
      .tuple()
      .reduce()
      .stop()
      .done(),
  },
  {
    name: 'pickle-p2-os-system',
    label: 'malicious',
    why: 'protocol 2',
    rule: 'pickle.dangerous-global',
    bytes: osSystem(2),
  },
  {
    name: 'pickle-p3-binbytes-subprocess-run',
    label: 'malicious',
    why: 'protocol 3 with a bytes argument',
    rule: 'pickle.dangerous-global',
    bytes: p()
      .proto(3)
      .global('subprocess', 'run')
      .bytes(text('id'))
      .tuple(1)
      .reduce()
      .stop()
      .done(),
  },
  {
    name: 'pickle-p4-stack-global-eval',
    label: 'malicious',
    why: 'protocol 4 STACK_GLOBAL inside a FRAME',
    rule: 'pickle.dangerous-global',
    bytes: p().proto(4).frame(30).call('builtins', 'eval', '1+1', true).stop().done(),
  },
  {
    name: 'pickle-p5-bytearray8-exec',
    label: 'malicious',
    why: 'protocol 5 with BYTEARRAY8 data around an exec call',
    rule: 'pickle.dangerous-global',
    bytes: p()
      .proto(5)
      .bytearray8(text('pad'))
      .pop()
      .call('builtins', 'exec', 'pass', true)
      .stop()
      .done(),
  },
  {
    name: 'pickle-inst-opcode',
    label: 'malicious',
    why: 'INST imports and calls in one opcode',
    rule: 'pickle.dangerous-global',
    bytes: p().mark().string('id').inst('os', 'system').stop().done(),
  },
  {
    name: 'pickle-obj-opcode',
    label: 'malicious',
    why: 'OBJ calls the class below the mark',
    rule: 'pickle.dangerous-global',
    bytes: p().proto(2).mark().global('os', 'popen').str('id').raw('o').stop().done(),
  },
  {
    name: 'pickle-newobj-ex-popen',
    label: 'malicious',
    why: 'NEWOBJ_EX with subprocess.Popen',
    rule: 'pickle.dangerous-global',
    bytes: p()
      .proto(4)
      .sg('subprocess', 'Popen')
      .str('id')
      .tuple(1)
      .emptyDict()
      .raw(0x92)
      .stop()
      .done(),
  },
  {
    name: 'pickle-stack-global-from-memo',
    label: 'malicious',
    why: 'STACK_GLOBAL arguments fetched back from the memo (BINPUT / BINGET)',
    rule: 'pickle.dangerous-global',
    bytes: p()
      .proto(4)
      .str('os')
      .binput(1)
      .str('system')
      .binput(2)
      .pop()
      .pop()
      .binget(1)
      .binget(2)
      .raw(0x93)
      .str('id')
      .tuple(1)
      .reduce()
      .stop()
      .done(),
  },
  {
    name: 'pickle-text-put-get-stack-global',
    label: 'malicious',
    why: 'protocol-0 UNICODE / PUT / GET feeding a STACK_GLOBAL, no PROTO',
    rule: 'pickle.dangerous-global',
    bytes: p()
      .unicode('posix')
      .put(0)
      .pop()
      .unicode('system')
      .put(1)
      .pop()
      .get(0)
      .get(1)
      .raw(0x93)
      .unicode('id')
      .tuple(1)
      .reduce()
      .stop()
      .done(),
  },
  {
    name: 'pickle-stack-global-computed',
    label: 'malicious',
    why: 'the module name is the result of a call, not a constant',
    rule: 'pickle.computed-import',
    bytes: p()
      .proto(4)
      .sg('_codecs', 'encode')
      .str('bf')
      .str('rot13')
      .tuple(2)
      .reduce()
      .str('flfgrz')
      .raw(0x93)
      .stop()
      .done(),
  },
  {
    name: 'pickle-ext4-registered-by-copyreg',
    label: 'malicious',
    why: 'copyreg.add_extension registers subprocess.getoutput; EXT4 then imports it without naming it',
    rule: 'pickle.dangerous-global',
    bytes: p()
      .proto(2)
      .global('copyreg', 'add_extension')
      .str('subprocess')
      .str('getoutput')
      .int(0x7ffe0001)
      .tuple(3)
      .reduce()
      .pop()
      .ext(0x7ffe0001, 4)
      .str('id')
      .tuple(1)
      .reduce()
      .stop()
      .done(),
  },
  {
    name: 'pickle-ext1-unregistered',
    label: 'malicious',
    why: 'EXT1 with a code this stream never registered: the loader resolves it from process state',
    rule: 'pickle.unresolved-extension',
    bytes: p().proto(2).ext(7, 1).str('x').tuple(1).reduce().stop().done(),
  },
  {
    name: 'pickle-py2-commands-getoutput',
    label: 'malicious',
    why: 'protocol 2 spelling commands.getoutput becomes subprocess.getoutput (fix_imports)',
    rule: 'pickle.dangerous-global',
    bytes: p().proto(2).call('commands', 'getoutput', 'id').stop().done(),
  },
  {
    name: 'pickle-py2-builtin-eval',
    label: 'malicious',
    why: '__builtin__.eval, the protocol-2 spelling of builtins.eval',
    rule: 'pickle.dangerous-global',
    bytes: p().proto(2).call('__builtin__', 'eval', '1').stop().done(),
  },
  {
    name: 'pickle-dotted-name-logging-os-system',
    label: 'malicious',
    why: 'protocol 4 dotted name: logging + os.system reaches os through attributes',
    rule: 'pickle.dangerous-global',
    bytes: p().proto(4).call('logging', 'os.system', 'id', true).stop().done(),
  },
  {
    name: 'pickle-object-getattribute',
    label: 'malicious',
    why: 'builtins + object.__getattribute__: a getattr equivalent through a dunder',
    rule: 'pickle.dangerous-global',
    bytes: p()
      .proto(4)
      .sg('builtins', 'object.__getattribute__')
      .sg('sys', 'modules')
      .str('os')
      .tuple(2)
      .reduce()
      .stop()
      .done(),
  },
  {
    name: 'pickle-getattr-chain-computed-callable',
    label: 'malicious',
    why: 'getattr(module, "system") returns a callable that REDUCE then calls',
    rule: 'pickle.computed-callable',
    bytes: p()
      .proto(2)
      .global('builtins', 'getattr')
      .global('os', 'path')
      .str('join')
      .tuple(2)
      .reduce()
      .str('a')
      .tuple(1)
      .reduce()
      .stop()
      .done(),
  },
  {
    name: 'nested-pickle-loads',
    label: 'malicious',
    why: 'pickle.loads of embedded bytes: the bytes are scanned too',
    rule: 'pickle.dangerous-global',
    bytes: p().proto(4).sg('pickle', 'loads').bytes(osSystem(4)).tuple(1).reduce().stop().done(),
  },
  {
    name: 'nested-torch-storage-load-from-bytes',
    label: 'malicious',
    why: 'torch.storage._load_from_bytes runs torch.load on its argument',
    rule: 'pickle.dangerous-global',
    bytes: p()
      .proto(2)
      .global('torch.storage', '_load_from_bytes')
      .bytes(osSystem())
      .tuple(1)
      .reduce()
      .stop()
      .done(),
  },
  {
    name: 'nested-numpy-load-bytesio',
    label: 'malicious',
    why: 'numpy.load(io.BytesIO(<npy with an object payload>))',
    rule: 'pickle.dangerous-global',
    bytes: p()
      .proto(4)
      .sg('numpy', 'load')
      .sg('io', 'BytesIO')
      .bytes(npy("'|O'", '(1,)', osSystem(2)))
      .tuple(1)
      .reduce()
      .tuple(1)
      .reduce()
      .stop()
      .done(),
  },
  {
    name: 'nested-pandas-read-pickle',
    label: 'malicious',
    why: 'pandas.read_pickle loads another pickle',
    rule: 'pickle.dangerous-global',
    bytes: p().proto(4).call('pandas', 'read_pickle', '/tmp/x.pkl', true).stop().done(),
  },
  {
    name: 'pickle-second-in-stream',
    label: 'malicious',
    why: 'a benign pickle followed by a malicious one in the same stream',
    rule: 'pickle.dangerous-global',
    bytes: concat(p().proto(4).int(1).stop().done(), osSystem(4)),
  },
  {
    name: 'nullifai-payload-before-broken-stream',
    label: 'malicious',
    why: 'nullifAI (ReversingLabs, 2025): the payload runs before the stream breaks; the scanner reports it despite the parse error',
    rule: 'pickle.dangerous-global',
    bytes: concat(p().proto(2).call('os', 'system', 'id').done(), Uint8Array.of(0xff, 0xfe, 0x00)),
  },
  {
    name: 'payload-after-large-benign-prefix',
    label: 'malicious',
    why: 'a megabyte of floats first, the call at the very end (defeats scan-the-first-N-bytes)',
    rule: 'pickle.dangerous-global',
    bytes: (() => {
      const b = p().proto(4).emptyList().mark()
      for (let i = 0; i < 120_000; i++) b.float(i / 7)
      return b.appends().pop().call('posix', 'system', 'id', true).stop().done()
    })(),
  },
  {
    name: 'CVE-2025-1716-pip-main',
    label: 'malicious',
    why: 'pip.main installs arbitrary packages (picklescan bypass CVE-2025-1716)',
    rule: 'pickle.dangerous-global',
    bytes: p()
      .proto(2)
      .global('pip', 'main')
      .mark()
      .str('install')
      .str('x')
      .raw('l')
      .tuple(1)
      .reduce()
      .stop()
      .done(),
  },
  {
    name: 'CVE-2025-10157-submodule-of-denied-package',
    label: 'malicious',
    why: 'asyncio.unix_events: a submodule of a denied package (picklescan bypass CVE-2025-10157)',
    rule: 'pickle.dangerous-global',
    bytes: p()
      .proto(4)
      .call('asyncio.unix_events', '_UnixSubprocessTransport', 'x', true)
      .stop()
      .done(),
  },
  {
    name: 'numpy-testing-runstring',
    label: 'malicious',
    why: 'numpy.testing._private.utils.runstring executes a string (a published deny-list gap)',
    rule: 'pickle.dangerous-global',
    bytes: p()
      .proto(4)
      .sg('numpy.testing._private.utils', 'runstring')
      .str('1')
      .emptyDict()
      .tuple(2)
      .reduce()
      .stop()
      .done(),
  },
  {
    name: 'torch-utils-cpp-extension-load-inline',
    label: 'malicious',
    why: 'torch.utils.cpp_extension.load_inline compiles and loads native code',
    rule: 'pickle.dangerous-global',
    bytes: p().proto(4).call('torch.utils.cpp_extension', 'load_inline', 'x', true).stop().done(),
  },
  {
    name: 'runpy-run-code',
    label: 'malicious',
    why: 'runpy._run_code runs a code string',
    rule: 'pickle.dangerous-global',
    bytes: p().proto(4).call('runpy', '_run_code', 'import os', true).stop().done(),
  },
  {
    name: 'operator-attrgetter',
    label: 'malicious',
    why: 'operator.attrgetter is getattr by another name',
    rule: 'pickle.dangerous-global',
    bytes: p().proto(4).call('operator', 'attrgetter', 'system', true).stop().done(),
  },
  {
    name: 'functools-partial-os-system',
    label: 'malicious',
    why: 'functools.partial around os.system',
    rule: 'pickle.dangerous-global',
    bytes: p()
      .proto(2)
      .global('functools', 'partial')
      .global('os', 'system')
      .str('id')
      .tuple(2)
      .reduce()
      .tuple(0)
      .reduce()
      .stop()
      .done(),
  },
  {
    name: 'codecs-encode-rot13',
    label: 'suspicious',
    why: '_codecs.encode is allowed for latin1 bytes only; rot13 hides a string',
    rule: 'pickle.unexpected-arguments',
    bytes: p()
      .proto(2)
      .global('_codecs', 'encode')
      .str('flfgrz')
      .str('rot13')
      .tuple(2)
      .reduce()
      .stop()
      .done(),
  },
  {
    name: 'unknown-global-is-suspicious',
    label: 'suspicious',
    why: 'a class nobody allow-listed: careful loaders refuse it',
    rule: 'pickle.unknown-global',
    bytes: p().proto(2).global('mycompany.models', 'Net').tuple(0).reduce().stop().done(),
  },
  {
    name: 'truncated-pickle',
    label: 'suspicious',
    why: 'cut off before STOP',
    rule: 'pickle.truncated',
    bytes: p().proto(4).emptyList().mark().float(1).float(2).done(),
  },
  {
    name: 'unknown-opcode',
    label: 'suspicious',
    why: 'an opcode no protocol defines',
    rule: 'pickle.parse-error',
    bytes: p().proto(4).raw(0xf0).stop().done(),
  },
  {
    name: 'memo-get-before-put',
    label: 'suspicious',
    why: 'BINGET of a memo slot that was never stored',
    rule: 'pickle.parse-error',
    bytes: p().proto(2).binget(9).stop().done(),
  },
  // ---- containers
  {
    name: 'CVE-2025-1889-extension-bypass',
    label: 'malicious',
    why: 'a pickle whatever its file name (.bin, .txt, none): formats are identified by content (CVE-2025-1889, CVE-2025-10155)',
    rule: 'pickle.dangerous-global',
    bytes: osSystem(2),
  },
  {
    name: 'torch-zip-payload',
    label: 'malicious',
    why: 'torch.save zip whose data.pkl calls os.system',
    rule: 'pickle.dangerous-global',
    bytes: torchZip(stateDict((b) => b.str('x').call('os', 'system', 'id'))),
  },
  {
    name: 'torch-zip-hf-prefix-deflated',
    label: 'malicious',
    why: 'pytorch_model/ prefix and a DEFLATE-compressed data.pkl',
    rule: 'pickle.dangerous-global',
    bytes: zip([{ name: 'pytorch_model/data.pkl', data: osSystem(2), deflate: true }]),
  },
  {
    name: 'CVE-2025-1944-zip-name-mismatch',
    label: 'malicious',
    why: 'local and central names differ (picklescan bypass CVE-2025-1944)',
    rule: 'zip.name-mismatch',
    bytes: zip([{ name: 'archive/data.pkl', localName: 'archive/data.pk_', data: osSystem(2) }]),
  },
  {
    name: 'CVE-2025-1945-zip-flag-bits',
    label: 'malicious',
    why: 'flag bit 0x40 makes Python zipfile refuse the member, torch still loads it (CVE-2025-1945)',
    rule: 'pickle.dangerous-global',
    bytes: zip([{ name: 'archive/data.pkl', data: osSystem(2), flags: 0x40 }]),
  },
  {
    name: 'CVE-2025-10156-zip-bad-crc',
    label: 'malicious',
    why: 'a wrong CRC made scanners give up (CVE-2025-10156); torch reads the member anyway',
    rule: 'pickle.dangerous-global',
    bytes: zip([{ name: 'archive/data.pkl', data: osSystem(2), badCrc: true }]),
  },
  {
    name: 'zip-hidden-member',
    label: 'malicious',
    why: 'a member with a local header but no central directory entry',
    rule: 'zip.hidden-member',
    bytes: zip([
      { name: 'archive/data.pkl', data: stateDict() },
      {
        name: 'archive/extra',
        data: p().global('os', 'system').mark().string('id').tuple().reduce().stop().done(),
        hidden: true,
      },
    ]),
  },
  {
    name: 'zip-extensionless-protocol0-member',
    label: 'malicious',
    why: 'an extension-less protocol-0 pickle member (no magic number) next to a benign data.pkl',
    rule: 'pickle.dangerous-global',
    bytes: torchZip(stateDict(), 'archive', [
      {
        name: 'archive/extra/config',
        data: p().global('posix', 'system').mark().string('id').tuple().reduce().stop().done(),
      },
    ]),
  },
  {
    name: 'zip-duplicate-data-pkl',
    label: 'malicious',
    why: 'two members named data.pkl, the second malicious: readers disagree on which loads',
    rule: 'zip.duplicate-name',
    bytes: zip([
      { name: 'archive/data.pkl', data: stateDict() },
      { name: 'archive/data.pkl', data: osSystem(2) },
    ]),
  },
  {
    name: 'zip-trailing-pickle',
    label: 'malicious',
    why: 'a pickle appended after the end of the archive',
    rule: 'zip.trailing-data',
    bytes: zip([{ name: 'archive/data.pkl', data: stateDict() }], { trailing: osSystem(2) }),
  },
  {
    name: 'zip-prefix-polyglot',
    label: 'suspicious',
    why: 'bytes before the first member',
    rule: 'zip.prefix-data',
    bytes: zip([{ name: 'archive/data.pkl', data: stateDict() }], { prefix: text('#!/bin/sh\n') }),
  },
  {
    name: 'zip-in-zip',
    label: 'malicious',
    why: 'a malicious torch zip inside a zip',
    rule: 'pickle.dangerous-global',
    bytes: zip([{ name: 'bundle/model.pt', data: torchZip(osSystem(2)), deflate: true }]),
  },
  {
    name: 'zip-encrypted-member',
    label: 'suspicious',
    why: 'an encrypted member cannot be read',
    rule: 'zip.encrypted',
    bytes: zip([{ name: 'archive/data.pkl', data: new Uint8Array(40), flags: 0x1 }]),
  },
  {
    name: 'zip-unsupported-method',
    label: 'suspicious',
    why: 'compression method 14 (LZMA) is not read',
    rule: 'zip.unsupported-method',
    bytes: zip([{ name: 'archive/data.pkl', data: new Uint8Array(40), method: 14 }]),
  },
  {
    name: 'npz-object-array',
    label: 'malicious',
    why: '.npz (zip of .npy) with an object array',
    rule: 'pickle.dangerous-global',
    bytes: zip([{ name: 'arr_0.npy', data: npy("'|O'", '(1,)', osSystem(2)) }]),
  },
  {
    name: 'gzip-pickle',
    label: 'malicious',
    why: 'gzip-compressed pickle (joblib.load decompresses it)',
    rule: 'pickle.dangerous-global',
    bytes: new Uint8Array(gzipSync(osSystem(4))),
  },
  {
    name: 'zlib-pickle',
    label: 'malicious',
    why: 'zlib-compressed pickle',
    rule: 'pickle.dangerous-global',
    bytes: new Uint8Array(deflateSync(osSystem(4))),
  },
  {
    name: 'tar-gz-bundle',
    label: 'malicious',
    why: 'SageMaker-style model.tar.gz with a malicious joblib file',
    rule: 'pickle.dangerous-global',
    bytes: new Uint8Array(
      gzipSync(
        tar([
          { name: 'code/inference.py', data: text('import joblib\n') },
          { name: 'model.joblib', data: osSystem(4) },
        ]),
      ),
    ),
  },
  {
    name: 'CVE-2025-32434-legacy-torch-tar',
    label: 'malicious',
    why: 'the legacy torch tar layout (sys_info, pickle, storages), whose pickle member runs code even under weights_only in torch < 2.6',
    rule: 'pickle.dangerous-global',
    bytes: tar([
      { name: 'sys_info', data: p().proto(2).emptyDict().stop().done() },
      { name: 'pickle', data: osSystem(2) },
    ]),
  },
  {
    name: 'legacy-torch-tar-storage-record-payload',
    label: 'malicious',
    why: 'legacy torch tar whose storages member hides a call in a storage record pickle',
    rule: 'pickle.dangerous-global',
    bytes: legacyTar(
      p()
        .proto(2)
        .call('os', 'system', 'id')
        .pop()
        .str('0')
        .str('cpu')
        .global('torch', 'FloatStorage')
        .tuple(3)
        .stop()
        .done(),
    ),
  },
  {
    name: 'benign-legacy-torch-tar',
    label: 'benign',
    why: 'legacy torch tar: storage records are pickles followed by raw bytes, skipped by their computed length',
    bytes: legacyTar(
      p().proto(2).str('0').str('cpu').global('torch', 'FloatStorage').tuple(3).stop().done(),
    ),
  },
  {
    name: 'legacy-torch-sys-info-payload',
    label: 'malicious',
    why: 'legacy torch stream with the payload in the third (sys_info) pickle',
    rule: 'pickle.dangerous-global',
    bytes: concat(
      p()
        .proto(2)
        .raw(0x8a, 10, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19)
        .stop()
        .done(),
      p().proto(2).int(233).int(4).raw(0x8a, 2, 0xe9, 0x03).pop().pop().stop().done(),
      osSystem(2),
      stateDict(),
      p().proto(2).emptyList().stop().done(),
      f32(8),
    ),
  },
  {
    name: 'nullifai-7z-container',
    label: 'suspicious',
    why: 'nullifAI: a model packed with 7z, which torch cannot load but scanners skipped',
    rule: 'format.unsupported-compression',
    bytes: concat(Uint8Array.of(0x37, 0x7a, 0xbc, 0xaf, 0x27, 0x1c, 0, 4), new Uint8Array(60)),
  },
  {
    name: 'xz-pickle',
    label: 'malicious',
    why: "xz-compressed pickle (joblib compress='xz'); bytes from Python's lzma.compress",
    rule: 'pickle.dangerous-global',
    bytes: hex(
      'fd377a585a000004e6d6b4460200210116000000742fe5a3e0097b00385d00400086add047f115a3ea423473d82b8d32c40ce1229c7733b865cd4a38d77b1bbd9165eab04398a3892432aa2101ab11ea4325dab4a2800000e9de40b5fd9423ad000154fc1200000074bc9e23b1c467fb020000000004595a',
    ),
  },
  {
    name: 'lzma-alone-pickle',
    label: 'malicious',
    why: "LZMA-alone pickle (joblib compress='lzma'), which has no magic number",
    rule: 'pickle.dangerous-global',
    bytes: hex(
      '5d00008000ffffffffffffffff00400086add047f115a3ea423473d82b8d32c40ce1229c7733b865cd4a38d77b1bbd9165eab04398a3892432aa2101ab11ea4325dabbd68a9ffffd7ca000',
    ),
  },
  {
    name: 'xz-truncated',
    label: 'suspicious',
    why: 'an xz stream cut short',
    rule: 'format.corrupt-compression',
    bytes: hex(
      'fd377a585a000004e6d6b4460200210116000000742fe5a3e0097b00385d00400086add047f115a3ea423473d82b8d32c40ce1229c7733b865cd4a38d77b1bbd9165eab04398a3892432aa2101ab11ea4325dab4a2800000e9de40b5fd9423ad000154fc1200000074bc9e23b1c467fb020000000004595a',
    ).subarray(0, 60),
  },
  {
    name: 'benign-xz-record',
    label: 'benign',
    why: "Python's lzma.compress of a plain dict pickle",
    bytes: hex(
      'fd377a585a000004e6d6b4460200210116000000742fe5a301000c80047d8c04737465704b07732e000000006dcb04b54ba9223c0001250d7119c4b61fb6f37d010000000004595a',
    ),
  },
  {
    name: 'bzip2-pickle',
    label: 'malicious',
    why: "bzip2-compressed pickle (joblib compress='bz2'); bytes from Python's bz2.compress of os.system('true')",
    rule: 'pickle.dangerous-global',
    bytes: hex(
      '425a68393141592653598781a8b1000009d3c01410000110000a029e2042042000229a3401b53f542869a60011dde4baf44550b88a1ab7c5dc914e142421e06a2c40',
    ),
  },
  {
    name: 'bzip2-corrupt',
    label: 'suspicious',
    why: 'bzip2 data whose block CRC does not match',
    rule: 'format.corrupt-compression',
    bytes: (() => {
      const b = hex(
        '425a68393141592653597bf3d9a6000005d5c004800001000802004c024004200022003108069a684b00240c82bc5dc914e14241efcf6698',
      )
      b[12] = (b[12] ?? 0) ^ 0x10
      return b
    })(),
  },
  {
    name: 'benign-bzip2-record',
    label: 'benign',
    why: "Python's bz2.compress of a plain dict pickle",
    bytes: hex(
      '425a68393141592653597bf3d9a6000005d5c004800001000802004c024004200022003108069a684b00240c82bc5dc914e14241efcf6698',
    ),
  },
  // ---- ML layouts
  {
    name: 'joblib-object-array-payload',
    label: 'malicious',
    why: 'a joblib object array is a nested pickle, here with a payload',
    rule: 'pickle.dangerous-global',
    bytes: joblibArray('O', osSystem(4), 1),
  },
  {
    name: 'CVE-2019-6446-npy-object-v1',
    label: 'malicious',
    why: '.npy with object dtype: np.load(allow_pickle=True) unpickles the body',
    rule: 'pickle.dangerous-global',
    bytes: npy("'|O'", '(2,)', osSystem(2)),
  },
  {
    name: 'npy-v3-structured-object-field',
    label: 'malicious',
    why: '.npy version 3 with an object field inside a structured dtype',
    rule: 'pickle.dangerous-global',
    bytes: npy("[('name', '<U4'), ('obj', '|O')]", '(1,)', osSystem(2), 3),
  },
  {
    name: 'CVE-2024-3660-keras-lambda',
    label: 'malicious',
    why: 'a Keras 3 archive with a Lambda layer (arbitrary code with safe_mode off)',
    rule: 'keras.lambda',
    bytes: kerasArchive(lambdaConfig),
  },
  {
    name: 'CVE-2025-1550-keras-module-outside-keras',
    label: 'malicious',
    why: 'config.json importing a function from a module outside keras (safe_mode bypass)',
    rule: 'keras.dangerous-module',
    bytes: kerasArchive(
      JSON.stringify({
        module: 'keras',
        class_name: 'Sequential',
        config: { layers: [{ module: 'subprocess', class_name: 'Popen', config: {} }] },
      }),
    ),
  },
  {
    name: 'CVE-2025-9906-keras-enable-unsafe-deserialization',
    label: 'malicious',
    why: 'config.json that turns safe mode off (keras.config.enable_unsafe_deserialization) before a Lambda',
    rule: 'keras.unsafe-deserialization',
    bytes: kerasArchive(
      JSON.stringify({
        module: 'keras.config',
        class_name: 'function',
        config: 'enable_unsafe_deserialization',
      }),
    ),
  },
  {
    name: 'keras-foreign-module',
    label: 'suspicious',
    why: 'a custom layer from a module outside keras and tensorflow',
    rule: 'keras.foreign-module',
    bytes: kerasArchive(
      JSON.stringify({ module: 'mylayers', class_name: 'Attention', config: {} }),
    ),
  },
  {
    name: 'keras-h5-lambda',
    label: 'malicious',
    why: 'legacy HDF5 with a Lambda layer in model_config',
    rule: 'keras.lambda',
    bytes: hdf5With(lambdaConfig),
  },
  {
    name: 'CVE-2024-34359-gguf-template-injection',
    label: 'malicious',
    why: 'a GGUF chat template that escapes the Jinja sandbox (llama-cpp-python CVE-2024-34359)',
    rule: 'gguf.template-injection',
    bytes: gguf({ 'tokenizer.chat_template': "{{ ''.__class__.__mro__[1].__subclasses__() }}" }),
  },
  {
    name: 'gguf-unknown-version',
    label: 'suspicious',
    why: 'a GGUF version the scanner does not know',
    rule: 'gguf.invalid',
    bytes: gguf({}, 99),
  },
  {
    name: 'safetensors-out-of-bounds',
    label: 'suspicious',
    why: 'data_offsets past the end of the data',
    rule: 'safetensors.invalid',
    bytes: safetensors({ w: { dtype: 'F32', shape: [4], data_offsets: [0, 16] } }, f32(2)),
  },
  {
    name: 'safetensors-overlap',
    label: 'suspicious',
    why: 'two tensors share bytes',
    rule: 'safetensors.invalid',
    bytes: safetensors(
      {
        a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] },
        b: { dtype: 'F32', shape: [2], data_offsets: [4, 12] },
      },
      f32(3),
    ),
  },
  {
    name: 'safetensors-trailing-data',
    label: 'suspicious',
    why: 'bytes after the last tensor (room for a hidden payload)',
    rule: 'safetensors.invalid',
    bytes: safetensors(
      { a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] } },
      concat(f32(2), osSystem(2)),
    ),
  },
  {
    name: 'safetensors-shape-mismatch',
    label: 'suspicious',
    why: 'shape × dtype differs from the span',
    rule: 'safetensors.invalid',
    bytes: safetensors({ a: { dtype: 'F64', shape: [2], data_offsets: [0, 8] } }, f32(2)),
  },
  {
    name: 'safetensors-unknown-dtype',
    label: 'suspicious',
    why: 'a dtype the format does not define',
    rule: 'safetensors.invalid',
    bytes: safetensors({ a: { dtype: 'PY_OBJECT', shape: [1], data_offsets: [0, 4] } }, f32(1)),
  },
  {
    name: 'unknown-binary-format',
    label: 'suspicious',
    why: 'bytes of no known model format',
    rule: 'format.unknown',
    bytes: Uint8Array.of(0xde, 0xad, 0xbe, 0xef, 0x00, 0x01, 0x02, 0xff, 0xfe, 0x00),
  },
  {
    name: 'empty-file',
    label: 'suspicious',
    why: 'an empty file is not a model',
    rule: 'format.empty',
    bytes: new Uint8Array(0),
  },
  // ---- benign files built to trip naive scanners
  {
    name: 'benign-strings-that-look-like-code',
    label: 'benign',
    why: 'a dict of strings such as "os.system", "eval(" and "__reduce__": data, not imports',
    bytes: p()
      .proto(4)
      .emptyDict()
      .mark()
      .str('note')
      .str('never call os.system or eval( here')
      .str('__reduce__')
      .str('subprocess.Popen')
      .str('cos\nsystem\n')
      .bytes(text('cos\nsystem\n'))
      .setitems()
      .stop()
      .done(),
  },
  {
    name: 'benign-float-list-p2',
    label: 'benign',
    why: 'a list of floats, protocol 2',
    bytes: (() => {
      const b = p().proto(2).emptyList().binput(0).mark()
      for (let i = 0; i < 1000; i++) b.float(Math.sin(i))
      return b.appends().stop().done()
    })(),
  },
  {
    name: 'benign-torch-zip-state-dict',
    label: 'benign',
    why: 'torch.save zip: OrderedDict, _rebuild_tensor_v2, FloatStorage; raw tensor bytes contain text a grep would flag',
    bytes: torchZip(stateDict()),
  },
  {
    name: 'benign-torch-zip-deflated',
    label: 'benign',
    why: 'the same, DEFLATE-compressed',
    bytes: zip([
      { name: 'archive/data.pkl', data: stateDict(), deflate: true },
      { name: 'archive/data/0', data: trickyTensor, deflate: true },
      { name: 'archive/version', data: text('3\n') },
    ]),
  },
  {
    name: 'benign-legacy-torch',
    label: 'benign',
    why: 'legacy torch stream: five pickles, then raw storage bytes that are not a pickle',
    bytes: concat(
      p()
        .proto(2)
        .raw(0x8a, 10, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19)
        .stop()
        .done(),
      p().proto(2).raw(0x8a, 2, 0xe9, 0x03).stop().done(),
      p().proto(2).emptyDict().mark().str('little_endian').raw(0x88).setitems().stop().done(),
      stateDict(),
      p().proto(2).mark().str('0').raw('l').stop().done(),
      trickyTensor,
    ),
  },
  {
    name: 'benign-joblib-array-with-padding',
    label: 'benign',
    why: 'joblib NumpyArrayWrapper, alignment padding, raw float64 bytes that hold opcode-like bytes, then the pickle resumes',
    bytes: joblibArray('f8', concat(text('cos\nsys'), new Uint8Array(25)), 4),
  },
  {
    name: 'benign-sklearn-style-classes',
    label: 'benign',
    why: 'estimator classes rebuilt with NEWOBJ and BUILD (allowed by default, suspicious with --strict)',
    bytes: p()
      .proto(4)
      .sg('sklearn.linear_model._logistic', 'LogisticRegression')
      .tuple(0)
      .newobj()
      .emptyDict()
      .mark()
      .str('C')
      .float(1)
      .str('_sklearn_version')
      .str('1.5.0')
      .setitems()
      .build()
      .stop()
      .done(),
  },
  {
    name: 'benign-numpy-reconstruct',
    label: 'benign',
    why: 'numpy.core.multiarray._reconstruct with ndarray, dtype and latin1 bytes via _codecs.encode',
    bytes: ndarray(p().proto(2))
      .mark()
      .int(1)
      .int(2)
      .tuple(1)
      .global('numpy', 'dtype')
      .str('f8')
      .raw(0x89, 0x88)
      .tuple(3)
      .reduce()
      .raw(0x89)
      .global('_codecs', 'encode')
      .str('\u0000\u0000')
      .str('latin1')
      .tuple(2)
      .reduce()
      .tuple()
      .build()
      .stop()
      .done(),
  },
  {
    name: 'benign-builtins-data-types',
    label: 'benign',
    why: 'set, frozenset, complex, bytearray, datetime, OrderedDict',
    bytes: p()
      .proto(2)
      .mark()
      .global('builtins', 'set')
      .emptyList()
      .tuple(1)
      .reduce()
      .global('builtins', 'complex')
      .float(1)
      .float(2)
      .tuple(2)
      .reduce()
      .global('datetime', 'timedelta')
      .int(1)
      .tuple(1)
      .reduce()
      .global('collections', 'OrderedDict')
      .tuple(0)
      .reduce()
      .tuple()
      .stop()
      .done(),
  },
  {
    name: 'benign-npy-float64',
    label: 'benign',
    why: 'plain .npy array',
    bytes: npy("'<f8'", '(4,)', new Uint8Array(32)),
  },
  {
    name: 'benign-npy-field-named-O',
    label: 'benign',
    why: "a structured dtype with a field named 'O' is not an object dtype",
    bytes: npy("[('O', '<f8'), ('b', '<i4')]", '(1,)', new Uint8Array(12)),
  },
  {
    name: 'benign-safetensors-with-metadata',
    label: 'benign',
    why: 'two tensors, metadata, exact coverage',
    bytes: safetensors(
      {
        __metadata__: { format: 'pt' },
        a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] },
        b: { dtype: 'U8', shape: [0], data_offsets: [8, 8] },
      },
      f32(2),
    ),
  },
  {
    name: 'benign-keras-activation-reference',
    label: 'benign',
    why: 'a function reference inside keras.activations',
    bytes: kerasArchive(denseConfig),
  },
  {
    name: 'benign-keras-h5-dense',
    label: 'benign',
    why: 'legacy HDF5 with a plain model_config',
    bytes: hdf5With(denseConfig),
  },
  {
    name: 'benign-gguf',
    label: 'benign',
    why: 'GGUF with an ordinary chat template',
    bytes: gguf({
      'general.name': 'tiny',
      'tokenizer.chat_template': '{% for m in messages %}{{ m.content }}{% endfor %}',
    }),
  },
  {
    name: 'benign-mlflow-bundle',
    label: 'benign',
    why: 'a zip with a YAML MLmodel, conda.yaml and a pickled estimator',
    bytes: zip([
      {
        name: 'MLmodel',
        data: text('flavors:\n  sklearn:\n    pickled_model: model.pkl\n'),
        deflate: true,
      },
      { name: 'conda.yaml', data: text('dependencies:\n- scikit-learn\n'), deflate: true },
      {
        name: 'model.pkl',
        data: p()
          .proto(4)
          .sg('sklearn.tree._classes', 'DecisionTreeClassifier')
          .tuple(0)
          .newobj()
          .emptyDict()
          .build()
          .stop()
          .done(),
        deflate: true,
      },
    ]),
  },
  {
    name: 'benign-stacked-records',
    label: 'benign',
    why: 'several benign pickles in one stream',
    bytes: concat(
      ...[1, 2, 3].map((i) => p().proto(4).emptyDict().str('step').int(i).setitem().stop().done()),
    ),
  },
  // ---- the second review's allow-list gadgets (issue 9, item 16)
  ...GADGETS,
]
