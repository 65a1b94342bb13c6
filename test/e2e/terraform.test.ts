/**
 * Terraform's AWS provider against the gateway, replayed: test/e2e/terraform_replay.py makes,
 * with boto3, the calls hashicorp/terraform-provider-aws (v5) makes to apply, refresh and
 * destroy the example module in docs/terraform.md (the sequences, and the provider source files
 * they come from, are listed there). Terraform cannot be installed on these machines; the
 * replay is the next best proof. After apply, every resource reads back exactly as configured
 * (`terraform plan` would show no diff); after destroy, nothing is left.
 */
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { endpoint, needs, newUser, run, start, stop, type Creds } from './harness.ts'

let platform: Creds

before(async () => {
  await start()
  platform = newUser('vision', 'terraform', {
    Version: '2012-10-17',
    Statement: [{ Effect: 'Allow', Action: ['iam:*', 'kms:*', 's3:*', 'sts:*'], Resource: '*' }],
  })
})
after(stop)

interface Replay {
  steps: Record<string, string[]>
  diffs: Record<string, unknown>
  left: string[]
}

const times = (n: number, call: string) => Array.from({ length: n }, () => call)

describe('Terraform’s AWS provider, replayed with boto3', () => {
  it('applies, refreshes with no diff, and destroys the example module', (t) => {
    if (!needs(t, 'boto3')) return
    const r = run('python3', [join(import.meta.dirname, 'terraform_replay.py'), endpoint], platform)
    assert.equal(r.code, 0, r.stderr)
    const out = JSON.parse(r.stdout) as Replay
    assert.deepEqual(out.diffs, {})
    assert.deepEqual(out.left, [])
    const s = out.steps
    assert.deepEqual(s.provider, ['sts:GetCallerIdentity'])
    // internal/service/kms/key.go: CreateKey, rotation and its waiter, the policy's and the
    // tags' waiters (five consecutive answers each), then Read.
    assert.deepEqual(s['aws_kms_key.create'], [
      'kms:CreateKey',
      'kms:EnableKeyRotation',
      ...times(5, 'kms:GetKeyRotationStatus'),
      ...times(5, 'kms:GetKeyPolicy'),
      ...times(5, 'kms:ListResourceTags'),
      'kms:DescribeKey',
      'kms:GetKeyPolicy',
      'kms:GetKeyRotationStatus',
      'kms:ListResourceTags',
    ])
    assert.deepEqual(s['aws_kms_key.delete'], [
      'kms:ScheduleKeyDeletion',
      'kms:DescribeKey',
      'kms:ScheduleKeyDeletion',
    ])
    assert.deepEqual(s['aws_kms_alias.read'], ['kms:ListAliases'])
    // internal/service/s3/bucket.go: HeadBucket, the twelve configuration reads, the region's
    // unsigned HeadBucket, GetBucketTagging.
    assert.deepEqual(s['aws_s3_bucket.tf-models.read'], [
      's3:HeadBucket',
      's3:GetBucketPolicy',
      's3:GetBucketAcl',
      's3:GetBucketCors',
      's3:GetBucketWebsite',
      's3:GetBucketVersioning',
      's3:GetBucketAccelerateConfiguration',
      's3:GetBucketRequestPayment',
      's3:GetBucketLogging',
      's3:GetBucketLifecycleConfiguration',
      's3:GetBucketReplication',
      's3:GetBucketEncryption',
      's3:GetObjectLockConfiguration',
      's3:HeadBucket',
      's3:GetBucketTagging',
    ])
    assert.deepEqual(s['aws_iam_role.delete'], [
      'iam:ListInstanceProfilesForRole',
      'iam:DeleteRole',
    ])
    assert.equal(Object.keys(s).length, 46, Object.keys(s).join(' '))
  })
})
