/**
 * Every request document the gateway reads, through a real gateway: written the
 * way Go, .NET and a person write them (issue 9 item 12), and as XML bombs and
 * external-entity documents, which are refused with MalformedXML before anything
 * changes, and leave the server answering.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { after, before, describe, it } from 'node:test'
import {
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  GetBucketVersioningCommand,
  GetObjectCommand,
  GetObjectTaggingCommand,
  GetPublicAccessBlockCommand,
  HeadObjectCommand,
  ListBucketsCommand,
  PutObjectCommand,
  UploadPartCommand,
} from '@aws-sdk/client-s3'
import { alice, sdk, start, stop } from '../e2e/harness.ts'
import { errorCode, s3Request } from './xml-requests.ts'
import { STYLES, type Tree } from './xml-styles.ts'

const BUCKET = 'xml-documents'

before(async () => {
  await start()
  await sdk(alice).send(new CreateBucketCommand({ Bucket: BUCKET }))
})
after(stop)

const put = (path: string, query: Record<string, string>, body: string) =>
  s3Request(alice, 'PUT', path, query, body)

// Keys with what an encoder must escape (a key may not hold a control character in a URL path).
const KEY = `enc/a&b <c> "d" 'e' é 𝄞 ]]x`
/** AWS's UriEncode of each segment: encodeURIComponent leaves !'()* alone, SigV4 does not. */
const uriEncode = (s: string) =>
  encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)
const pathOf = (key: string) => `/${BUCKET}/${key.split('/').map(uriEncode).join('/')}`

