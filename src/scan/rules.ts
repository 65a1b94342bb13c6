/**
 * What a global imported by a pickle may do when it is loaded, in three
 * tiers, allow-list first:
 *
 *  - `safe`: it only rebuilds data (tensor rebuilds, numpy reconstruction,
 *    OrderedDict, plain builtins types, known-harmless classes);
 *  - `dangerous`: it runs commands, evaluates code, imports or looks up
 *    attributes by name, opens files or sockets, or loads another pickle;
 *  - `unknown`: anything else, which a careful loader refuses, so it is
 *    suspicious.
 *
 * The deny-list names modules and callables from published pickle attacks
 * and scanner bypasses (picklescan, modelscan and fickling advisories,
 * CVE-2025-1716 pip.main, CVE-2025-10157 submodules of denied packages,
 * CVE-2025-1945 zip flag bits, JFrog and Sonatype write-ups). It is a
 * backstop: the verdict never depends on it alone, because whatever is not
 * allow-listed is already suspicious.
 */

import { createHash } from 'node:crypto'
import { CONTAINERS, CORE, LIBRARY, SAFE_BUILTINS } from './allow-list.ts'
import { LATIN1, MAX_ALLOC, MAX_DIGITS, MAX_STORAGE_BYTES } from './calls.ts'

export type Tier = 'safe' | 'dangerous' | 'unknown'

/** Bump when the scanner's logic (not only these lists) changes what it decides. */
const SCANNER_REVISION = 2

export interface Classification {
  readonly tier: Tier
  /** The (module, name) the rule matched after remapping, for the report. */
  readonly global: string
  readonly reason: string
}

/**
 * Python 2 spellings that the unpickler rewrites below protocol 3
 * (`fix_imports`, Lib/_compat_pickle.py): whole modules, then single names.
 */
const PY2_MODULES: Readonly<Record<string, string>> = {
  __builtin__: 'builtins',
  copy_reg: 'copyreg',
  Queue: 'queue',
  SocketServer: 'socketserver',
  ConfigParser: 'configparser',
  repr: 'reprlib',
  cPickle: 'pickle',
  cStringIO: 'io',
  StringIO: 'io',
  UserDict: 'collections',
  UserList: 'collections',
  UserString: 'collections',
  thread: '_thread',
  dummy_thread: '_dummy_thread',
  httplib: 'http.client',
  urllib2: 'urllib.request',
  urlparse: 'urllib.parse',
  cookielib: 'http.cookiejar',
  BaseHTTPServer: 'http.server',
  SimpleHTTPServer: 'http.server',
  CGIHTTPServer: 'http.server',
  SimpleXMLRPCServer: 'xmlrpc.server',
  DocXMLRPCServer: 'xmlrpc.server',
  xmlrpclib: 'xmlrpc.client',
  commands: 'subprocess',
  exceptions: 'builtins',
  itertools: 'itertools',
  anydbm: 'dbm',
  whichdb: 'dbm',
  dbhash: 'dbm.bsd',
  dumbdbm: 'dbm.dumb',
  gdbm: 'dbm.gnu',
  dbm: 'dbm.ndbm',
  Tkinter: 'tkinter',
  __main__: '__main__',
}

const PY2_NAMES: Readonly<Record<string, readonly [string, string]>> = {
  '__builtin__ xrange': ['builtins', 'range'],
  '__builtin__ reduce': ['functools', 'reduce'],
  '__builtin__ intern': ['sys', 'intern'],
  '__builtin__ unichr': ['builtins', 'chr'],
  '__builtin__ unicode': ['builtins', 'str'],
  '__builtin__ long': ['builtins', 'int'],
  '__builtin__ basestring': ['builtins', 'str'],
  '__builtin__ raw_input': ['builtins', 'input'],
  '__builtin__ execfile': ['builtins', 'exec'],
  'itertools izip': ['builtins', 'zip'],
  'itertools imap': ['builtins', 'map'],
  'itertools ifilter': ['builtins', 'filter'],
  'UserDict IterableUserDict': ['collections', 'UserDict'],
  'os getcwdu': ['os', 'getcwd'],
  'commands getoutput': ['subprocess', 'getoutput'],
  'commands getstatusoutput': ['subprocess', 'getstatusoutput'],
  'copy_reg _reconstructor': ['copyreg', '_reconstructor'],
  'whichdb whichdb': ['dbm', 'whichdb'],
}

