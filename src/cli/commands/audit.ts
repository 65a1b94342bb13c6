/**
 * `strongroom audit public-key | verify | prove`: the audit log (a C2SP tlog-tiles log, see
 * src/audit/tlog/) as an auditor sees it. `public-key` is the one command that opens the data
 * directory (the key is sealed under the root key); `verify` and `prove` read nothing but the
 * log's files, a key file and proof files, so they run on a copy of the log on a machine that
 * has never seen the deployment.
 */
import { auditKeys } from '../../audit/keys.ts'
import { COSIGNATURE_V1, MAX_NOTE_BYTES } from '../../audit/tlog/note.ts'
import { parseProof, PROOF_HEADER, proveRecord } from '../../audit/tlog/proof.ts'
import { StrongroomError } from '../../errors.ts'
import { stringOpt, withApp, type Command, type CommandContext } from '../command.ts'
import { CONSISTENCY_HEADER, peekCheckpoint, proveConsistency } from './audit-consistency.ts'
import {
  parseIndex,
  readBounded,
  readLogCheckpoint,
  readVerifierKey,
  verifyProofFile,
  verifyWholeLog,
  writeOut,
} from './audit-verify.ts'

export const auditPublicKey: Command = {
  name: 'audit public-key',
  summary: "Print the audit log's verifier key, which `audit verify --public-key` reads.",
  args: '',
  positionals: [0, 0],
  options: {},
  help: [
    'The key is the C2SP signed-note verifier key NAME+KEYID+BASE64(0x01 ‖ Ed25519 public key),',
    "NAME being the log's origin, `strongroom/audit/` and 16 hex digits. It opens the data",
    'directory (the signing key is sealed under the root key in DATA_DIR/audit/keys.sealed, made',
    'on first use). Publish the key, or keep it with whoever audits the log: with it and a copy',
    'of DATA_DIR/audit/log, `strongroom audit verify` needs nothing else. --json gives',
    '{origin, verifierKey}.',
    '',
    'Examples:',
    '  strongroom audit public-key --data-dir /srv/strongroom > audit.pub',
    '  strongroom audit public-key --json',
  ].join('\n'),
  async run(ctx) {
    const keys = await withApp(ctx, (app) => auditKeys(app.config.dataDir, app.sealer, app.shared))
    ctx.print(keys.verifierKey, { origin: keys.origin, verifierKey: keys.verifierKey })
    return 0
  },
}

