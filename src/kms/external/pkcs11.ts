/**
 * The PKCS#11 provider of ExternalRoot: an AES-256 key on an HSM token wraps with
 * CKM_AES_GCM (a random 96-bit IV, a 128-bit tag, the AAD bound), through the
 * pkcs11js binding (N-API). The key is found by label; made at init when absent, as
 * a token object that is sensitive and never extractable, and an existing key that
 * could be exported is refused. Tested against SoftHSM2 (Debian's softhsm2).
 *
 * Calls are synchronous (a PKCS#11 session runs one operation at a time): a wrap or
 * unwrap happens when a key version is made or first used in a process, not per request.
 *
 * Settings are an RFC 7512 PKCS#11 URI:
 *   pkcs11:token=Strongroom;object=strongroom-root?module-path=/usr/lib/softhsm/libsofthsm2.so
 * with the user PIN from `pin-source=file:/path` or STRONGROOM_PKCS11_PIN
 * (https://www.rfc-editor.org/rfc/rfc7512).
 */
import { createRequire } from 'node:module'
import { randomBytes } from 'node:crypto'
import { isAbsolute } from 'node:path'
import type * as P from 'pkcs11js'
import { StrongroomError } from '../../errors.ts'
import { shownSpec, type ExternalRoot, type ExternalSecrets, type Pkcs11Settings } from './port.ts'

const IV = 12
const TAG = 16

const PATH_ATTRIBUTES = ['token', 'object', 'type']
const QUERY_ATTRIBUTES = ['module-path', 'pin-source']

/** The settings an RFC 7512 URI names, and the PIN file it points at (`pin-source=file:`). */
export function parsePkcs11Uri(uri: string): { settings: Pkcs11Settings; pinFile?: string } {
  const bad = (why: string): never => {
    throw new StrongroomError(
      'CONFIG_INVALID',
      `the key store \`${shownSpec(uri)}\` is not a usable PKCS#11 URI: ${why}; expected pkcs11:token=LABEL;object=KEY-LABEL?module-path=/path/to/module.so`,
    )
  }
  if (!uri.startsWith('pkcs11:') || uri.length > 2048) bad('it must start with `pkcs11:`')
  const rest = uri.slice('pkcs11:'.length)
  const q = rest.indexOf('?')
  const path = q < 0 ? rest : rest.slice(0, q)
  const query = q < 0 ? '' : rest.slice(q + 1)
  const attrs = new Map<string, string>()
  // RFC 7512: token, object and type are path attributes; module-path and pin-source query ones.
  const add = (part: string, where: 'path' | 'query'): void => {
    if (part === '') return
    const eq = part.indexOf('=')
    if (eq <= 0) bad(`\`${shownSpec(part)}\` is not NAME=VALUE`)
    let value = ''
    try {
      value = decodeURIComponent(part.slice(eq + 1))
    } catch {
      bad(`\`${shownSpec(part)}\` is not percent-encoded correctly`)
    }
    const name = part.slice(0, eq)
    if (name === 'pin-value')
      bad(
        'a PIN in the URI would sit in configuration, process lists and shell history: use pin-source=file:/path or STRONGROOM_PKCS11_PIN',
      )
    if (attrs.has(name)) bad(`\`${name}\` is given twice`)
    const place = PATH_ATTRIBUTES.includes(name)
      ? 'path'
      : QUERY_ATTRIBUTES.includes(name)
        ? 'query'
        : bad(
            `\`${name}\` is not an attribute this provider reads (token, object, type in the path; module-path, pin-source in the query)`,
          )
    if (place !== where)
      bad(
        `\`${name}\` belongs in the URI's ${place === 'path' ? 'path (before ?)' : 'query (after ?)'}`,
      )
    // eslint-disable-next-line no-control-regex
    if (/[\u0000-\u001f\u007f]/.test(value)) bad(`\`${name}\` holds a control character`)
    attrs.set(name, value)
  }
  for (const p of path.split(';')) add(p, 'path')
  for (const a of query.split('&')) add(a, 'query')
  if (attrs.has('type') && attrs.get('type') !== 'secret-key') bad('`type` must be secret-key')
  const token = attrs.get('token') ?? ''
  const key = attrs.get('object') ?? ''
  const module = attrs.get('module-path') ?? ''
  if (token === '' || token.length > 32) bad('`token` (1 to 32 characters) is required')
  if (key === '' || key.length > 128) bad('`object` (the key label) is required')
  if (!isAbsolute(module)) bad('`module-path` must be the absolute path of the PKCS#11 module')
  const pin = attrs.get('pin-source')
  if (pin !== undefined && !/^file:\/./.test(pin)) bad('`pin-source` must be file:/absolute/path')
  return {
    settings: { kind: 'pkcs11', module, token, key },
    ...(pin === undefined ? {} : { pinFile: pin.slice('file:'.length) }),
  }
}

