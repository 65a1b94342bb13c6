/**
 * The three tiers of globals. Remapping follows Lib/_compat_pickle.py
 * (https://github.com/python/cpython/blob/main/Lib/_compat_pickle.py), which
 * the unpickler applies below protocol 3.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { classify, remap } from './rules.ts'

const tier = (m: string, n: string, proto = 4, strict = false) => classify(m, n, proto, strict).tier

describe('scan rules', () => {
  it('remaps Python 2 spellings only below protocol 3', () => {
    assert.deepEqual(remap('__builtin__', 'eval', 2), ['builtins', 'eval'])
    assert.deepEqual(remap('commands', 'getoutput', 2), ['subprocess', 'getoutput'])
    assert.deepEqual(remap('copy_reg', '_reconstructor', 0), ['copyreg', '_reconstructor'])
    assert.deepEqual(remap('commands', 'getoutput', 3), ['commands', 'getoutput'])
  })

  it('allows the globals that rebuild tensors, arrays and plain data', () => {
    for (const [m, n] of [
      ['torch._utils', '_rebuild_tensor_v2'],
      ['torch', 'BFloat16Storage'],
      ['collections', 'OrderedDict'],
      ['numpy._core.multiarray', '_reconstruct'],
      ['numpy.dtypes', 'Float64DType'],
      ['builtins', 'set'],
      ['_codecs', 'encode'],
      ['copyreg', '_reconstructor'],
      ['joblib.numpy_pickle', 'NumpyArrayWrapper'],
    ])
      assert.equal(tier(m ?? '', n ?? ''), 'safe', `${m}.${n}`)
    assert.equal(tier('__builtin__', 'set', 2), 'safe')
  })

  it('denies what runs code, reaches it through attributes, or loads another artifact', () => {
    for (const [m, n] of [
      ['os', 'system'],
      ['nt', 'system'],
      ['builtins', 'getattr'],
      ['builtins', 'object.__getattribute__'],
      ['logging', 'os.system'],
      ['logging', 'os'],
      ['pip._internal.cli.main', 'main'],
      ['torch.storage', '_load_from_bytes'],
      ['numpy', 'load'],
      ['copyreg', 'add_extension'],
      ['types', 'FunctionType'],
      ['mod', 'x.__globals__'],
    ])
      assert.equal(tier(m ?? '', n ?? ''), 'dangerous', `${m}.${n}`)
    assert.equal(tier('commands', 'getoutput', 2), 'dangerous')
    assert.equal(tier('os system', 'x'), 'dangerous', 'not an identifier')
  })

  it('leaves everything else suspicious, and --strict narrows the allow-list to data', () => {
    assert.equal(tier('mycompany.models', 'Net'), 'unknown')
    assert.equal(tier('builtins', 'print'), 'dangerous')
    assert.equal(tier('sklearn.linear_model._logistic', 'LogisticRegression'), 'safe')
    assert.equal(tier('sklearn.linear_model._logistic', 'LogisticRegression', 4, true), 'unknown')
    assert.equal(tier('sklearn.utils', 'load_function'), 'unknown', 'functions are not classes')
  })
})