describe('every request document, as Go, .NET and a person write it, through the gateway', () => {
  for (const [style, write] of Object.entries(STYLES)) {
    it(`${style}: CreateBucketConfiguration`, async () => {
      const name = `xml-create-${style}`
      const ok = await put(
        `/${name}`,
        {},
        write('CreateBucketConfiguration', [['LocationConstraint', 'us-east-1']]),
      )
      assert.equal(ok.status, 200, ok.body)
      // The value is read: a region this gateway does not serve is refused.
      const other = await put(
        `/${name}-eu`,
        {},
        write('CreateBucketConfiguration', [['LocationConstraint', 'eu-west-1']]),
      )
      assert.equal(errorCode(other.body), 'InvalidArgument', other.body)
    })

    it(`${style}: VersioningConfiguration`, async () => {
      const name = `xml-versioning-${style}`
      await sdk(alice).send(new CreateBucketCommand({ Bucket: name }))
      const r = await put(
        `/${name}`,
        { versioning: '' },
        write('VersioningConfiguration', [['Status', 'Enabled']]),
      )
      assert.equal(r.status, 200, r.body)
      const got = await sdk(alice).send(new GetBucketVersioningCommand({ Bucket: name }))
      assert.equal(got.Status, 'Enabled')
    })

    it(`${style}: ServerSideEncryptionConfiguration`, async () => {
      const rule = (alg: string): Tree => [
        ['Rule', [['ApplyServerSideEncryptionByDefault', [['SSEAlgorithm', alg]]]]],
      ]
      const r = await put(
        `/${BUCKET}`,
        { encryption: '' },
        write('ServerSideEncryptionConfiguration', rule('AES256')),
      )
      assert.equal(r.status, 200, r.body)
      const bad = await put(
        `/${BUCKET}`,
        { encryption: '' },
        write('ServerSideEncryptionConfiguration', rule('AES512')),
      )
      assert.equal(errorCode(bad.body), 'InvalidArgument', bad.body)
    })

    it(`${style}: PublicAccessBlockConfiguration`, async () => {
      const r = await put(
        `/${BUCKET}`,
        { publicAccessBlock: '' },
        write('PublicAccessBlockConfiguration', [
          ['BlockPublicAcls', 'true'],
          ['IgnorePublicAcls', 'false'],
          ['BlockPublicPolicy', 'true'],
          ['RestrictPublicBuckets', 'false'],
        ]),
      )
      assert.equal(r.status, 200, r.body)
      const got = await sdk(alice).send(new GetPublicAccessBlockCommand({ Bucket: BUCKET }))
      assert.deepEqual(got.PublicAccessBlockConfiguration, {
        BlockPublicAcls: true,
        IgnorePublicAcls: false,
        BlockPublicPolicy: true,
        RestrictPublicBuckets: false,
      })
    })

    it(`${style}: Tagging`, async () => {
      const key = `${KEY}-${style}`
      await sdk(alice).send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: 'x' }))
      const r = await put(
        pathOf(key),
        { tagging: '' },
        write('Tagging', [
          [
            'TagSet',
            [
              [
                'Tag',
                [
                  ['Key', 'team'],
                  ['Value', `vision & audio <ml> "q" 'a'`],
                ],
              ],
            ],
          ],
        ]),
      )
      assert.equal(r.status, 200, r.body)
      const got = await sdk(alice).send(new GetObjectTaggingCommand({ Bucket: BUCKET, Key: key }))
      assert.deepEqual(got.TagSet, [{ Key: 'team', Value: `vision & audio <ml> "q" 'a'` }])
    })

    it(`${style}: Delete`, async () => {
      const keys = [`${KEY}-del-${style}`, `plain-del-${style}.bin`]
      for (const Key of keys)
        await sdk(alice).send(new PutObjectCommand({ Bucket: BUCKET, Key, Body: 'x' }))
      const r = await s3Request(
        alice,
        'POST',
        `/${BUCKET}`,
        { delete: '' },
        write('Delete', [
          ['Quiet', 'false'],
          ...keys.map((k): Tree[number] => ['Object', [['Key', k]]]),
        ]),
      )
      assert.equal(r.status, 200, r.body)
      assert.equal((r.body.match(/<Deleted>/g) ?? []).length, 2, r.body)
      for (const Key of keys)
        await assert.rejects(
          sdk(alice).send(new HeadObjectCommand({ Bucket: BUCKET, Key })),
          (e: Error) => e.name === 'NotFound',
        )
    })

    it(`${style}: CompleteMultipartUpload`, async () => {
      const key = `mpu-${style}`
      const s3 = sdk(alice)
      const { UploadId } = await s3.send(
        new CreateMultipartUploadCommand({ Bucket: BUCKET, Key: key }),
      )
      assert.ok(UploadId !== undefined)
      const etags: string[] = []
      for (const [i, size] of [5 * 1024 * 1024, 7].entries()) {
        const p = await s3.send(
          new UploadPartCommand({
            Bucket: BUCKET,
            Key: key,
            UploadId,
            PartNumber: i + 1,
            Body: randomBytes(size),
          }),
        )
        etags.push(p.ETag ?? '')
      }
      const r = await s3Request(
        alice,
        'POST',
        `/${BUCKET}/${key}`,
        { uploadId: UploadId },
        write(
          'CompleteMultipartUpload',
          etags.map((etag, i) => [
            'Part',
            [
              ['PartNumber', String(i + 1)],
              ['ETag', etag],
            ],
          ]),
        ),
      )
      assert.equal(r.status, 200, r.body)
      const got = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }))
      const body = await got.Body?.transformToByteArray()
      assert.equal(body?.length, 5 * 1024 * 1024 + 7)
    })
  }
})

/** Ten entities of ten references each, nine deep: 10^9 "lol"s if expanded. */
const LAUGHS =
  '<!DOCTYPE d [<!ENTITY lol "lol">' +
  Array.from(
    { length: 9 },
    (_, i) => `<!ENTITY lol${i + 1} "${`&lol${i === 0 ? '' : i};`.repeat(10)}">`,
  ).join('') +
  ']>'