/** Opens a session on the token, logs in and finds (or, with `create`, makes) the key. */
export function pkcs11Root(
  settings: Pkcs11Settings,
  secrets: ExternalSecrets,
  options: { create?: boolean } = {},
): ExternalRoot {
  const pin = secrets.pin
  if (pin === undefined || pin === '')
    throw new StrongroomError(
      'ROOT_KEY_MISSING',
      `the PKCS#11 token \`${settings.token}\` needs its user PIN: set STRONGROOM_PKCS11_PIN or add pin-source=file:/path to the key store URI`,
    )
  let lib: typeof P
  try {
    lib = createRequire(import.meta.url)('pkcs11js') as typeof P
  } catch (e) {
    throw new StrongroomError(
      'CONFIG_INVALID',
      'the PKCS#11 provider needs the npm package pkcs11js (an optional dependency that did not build here): install g++, make and python3, then run `npm ci` again',
      { cause: e },
    )
  }
  const where = `key \`${settings.key}\` on PKCS#11 token \`${settings.token}\``
  const fail = (e: unknown, doing: string): never => {
    if (e instanceof StrongroomError) throw e
    const code = (e as { code?: number }).code
    if (code === lib.CKR_PIN_INCORRECT || code === lib.CKR_PIN_LEN_RANGE)
      throw new StrongroomError(
        'ROOT_KEY_MISSING',
        `the token \`${settings.token}\` refused the PIN`,
      )
    if (code === lib.CKR_ENCRYPTED_DATA_INVALID || code === lib.CKR_ENCRYPTED_DATA_LEN_RANGE)
      throw new StrongroomError('ROOT_KEY_WRONG', `the wrapped key does not open under ${where}`)
    throw new StrongroomError('IO', `PKCS#11 failed while ${doing} (${where})`, { cause: e })
  }
  const p11 = loadModule(lib, settings.module)
  let session: Buffer | undefined
  try {
    const slot = p11
      .C_GetSlotList(true)
      .find((s) => p11.C_GetTokenInfo(s).label.trimEnd() === settings.token)
    if (slot === undefined)
      throw new StrongroomError(
        'CONFIG_INVALID',
        `no PKCS#11 token labelled \`${settings.token}\` in \`${shownSpec(settings.module)}\` (softhsm2-util --show-slots lists SoftHSM2's)`,
      )
    session = p11.C_OpenSession(slot, lib.CKF_SERIAL_SESSION | lib.CKF_RW_SESSION)
    try {
      p11.C_Login(session, lib.CKU_USER, pin)
    } catch (e) {
      if ((e as { code?: number }).code !== lib.CKR_USER_ALREADY_LOGGED_IN) fail(e, 'logging in')
    }
    const key = findKey(p11, lib, session, settings, options.create === true, where)
    const s = session
    return {
      kind: 'pkcs11',
      describe: `pkcs11 ${where}`,
      wrap(plaintext, aad) {
        try {
          const iv = randomBytes(IV)
          p11.C_EncryptInit(s, gcm(lib, iv, aad), key)
          const out = p11.C_Encrypt(
            s,
            Buffer.from(plaintext),
            Buffer.alloc(plaintext.byteLength + TAG),
          )
          return Promise.resolve(Buffer.concat([iv, out]))
        } catch (e) {
          return Promise.reject(toError(e, fail, 'wrapping'))
        }
      },
      unwrap(blob, aad) {
        try {
          if (blob.byteLength < IV + TAG)
            throw new StrongroomError(
              'ROOT_KEY_WRONG',
              `the wrapped key is too short to open under ${where}`,
            )
          const b = Buffer.from(blob)
          p11.C_DecryptInit(s, gcm(lib, b.subarray(0, IV), aad), key)
          let out: Buffer
          try {
            out = p11.C_Decrypt(s, b.subarray(IV), Buffer.alloc(b.length))
          } catch (e) {
            // A tag that does not verify: CKR_ENCRYPTED_DATA_INVALID per PKCS#11 3.0;
            // SoftHSM2 answers CKR_GENERAL_ERROR (and some HSMs CKR_FUNCTION_FAILED).
            const code = (e as { code?: number }).code
            if (code === lib.CKR_GENERAL_ERROR || code === lib.CKR_FUNCTION_FAILED)
              throw new StrongroomError(
                'ROOT_KEY_WRONG',
                `the wrapped key does not open under ${where}`,
                { cause: e },
              )
            throw e
          }
          return Promise.resolve(Buffer.from(out))
        } catch (e) {
          return Promise.reject(toError(e, fail, 'unwrapping'))
        }
      },
      close() {
        end(p11, s)
        return Promise.resolve()
      },
    }
  } catch (e) {
    if (session !== undefined) end(p11, session)
    else release(p11)
    return fail(e, 'opening the token')
  }
}

