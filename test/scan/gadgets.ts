/**
 * Gadgets from the second scanner review (issue 9, item 16): pickles that
 * reference allow-listed or allow-listed-looking globals with harmful
 * arguments, and the benign files the fixes must keep clean. Each case names
 * the attack it stands for (`attack`), which is also the name of its
 * regression test in test/security/scanner-allow-list.test.ts.
 */
import { concat, ndarray, p, text, zip, type P } from './builders.ts'
import type { Case } from './corpus.ts'

export interface Gadget extends Case {
  /** The attack, as the regression test is named. */
  readonly attack: string
}

/** `module.name(*args)` where each arg is a string. */
const call = (module: string, name: string, ...args: string[]) => {
  const b = p().proto(2).global(module, name).mark()
  for (const a of args) b.str(a)
  return b.tuple().reduce()
}

/** A tensor rebuilt by _rebuild_tensor_v2 with `hooks` pushing its backward_hooks argument. */
function tensor(b: P, hooks: (b: P) => P): P {
  b.global('torch._utils', '_rebuild_tensor_v2')
    .mark()
    .mark()
    .str('storage')
    .global('torch', 'FloatStorage')
    .str('0')
    .str('cpu')
    .int(4)
    .tuple()
    .raw('Q')
    .int(0)
    .int(4)
    .tuple(1)
    .int(1)
    .tuple(1)
    .raw(0x89)
  return hooks(b).tuple().reduce()
}

/** A zip with the zip64 end record and locator torch's writer puts before the end record. */
function withZip64End(z: Uint8Array): Uint8Array {
  const eocd = z.length - 22
  const v = new DataView(z.buffer, z.byteOffset)
  const count = v.getUint16(eocd + 10, true)
  const rec = new Uint8Array(76)
  const r = new DataView(rec.buffer)
  r.setUint32(0, 0x06064b50, true)
  r.setBigUint64(4, 44n, true)
  r.setUint16(12, 45, true)
  r.setUint16(14, 45, true)
  r.setBigUint64(24, BigInt(count), true)
  r.setBigUint64(32, BigInt(count), true)
  r.setBigUint64(40, BigInt(v.getUint32(eocd + 12, true)), true)
  r.setBigUint64(48, BigInt(v.getUint32(eocd + 16, true)), true)
  r.setUint32(56, 0x07064b50, true)
  r.setBigUint64(64, BigInt(eocd), true)
  r.setUint32(72, 1, true)
  return concat(z.subarray(0, eocd), rec, z.subarray(eocd))
}

const big = (b: P) => b.raw(0x8a, 6, 0, 0, 0, 0, 0, 1) // LONG1: 2**40