/** (module, name) as the unpickler resolves it at `protocol`. */
export function remap(module: string, name: string, protocol: number): [string, string] {
  if (protocol >= 3) return [module, name]
  const exact = PY2_NAMES[`${module} ${name}`]
  if (exact !== undefined) return [exact[0], exact[1]]
  return [PY2_MODULES[module] ?? module, name]
}

/** Modules whose every name is dangerous, and their submodules. */
const DANGEROUS_MODULES = new Set([
  'os',
  'posix',
  'nt',
  'posixpath',
  'ntpath',
  'subprocess',
  'sys',
  'pty',
  'shutil',
  'socket',
  '_socket',
  'socketserver',
  'ssl',
  'asyncio',
  'multiprocessing',
  'concurrent',
  'threading',
  '_thread',
  'signal',
  'ctypes',
  '_ctypes',
  'cffi',
  'importlib',
  'imp',
  'pkgutil',
  'zipimport',
  'runpy',
  'code',
  'codeop',
  'compileall',
  'py_compile',
  'marshal',
  'types',
  'inspect',
  'gc',
  'pickle',
  '_pickle',
  'pickletools',
  'shelve',
  'dill',
  'cloudpickle',
  'joblib',
  'pdb',
  'bdb',
  'pydoc',
  'timeit',
  'trace',
  'profile',
  'cProfile',
  'doctest',
  'webbrowser',
  'http',
  'urllib',
  'urllib3',
  'requests',
  'httpx',
  'aiohttp',
  'ftplib',
  'smtplib',
  'poplib',
  'imaplib',
  'telnetlib',
  'xmlrpc',
  'mailcap',
  'platform',
  'pip',
  'setuptools',
  'distutils',
  'ensurepip',
  'venv',
  'site',
  'sitecustomize',
  'tempfile',
  'glob',
  'fileinput',
  'io',
  '_io',
  'zipfile',
  'tarfile',
  'sqlite3',
  'dbm',
  'operator',
  '_operator',
  'functools',
  'copyreg',
  'copy_reg',
  'builtins',
  '__builtin__',
  '__builtins__',
  'numpy.testing',
  'numpy.distutils',
  'numpy.f2py',
  'torch.hub',
  'torch.utils.cpp_extension',
  'torch.jit',
  'torch.package',
  'torch.serialization',
  'torch.storage',
  'torch._inductor',
  'torch.distributed',
  'logging.config',
  'code',
  'tkinter',
  'IPython',
  'keras.utils.generic_utils',
  'tensorflow.io',
  'tf.io',
  'pandas.io',
  'sklearn.utils._testing',
])

/** Modules that give away the process when reached as an attribute of a harmless module. */
const REACHED_MODULES = new Set([
  'os',
  'posix',
  'nt',
  'subprocess',
  'sys',
  'builtins',
  '__builtins__',
  'socket',
  'shutil',
  'pty',
  'importlib',
  'marshal',
  'pickle',
  'ctypes',
  'runpy',
])

/** Names that load another artifact: critical, and their bytes arguments are scanned too. */
export const NESTED_LOADERS = new Set([
  'pickle.loads',
  'pickle.load',
  '_pickle.loads',
  '_pickle.load',
  'pickle._loads',
  'pickle._load',
  'pickle.Unpickler',
  'dill.loads',
  'dill.load',
  'dill._dill.loads',
  'cloudpickle.loads',
  'cloudpickle.load',
  'joblib.load',
  'joblib.numpy_pickle.load',
  'numpy.load',
  'torch.load',
  'torch.serialization.load',
  'torch.storage._load_from_bytes',
  'pandas.read_pickle',
  'pandas.io.pickle.read_pickle',
  'marshal.loads',
  'keras.models.load_model',
])

