import type { EncryptionContext } from '../../crypto/context.ts'
import { openObject } from '../../crypto/range.ts'
import { decrypt as decryptStream, encrypt as encryptStream } from '../../crypto/stream.ts'
import { StrongroomError } from '../../errors.ts'
import { headerDataKey, newDataKey, standaloneSealOptions } from '../../kms/envelope.ts'
import {
  listOpt,
  requireOpt,
  stringOpt,
  withApp,
  type Command,
  type CommandContext,
} from '../command.ts'
import { createOutput, openInput, progress, spool, type Input, type Output } from '../io.ts'

function parseContext(ctx: CommandContext): EncryptionContext {
  const out: Record<string, string> = {}
  for (const pair of listOpt(ctx, 'context')) {
    const eq = pair.indexOf('=')
    if (eq <= 0)
      throw new StrongroomError('USAGE', `--context takes KEY=VALUE, got \`${pair.slice(0, 80)}\``)
    const k = pair.slice(0, eq)
    if (Object.hasOwn(out, k))
      throw new StrongroomError('USAGE', `--context \`${k}\` is given twice`)
    out[k] = pair.slice(eq + 1)
  }
  return out
}

function checkPaths(input: string, output: string, stdoutIsTty: boolean, binaryOut: boolean): void {
  if (input !== '-' && input === output)
    throw new StrongroomError('USAGE', 'IN and OUT are the same file; write to another path')
  if (output === '-' && binaryOut && stdoutIsTty) {
    throw new StrongroomError(
      'USAGE',
      'refusing to write ciphertext to a terminal; redirect stdout or give an OUT file',
    )
  }
}

/** Runs `produce` into OUT; OUT appears only if everything succeeded. */
async function writeAll(output: Output, produce: () => AsyncIterable<Uint8Array>): Promise<void> {
  try {
    await output.write(produce())
    await output.commit()
  } catch (e) {
    await output.abort()
    throw e
  }
}

export const encrypt: Command = {
  name: 'encrypt',
  summary:
    "Seal a file under a tenant's key. The output carries its wrapped data key, so any installation holding the key can open it.",
  args: 'IN OUT',
  positionals: [2, 2],
  options: {
    tenant: { type: 'string', value: 'NAME', description: 'the tenant whose key seals the file' },
    key: { type: 'string', value: 'REF', description: 'alias/NAME, key id or key ARN' },
    context: {
      type: 'string',
      multiple: true,
      value: 'K=V',
      description: 'extra encryption context; decrypt can require it (repeatable)',
    },
    'segment-size': {
      type: 'string',
      value: 'SIZE',
      description: 'segment size, e.g. 1MiB (default)',
    },
  },
  help: `IN and OUT may be - for stdin and stdout. OUT is written to a temporary file and renamed only
when sealing succeeded.

Example:
  strongroom encrypt --tenant vision --key alias/models --context project=resnet model.pt model.pt.sr`,
  async run(ctx) {
    const tenantName = requireOpt(ctx, 'tenant', encrypt)
    const keyRef = requireOpt(ctx, 'key', encrypt)
    const [inPath = '', outPath = ''] = ctx.positionals
    checkPaths(inPath, outPath, process.stdout.isTTY, true)
    const context = parseContext(ctx)
    const config = ctx.config()
    await withApp(ctx, async (app) => {
      const tenant = await app.identity.tenant(tenantName)
      const key = await app.keys.resolve(tenant, keyRef)
      let input: Input = await openInput(inPath)
      try {
        if (input.size === undefined) input = await spool(input.stream())
        const dk = await newDataKey(
          app.keyProvider,
          { tenant, keyId: key.id, keyVersion: key.currentVersion },
          context,
        )
        const bar = progress('encrypting', input.size)
        const size = input.size ?? 0
        try {
          await writeAll(createOutput(outPath), () =>
            encryptStream(
              bar.count(input.stream()),
              standaloneSealOptions(dk, size, config.segmentSize),
            ),
          )
        } finally {
          dk.dataKey.fill(0)
          bar.end()
        }
        if (outPath !== '-' || ctx.json) {
          ctx.print(
            `sealed ${size} bytes to ${outPath} under ${key.alias ?? key.id} (version ${dk.wrapped.keyVersion})`,
            {
              out: outPath,
              plaintextBytes: size,
              keyId: key.id,
              keyVersion: dk.wrapped.keyVersion,
              dataKeyId: dk.dataKeyId,
              context: dk.context,
            },
          )
        }
      } finally {
        await input.close()
      }
    })
    return 0
  },
}

function parseRange(raw: string): [number, number] {
  const m = /^(\d{1,16})-(\d{1,16})$/.exec(raw)
  if (m === null)
    throw new StrongroomError(
      'USAGE',
      `--range takes FIRST-LAST (inclusive byte offsets, as in HTTP), got \`${raw.slice(0, 80)}\``,
    )
  return [Number(m[1]), Number(m[2])]
}

export const decrypt: Command = {
  name: 'decrypt',
  summary:
    'Open a sealed file. Every byte is authenticated before it is written; OUT appears only when all of it verified.',
  args: 'IN OUT',
  positionals: [2, 2],
  options: {
    range: {
      type: 'string',
      value: 'FIRST-LAST',
      description:
        'decrypt only these plaintext bytes (inclusive), reading only the segments they cover',
    },
    context: {
      type: 'string',
      multiple: true,
      value: 'K=V',
      description: 'require this encryption context (repeatable)',
    },
  },
  help: `IN and OUT may be - for stdin and stdout. --range needs IN to be a file.

Examples:
  strongroom decrypt model.pt.sr model.pt
  strongroom decrypt --range 0-1023 model.pt.sr - | xxd | head`,
  async run(ctx) {
    const [inPath = '', outPath = ''] = ctx.positionals
    checkPaths(inPath, outPath, process.stdout.isTTY, false)
    const rawRange = stringOpt(ctx, 'range')
    const range = rawRange === undefined ? undefined : parseRange(rawRange)
    const expectedContext = parseContext(ctx)
    await withApp(ctx, async (app) => {
      const input = await openInput(inPath)
      try {
        const options = { expectedContext, dataKey: headerDataKey(app.keyProvider) }
        const output = createOutput(outPath)
        if (input.random === undefined) {
          if (range !== undefined)
            throw new StrongroomError(
              'USAGE',
              '--range needs IN to be a file (random access), not a pipe',
            )
          const bar = progress('decrypting', undefined)
          await writeAll(output, () => bar.count(decryptStream(input.stream(), options))).finally(
            () => bar.end(),
          )
          return
        }
        // A file: the layout is checked against the authenticated header before a byte is written.
        const obj = await openObject(input.random, options)
        try {
          const [first, last] = range ?? [0, obj.plaintextLength - 1]
          const bar = progress('decrypting', last - first + 1)
          const empty = range === undefined && obj.plaintextLength === 0
          await writeAll(output, () => bar.count(empty ? [] : obj.range(first, last))).finally(() =>
            bar.end(),
          )
        } finally {
          obj.close()
        }
      } finally {
        await input.close()
      }
    })
    return 0
  },
}