export const GADGETS: readonly Gadget[] = [
  {
    name: 'gadget-sklearn-reexport-gzip-gzipfile',
    label: 'malicious',
    rule: 'pickle.dangerous-global',
    attack: 'gzip.GzipFile re-exported by a sklearn module is malicious',
    why: 'sklearn.datasets._base.GzipFile is gzip.GzipFile: opened for writing it truncates any file and writes a chosen header line',
    bytes: call('sklearn.datasets._base', 'GzipFile', '/home/u/.bashrc', 'wb').stop().done(),
  },
  {
    name: 'gadget-sklearn-test-module-bz2file',
    label: 'malicious',
    rule: 'pickle.dangerous-global',
    attack: 'bz2.BZ2File reached through a sklearn test module is malicious',
    why: 'test modules import file helpers; a test module is never part of a model',
    bytes: call('sklearn.datasets.tests.test_svmlight_format', 'BZ2File', '/tmp/x', 'wb')
      .stop()
      .done(),
  },
  {
    name: 'gadget-sklearn-test-module-tempfile',
    label: 'malicious',
    rule: 'pickle.dangerous-global',
    attack: 'a tempfile helper reached through a sklearn test module is malicious',
    why: 'NamedTemporaryFile through sklearn.utils.tests creates files where the attacker says',
    bytes: call('sklearn.utils.tests.test_validation', 'NamedTemporaryFile').stop().done(),
  },
  {
    name: 'gadget-reexport-types-methodtype',
    label: 'malicious',
    rule: 'pickle.dangerous-global',
    attack: 'types.MethodType re-exported by a library module is malicious',
    why: 'MethodType binds any function to any object: the first step of a call chain',
    bytes: call('sklearn.utils.fixes', 'MethodType').stop().done(),
  },
  {
    name: 'gadget-reexport-joblib-parallel',
    label: 'malicious',
    rule: 'pickle.dangerous-global',
    attack: 'joblib.Parallel re-exported by a sklearn module is malicious',
    why: 'Parallel runs the callables it is given in worker processes',
    bytes: call('sklearn.utils.parallel', 'Parallel').stop().done(),
  },
  {
    name: 'gadget-reexport-io-bytesio',
    label: 'malicious',
    rule: 'pickle.dangerous-global',
    attack: 'io.BytesIO re-exported by a scipy module is malicious',
    why: 'BytesIO feeds bytes to nested loaders',
    bytes: call('scipy.sparse._matrix_io', 'BytesIO').stop().done(),
  },
  {
    name: 'gadget-reexport-unittest-mock',
    label: 'malicious',
    rule: 'pickle.dangerous-global',
    attack: 'unittest.mock.Mock re-exported by a library module is malicious',
    why: 'a Mock answers any attribute and call: the base of attribute-chain gadgets',
    bytes: call('transformers.testing_utils', 'Mock').stop().done(),
  },
  {
    name: 'gadget-transformers-automodel-remote-code',
    label: 'suspicious',
    rule: 'pickle.unknown-global',
    attack:
      'a transformers model built from an attacker repository with trust_remote_code is not clean',
    why: 'AutoModel.from_pretrained runs the repository code: transformers classes are not allow-listed',
    bytes: p()
      .proto(4)
      .sg('transformers.models.auto.modeling_auto', 'AutoModel')
      .str('attacker/backbone')
      .tuple(1)
      .emptyDict()
      .str('trust_remote_code')
      .raw(0x88)
      .setitem()
      .raw(0x92)
      .stop()
      .done(),
  },
  {
    name: 'gadget-transformers-tokenizer-setstate',
    label: 'suspicious',
    rule: 'pickle.unknown-global',
    attack: 'a tokenizer whose __setstate__ opens an attacker path is not clean',
    why: 'tokenizers load vocabulary files named in their state',
    bytes: p()
      .proto(2)
      .global('transformers.models.bert.tokenization_bert', 'BertTokenizer')
      .tuple(0)
      .newobj()
      .emptyDict()
      .str('vocab_file')
      .str('/etc/shadow')
      .setitem()
      .build()
      .stop()
      .done(),
  },
  {
    name: 'gadget-xgboost-booster-model-file',
    label: 'suspicious',
    rule: 'pickle.unknown-global',
    attack: 'an xgboost Booster reading an attacker path is not clean',
    why: 'Booster(model_file=PATH) reads any file',
    bytes: p()
      .proto(2)
      .global('xgboost.core', 'Booster')
      .none()
      .none()
      .str('/etc/passwd')
      .tuple(3)
      .reduce()
      .stop()
      .done(),
  },
  {
    name: 'gadget-lightgbm-dataset-and-params',
    label: 'suspicious',
    rule: 'pickle.unknown-global',
    attack: 'a LightGBM Dataset with params that connect out is not clean',
    why: 'Dataset reads any path; the machines parameter opens network connections',
    bytes: p()
      .proto(2)
      .global('lightgbm.basic', 'Dataset')
      .str('/etc/passwd')
      .emptyDict()
      .str('machines')
      .str('203.0.113.7:12400')
      .setitem()
      .tuple(2)
      .reduce()
      .stop()
      .done(),
  },
  {
    name: 'gadget-xgboost-tracker-socket',
    label: 'malicious',
    rule: 'pickle.dangerous-global',
    attack: 'an xgboost tracker that opens a listening socket is malicious',
    why: 'RabitTracker binds a socket in its constructor',
    bytes: call('xgboost.tracker', 'RabitTracker', '0.0.0.0').stop().done(),
  },
  {
    name: 'gadget-numpy-bit-generator-ctor-computed',
    label: 'malicious',
    rule: 'pickle.unexpected-arguments',
    attack: 'numpy __bit_generator_ctor given a computed class is malicious',
    why: '__bit_generator_ctor calls whatever type it is given',
    bytes: p()
      .proto(2)
      .global('numpy.random._pickle', '__bit_generator_ctor')
      .global('collections', 'OrderedDict')
      .tuple(0)
      .reduce()
      .tuple(1)
      .reduce()
      .stop()
      .done(),
  },
  {
    name: 'gadget-numpy-generator-ctor-callable',
    label: 'malicious',
    rule: 'pickle.unexpected-arguments',
    attack: 'numpy __generator_ctor given another callable launders a call and is malicious',
    why: '__generator_ctor(name, ctor) calls ctor(name): any allow-listed callable becomes a call with a chosen argument',
    bytes: p()
      .proto(2)
      .global('numpy.random._pickle', '__generator_ctor')
      .str('/etc/passwd')
      .global('pathlib', 'Path')
      .tuple(2)
      .reduce()
      .stop()
      .done(),
  },
  {
    name: 'gadget-defaultdict-computed-factory',
    label: 'malicious',
    rule: 'pickle.computed-callable',
    attack: 'a defaultdict whose default factory is computed while loading is malicious',
    why: 'the factory is called on the first missing key',
    bytes: p()
      .proto(2)
      .global('collections', 'defaultdict')
      .global('collections', 'OrderedDict')
      .tuple(0)
      .reduce()
      .tuple(1)
      .reduce()
      .stop()
      .done(),
  },
  {
    name: 'gadget-inside-ordereddict-items',
    label: 'malicious',
    rule: 'pickle.dangerous-global',
    attack: 'a gadget nested in OrderedDict items is malicious',
    why: 'the GzipFile re-export as the value of a state-dict entry',
    bytes: p()
      .proto(2)
      .global('collections', 'OrderedDict')
      .tuple(0)
      .reduce()
      .mark()
      .str('w')
      .global('sklearn.datasets._base', 'GzipFile')
      .str('/tmp/x')
      .str('wb')
      .tuple(2)
      .reduce()
      .setitems()
      .stop()
      .done(),
  },
  {
    name: 'gadget-inside-object-array',
    label: 'malicious',
    rule: 'pickle.dangerous-global',
    attack: 'a gadget nested in a numpy object array is malicious',
    why: 'an object array holds its items as a pickled list in its state',
    bytes: ndarray(p().proto(2))
      .mark()
      .int(1)
      .int(1)
      .tuple(1)
      .global('numpy', 'dtype')
      .str('O8')
      .raw(0x89, 0x88)
      .tuple(3)
      .reduce()
      .raw(0x89)
      .emptyList()
      .mark()
      .global('sklearn.utils.fixes', 'MethodType')
      .tuple(0)
      .reduce()
      .appends()
      .tuple()
      .build()
      .stop()
      .done(),
  },
  {
    name: 'gadget-tensor-backward-hooks',
    label: 'malicious',
    rule: 'pickle.tensor-hooks',
    attack: 'a tensor with backward hooks is malicious',
    why: 'hooks are callables run when the gradient is computed, whatever they are',
    bytes: tensor(p().proto(2), (b) =>
      b
        .global('collections', 'OrderedDict')
        .tuple(0)
        .reduce()
        .mark()
        .int(0)
        .global('collections', 'Counter')
        .setitems(),
    )
      .stop()
      .done(),
  },
  {
    name: 'gadget-setitems-on-namespace',
    label: 'suspicious',
    rule: 'pickle.container-op-on-object',
    attack: 'SETITEMS on an allow-listed object that is not a dict is not clean',
    why: 'SETITEMS on a non-dict calls its __setitem__, a method call the machine does not model',
    bytes: p()
      .proto(2)
      .global('argparse', 'Namespace')
      .tuple(0)
      .newobj()
      .mark()
      .str('k')
      .str('v')
      .setitems()
      .stop()
      .done(),
  },
  {
    name: 'gadget-appends-on-unknown-object',
    label: 'malicious',
    rule: 'pickle.container-op-on-object',
    attack: 'APPENDS on an object of a class that is not allow-listed is malicious',
    why: 'APPENDS calls its extend/append with the items',
    bytes: p()
      .proto(2)
      .global('mycompany.hooks', 'Runner')
      .tuple(0)
      .newobj()
      .mark()
      .str('rm -rf /')
      .appends()
      .stop()
      .done(),
  },
  {
    name: 'gadget-dos-bytearray-huge',
    label: 'suspicious',
    rule: 'pickle.allocation-limit',
    attack: 'bytearray of 2**40 bytes is a named denial of service, not an allocation',
    why: 'builtins.bytearray(n) allocates n bytes',
    bytes: big(p().proto(2).global('builtins', 'bytearray')).tuple(1).reduce().stop().done(),
  },
  {
    name: 'gadget-dos-storage-huge',
    label: 'suspicious',
    rule: 'pickle.allocation-limit',
    attack: 'a torch storage of 2**40 elements is a named denial of service',
    why: 'calling a storage class with a size allocates it',
    bytes: big(p().proto(2).global('torch', 'FloatStorage')).tuple(1).reduce().stop().done(),
  },
  {
    name: 'gadget-dos-persistent-storage-huge',
    label: 'suspicious',
    rule: 'pickle.allocation-limit',
    attack: 'a torch persistent id claiming a 4 TiB storage is a named denial of service',
    why: 'legacy torch.load allocates the storage before reading it',
    bytes: tensor(p().proto(2), (b) => b.global('collections', 'OrderedDict').tuple(0).reduce())
      .pop()
      .mark()
      .str('storage')
      .global('torch', 'FloatStorage')
      .str('1')
      .str('cpu')
      .raw(0x8a, 6, 0, 0, 0, 0, 0, 1)
      .tuple()
      .raw('Q')
      .stop()
      .done(),
  },
  {
    name: 'gadget-dos-fraction-exponent',
    label: 'suspicious',
    rule: 'pickle.allocation-limit',
    attack: "Fraction('1e999999999') is a named denial of service",
    why: 'Fraction computes 10**exponent from the text',
    bytes: call('fractions', 'Fraction', '1e999999999').stop().done(),
  },
  {
    name: 'gadget-dos-list-of-huge-range',
    label: 'suspicious',
    rule: 'pickle.allocation-limit',
    attack: 'list(range(2**40)) is a named denial of service',
    why: 'range is lazy, list materialises it',
    bytes: big(p().proto(2).global('builtins', 'list').global('builtins', 'range'))
      .tuple(1)
      .reduce()
      .tuple(1)
      .reduce()
      .stop()
      .done(),
  },
  {
    name: 'gadget-dos-reconstruct-shape',
    label: 'suspicious',
    rule: 'pickle.allocation-limit',
    attack: 'numpy _reconstruct with a 2**40-element shape is a named denial of service',
    why: '_reconstruct allocates the shape it is given',
    bytes: big(
      p().proto(2).global('numpy.core.multiarray', '_reconstruct').global('numpy', 'ndarray'),
    )
      .tuple(1)
      .binstring('b')
      .tuple(3)
      .reduce()
      .stop()
      .done(),
  },
  {
    name: 'gadget-copyreg-reconstructor-foreign-base',
    label: 'malicious',
    rule: 'pickle.unexpected-arguments',
    attack:
      'copyreg._reconstructor with a base class other than object calls its __init__ and is malicious',
    why: '_reconstructor calls base.__init__(obj, state)',
    bytes: p()
      .proto(1)
      .global('copy_reg', '_reconstructor')
      .mark()
      .global('argparse', 'Namespace')
      .global('pathlib', 'Path')
      .str('/etc/passwd')
      .tuple()
      .reduce()
      .stop()
      .done(),
  },
  {
    name: 'gadget-pipeline-memory-path',
    label: 'suspicious',
    rule: 'pickle.unexpected-arguments',
    attack: 'a sklearn Pipeline caching into an attacker directory is not clean',
    why: 'Pipeline(memory=PATH) writes its cache there on fit',
    bytes: p()
      .proto(2)
      .global('sklearn.pipeline', 'Pipeline')
      .tuple(0)
      .newobj()
      .emptyDict()
      .mark()
      .str('steps')
      .emptyList()
      .str('memory')
      .str('/home/u/.ssh')
      .setitems()
      .build()
      .stop()
      .done(),
  },
  // Benign files the fixes must keep clean.
  {
    name: 'benign-argparse-namespace-protocol-0',
    label: 'benign',
    attack: 'argparse.Namespace pickled by Python 3 at protocol 0 is clean',
    why: "Python 3's own protocol-0 bytes: copy_reg._reconstructor(argparse.Namespace, __builtin__.object, None)",
    bytes: p()
      .raw(
        'ccopy_reg\n_reconstructor\np0\n(cargparse\nNamespace\np1\nc__builtin__\nobject\np2\nNtp3\nRp4\n',
        '(dp5\nVlr\np6\nF0.1\nsVname\np7\nVx\np8\nsb.',
      )
      .done(),
  },
  {
    name: 'benign-argparse-namespace-protocol-1',
    label: 'benign',
    attack: 'argparse.Namespace pickled by Python 3 at protocol 1 is clean',
    why: 'protocol 1: binary opcodes, still copy_reg and __builtin__ spellings',
    bytes: p()
      .global('copy_reg', '_reconstructor')
      .binput(0)
      .mark()
      .global('argparse', 'Namespace')
      .binput(1)
      .global('__builtin__', 'object')
      .binput(2)
      .none()
      .tuple()
      .binput(3)
      .reduce()
      .binput(4)
      .emptyDict()
      .binput(5)
      .str('lr')
      .float(0.1)
      .setitem()
      .build()
      .stop()
      .done(),
  },
  {
    name: 'benign-numpy-randomstate-literal-name',
    label: 'benign',
    attack: 'a numpy RandomState rebuilt from a literal bit generator name is clean',
    why: "numpy 1.x: __randomstate_ctor('MT19937', __bit_generator_ctor)",
    bytes: p()
      .proto(2)
      .global('numpy.random._pickle', '__randomstate_ctor')
      .str('MT19937')
      .global('numpy.random._pickle', '__bit_generator_ctor')
      .tuple(2)
      .reduce()
      .emptyDict()
      .build()
      .stop()
      .done(),
  },
  {
    name: 'benign-numpy2-generator-bit-generator-class',
    label: 'benign',
    attack: "a numpy 2 Generator rebuilt from numpy's own bit generator class is clean",
    why: 'numpy 2.x: __generator_ctor(__bit_generator_ctor(numpy.random._pcg64.PCG64))',
    bytes: p()
      .proto(2)
      .global('numpy.random._pickle', '__generator_ctor')
      .global('numpy.random._pickle', '__bit_generator_ctor')
      .global('numpy.random._pcg64', 'PCG64')
      .tuple(1)
      .reduce()
      .tuple(1)
      .reduce()
      .stop()
      .done(),
  },
  {
    name: 'benign-sklearn-tree-estimator-defining-module',
    label: 'benign',
    attack: 'a sklearn estimator referenced by its defining module is clean',
    why: 'DecisionTreeClassifier and its Tree, as scikit-learn 1.2 pickles them',
    bytes: p()
      .proto(2)
      .global('sklearn.tree._classes', 'DecisionTreeClassifier')
      .tuple(0)
      .newobj()
      .emptyDict()
      .mark()
      .str('criterion')
      .str('gini')
      .str('tree_')
      .global('sklearn.tree._tree', 'Tree')
      .int(4)
      .global('numpy', 'ndarray') // stands for the n_classes array
      .int(1)
      .tuple(3)
      .reduce()
      .emptyDict()
      .build()
      .setitems()
      .build()
      .stop()
      .done(),
  },
  {
    name: 'benign-pipeline-without-memory',
    label: 'benign',
    attack: 'a sklearn Pipeline without a cache directory is clean',
    why: 'memory=None, the default',
    bytes: p()
      .proto(2)
      .global('sklearn.pipeline', 'Pipeline')
      .tuple(0)
      .newobj()
      .emptyDict()
      .mark()
      .str('steps')
      .emptyList()
      .str('memory')
      .none()
      .setitems()
      .build()
      .stop()
      .done(),
  },
  {
    name: 'benign-torch-zip-with-zip64-end-record',
    label: 'benign',
    attack: "a torch zip with the zip64 end record torch's writer adds is clean, not a polyglot",
    why: 'torch 1.13 writes a zip64 end record and locator before the end record: no bytes precede the first member',
    bytes: withZip64End(
      zip([
        {
          name: 'archive/data.pkl',
          data: tensor(p().proto(2), (b) =>
            b.global('collections', 'OrderedDict').tuple(0).reduce(),
          )
            .stop()
            .done(),
        },
        { name: 'archive/data/0', data: new Uint8Array(16) },
        { name: 'archive/version', data: text('3\n') },
      ]),
    ),
  },
  {
    name: 'benign-tensor-empty-hooks',
    label: 'benign',
    attack: 'a tensor with an empty hooks OrderedDict is clean',
    why: 'what torch.save writes for every tensor',
    bytes: tensor(p().proto(2), (b) => b.global('collections', 'OrderedDict').tuple(0).reduce())
      .stop()
      .done(),
  },
]
