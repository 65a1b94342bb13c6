/**
 * Several gateways on one PostgreSQL write one audit log (src/audit/shared-log.ts): the requests
 * each gateway served, in one order every gateway agrees on, under checkpoints signed with the
 * deployment's one key, written out by `audit export` as a log that verifies offline.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { CreateBucketCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3'
import type { AuditEvent } from '../../src/audit/event.ts'
import { exportSharedLog } from '../../src/audit/export.ts'
import { auditKeys } from '../../src/audit/keys.ts'
import { events } from '../../src/audit/read.ts'
import { verifyLog } from '../../src/audit/tlog/verify.ts'
import { PgMetadataStore } from '../../src/meta/postgres/store.ts'
import { startInProcess, type InProcess } from '../api/inprocess.ts'
import { NEEDS_POSTGRES, startPostgres } from './server.ts'

const server = await startPostgres()

describe(
  'the shared audit log of gateways on one PostgreSQL',
  { skip: server === undefined ? NEEDS_POSTGRES : false },
  () => {
    const dir = mkdtempSync(join(tmpdir(), 'sr-pg-audit-'))
    let meta: string
    let a: InProcess
    let b: InProcess

    before(async () => {
      assert.ok(server)
      meta = await server.createDatabase('audit')
      a = await startInProcess(dir, { meta })
      b = await startInProcess(dir, { meta, joins: a })
    })
    after(async () => {
      await b.close()
      await a.close()
      await server?.stop()
      rmSync(dir, { recursive: true, force: true })
    })

    it('holds every gateway’s requests in one order, exported as a log that verifies', async () => {
      const s3 = (g: InProcess) =>
        new S3Client({
          region: 'us-east-1',
          endpoint: g.running.url,
          forcePathStyle: true,
          credentials: { accessKeyId: a.admin.id, secretAccessKey: a.admin.secret },
        })
      const ids: string[] = []
      ids.push(
        (await s3(a).send(new CreateBucketCommand({ Bucket: 'shared-log' }))).$metadata.requestId ??
          '',
      )
      const puts = await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          s3(i % 2 === 0 ? a : b).send(
            new PutObjectCommand({ Bucket: 'shared-log', Key: `k${i}`, Body: `v${i}` }),
          ),
        ),
      )
      ids.push(...puts.map((p) => p.$metadata.requestId ?? ''))
      assert.equal(new Set(ids).size, 21)
      await a.audit?.checkpoint()
      await b.audit?.checkpoint()

      const store = await PgMetadataStore.open(meta)
      try {
        const seen: AuditEvent[] = []
        for await (const e of events(store)) seen.push(e)
        const requestIds = new Set(seen.map((e) => e.requestID))
        for (const id of ids) assert.ok(requestIds.has(id), `request ${id} is in the shared log`)
        // The bucket was made before any object was put into it, in the log's order too.
        const at = (name: string) => seen.findIndex((e) => e.eventName === name)
        assert.ok(at('CreateBucket') >= 0 && at('CreateBucket') < at('PutObject'))

        const keys = await auditKeys(a.app.config.dataDir, a.app.sealer, a.app.shared)
        const other = await auditKeys(join(dir, 'elsewhere'), b.app.sealer, b.app.shared)
        assert.equal(other.verifierKey, keys.verifierKey)
        const out = join(dir, 'export')
        const r = await exportSharedLog(store, out, {
          verifierKey: keys.verifierKey,
          origin: keys.origin,
          macKey: keys.recordMacKey,
        })
        assert.equal(r.size, seen.length)
        const check = await verifyLog(out, keys.verifierKey)
        assert.ok(check.ok, JSON.stringify(check))
        assert.equal(check.size, r.size)
      } finally {
        await store.close()
      }
    })
  },
)
