/**
 * The little XML S3 speaks: responses are built from plain trees; request
 * bodies (CreateBucketConfiguration, Delete) are read by a strict, bounded
 * reader of the element-and-text subset they use.
 */
import { ApiError } from './errors.ts'

export type Node =
  string | number | boolean | undefined | { readonly [tag: string]: Node | readonly Node[] }

const ESC: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&apos;',
}

export function escapeXml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ESC[c] ?? c)
}

function render(tag: string, v: Node | readonly Node[]): string {
  if (Array.isArray(v)) return (v as readonly Node[]).map((x) => render(tag, x)).join('')
  if (v === undefined) return ''
  if (typeof v === 'object') {
    const inner = Object.entries(v as Record<string, Node | readonly Node[]>)
      .map(([k, x]) => render(k, x))
      .join('')
    return `<${tag}>${inner}</${tag}>`
  }
  return `<${tag}>${escapeXml(String(v))}</${tag}>`
}

export function xmlDocument(root: string, body: Node): string {
  const xmlns = ' xmlns="http://s3.amazonaws.com/doc/2006-03-01/"'
  return `<?xml version="1.0" encoding="UTF-8"?>\n${render(root, body).replace(`<${root}>`, `<${root}${xmlns}>`)}`
}

export interface XmlElement {
  readonly name: string
  readonly children: XmlElement[]
  text: string
}

const MAX_ELEMENTS = 10_000

/** Parses elements and text (no attributes kept, no DTD, no entities but the five). */
export function parseXml(text: string): XmlElement {
  let i = 0
  let count = 0
  const bad = (why: string): never => {
    throw new ApiError(
      'MalformedXML',
      `The XML you provided was not well-formed or did not validate against our published schema: ${why}`,
    )
  }
  const skip = () => {
    for (;;) {
      while (i < text.length && /\s/.test(text[i] ?? '')) i++
      if (text.startsWith('<?', i)) {
        const end = text.indexOf('?>', i)
        if (end < 0) bad('unterminated declaration')
        i = end + 2
      } else if (text.startsWith('<!--', i)) {
        const end = text.indexOf('-->', i)
        if (end < 0) bad('unterminated comment')
        i = end + 3
      } else if (text.startsWith('<!', i)) bad('DTDs are not accepted')
      else return
    }
  }
  const unescape = (s: string) =>
    s.replace(
      /&(amp|lt|gt|quot|apos);/g,
      (_m, e: string) => ({ amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" })[e] ?? '',
    )
  const element = (depth: number): XmlElement => {
    if (depth > 32) bad('nested too deeply')
    if (++count > MAX_ELEMENTS) bad('too many elements')
    const open = /^<([A-Za-z_][\w.-]*)(\s[^>]*)?(\/?)>/.exec(text.slice(i, i + 2048))
    if (open === null) bad('expected an element')
    const m = open as RegExpExecArray
    const name = m[1] ?? ''
    i += m[0].length
    const el: XmlElement = { name, children: [], text: '' }
    if (m[3] === '/') return el
    for (;;) {
      const lt = text.indexOf('<', i)
      if (lt < 0) bad(`unterminated element ${name}`)
      el.text += unescape(text.slice(i, lt))
      i = lt
      if (text.startsWith(`</${name}>`, i)) {
        i += name.length + 3
        return el
      }
      if (text.startsWith('<!--', i)) {
        skip()
        continue
      }
      if (text.startsWith('</', i)) bad(`mismatched closing tag in ${name}`)
      el.children.push(element(depth + 1))
    }
  }
  skip()
  const root = element(0)
  skip()
  if (i !== text.length) bad('text after the root element')
  return root
}
