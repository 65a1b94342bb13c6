/**
 * The little XML S3 speaks. Responses are built from plain trees by the writer
 * below; request bodies are read by fast-xml-parser (the parser the AWS SDK for
 * JavaScript itself uses), configured strictly and bounded per document:
 *
 * - the body must be UTF-8 (a byte-order mark is dropped) and well-formed;
 * - a DOCTYPE is refused, so no DTD, no entity declarations, no external entities;
 * - references: the five predefined entities and numeric character references
 *   (`&#34;`, `&#x22;`) are decoded; any other `&name;` is refused;
 * - processing instructions (the XML declaration too) and comments are skipped;
 * - CDATA sections are read as text, line ends are normalised to `\n` as XML requires;
 * - namespace prefixes are dropped (`<s3:Part>` is `Part`), attributes ignored;
 * - text is kept as sent: each field trims (or not) as S3 does, at its call site;
 * - each document has its own bounds (`XML_BOUNDS`: bytes and elements) sized so the
 *   largest real document fits (10,000 parts, 1,000 keys), and every document a depth
 *   bound and a bound on the longest text (`XML_MAX_DEPTH`, `XML_MAX_RUN`).
 *
 * Any violation is S3's MalformedXML (400); a body over its bound is
 * MaxMessageLengthExceeded (400).
 */
import { XMLParser, XMLValidator } from 'fast-xml-parser'
import { StrongroomError } from '../errors.ts'

export type Node =
  string | number | boolean | undefined | { readonly [tag: string]: Node | readonly Node[] }

const ESC: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&apos;',
  // A raw carriage return would be read back as a line feed (XML normalises line ends).
  '\r': '&#13;',
}

