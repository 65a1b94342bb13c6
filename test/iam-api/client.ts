/**
 * What the IAM API tests share: the gateway in process (test/api/inprocess.ts), an IAM client
 * of the AWS SDK for JavaScript for given credentials, and a call's outcome as one string.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { IAMClient, IAMServiceException } from '@aws-sdk/client-iam'
import { S3Client } from '@aws-sdk/client-s3'
import { startInProcess, type Creds, type InProcess } from '../api/inprocess.ts'

export type Keys = { accessKeyId: string; secretAccessKey: string; sessionToken?: string }
export const keys = (c: Creds): Keys => ({ accessKeyId: c.id, secretAccessKey: c.secret })

export interface Harness {
  readonly g: InProcess
  readonly account: string
  iam(c: Creds | Keys): IAMClient
  s3(c: Creds | Keys): S3Client
  close(): Promise<void>
}

export async function harness(name: string): Promise<Harness> {
  const dir = mkdtempSync(join(tmpdir(), `sr-${name}-`))
  const g = await startInProcess(dir)
  const t = await g.app.identity.findTenant('acme')
  const creds = (c: Creds | Keys): Keys => ('id' in c ? keys(c) : c)
  return {
    g,
    account: t?.id ?? '',
    iam: (c) =>
      new IAMClient({
        endpoint: g.running.url,
        region: 'us-east-1',
        credentials: creds(c),
        maxAttempts: 1,
      }),
    s3: (c) =>
      new S3Client({
        endpoint: g.running.url,
        region: 'us-east-1',
        forcePathStyle: true,
        credentials: creds(c),
        maxAttempts: 1,
      }),
    close: async () => {
      await g.close()
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

/** `ok`, or the error as `STATUS Code: message`. */
export async function outcome(p: Promise<unknown>): Promise<string> {
  try {
    await p
    return 'ok'
  } catch (e) {
    if (e instanceof IAMServiceException || (e instanceof Error && '$metadata' in e)) {
      const status = (e as IAMServiceException).$metadata.httpStatusCode
      return `${String(status)} ${e.name}: ${e.message}`
    }
    throw e
  }
}

export const doc = (Statement: object[]) => JSON.stringify({ Version: '2012-10-17', Statement })

export const TRUST = doc([
  { Effect: 'Allow', Principal: { Service: 'ec2.amazonaws.com' }, Action: 'sts:AssumeRole' },
])