/**
 * A module is loaded and initialised once per process (a second C_Initialize is
 * CKR_CRYPTOKI_ALREADY_INITIALIZED) and finalised when its last session ends.
 */
const modules = new Map<string, { p11: P.PKCS11; users: number }>()

function loadModule(lib: typeof P, path: string): P.PKCS11 {
  const held = modules.get(path)
  if (held !== undefined) {
    held.users++
    return held.p11
  }
  const p11 = new lib.PKCS11()
  try {
    p11.load(path)
  } catch (e) {
    throw new StrongroomError(
      'CONFIG_INVALID',
      `cannot load the PKCS#11 module \`${shownSpec(path)}\` (is the HSM's library installed there?)`,
      { cause: e },
    )
  }
  try {
    p11.C_Initialize()
  } catch (e) {
    p11.close()
    throw new StrongroomError(
      'IO',
      `the PKCS#11 module \`${shownSpec(path)}\` did not initialise`,
      {
        cause: e,
      },
    )
  }
  modules.set(path, { p11, users: 1 })
  return p11
}

function release(p11: P.PKCS11): void {
  for (const [path, held] of modules) {
    if (held.p11 !== p11) continue
    if (--held.users > 0) return
    modules.delete(path)
    try {
      p11.C_Finalize()
    } finally {
      p11.close()
    }
  }
}

/** The StrongroomError `fail` maps `e` to, as a value (for a rejected promise). */
function toError(
  e: unknown,
  fail: (e: unknown, doing: string) => never,
  doing: string,
): StrongroomError {
  try {
    return fail(e, doing)
  } catch (mapped) {
    return mapped instanceof StrongroomError
      ? mapped
      : new StrongroomError('INTERNAL', `PKCS#11 failed while ${doing}`, { cause: mapped })
  }
}

function gcm(lib: typeof P, iv: Buffer, aad: Uint8Array): P.Mechanism {
  const parameter: P.AesGCM = {
    type: lib.CK_PARAMS_AES_GCM,
    iv,
    aad: Buffer.from(aad),
    ivBits: IV * 8,
    tagBits: TAG * 8,
  }
  return { mechanism: lib.CKM_AES_GCM, parameter }
}