export function escapeXml(s: string): string {
  return s.replace(/[&<>"'\r]/g, (c) => ESC[c] ?? c)
}

/**
 * A tag may carry attributes written in the code (`Grantee xsi:type="CanonicalUser"`, never
 * from input): the element closes with its name alone.
 */
function render(tag: string, v: Node | readonly Node[]): string {
  if (Array.isArray(v)) return (v as readonly Node[]).map((x) => render(tag, x)).join('')
  if (v === undefined) return ''
  const name = tag.split(' ', 1)[0] ?? tag
  if (typeof v === 'object') {
    const inner = Object.entries(v as Record<string, Node | readonly Node[]>)
      .map(([k, x]) => render(k, x))
      .join('')
    return `<${tag}>${inner}</${name}>`
  }
  return `<${tag}>${escapeXml(String(v))}</${name}>`
}

export function xmlDocument(
  root: string,
  body: Node,
  namespace = 'http://s3.amazonaws.com/doc/2006-03-01/',
): string {
  const xmlns = ` xmlns="${namespace}"`
  return `<?xml version="1.0" encoding="UTF-8"?>\n${render(root, body).replace(`<${root}>`, `<${root}${xmlns}>`)}`
}

export interface XmlElement {
  readonly name: string
  readonly children: XmlElement[]
  text: string
}

/** Every request document the gateway reads, by its root element. */
export type RequestDocument =
  | 'CompleteMultipartUpload'
  | 'Delete'
  | 'Tagging'
  | 'CreateBucketConfiguration'
  | 'VersioningConfiguration'
  | 'ServerSideEncryptionConfiguration'
  | 'PublicAccessBlockConfiguration'
  | 'AccessControlPolicy'
  | 'OwnershipControls'
  | 'LifecycleConfiguration'
  | 'ObjectLockConfiguration'
  | 'Retention'
  | 'LegalHold'

const KiB = 1024
const MiB = 1024 * KiB

export interface XmlBounds {
  /** The body's size in bytes. */
  readonly bytes: number
  /** Elements in the document: work and memory grow with them, not with bytes alone. */
  readonly elements: number
}

/**
 * The bounds of each document, sized so that the largest document a real
 * client can send fits:
 * - CompleteMultipartUpload: 10,000 parts, each with an ETag written with Go's
 *   `&#34;` quotes and every checksum (CRC32, CRC32C, CRC64NVME, SHA1, SHA256),
 *   namespace-prefixed, indented and CRLF-terminated as .NET writes it, is about
 *   4.6 MiB (479 bytes a part) and 80,001 elements (8 a part);
 * - Delete: 1,000 keys of 1,024 bytes each written as Go escapes `"'&<>` and tab,
 *   line feed and carriage return (4 or 5 bytes a byte), with version ids, is about
 *   5 MB and 3,002 elements;
 * - Tagging: 50 tags (a bucket's limit) of 128 + 256 characters, each character a
 *   10-byte `&#1114111;`, is under 200 KiB and 152 elements;
 * - AccessControlPolicy: S3 allows 100 grants, about 8 elements and 1 KiB each;
 * - LifecycleConfiguration: 1,000 rules (S3's limit) of up to about 20 elements and
 *   1 KiB each (a prefix of 1,024 bytes written as escapes is 5 KiB);
 * - the bucket configurations are a few hundred bytes and under 10 elements.
 * Each has room to spare (unknown elements are ignored, as S3 does); none is a
 * global count that a legitimate document can reach.
 */
export const XML_BOUNDS: Readonly<Record<RequestDocument, XmlBounds>> = {
  CompleteMultipartUpload: { bytes: 8 * MiB, elements: 10_000 * 10 + 256 },
  Delete: { bytes: 6 * MiB, elements: 1_000 * 4 + 256 },
  Tagging: { bytes: 256 * KiB, elements: 256 },
  AccessControlPolicy: { bytes: 256 * KiB, elements: 100 * 8 + 256 },
  OwnershipControls: { bytes: 64 * KiB, elements: 256 },
  LifecycleConfiguration: { bytes: 8 * MiB, elements: 1_000 * 24 + 256 },
  ObjectLockConfiguration: { bytes: 64 * KiB, elements: 256 },
  Retention: { bytes: 64 * KiB, elements: 256 },
  LegalHold: { bytes: 64 * KiB, elements: 256 },
  CreateBucketConfiguration: { bytes: 64 * KiB, elements: 256 },
  VersioningConfiguration: { bytes: 64 * KiB, elements: 256 },
  ServerSideEncryptionConfiguration: { bytes: 64 * KiB, elements: 256 },
  PublicAccessBlockConfiguration: { bytes: 64 * KiB, elements: 256 },
}

/** The deepest request document (ServerSideEncryptionConfiguration) nests 4 elements. */
export const XML_MAX_DEPTH = 16

/**
 * The longest stretch between two `<`: one text, tag or comment. fast-xml-parser
 * builds text and attribute strings a character at a time, which costs about 32
 * bytes of heap a character until the stretch ends; the bound keeps that under
 * 2 MiB. The longest legitimate text, a 1,024-byte key with every character a
 * reference, is under 10 KiB.
 */
export const XML_MAX_RUN = 64 * KiB

/** Library messages quote the document: at most 100 characters of them reach the client. */
const clip = (m: string): string => (m.length > 100 ? `${m.slice(0, 100)}…` : m)

const malformed = (why: string): StrongroomError =>
  new StrongroomError(
    'MALFORMED_XML',
    `The XML you provided was not well-formed or did not validate against our published schema: ${why}`,
  )

/** Thrown from inside the parser when it meets a DOCTYPE or one element too many. */
class Refused extends Error {}

// The parser is synchronous: one parse at a time sets and reads these.
let elementsLeft = 0

const PREDEFINED: Readonly<Record<string, string>> = {
  amp: '&',
  lt: '<',
  gt: '>',
  quot: '"',
  apos: "'",
}

/** XML 1.0's Char production (https://www.w3.org/TR/xml/#charsets). */
function xmlChar(cp: number): boolean {
  return (
    cp === 0x9 ||
    cp === 0xa ||
    cp === 0xd ||
    (cp >= 0x20 && cp <= 0xd7ff) ||
    (cp >= 0xe000 && cp <= 0xfffd) ||
    (cp >= 0x10000 && cp <= 0x10ffff)
  )
}

// Characters XML 1.0 forbids even raw (the decoder never yields a lone surrogate).
// eslint-disable-next-line no-control-regex -- these control characters are exactly what is refused
const NOT_XML_CHAR = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]/

/** Decodes the references of raw character data (attacker-controlled); refuses anything else. */
function decodeText(raw: string): string {
  const text = raw.replace(/\r\n?/g, '\n')
  if (text.includes(']]>')) throw malformed(']]> outside a CDATA section')
  if (!text.includes('&')) return text
  return text.replace(/&([^;&<]{0,10});?/g, (whole, ref: string) => {
    if (!whole.endsWith(';')) throw malformed('an & that starts no reference')
    const predefined = PREDEFINED[ref]
    if (predefined !== undefined) return predefined
    const m = /^#(?:x([0-9a-fA-F]{1,6})|([0-9]{1,7}))$/.exec(ref)
    if (m === null) throw malformed(`the entity &${ref}; is not defined`)
    const cp = m[1] !== undefined ? parseInt(m[1], 16) : Number(m[2])
    if (!xmlChar(cp)) throw malformed(`&${ref}; is not a character XML allows`)
    return String.fromCodePoint(cp)
  })
}

const parser = new XMLParser({
  preserveOrder: true,
  ignoreAttributes: true,
  removeNSPrefix: true,
  // References are decoded by decodeText, which refuses what it does not know.
  processEntities: false,
  htmlEntities: false,
  entityDecoder: {
    setExternalEntities: () => undefined,
    addInputEntities: () => {
      throw new Refused('DTDs (<!DOCTYPE>) are not accepted')
    },
    reset: () => undefined,
    decode: (text: string) => text,
    setXmlVersion: () => undefined,
  },
  parseTagValue: false,
  trimValues: false,
  cdataPropName: '#cdata',
  commentPropName: false,
  ignoreDeclaration: true,
  ignorePiTags: true,
  maxNestedTags: XML_MAX_DEPTH,
  textNodeName: '#text',
  jPath: false,
  updateTag: (tag: string) => {
    if (--elementsLeft < 0) throw new Refused('too many elements for this document')
    return tag
  },
})

type Ordered = Record<string, unknown>

/** XML's Name production, without colons (the prefix is already dropped). */
const NAME = /^[\p{L}_][\p{L}\p{N}\p{Mn}\p{Mc}_.\-\u00b7]*$/u

// parseTagValue is off: every text the parser keeps is a string.
const textOf = (node: Ordered): string => {
  const t = node['#text']
  return typeof t === 'string' ? t : ''
}

function toElement(node: Ordered, depth: number): XmlElement {
  const name = Object.keys(node).find((k) => k !== ':@')
  // The parser reads `<!ELEMENT …>` or `<a:b:c>` as elements: only a Name (prefix dropped) is one.
  if (name === undefined || !NAME.test(name)) throw malformed('expected an element')
  if (depth > XML_MAX_DEPTH) throw malformed('nested too deeply')
  const el: XmlElement = { name, children: [], text: '' }
  for (const c of node[name] as Ordered[]) {
    if ('#text' in c) el.text += decodeText(textOf(c))
    else if ('#cdata' in c)
      for (const t of c['#cdata'] as Ordered[]) el.text += textOf(t).replace(/\r\n?/g, '\n')
    else el.children.push(toElement(c, depth + 1))
  }
  return el
}

/** Parses one well-formed document of at most `maxElements` elements into its root element. */
export function parseXml(text: string, maxElements: number): XmlElement {
  if (NOT_XML_CHAR.test(text)) throw malformed('a character XML does not allow')
  for (let at = 0; at < text.length;) {
    const lt = text.indexOf('<', at)
    const end = lt < 0 ? text.length : lt
    if (end - at > XML_MAX_RUN)
      throw malformed(`more than ${XML_MAX_RUN} characters between two markup delimiters`)
    at = end + 1
  }
  // After the root only comments, processing instructions and white space may come.
  if (!/>\s*$/.test(text)) throw malformed('text after the root element')
  // The parser itself does not match closing tags to opening ones; its validator does. It
  // is deprecated in favour of fast-xml-validator, which brings a second XML parser with it.
  // eslint-disable-next-line @typescript-eslint/no-deprecated
  const valid = XMLValidator.validate(text)
  if (valid !== true) throw malformed(`${clip(valid.err.msg)} (line ${valid.err.line})`)
  let doc: Ordered[]
  elementsLeft = maxElements
  try {
    doc = parser.parse(text) as Ordered[]
  } catch (e) {
    throw malformed(e instanceof Error ? clip(e.message) : 'unreadable')
  }
  const roots = doc.filter((n) => !('#text' in n && String(n['#text']).trim() === ''))
  if (roots.length !== 1) throw malformed('a document has exactly one root element')
  return toElement(roots[0] as Ordered, 1)
}

/**
 * The text of `el`'s one child element `name`, which must hold text only; undefined when there
 * is none. Two of them, or one with elements inside, is MalformedXML: a reader that took the
 * first, or the text around an element, would act on something the client did not write.
 */
export function leaf(el: XmlElement, name: string): string | undefined {
  const found = el.children.filter((c) => c.name === name)
  const one = found[0]
  if (one === undefined) return undefined
  if (found.length > 1) throw malformed(`${el.name} has more than one ${name}`)
  if (one.children.length > 0) throw malformed(`${name} must hold text, not elements`)
  return one.text
}

const utf8 = new TextDecoder('utf-8', { fatal: true })

/** Reads a request body as the document `root`, within that document's size bound. */
export function readXml(root: RequestDocument, body: Uint8Array): XmlElement {
  const { bytes, elements } = XML_BOUNDS[root]
  if (body.length > bytes)
    throw new StrongroomError(
      'MAX_MESSAGE_LENGTH_EXCEEDED',
      `Your request was too big: a ${root} document is at most ${bytes} bytes`,
    )
  let text: string
  try {
    text = utf8.decode(body)
  } catch {
    throw malformed('the body is not UTF-8')
  }
  const doc = parseXml(text, elements)
  if (doc.name !== root) throw malformed(`the root element must be ${root}, not ${doc.name}`)
  return doc
}
