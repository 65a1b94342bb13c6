import { readFile } from 'node:fs/promises'
import type { Trace } from '../../iam/evaluate.ts'
import { parseJson, JsonSyntaxError } from '../../iam/json.ts'
import { parsePolicyText, type Issue, type PolicyKind } from '../../iam/policy.ts'
import { readSimulationText, simulate, type SimulationResult } from '../../iam/simulate.ts'
import { StrongroomError } from '../../errors.ts'
import { stringOpt, type Command, type CommandContext } from '../command.ts'

const KINDS: readonly PolicyKind[] = [
  'identity',
  'boundary',
  'session',
  'scp',
  'rcp',
  'resource',
  'key',
  'trust',
  'endpoint',
]
const MAX_INPUT = 64 * 1024 * 1024

async function readInput(path: string): Promise<string> {
  try {
    if (path === '-') {
      const chunks: Buffer[] = []
      let size = 0
      for await (const c of process.stdin as AsyncIterable<Buffer>) {
        size += c.length
        if (size > MAX_INPUT)
          throw new StrongroomError('LIMIT_EXCEEDED', 'standard input is larger than 64 MiB')
        chunks.push(c)
      }
      return Buffer.concat(chunks).toString('utf8')
    }
    const text = await readFile(path, 'utf8')
    if (text.length > MAX_INPUT)
      throw new StrongroomError('LIMIT_EXCEEDED', `\`${path}\` is larger than 64 MiB`)
    return text
  } catch (e) {
    if (e instanceof StrongroomError) throw e
    const code = (e as NodeJS.ErrnoException).code
    throw new StrongroomError(
      'IO',
      `cannot read \`${path}\`: ${code === 'ENOENT' ? 'it does not exist' : (code ?? 'error')}`,
      { cause: e },
    )
  }
}

const where = (file: string, i: Issue, lineOffset = 0) =>
  `${file}:${i.line + lineOffset}:${i.column}`

export const policyValidate: Command = {
  name: 'policy validate',
  summary:
    'Check IAM policy documents: errors (with file:line:column) and least-privilege warnings.',
  args: 'FILE…',
  positionals: [1, 1000],
  options: {
    type: {
      type: 'string',
      value: 'TYPE',
      description: `policy type, for its grammar and size limit: ${KINDS.join(', ')} (default identity)`,
    },
  },
  help: `Exit status 1 when any file has an error; warnings alone do not fail.

Example:
  strongroom policy validate --type resource bucket-policy.json`,
  async run(ctx) {
    const kind = (stringOpt(ctx, 'type') ?? 'identity') as PolicyKind
    if (!KINDS.includes(kind))
      throw new StrongroomError(
        'USAGE',
        `--type must be one of ${KINDS.join(', ')}, got \`${kind}\``,
      )
    let failed = false
    const reports = []
    for (const file of ctx.positionals) {
      const r = parsePolicyText(await readInput(file), kind, file)
      failed ||= r.errors.length > 0
      reports.push({ file, valid: r.errors.length === 0, errors: r.errors, warnings: r.warnings })
    }
    if (ctx.json) ctx.print('', reports)
    else {
      const lines = reports.flatMap((r) => [
        ...r.errors.map((i) => `${where(r.file, i)}: error: ${i.message} [${i.code}] at ${i.path}`),
        ...r.warnings.map(
          (i) => `${where(r.file, i)}: warning: ${i.message} [${i.code}] at ${i.path}`,
        ),
        ...(r.errors.length === 0 && r.warnings.length === 0 ? [`${r.file}: ok`] : []),
      ])
      ctx.print(lines.join('\n'))
    }
    return failed ? 1 : 0
  },
}

/** One document, or JSON Lines with one document per line. */
function documents(text: string): { text: string; line: number }[] {
  try {
    parseJson(text)
    return [{ text, line: 1 }]
  } catch (e) {
    if (!(e instanceof JsonSyntaxError)) throw e
    const lines = text.split('\n')
    // Only a sequence of one-line documents is JSON Lines; otherwise report the whole document's error.
    if (lines.filter((l) => l.trim() !== '').length < 2) return [{ text, line: 1 }]
    return lines.flatMap((l, i) => (l.trim() === '' ? [] : [{ text: l, line: i + 1 }]))
  }
}

export function renderTrace(t: Trace): string[] {
  const out = [`  decided by: ${t.decidedBy}`]
  for (const p of t.policies) {
    out.push(`  ${p.layer} policy ${p.name}`)
    if (p.unloadable !== undefined)
      out.push(
        `    cannot be loaded (${p.unloadable}): denies every request until replaced or deleted`,
      )
    for (const s of p.statements) {
      const name = s.sid === undefined ? `#${s.index}` : s.sid
      out.push(
        `    ${s.matched ? 'applies' : 'skipped'}  ${s.effect} ${name}${s.reason === undefined ? '' : `: ${s.reason}`}`,
      )
    }
  }
  if (t.absentKeys.length > 0) out.push(`  absent context keys: ${t.absentKeys.join(', ')}`)
  return out
}

export const policySimulate: Command = {
  name: 'policy simulate',
  summary: 'Decide requests against IAM policies exactly as AWS would, and explain each decision.',
  args: '',
  positionals: [0, 0],
  options: {
    input: {
      type: 'string',
      value: 'FILE',
      description: 'one JSON document, or JSON Lines with one per line (- for stdin)',
    },
    explain: {
      type: 'boolean',
      description: 'include the trace: every policy and statement, and why each applied or not',
    },
  },
  help: `The document format is described in docs/iam-simulator.md: identityPolicies, resourcePolicy, scps,
rcps, permissionBoundary, sessionPolicy, vpcEndpointPolicy and a request
{principal, principalAccount, action, resource, resourceAccount, context}.

With --json, prints one JSON object per input document, in order:
  {"id": ..., "decision": "Allow" | "ExplicitDeny" | "ImplicitDeny", "trace": ... with --explain}
A document whose policies fail validation prints {"id": ..., "error": {...}} and the run goes on.
Exit status 1 when any request is denied or any document is invalid.

Example:
  strongroom policy simulate --input cases.jsonl --json --explain`,
  async run(ctx: CommandContext) {
    const file = stringOpt(ctx, 'input')
    if (file === undefined)
      throw new StrongroomError('USAGE', '--input FILE is required (use - for stdin)')
    const explain = ctx.values.explain === true
    let allAllowed = true
    for (const doc of documents(await readInput(file))) {
      const input = readSimulationText(doc.text)
      const result: SimulationResult =
        'issues' in input
          ? { id: input.id, error: { message: 'the document is not valid', issues: input.issues } }
          : simulate(input, explain)
      if (!('decision' in result) || result.decision !== 'Allow') allAllowed = false
      if (ctx.json) {
        const line =
          'decision' in result
            ? {
                id: result.id,
                decision: result.decision,
                ...(explain ? { trace: result.trace } : {}),
              }
            : { id: result.id, error: result.error }
        ctx.write(JSON.stringify(line) + '\n')
      } else if ('decision' in result) {
        ctx.print(
          [
            `${result.id ?? `${file}:${doc.line}`}: ${result.decision}`,
            ...(result.trace === undefined ? [] : renderTrace(result.trace)),
          ].join('\n'),
        )
      } else {
        ctx.print(
          [
            `${result.id ?? `${file}:${doc.line}`}: invalid`,
            ...result.error.issues.map(
              (i) => `  ${where(file, i, doc.line - 1)}: ${i.message} [${i.code}] at ${i.path}`,
            ),
          ].join('\n'),
        )
      }
    }
    return allAllowed ? 0 : 1
  },
}
