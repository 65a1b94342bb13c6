/**
 * Request documents written the way real clients write them, for the XML tests:
 * Go's encoding/xml (rclone, MinIO's client), .NET's XmlWriter, and by hand.
 */

export const S3_NS = 'http://s3.amazonaws.com/doc/2006-03-01/'

/** A document as ordered (name, text or children) pairs: names repeat, order matters. */
export type Tree = readonly (readonly [string, string | Tree])[]

/** Go's encoding/xml: no white space, xmlns on the root, `"'&<>`, tab, LF and CR as references. */
export function goStyle(root: string, tree: Tree): string {
  const esc = (s: string) =>
    s.replace(
      /["'&<>\t\n\r]/g,
      (c) =>
        ({
          '"': '&#34;',
          "'": '&#39;',
          '&': '&amp;',
          '<': '&lt;',
          '>': '&gt;',
          '\t': '&#x9;',
          '\n': '&#xA;',
          '\r': '&#xD;',
        })[c] ?? c,
    )
  const body = (t: Tree): string =>
    t.map(([k, v]) => `<${k}>${typeof v === 'string' ? esc(v) : body(v)}</${k}>`).join('')
  return `<${root} xmlns="${S3_NS}">${body(tree)}</${root}>`
}

/** .NET's XmlWriter: declaration with encoding, a prefix, two-space indentation, CRLF, `&<>` escaped. */
export function dotnetStyle(root: string, tree: Tree): string {
  const esc = (s: string) =>
    s.replace(
      /[&<>\r]/g,
      (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '\r': '&#xD;' })[c] ?? c,
    )
  const body = (t: Tree, depth: number): string =>
    t
      .map(([k, v]) => {
        const pad = '\r\n' + '  '.repeat(depth)
        return typeof v === 'string'
          ? `${pad}<s3:${k}>${esc(v)}</s3:${k}>`
          : `${pad}<s3:${k}>${body(v, depth + 1)}${pad}</s3:${k}>`
      })
      .join('')
  return `\ufeff<?xml version="1.0" encoding="utf-8"?>\r\n<s3:${root} xmlns:s3="${S3_NS}">${body(tree, 1)}\r\n</s3:${root}>`
}

/**
 * By hand: tabs and LF, a comment and a processing instruction, every other value in
 * CDATA, the rest with every non-alphanumeric character as a decimal or hex reference.
 */
export function handStyle(root: string, tree: Tree): string {
  let n = 0
  const value = (s: string) => {
    if (n++ % 2 === 0 && !s.includes(']]>')) return `<![CDATA[${s}]]>`
    return Array.from(s)
      .map((c, i) => {
        const cp = c.codePointAt(0) ?? 0
        if (/[A-Za-z0-9]/.test(c)) return c
        return i % 2 === 0 ? `&#${cp};` : `&#x${cp.toString(16).toUpperCase()};`
      })
      .join('')
  }
  const body = (t: Tree, depth: number): string =>
    t
      .map(([k, v]) => {
        const pad = '\n' + '\t'.repeat(depth)
        return typeof v === 'string'
          ? `${pad}<${k}>${value(v)}</${k}>`
          : `${pad}<${k}>${body(v, depth + 1)}${pad}</${k}>`
      })
      .join('')
  return `<?xml version='1.0'?>\n<!-- written by hand -->\n<?editor tabs?>\n<${root}\n  xmlns = "${S3_NS}" >${body(tree, 1)}\n</${root}>\n<!-- end -->\n`
}

export const STYLES = { go: goStyle, dotnet: dotnetStyle, hand: handStyle } as const
