/**
 * The TLS profile of every HTTPS listener: Mozilla's "intermediate"
 * configuration, exactly (guidelines 5.7,
 * https://ssl-config.mozilla.org/guidelines/5.7.json and
 * https://wiki.mozilla.org/Security/Server_Side_TLS):
 *
 * - TLS 1.2 and TLS 1.3 only (no SSLv3, TLS 1.0 or 1.1);
 * - TLS 1.2: ECDHE key exchange with AES-GCM or ChaCha20-Poly1305 only, in
 *   Mozilla's order (no CBC, no CCM, no ARIA, no Camellia, no static RSA);
 *   with the built-in CA's ECDSA certificate only the three ECDSA suites apply;
 * - TLS 1.3: its three suites;
 * - key exchange groups X25519, P-256, P-384;
 * - the client's cipher preference (`server_preferred_order: false`): every
 *   suite offered is strong, and the client knows whether it has AES hardware.
 */
import { constants } from 'node:crypto'
import type { SecureContextOptions, TlsOptions } from 'node:tls'

/** TLS 1.2 suites, OpenSSL names, in Mozilla's order. */
export const TLS12_CIPHERS = [
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES128-GCM-SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305',
  'ECDHE-RSA-CHACHA20-POLY1305',
] as const

export const TLS13_CIPHERSUITES = [
  'TLS_AES_128_GCM_SHA256',
  'TLS_AES_256_GCM_SHA384',
  'TLS_CHACHA20_POLY1305_SHA256',
] as const

export const ECDH_CURVES = ['X25519', 'prime256v1', 'secp384r1'] as const

/** Spread into `https.createServer` / `tls.createServer` options. */
export const MOZILLA_INTERMEDIATE: Readonly<
  Pick<
    TlsOptions & SecureContextOptions,
    'minVersion' | 'ciphers' | 'ecdhCurve' | 'honorCipherOrder'
  >
> = {
  minVersion: 'TLSv1.2',
  // Node takes TLS 1.3 suites in the same list; OpenSSL sets each protocol's from its own names.
  ciphers: [...TLS13_CIPHERSUITES, ...TLS12_CIPHERS].join(':'),
  ecdhCurve: ECDH_CURVES.join(':'),
  honorCipherOrder: false,
}

/**
 * The profiles a listener may name; nothing below TLS 1.2 can be configured. `modern` is
 * Mozilla's "modern" (TLS 1.3 only, its three suites); `intermediate` the above. Both refuse
 * renegotiation (TLS 1.2's; TLS 1.3 has none) and compression (CRIME), which OpenSSL 3 leaves
 * off but a build could turn on.
 */
export const TLS_PROFILES = {
  modern: {
    minVersion: 'TLSv1.3',
    ciphers: TLS13_CIPHERSUITES.join(':'),
    ecdhCurve: ECDH_CURVES.join(':'),
    honorCipherOrder: false,
  },
  intermediate: MOZILLA_INTERMEDIATE,
} as const satisfies Record<string, TlsOptions>

export type TlsProfileName = keyof typeof TLS_PROFILES

/** A profile's options for `tls.createServer`/`setSecureContext`, hardening included. */
export function profileOptions(name: TlsProfileName): TlsOptions {
  return {
    ...TLS_PROFILES[name],
    secureOptions: constants.SSL_OP_NO_RENEGOTIATION | constants.SSL_OP_NO_COMPRESSION,
  }
}
