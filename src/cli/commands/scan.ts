/**
 * `strongroom scan`: the model scanner for CI pipelines. Files are read
 * through a bounded window (the scanner never holds a whole file), findings
 * are reported as they are found even when another file fails to read, and
 * the exit status says the worst: 0 clean, 1 suspicious or malicious, 2 a
 * usage or I/O error.
 */
import { closeSync, fstatSync, openSync, readdirSync, statSync } from 'node:fs'
import { join, relative } from 'node:path'
import { StrongroomError } from '../../errors.ts'
import { scan, type ScanReport } from '../../scan/scan.ts'
import { fdByteSource } from '../../store/file-source.ts'
import type { Finding } from '../../scan/types.ts'
import type { Command, CommandContext } from '../command.ts'
import { version } from '../main.ts'

/** Every regular file under `path`, in a stable order; symbolic links are not followed. */
function* files(path: string): Generator<string> {
  const st = statSync(path)
  if (!st.isDirectory()) {
    yield path
    return
  }
  const entries = readdirSync(path, { withFileTypes: true }).sort((a, b) =>
    a.name < b.name ? -1 : a.name > b.name ? 1 : 0,
  )
  for (const e of entries) {
    const p = join(path, e.name)
    if (e.isDirectory()) yield* files(p)
    else if (e.isFile()) yield p
  }
}

function scanFile(path: string, strict: boolean): ScanReport {
  const fd = openSync(path, 'r')
  try {
    return scan(fdByteSource(fd, fstatSync(fd).size), path, { strict })
  } finally {
    closeSync(fd)
  }
}

const LEVEL = { malicious: 'error', suspicious: 'warning' } as const

function human(r: ScanReport): string {
  const lines = [`${r.verdict.padEnd(10)} ${r.path} (${r.format}, ${r.size} bytes)`]
  for (const f of r.findings)
    lines.push(`  ${f.severity.padEnd(8)} ${f.rule}  ${f.path} @${f.offset}: ${f.reason}`)
  if (r.omitted > 0) lines.push(`  … and ${r.omitted} more findings`)
  return lines.join('\n')
}

/** SARIF 2.1.0, as code-scanning dashboards read it: one result per finding. */
function sarif(reports: readonly ScanReport[], cwd: string): unknown {
  const rules = new Map<string, Finding>()
  for (const r of reports) for (const f of r.findings) if (!rules.has(f.rule)) rules.set(f.rule, f)
  return {
    $schema: 'https://json.schemastore.org/sarif-2.1.0.json',
    version: '2.1.0',
    runs: [
      {
        tool: {
          driver: {
            name: 'strongroom-scan',
            version: version(),
            informationUri: 'https://github.com/strongroom/strongroom',
            rules: [...rules.keys()].sort().map((id) => ({
              id,
              shortDescription: { text: id.replace(/[.-]/g, ' ') },
              defaultConfiguration: { level: LEVEL[rules.get(id)?.verdict ?? 'suspicious'] },
            })),
          },
        },
        results: reports.flatMap((r) =>
          r.findings.map((f) => ({
            ruleId: f.rule,
            level: LEVEL[f.verdict],
            message: { text: f.subject === undefined ? f.reason : `${f.subject}: ${f.reason}` },
            locations: [
              {
                physicalLocation: {
                  artifactLocation: { uri: relative(cwd, r.path).split('\\').join('/') },
                  ...(f.path === r.path ? { region: { byteOffset: f.offset } } : {}),
                },
                logicalLocations: [{ fullyQualifiedName: f.path, kind: 'member' }],
              },
            ],
            properties: { verdict: f.verdict, severity: f.severity },
          })),
        ),
      },
    ],
  }
}

export const scanCommand: Command = {
  name: 'scan',
  summary:
    'Scan model files (pickle, PyTorch, joblib, numpy, Keras, safetensors, GGUF, archives) for code that runs when they are loaded.',
  args: 'PATH…',
  positionals: [1, Number.MAX_SAFE_INTEGER],
  options: {
    sarif: {
      type: 'boolean',
      description: 'print one SARIF 2.1.0 document for code-scanning dashboards',
    },
    strict: {
      type: 'boolean',
      description:
        'allow only globals that rebuild tensors, arrays and plain data (classes of ML libraries become suspicious)',
    },
  },
  help: [
    'Formats are identified by content, never by name; directories are scanned recursively.',
    'A file is clean, suspicious (unknown globals, malformed or unreadable content, a tripped',
    'limit) or malicious (imports or calls that run code). --json prints one JSON object per',
    'file: {"path", "verdict", "format", "size", "findings": [...]}.',
    '',
    'Exit status: 0 every file clean, 1 something suspicious or malicious, 2 a usage or I/O',
    'error (findings in the other files are still reported).',
    '',
    'Examples:',
    '  strongroom scan model.pt',
    '  strongroom scan --json checkpoints/ > scan.jsonl',
    '  strongroom scan --sarif models/ > scan.sarif',
  ].join('\n'),
  run(ctx: CommandContext) {
    const strict = ctx.values.strict === true
    const asSarif = ctx.values.sarif === true
    if (asSarif && ctx.json) throw new StrongroomError('USAGE', 'choose one of --json and --sarif')
    const reports: ScanReport[] = []
    let ioError = false
    let worst = 0
    const progress = process.stderr.isTTY && !asSarif && !ctx.json
    for (const root of ctx.positionals) {
      let list: Generator<string>
      try {
        list = files(root)
        for (const path of list) {
          if (progress) process.stderr.write(`\rscanning ${path.slice(-60).padEnd(60)}`)
          let r: ScanReport
          try {
            r = scanFile(path, strict)
          } catch (e) {
            ioError = true
            ctx.warn(`${path}: cannot read: ${(e as Error).message}`)
            continue
          }
          if (progress) process.stderr.write('\r'.padEnd(72) + '\r')
          if (r.verdict !== 'clean') worst = 1
          if (asSarif) reports.push(r)
          else if (ctx.json) ctx.write(JSON.stringify(r) + '\n')
          else ctx.write(human(r) + '\n')
          if (!asSarif) reports.push({ ...r, findings: [] })
        }
      } catch (e) {
        ioError = true
        ctx.warn(
          `${root}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file or directory' : (e as Error).message}`,
        )
      }
    }
    if (asSarif) ctx.write(JSON.stringify(sarif(reports, process.cwd()), null, 2) + '\n')
    else if (!ctx.json) {
      const count = (v: string) => reports.filter((r) => r.verdict === v).length
      ctx.write(
        `${reports.length} file${reports.length === 1 ? '' : 's'}: ${count('clean')} clean, ${count('suspicious')} suspicious, ${count('malicious')} malicious\n`,
      )
    }
    return Promise.resolve(ioError ? 2 : worst)
  },
}
