/** CertStore conformance: recording, listing by tenant and validity, revocation, expiry. */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { CertRecord } from '../certs.ts'
import { using, type MakeStore } from './fixtures.ts'

const T0 = 1_800_000_000_000
const DAY = 86_400_000

const cert = (n: number, over: Partial<CertRecord> = {}): CertRecord => ({
  serial: `0${n.toString(16).padStart(31, '0')}`,
  kind: 'workload',
  subject: `spiffe://example.org/tenant/t1/role/r${n}`,
  tenantId: 't1',
  role: `r${n}`,
  issuerKeyId: 'aa'.repeat(20),
  notBefore: T0 + n * 1000,
  notAfter: T0 + n * 1000 + DAY,
  revokedAt: null,
  reason: null,
  ...over,
})

export function certConformance(make: MakeStore): void {
  describe('CertStore', () => {
    it('records certificates and lists them newest first, by tenant, unexpired at a time', () =>
      using(make, async (store) => {
        const server = cert(3, { kind: 'server', subject: 'localhost', tenantId: null, role: null })
        for (const c of [cert(1), cert(2, { tenantId: 't2' }), server])
          await store.recordCertificate(c, T0)
        assert.deepEqual(await store.getCertificate(cert(1).serial), cert(1))
        assert.deepEqual(await store.getCertificate(server.serial), server)
        assert.equal(await store.getCertificate('ff'), undefined)
        const all = await store.listCertificates({ limit: 10 })
        assert.deepEqual(
          all.map((c) => c.serial),
          [server.serial, cert(2).serial, cert(1).serial],
        )
        assert.deepEqual(
          (await store.listCertificates({ tenantId: 't1', limit: 10 })).map((c) => c.serial),
          [cert(1).serial],
        )
        // cert(1) ends at T0 + 1 s + 1 day; cert(2) one second later.
        assert.deepEqual(
          (await store.listCertificates({ validAt: T0 + 1500 + DAY, limit: 10 })).map(
            (c) => c.serial,
          ),
          [server.serial, cert(2).serial],
        )
        assert.equal((await store.listCertificates({ limit: 1 })).length, 1)
      }))

    it('revokes once, and lists an issuer’s revoked certificates until they expire', () =>
      using(make, async (store) => {
        const other = cert(3, { issuerKeyId: 'bb'.repeat(20) })
        for (const c of [cert(1), cert(2), other]) await store.recordCertificate(c, T0)
        assert.equal(
          await store.revokeCertificate(cert(2).serial, T0 + 5, 'keyCompromise'),
          'revoked',
        )
        assert.equal(await store.revokeCertificate(cert(2).serial, T0 + 9, 'superseded'), 'already')
        assert.equal(await store.revokeCertificate('ff', T0, 'superseded'), 'missing')
        assert.equal(await store.revokeCertificate(other.serial, T0 + 6, 'superseded'), 'revoked')
        assert.deepEqual(await store.listRevoked('aa'.repeat(20), T0), [
          { ...cert(2), revokedAt: T0 + 5, reason: 'keyCompromise' },
        ])
        // Expired, it leaves the CRL.
        assert.deepEqual(await store.listRevoked('aa'.repeat(20), cert(2).notAfter + 1), [])
      }))

    it('numbers CRLs 1, 2, 3, … even when asked at once', () =>
      using(make, async (store) => {
        assert.equal(await store.nextCrlNumber(), 1)
        const many = await Promise.all(Array.from({ length: 5 }, () => store.nextCrlNumber()))
        assert.deepEqual(
          [...many].sort((a, b) => a - b),
          [2, 3, 4, 5, 6],
        )
      }))

    it('drops rows expired for over 30 days when it records one', () =>
      using(make, async (store) => {
        await store.recordCertificate(cert(1), T0)
        await store.recordCertificate(cert(2), cert(1).notAfter + 30 * DAY + 1)
        assert.equal(await store.getCertificate(cert(1).serial), undefined)
        assert.deepEqual(await store.getCertificate(cert(2).serial), cert(2))
      }))
  })
}