const BOMBS = {
  'billion laughs': { dtd: LAUGHS, ref: '&lol9;' },
  'external entity (XXE) reading /etc/passwd': {
    dtd: '<!DOCTYPE d [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>',
    ref: '&xxe;',
  },
  'external DTD fetched from a URL': {
    dtd: '<!DOCTYPE d SYSTEM "http://127.0.0.1:9/evil.dtd">',
    ref: 'x',
  },
  'parameter entity': {
    dtd: '<!DOCTYPE d [<!ENTITY % p SYSTEM "http://127.0.0.1:9/p.dtd"> %p;]>',
    ref: 'x',
  },
} as const

describe('XML bombs and external entities are refused with MalformedXML on every endpoint', () => {
  // Each endpoint with the document it reads, the value slot holding `ref`.
  const targets = async (ref: string) => {
    const { UploadId } = await sdk(alice).send(
      new CreateMultipartUploadCommand({ Bucket: BUCKET, Key: 'bomb-target' }),
    )
    return [
      [
        'PUT',
        '/xml-bomb-bucket',
        {},
        `<CreateBucketConfiguration><LocationConstraint>${ref}</LocationConstraint></CreateBucketConfiguration>`,
      ],
      [
        'PUT',
        `/${BUCKET}`,
        { versioning: '' },
        `<VersioningConfiguration><Status>${ref}</Status></VersioningConfiguration>`,
      ],
      [
        'PUT',
        `/${BUCKET}`,
        { encryption: '' },
        `<ServerSideEncryptionConfiguration><Rule><ApplyServerSideEncryptionByDefault><SSEAlgorithm>${ref}</SSEAlgorithm></ApplyServerSideEncryptionByDefault></Rule></ServerSideEncryptionConfiguration>`,
      ],
      [
        'PUT',
        `/${BUCKET}`,
        { publicAccessBlock: '' },
        `<PublicAccessBlockConfiguration><BlockPublicAcls>${ref}</BlockPublicAcls></PublicAccessBlockConfiguration>`,
      ],
      [
        'PUT',
        `/${BUCKET}/bomb-target`,
        { tagging: '' },
        `<Tagging><TagSet><Tag><Key>k</Key><Value>${ref}</Value></Tag></TagSet></Tagging>`,
      ],
      [
        'POST',
        `/${BUCKET}`,
        { delete: '' },
        `<Delete><Object><Key>bomb-target</Key></Object><Object><Key>${ref}</Key></Object></Delete>`,
      ],
      [
        'POST',
        `/${BUCKET}/bomb-target`,
        { uploadId: UploadId ?? '' },
        `<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>${ref}</ETag></Part></CompleteMultipartUpload>`,
      ],
    ] as const
  }

  for (const [attack, { dtd, ref }] of Object.entries(BOMBS)) {
    it(`${attack}: every document is refused with MalformedXML, nothing changes, the server still answers`, async () => {
      await sdk(alice).send(
        new PutObjectCommand({ Bucket: BUCKET, Key: 'bomb-target', Body: 'kept' }),
      )
      for (const [method, path, query, doc] of await targets(ref)) {
        const r = await s3Request(alice, method, path, query, `<?xml version="1.0"?>${dtd}${doc}`)
        assert.equal(r.status, 400, `${method} ${path}: ${r.body}`)
        assert.equal(errorCode(r.body), 'MalformedXML', `${method} ${path}: ${r.body}`)
        assert.doesNotMatch(r.body, /root:/, 'no file content comes back')
      }
      // Nothing changed: the object is still there, untagged; the bucket was not created.
      const tags = await sdk(alice).send(
        new GetObjectTaggingCommand({ Bucket: BUCKET, Key: 'bomb-target' }),
      )
      assert.deepEqual(tags.TagSet, [])
      const list = await sdk(alice).send(new ListBucketsCommand({}))
      assert.ok(!(list.Buckets ?? []).some((b) => b.Name === 'xml-bomb-bucket'))
    })
  }
})
