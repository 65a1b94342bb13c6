/**
 * Raw key bytes as a KeyObject, for a call into node:crypto. Node 24 takes a raw key given to
 * createCipheriv, createHmac or hkdfSync through brand checks (isKeyObject, isCryptoKey) that
 * cost about 15 µs a call; a KeyObject made from the same bytes costs about 2 µs and is then
 * taken at once. A small PUT or GET makes five or six such calls (docs/benchmarks.md). The
 * KeyObject's copy of the bytes is cleared when it is collected, as a cipher context's is.
 */
import { createSecretKey, type KeyObject } from 'node:crypto'

export const keyObject = (key: Uint8Array): KeyObject => createSecretKey(key)