/** Wrappers that hand bytes to a loader: their arguments are scanned too. */
export const BYTE_WRAPPERS = new Set(['io.BytesIO', '_io.BytesIO', 'io.BufferedReader'])

/** Individual dangerous callables in otherwise harmless modules. */
const DANGEROUS_NAMES = new Set([
  'numpy.load',
  'numpy.loadtxt',
  'numpy.fromfile',
  'numpy.save',
  'numpy.ctypeslib.load_library',
  'torch.load',
  'torch.save',
  'torch.classes.load_library',
  'torch.ops.load_library',
  'pandas.read_pickle',
  'pandas.read_csv',
  'pandas.eval',
  'pandas.core.computation.eval.eval',
  'keras.models.load_model',
  'tensorflow.keras.models.load_model',
  'numpy.random._pickle.__bit_generator_ctor_bogus',
])

/**
 * Names of dangerous classes and functions that harmless modules import and
 * so re-export (`sklearn.datasets._base.GzipFile` is gzip.GzipFile). Not on
 * the allow-list, such a global is dangerous under any module.
 */
const REEXPORTED = new Set([
  'GzipFile',
  'BZ2File',
  'LZMAFile',
  'ZipFile',
  'TarFile',
  'FileIO',
  'BytesIO',
  'StringIO',
  'BufferedReader',
  'BufferedWriter',
  'TextIOWrapper',
  'Popen',
  'system',
  'popen',
  'check_output',
  'check_call',
  'getoutput',
  'getstatusoutput',
  'MethodType',
  'FunctionType',
  'CodeType',
  'LambdaType',
  'ModuleType',
  'Parallel',
  'Memory',
  'Mock',
  'MagicMock',
  'NonCallableMock',
  'AsyncMock',
  'NamedTemporaryFile',
  'TemporaryFile',
  'SpooledTemporaryFile',
  'TemporaryDirectory',
  'mkstemp',
  'mkdtemp',
  'mktemp',
  'urlopen',
  'urlretrieve',
  'rmtree',
  'copyfile',
  'import_module',
  'attrgetter',
  'methodcaller',
  'partial',
  'create_connection',
  'create_server',
  'RabitTracker',
  'load_library',
  'loadtxt',
  'fromfile',
  'memmap',
])

/** A package's tests, never part of a model. */
const TEST_MODULE = /^(tests?|testing|_testing|conftest|test_\w+|\w+_tests?)$/

function underDangerous(module: string): string | undefined {
  let m = module
  for (;;) {
    if (DANGEROUS_MODULES.has(m)) return m
    const dot = m.lastIndexOf('.')
    if (dot < 0) return undefined
    m = m.slice(0, dot)
  }
}

/** Exact pairs only: no prefix, no pattern, no re-export (allow-list.ts). */
function isSafe(module: string, name: string, strict = false): boolean {
  if (module === 'builtins') return SAFE_BUILTINS.has(name)
  if (CORE[module]?.includes(name) === true) return true
  return !strict && LIBRARY[module]?.includes(name) === true
}

const IDENT = /^[A-Za-z_][A-Za-z0-9_]*$/

/**
 * Classifies what the unpickler would import: below protocol 3 the Python 2
 * spelling is remapped first, as the unpickler does, and only what it
 * resolves to is judged (a remap can turn a harmless-looking Python 2 name
 * into a dangerous one, `commands.getoutput`, or a denied-looking one into a
 * harmless one, `copy_reg._reconstructor`). A dotted name
 * (protocol 4 attribute lookup) is dangerous when any step is a dunder or a
 * dangerous module reached through attributes (`logging` → `os.system`).
 */