export const auditVerify: Command = {
  name: 'audit verify',
  summary:
    "Check the audit log, or one proof, offline with the log's public key. Prints OK, or FAILED and the first bad record.",
  args: '[DIR]',
  positionals: [0, 1],
  options: {
    'public-key': {
      type: 'string',
      value: 'FILE',
      description: 'the verifier key that `audit public-key` prints (required)',
    },
    checkpoint: {
      type: 'string',
      value: 'OLDFILE',
      description: 'an older checkpoint of the log: also prove the log still extends it',
    },
    'witness-key': {
      type: 'string',
      multiple: true,
      value: 'FILE',
      description: "with --checkpoint: OLDFILE must carry this witness's cosignature (repeatable)",
    },
    proof: {
      type: 'string',
      value: 'FILE',
      description: 'check this proof (from `audit prove`) instead of the whole log',
    },
    record: {
      type: 'string',
      value: 'FILE',
      description: "the record's exact bytes, for an inclusion proof",
    },
    index: {
      type: 'string',
      value: 'N',
      description: 'with --proof: the proof must be of record N',
    },
  },
  help: [
    "Needs no data directory, configuration or root key: only DIR, the log's directory (the one",
    'holding `checkpoint` and `tile/`: on a server DATA_DIR/audit/log, or AUDIT_DIR/log when',
    'auditDir is set; copy the checkpoint first, then the tiles), and --public-key FILE, the one',
    'line `strongroom audit public-key` prints:',
    'NAME+KEYID+BASE64, e.g. strongroom/audit/0123456789abcdef+1a2b3c4d+AT…',
    '',
    "The whole log: the checkpoint's signature, every record against its hash tiles, every tile,",
    'and the root. Prints `OK: N records, root BASE64`, or `FAILED:` and the first bad record',
    'with what happened to it: modified, deleted, inserted, reordered, the tail truncated behind',
    'the checkpoint, a forged or replaced checkpoint. With --checkpoint OLDFILE (a checkpoint',
    'kept from earlier, e.g. a copy of DIR/checkpoint), also proves from the tiles that the log',
    'extends it: a log rewritten or rolled back since, or one that showed someone else another',
    "history, fails. Records appended since the last checkpoint (the server's journal) are",
    'checked from the next checkpoint on. On a big log, progress goes to stderr every second.',
    "With --witness-key W.pub (a witness's public key, `audit witness key`), OLDFILE must also",
    "carry that witness's valid cosignature: gateways keep each witness's latest cosigned",
    'checkpoint in AUDIT_DIR/witnessed/, so the log is proven to extend a history the witness saw.',
    '',
    'One proof, with --proof FILE (DIR optional):',
    `  ${PROOF_HEADER} (audit prove --index): one record's inclusion. The record is`,
    '    --record FILE (its exact bytes), else read from DIR at the index the proof names;',
    '    --index N also requires the proof to be of record N.',
    `  ${CONSISTENCY_HEADER} (audit prove --from): both checkpoints' signatures and`,
    '    the proof that the older is a prefix of the newer.',
    '',
    'Examples:',
    '  strongroom audit verify /srv/strongroom/audit/log --public-key audit.pub',
    '  strongroom audit verify log --public-key audit.pub --checkpoint checkpoint-2025-06-01',
    '  strongroom audit verify log --public-key audit.pub --checkpoint audit/witnessed/w1.checkpoint --witness-key w1.pub',
    '  strongroom audit verify --proof 517.tlog-proof --record 517.json --public-key audit.pub',
    '  strongroom audit verify log --proof 517.tlog-proof --public-key audit.pub',
    '  strongroom audit verify --proof june.tlog-consistency --public-key audit.pub',
  ].join('\n'),
  async run(ctx) {
    const keyFile = stringOpt(ctx, 'public-key')
    if (keyFile === undefined || keyFile === '')
      throw new StrongroomError(
        'USAGE',
        '--public-key FILE is required: the verifier key `strongroom audit public-key` prints',
      )
    const key = await readVerifierKey(keyFile)
    const dir = ctx.positionals[0]
    const proof = stringOpt(ctx, 'proof')
    if (proof !== undefined) {
      if (ctx.values['witness-key'] !== undefined)
        throw new StrongroomError('USAGE', '--witness-key goes with --checkpoint, not --proof')
      if (stringOpt(ctx, 'checkpoint') !== undefined)
        throw new StrongroomError(
          'USAGE',
          '--checkpoint checks the whole log, --proof one proof: give one of them',
        )
      return verifyProofFile(ctx, key, proof, dir)
    }
    for (const o of ['record', 'index'])
      if (ctx.values[o] !== undefined)
        throw new StrongroomError('USAGE', `--${o} goes with --proof FILE`)
    if (dir === undefined)
      throw new StrongroomError(
        'USAGE',
        'give the log directory DIR (or --proof FILE); usage: strongroom audit verify DIR --public-key FILE',
      )
    const witnessKeys = (ctx.values['witness-key'] as string[] | undefined) ?? []
    if (witnessKeys.length > 0 && stringOpt(ctx, 'checkpoint') === undefined)
      throw new StrongroomError(
        'USAGE',
        '--witness-key checks the cosignature on --checkpoint OLDFILE: give both',
      )
    const witnesses = await Promise.all(witnessKeys.map((f) => readVerifierKey(f, COSIGNATURE_V1)))
    return verifyWholeLog(ctx, key, dir, stringOpt(ctx, 'checkpoint'), witnesses)
  },
}