function findKey(
  p11: P.PKCS11,
  lib: typeof P,
  session: Buffer,
  settings: Pkcs11Settings,
  create: boolean,
  where: string,
): Buffer {
  const label = { type: lib.CKA_LABEL, value: settings.key }
  p11.C_FindObjectsInit(session, [{ type: lib.CKA_CLASS, value: lib.CKO_SECRET_KEY }, label])
  let found: Buffer[]
  try {
    found = p11.C_FindObjects(session, 2)
  } finally {
    p11.C_FindObjectsFinal(session)
  }
  if (found.length > 1)
    throw new StrongroomError(
      'CONFIG_INVALID',
      `more than one ${where}: give the key a unique label`,
    )
  const existing = found[0]
  if (existing === undefined) {
    if (!create)
      throw new StrongroomError(
        'CONFIG_INVALID',
        `there is no ${where} (it was deleted, or this is another token)`,
      )
    return p11.C_GenerateKey(session, { mechanism: lib.CKM_AES_KEY_GEN }, [
      { type: lib.CKA_CLASS, value: lib.CKO_SECRET_KEY },
      { type: lib.CKA_KEY_TYPE, value: lib.CKK_AES },
      { type: lib.CKA_VALUE_LEN, value: 32 },
      label,
      { type: lib.CKA_TOKEN, value: true },
      { type: lib.CKA_PRIVATE, value: true },
      { type: lib.CKA_SENSITIVE, value: true },
      { type: lib.CKA_EXTRACTABLE, value: false },
      { type: lib.CKA_ENCRYPT, value: true },
      { type: lib.CKA_DECRYPT, value: true },
      // Nothing else: the key only wraps and unwraps Strongroom's roots, by AES-GCM.
      { type: lib.CKA_WRAP, value: false },
      { type: lib.CKA_UNWRAP, value: false },
      { type: lib.CKA_SIGN, value: false },
      { type: lib.CKA_VERIFY, value: false },
      { type: lib.CKA_DERIVE, value: false },
    ])
  }
  const [type, extractable, sensitive, length] = p11.C_GetAttributeValue(session, existing, [
    { type: lib.CKA_KEY_TYPE },
    { type: lib.CKA_EXTRACTABLE },
    { type: lib.CKA_SENSITIVE },
    { type: lib.CKA_VALUE_LEN },
  ])
  const flag = (a: P.Attribute | undefined): boolean =>
    Buffer.isBuffer(a?.value) && a.value[0] === 1
  const keyType = type?.value
  if (
    !Buffer.isBuffer(keyType) ||
    keyType.readUIntLE(0, Math.min(keyType.length, 6)) !== lib.CKK_AES
  )
    throw new StrongroomError('CONFIG_INVALID', `the ${where} is not an AES key`)
  const bytes = Buffer.isBuffer(length?.value)
    ? length.value.readUIntLE(0, Math.min(length.value.length, 6))
    : 0
  if (bytes !== 32)
    throw new StrongroomError(
      'CONFIG_INVALID',
      `the ${where} is AES-${String(bytes * 8)}; the root wrapping key must be AES-256 (or let \`strongroom init\` make one)`,
    )
  if (flag(extractable) || !flag(sensitive))
    throw new StrongroomError(
      'CONFIG_INVALID',
      `the ${where} can be exported (CKA_EXTRACTABLE or not CKA_SENSITIVE): the root wrapping key must never leave the token; make a sensitive, non-extractable key or let \`strongroom init\` make one`,
    )
  return existing
}

/**
 * Closes the session. No C_Logout: login is shared by every session of the application on a
 * token, so logging out here would log out another root open on the same token; the token
 * logs out when its last session closes.
 */
function end(p11: P.PKCS11, session: Buffer): void {
  try {
    p11.C_CloseSession(session)
  } finally {
    release(p11)
  }
}
