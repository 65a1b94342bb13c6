/**
 * Outside review of issue 12's Object Lock and lifecycle (2026-12-02), each finding a test:
 *
 * 1. PutObjectLegalHold and PutObjectRetention wrote back a lock built from the version as read
 *    before their body arrived: a legal-hold request held open while the owner set a COMPLIANCE
 *    retention, then finished with `OFF`, erased that retention, and the version could be
 *    deleted. The lock is now checked and merged inside the transaction that writes it.
 * 2. DeleteObjects decided s3:BypassGovernanceRetention once on `bucket/*`: a user denied the
 *    bypass on `secret/*` removed a GOVERNANCE-retained `secret/x` in a batch that a single
 *    DeleteObject refused. It is decided per key now.
 * 3. A misspelt element in a lifecycle Filter (`<Prefxi>tmp/</Prefxi>`) was ignored, turning a
 *    rule for `tmp/` into a rule that expires the whole bucket. Unknown elements in a rule's
 *    parts are MalformedXML, as S3 answers.
 * 4. Retention dates were read by Date.parse: `2030-02-30` became March 2, a date without a
 *    zone was read in the server's time zone. Only ISO 8601 instants with a zone and a real
 *    calendar date are accepted.
 * https://docs.aws.amazon.com/AmazonS3/latest/userguide/object-lock.html,
 * https://docs.aws.amazon.com/AmazonS3/latest/userguide/object-lock-managing.html#object-lock-managing-bypass.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { request } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { signHeaders, startInProcess, type Creds, type InProcess } from '../api/inprocess.ts'

const B = 'worm'
const future = (days: number) =>
  new Date(Math.floor(Date.now() / 1000 + days * 86_400) * 1000).toISOString()

describe('Object Lock cannot be undone by a stale request, a batch or a typo', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sr-lock-'))
  let g: InProcess
  let dave: Creds
  before(async () => {
    g = await startInProcess(dir)
    const acme = await g.app.identity.findTenant('acme')
    assert.ok(acme)
    const user = await g.app.identity.createUser(acme, 'dave')
    await g.app.identity.putUserPolicy(
      user,
      'p',
      JSON.stringify({
        Version: '2012-10-17',
        Statement: [
          { Effect: 'Allow', Action: ['s3:*', 'kms:*'], Resource: '*' },
          {
            Effect: 'Deny',
            Action: 's3:BypassGovernanceRetention',
            Resource: `arn:aws:s3:::${B}/secret/*`,
          },
        ],
      }),
    )
    const k = await g.app.identity.createAccessKey(user)
    dave = { id: k.accessKeyId, secret: k.secretAccessKey }
    const made = await g.send(g.admin, {
      method: 'PUT',
      path: `/${B}`,
      headers: { 'x-amz-bucket-object-lock-enabled': 'true' },
    })
    assert.equal(made.status, 200, made.body)
  })
  after(async () => {
    await g.close()
    rmSync(dir, { recursive: true, force: true })
  })

  const putVersion = async (key: string, headers: Record<string, string> = {}) => {
    const url = new URL(`${g.running.url}/${B}/${key}`)
    const body = Buffer.from('weights')
    const signed = await signHeaders(g.admin, 'PUT', url, body, headers)
    return new Promise<string>((resolve, reject) => {
      const req = request(url, { method: 'PUT', headers: signed }, (res) => {
        res.resume()
        res.on('end', () => resolve(String(res.headers['x-amz-version-id'])))
      })
      req.on('error', reject)
      req.end(body)
    })
  }

  it('a legal-hold change whose body arrives after a COMPLIANCE retention was set keeps that retention', async () => {
    const v = await putVersion('model.bin')
    const url = new URL(`${g.running.url}/${B}/model.bin?legal-hold=&versionId=${v}`)
    const body = Buffer.from('<LegalHold><Status>OFF</Status></LegalHold>')
    const signed = await signHeaders(g.admin, 'PUT', url, body, {
      'content-length': String(body.length),
    })
    const answered = new Promise<number>((resolve, reject) => {
      const req = request(url, { method: 'PUT', headers: signed }, (res) => {
        res.resume()
        res.on('end', () => resolve(res.statusCode ?? 0))
      })
      req.on('error', reject)
      req.flushHeaders()
      // The headers are in (and decided on); the body follows once the retention is set.
      void sleep(300).then(async () => {
        const set = await g.send(g.admin, {
          method: 'PUT',
          path: `/${B}/model.bin?retention&versionId=${v}`,
          body: `<Retention><Mode>COMPLIANCE</Mode><RetainUntilDate>${future(30)}</RetainUntilDate></Retention>`,
        })
        assert.equal(set.status, 200, set.body)
        req.end(body)
      }, reject)
    })
    assert.equal(await answered, 200)
    const r = await g.send(g.admin, {
      method: 'GET',
      path: `/${B}/model.bin?retention&versionId=${v}`,
    })
    assert.match(r.body, /<Mode>COMPLIANCE<\/Mode>/)
    const del = await g.send(g.admin, {
      method: 'DELETE',
      path: `/${B}/model.bin?versionId=${v}`,
      headers: { 'x-amz-bypass-governance-retention': 'true' },
    })
    assert.equal(del.status, 403, del.body)
  })

  it('DeleteObjects decides the governance bypass per key: a key denied it is kept', async () => {
    const v = await putVersion('secret/x', {
      'x-amz-object-lock-mode': 'GOVERNANCE',
      'x-amz-object-lock-retain-until-date': future(1),
    })
    const single = await g.send(dave, {
      method: 'DELETE',
      path: `/${B}/secret/x?versionId=${v}`,
      headers: { 'x-amz-bypass-governance-retention': 'true' },
    })
    assert.equal(single.status, 403)
    const batch = await g.send(dave, {
      method: 'POST',
      path: `/${B}?delete`,
      headers: { 'x-amz-bypass-governance-retention': 'true' },
      body: `<Delete><Object><Key>secret/x</Key><VersionId>${v}</VersionId></Object></Delete>`,
    })
    assert.equal(batch.status, 200, batch.body)
    assert.match(batch.body, /<Error><Key>secret\/x<\/Key>.*<Code>AccessDenied<\/Code>/)
    const still = await g.send(g.admin, { method: 'HEAD', path: `/${B}/secret/x?versionId=${v}` })
    assert.equal(still.status, 200)
  })

  it('a lifecycle rule with an element S3 does not define is MalformedXML, not a whole-bucket rule', async () => {
    const r = await g.send(g.admin, {
      method: 'PUT',
      path: `/${B}?lifecycle`,
      body: '<LifecycleConfiguration><Rule><ID>t</ID><Status>Enabled</Status><Filter><Prefxi>tmp/</Prefxi></Filter><Expiration><Days>1</Days></Expiration></Rule></LifecycleConfiguration>',
    })
    assert.equal(r.status, 400)
    assert.match(r.body, /<Code>MalformedXML<\/Code>.*Prefxi/)
    const none = await g.send(g.admin, { method: 'GET', path: `/${B}?lifecycle` })
    assert.equal(none.status, 404)
  })

  for (const date of ['2031-02-30T00:00:00Z', '2031-01-01T00:00:00', '2031', 'Jan 1 2031'])
    it(`a retain-until date of ${date} is InvalidArgument`, async () => {
      const r = await g.send(g.admin, {
        method: 'PUT',
        path: `/${B}/dated`,
        headers: {
          'x-amz-object-lock-mode': 'GOVERNANCE',
          'x-amz-object-lock-retain-until-date': date,
        },
        body: 'x',
      })
      assert.equal(r.status, 400)
      assert.match(r.body, /<Code>InvalidArgument<\/Code>/)
    })
})