export function classify(
  rawModule: string,
  rawName: string,
  protocol: number,
  strict = false,
): Classification {
  const [module, name] = remap(rawModule, rawName, protocol)
  const global = `${module}.${name}`
  const raw = `${rawModule}.${rawName}`
  const shown = global === raw ? global : `${raw} (→ ${global})`
  const parts = name.split('.')
  if (!module.split('.').every((p) => IDENT.test(p)) || !parts.every((p) => IDENT.test(p)))
    return {
      tier: 'dangerous',
      global: shown,
      reason: 'the import names no valid Python identifier',
    }
  if (parts.some((p) => p.startsWith('__') && p.endsWith('__') && p !== '__init__'))
    return {
      tier: 'dangerous',
      global: shown,
      reason: 'reaches a dunder attribute, which gives access to code and globals',
    }
  // Only the remapped spelling is matched: below protocol 3 Python imports it and never the
  // raw one, so `copy_reg._reconstructor` is `copyreg._reconstructor` (argparse.Namespace at
  // protocol 0), while `commands.getoutput` is `subprocess.getoutput`.
  {
    const [m, n] = [module, name]
    const full = `${m}.${n}`
    if (NESTED_LOADERS.has(full))
      return { tier: 'dangerous', global: shown, reason: 'loads another serialized object' }
    if (DANGEROUS_NAMES.has(full))
      return { tier: 'dangerous', global: shown, reason: 'reads or writes files or code' }
    if (m === 'builtins' || m === '__builtin__' || m === '__builtins__') {
      if (!SAFE_BUILTINS.has(n.split('.')[0] ?? ''))
        return {
          tier: 'dangerous',
          global: shown,
          reason: `builtins.${n} can run code or reach it`,
        }
    } else {
      const hit = underDangerous(m)
      if (hit !== undefined && !isSafe(m, n, strict))
        return {
          tier: 'dangerous',
          global: shown,
          reason: `${hit} can run commands, code or I/O when called`,
        }
    }
  }
  // A module reached as an attribute of another (`logging.os`, `pandas.io.common.os`).
  if (!isSafe(module, name, strict) && REACHED_MODULES.has(parts[0] ?? ''))
    return {
      tier: 'dangerous',
      global: shown,
      reason: `reaches the ${parts[0] ?? ''} module through attribute lookup`,
    }
  // Attribute paths: every module reached along a dotted name is checked as if imported.
  if (parts.length > 1) {
    for (let i = 1; i < parts.length; i++) {
      const viaModule = [module, ...parts.slice(0, i)].join('.')
      const hit = underDangerous(viaModule) ?? underDangerous(parts.slice(0, i).join('.'))
      if (hit !== undefined)
        return {
          tier: 'dangerous',
          global: shown,
          reason: `reaches ${hit} through attribute lookup (${name})`,
        }
    }
    if (!isSafe(module, name, strict))
      return {
        tier: 'unknown',
        global: shown,
        reason: 'a dotted attribute path that is not allow-listed',
      }
  }
  if (module.split('.').some((m) => TEST_MODULE.test(m)))
    return {
      tier: 'dangerous',
      global: shown,
      reason: `${module} is a test module: test helpers write temporary files, patch code and run commands`,
    }
  if (isSafe(module, name, strict))
    return { tier: 'safe', global: shown, reason: 'rebuilds data only' }
  const last = parts[parts.length - 1] ?? ''
  if (REEXPORTED.has(last))
    return {
      tier: 'dangerous',
      global: shown,
      reason: `${last} is the name of a callable that opens files, runs code or calls what it is given (gzip.GzipFile, types.MethodType, …): reached through a module that imports it, it is that callable`,
    }
  return {
    tier: 'unknown',
    global: shown,
    reason: 'not on the allow-list of globals that only rebuild data',
  }
}

/**
 * The version of these rules: a digest of every list above. Verdicts record
 * it, so `strongroom rescan` redoes exactly the ones older rules decided.
 */
export const RULES_VERSION = createHash('sha256')
  .update(
    JSON.stringify([
      PY2_MODULES,
      PY2_NAMES,
      [...DANGEROUS_MODULES],
      [...REACHED_MODULES],
      [...NESTED_LOADERS],
      [...BYTE_WRAPPERS],
      [...DANGEROUS_NAMES],
      [...REEXPORTED],
      TEST_MODULE.source,
      [...SAFE_BUILTINS],
      CORE,
      LIBRARY,
      CONTAINERS,
      [...LATIN1, MAX_ALLOC, MAX_DIGITS, MAX_STORAGE_BYTES],
      SCANNER_REVISION,
    ]),
  )
  .digest('hex')
  .slice(0, 12)