export const auditProve: Command = {
  name: 'audit prove',
  summary:
    'Write a proof that a record is in the audit log, or that the log extends an older checkpoint.',
  args: 'DIR',
  positionals: [1, 1],
  options: {
    index: {
      type: 'string',
      value: 'N',
      description: `prove record N (0 is the first): a C2SP ${PROOF_HEADER}`,
    },
    from: {
      type: 'string',
      value: 'OLDFILE',
      description: 'prove the log extends the older checkpoint in OLDFILE',
    },
    out: { type: 'string', value: 'FILE', description: 'write the proof to FILE (default stdout)' },
  },
  help: [
    "Offline, from the log's files in DIR (on a server DATA_DIR/audit/log) and against its",
    'current checkpoint, which the proof carries; no key is needed to prove, only to verify.',
    '',
    `--index N writes the C2SP tlog-proof (https://c2sp.org/tlog-proof): ${PROOF_HEADER},`,
    '`index N`, the RFC 6962 audit path one base64 hash a line, a blank line and the signed',
    'checkpoint. Anyone with the record, the proof and the public key can check it.',
    '',
    '--from OLDFILE (an older checkpoint, e.g. a copy of DIR/checkpoint) writes a consistency',
    "proof. C2SP has no file format for one, so this is Strongroom's own, made of C2SP parts:",
    `the line ${CONSISTENCY_HEADER}, the older signed checkpoint verbatim, a blank line,`,
    'then exactly the body of a C2SP tlog-witness add-checkpoint request: `old SIZE`, the',
    'RFC 6962 proof one base64 hash a line, a blank line, the newer signed checkpoint. When the',
    'log does not extend OLDFILE the proof is still written (it is evidence) with a warning.',
    '',
    'Examples:',
    '  strongroom audit prove /srv/strongroom/audit/log --index 517 --out 517.tlog-proof',
    '  cp /srv/strongroom/audit/log/checkpoint checkpoint-2025-06-01',
    '  strongroom audit prove /srv/strongroom/audit/log --from checkpoint-2025-06-01 --out june.tlog-consistency',
  ].join('\n'),
  async run(ctx) {
    const dir = ctx.positionals[0] ?? ''
    const index = stringOpt(ctx, 'index')
    const from = stringOpt(ctx, 'from')
    if ((index === undefined) === (from === undefined))
      throw new StrongroomError(
        'USAGE',
        'give --index N (a record) or --from OLDFILE (an older checkpoint), one of them',
      )
    const newer = await readLogCheckpoint(dir)
    if (index !== undefined) return proveIndex(ctx, dir, parseIndex(index))
    return proveFrom(ctx, dir, from ?? '', newer)
  },
}

async function proveIndex(ctx: CommandContext, dir: string, index: number): Promise<number> {
  const text = await proveRecord(dir, index)
  // The checkpoint the proof carries: the log may have moved on since DIR's was first read.
  const c = peekCheckpoint(parseProof(text).checkpoint)
  await emit(ctx, text, `the proof of record ${index}`, {
    kind: 'inclusion',
    index,
    size: c.size,
    root: Buffer.from(c.root).toString('base64'),
  })
  return 0
}

async function proveFrom(
  ctx: CommandContext,
  dir: string,
  file: string,
  newer: string,
): Promise<number> {
  const older = (await readBounded(file, 'the older checkpoint', MAX_NOTE_BYTES)).toString('utf8')
  try {
    peekCheckpoint(older)
  } catch (e) {
    if (e instanceof StrongroomError)
      throw new StrongroomError(
        'INVALID_ARGUMENT',
        `\`${file}\` is not a signed checkpoint: ${e.message}`,
      )
    throw e
  }
  const { text, from, to, check } = await proveConsistency(dir, older, newer)
  if (!check.ok)
    ctx.warn(
      `the log does not extend \`${file}\` (${check.problem}): the proof is written as evidence and will not verify`,
    )
  await emit(ctx, text, `the proof from ${from.size} to ${to.size} records`, {
    kind: 'consistency',
    olderSize: from.size,
    olderRoot: Buffer.from(from.root).toString('base64'),
    size: to.size,
    root: Buffer.from(to.root).toString('base64'),
  })
  return 0
}

/** The proof to --out (and a line saying so) or to stdout; with --json, a summary holding it. */
async function emit(
  ctx: CommandContext,
  text: string,
  what: string,
  summary: Record<string, unknown>,
): Promise<void> {
  const out = stringOpt(ctx, 'out')
  if (out !== undefined) {
    await writeOut(out, text)
    ctx.print(`wrote ${what} to ${out}`, { ...summary, out })
  } else if (ctx.json) ctx.print('', { ...summary, proof: text })
  else ctx.write(text)
}
