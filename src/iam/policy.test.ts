import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import { JsonSyntaxError, parseJson } from './json.ts'
import { parsePolicyText, POLICY_SIZE_LIMITS, type Issue, type PolicyKind } from './policy.ts'

const ok = (text: string, kind: PolicyKind = 'identity') => {
  const r = parsePolicyText(text, kind)
  assert.deepEqual(r.errors, [], JSON.stringify(r.errors))
  assert.ok(r.policy)
  return r
}
/** The errors of an invalid policy; it must yield no policy at all. */
const errors = (text: string, kind: PolicyKind = 'identity'): Issue[] => {
  const r = parsePolicyText(text, kind)
  assert.equal(r.policy, undefined, 'an invalid policy must not be evaluable')
  assert.ok(r.errors.length > 0)
  return [...r.errors]
}
const stmt = (s: object, extra: object = {}) =>
  JSON.stringify({ Version: '2012-10-17', Statement: [s], ...extra }, null, 2)

describe('strict JSON reader', () => {
  it('refuses duplicate keys, which JSON.parse would silently resolve to the last', () => {
    // Raw text: the second Effect would win under JSON.parse and turn the Deny into an Allow.
    const text =
      '{"Version":"2012-10-17","Statement":[{"Effect":"Deny",\n "Effect":"Allow","Action":"*","Resource":"*"}]}'
    assert.equal(
      (JSON.parse(text) as { Statement: { Effect: string }[] }).Statement[0]?.Effect,
      'Allow',
    )
    const e = errors(text).at(0)
    assert.ok(e)
    assert.equal(e.code, 'InvalidJson')
    assert.match(e.message, /duplicate key "Effect"/)
    assert.deepEqual([e.line, e.column], [2, 2])
  })

  it('records where every value starts', () => {
    const { positions } = parseJson('{\n  "a": [1,\n    {"b": true}]\n}')
    assert.deepEqual(positions.get('$.a'), { line: 2, column: 8 })
    assert.deepEqual(positions.get('$.a[1].b'), { line: 3, column: 11 })
  })

  it('bounds nesting depth and size', () => {
    assert.throws(() => parseJson('['.repeat(100) + ']'.repeat(100)), /nested deeper than 64/)
    assert.throws(() => parseJson(`"${'x'.repeat(1024 * 1024 + 1)}"`), /larger than/)
  })

  it('reads exactly what JSON.parse reads for any valid JSON without duplicate keys (property)', () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 6 }), (v) => {
        const text = JSON.stringify(v, null, 1)
        assert.deepEqual(JSON.parse(JSON.stringify(parseJson(text).value)), JSON.parse(text))
      }),
      { numRuns: 500 },
    )
  })

  it('never crashes or hangs on random or mutated text, and never accepts what JSON.parse rejects (fuzz)', () => {
    const seed = stmt({
      Effect: 'Allow',
      Action: ['s3:GetObject'],
      Resource: 'arn:aws:s3:::b/*',
      Condition: { StringEquals: { 'aws:PrincipalTag/team': 'ml' } },
    })
    const mutated = fc
      .array(fc.tuple(fc.nat(seed.length - 1), fc.nat(3), fc.string({ maxLength: 3 })), {
        minLength: 1,
        maxLength: 5,
      })
      .map((edits) => {
        let t = seed
        for (const [at, kind, s] of edits) {
          const i = at % (t.length + 1)
          t =
            kind === 0
              ? t.slice(0, i) + s + t.slice(i)
              : kind === 1
                ? t.slice(0, i) + t.slice(i + 1)
                : kind === 2
                  ? t.slice(0, i)
                  : t.slice(0, i) + s + t.slice(i + s.length)
        }
        return t
      })
    fc.assert(
      fc.property(fc.oneof(fc.string({ maxLength: 200 }), mutated), (text) => {
        let native: unknown
        try {
          native = JSON.parse(text)
        } catch {
          native = undefined
        }
        let ours: unknown
        try {
          ours = parseJson(text).value
        } catch (e) {
          assert.ok(e instanceof JsonSyntaxError, String(e))
        }
        if (native === undefined) assert.equal(ours, undefined)
        const r = parsePolicyText(text, 'identity')
        if (r.policy !== undefined) {
          assert.equal(r.errors.length, 0)
          assert.notEqual(native, undefined)
        } else assert.ok(r.errors.length > 0)
      }),
      { numRuns: 3000 },
    )
  })
})

describe('policy validation', () => {
  it('accepts the shapes AWS accepts: one statement object, strings or arrays, JSON scalars as condition values', () => {
    ok('{"Statement":{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}}')
    ok(
      stmt({
        Effect: 'Allow',
        Action: ['s3:Get*', 'S3:LIST*'],
        NotResource: ['arn:aws:s3:::secret/*'],
      }),
    )
    ok(
      stmt({
        Effect: 'Deny',
        NotAction: 'iam:*',
        Resource: '*',
        Condition: {
          Bool: { 'aws:MultiFactorAuthPresent': false },
          NumericLessThan: { 's3:max-keys': 10 },
        },
      }),
    )
    ok(
      stmt({
        Effect: 'Allow',
        Principal: {
          AWS: ['111122223333', 'arn:aws:iam::111122223333:role/x'],
          Service: 's3.amazonaws.com',
        },
        Action: 's3:*',
        Resource: '*',
      }),
      'resource',
    )
    ok(
      '{"Version":"2008-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"arn:aws:s3:::a/${aws:username}"}]}',
    )
  })

  it('points every error at its JSON path and line:column', () => {
    const text =
      '{\n  "Version": "2012-10-17",\n  "Statement": [{\n    "Effect": "Permit",\n    "Action": "s3 GetObject",\n    "Resource": "bucket/*"\n  }]\n}'
    const errs = errors(text)
    const by = (code: string) => errs.find((e) => e.code === code)
    assert.deepEqual(pick(by('InvalidEffect')), {
      path: '$.Statement[0].Effect',
      line: 4,
      column: 15,
    })
    assert.deepEqual(pick(by('InvalidAction')), {
      path: '$.Statement[0].Action',
      line: 5,
      column: 15,
    })
    assert.deepEqual(pick(by('InvalidResource')), {
      path: '$.Statement[0].Resource',
      line: 6,
      column: 17,
    })
  })

  it('refuses unknown elements, operators and conflicting or missing elements', () => {
    const codes = (text: string, kind: PolicyKind = 'identity') =>
      errors(text, kind).map((e) => e.code)
    assert.deepEqual(codes(stmt({ Effect: 'Allow', Action: '*', Resource: '*', Conditions: {} })), [
      'UnknownElement',
    ])
    assert.deepEqual(
      codes(
        stmt({
          Effect: 'Allow',
          Action: '*',
          Resource: '*',
          Condition: { StringEqualz: { 'a:b': 'c' } },
        }),
      ),
      ['InvalidOperator'],
    )
    assert.deepEqual(
      codes(stmt({ Effect: 'Allow', Action: '*', NotAction: 's3:*', Resource: '*' })),
      ['ConflictingElements'],
    )
    assert.deepEqual(codes(stmt({ Effect: 'Allow', Action: '*' })), ['MissingElement'])
    assert.deepEqual(codes(stmt({ Effect: 'Allow', Action: '*', Resource: '*', Principal: '*' })), [
      'PrincipalNotAllowed',
    ])
    assert.deepEqual(codes(stmt({ Effect: 'Allow', Action: '*', Resource: '*' }), 'resource'), [
      'MissingElement',
    ])
    assert.deepEqual(codes('{"Version":"2012-10-18","Statement":[]}'), [
      'InvalidVersion',
      'MissingStatement',
    ])
    assert.deepEqual(codes(stmt({ Effect: 'Allow', Action: [], Resource: '*' })), ['EmptyValue'])
    assert.deepEqual(
      codes(
        stmt({
          Effect: 'Allow',
          Action: '*',
          Resource: '*',
          Condition: { Null: { 'aws:x': 'maybe' } },
        }),
      ),
      ['InvalidConditionValue'],
    )
    assert.deepEqual(
      codes(
        stmt({
          Effect: 'Allow',
          Action: '*',
          Resource: '*',
          Condition: { 'ForAnyValue:Null': { 'aws:x': 'true' } },
        }),
      ),
      ['InvalidOperator'],
    )
  })

  it('refuses malformed ARNs, principals, IPs, dates and numbers', () => {
    const msg = (s: object, kind: PolicyKind = 'identity') =>
      errors(stmt(s), kind)
        .map((e) => e.message)
        .join(' | ')
    assert.match(
      msg({ Effect: 'Allow', Action: '*', Resource: 'arn:aws:s3:bucket' }),
      /is not an ARN/,
    )
    assert.match(
      msg(
        { Effect: 'Allow', Action: '*', Resource: '*', Principal: { AWS: 'arn:aws:iam::*:root' } },
        'resource',
      ),
      /wildcards are not allowed in principals/,
    )
    assert.match(
      msg({ Effect: 'Allow', Action: '*', Resource: '*', Principal: { AWS: 'alice' } }, 'resource'),
      /12-digit account id/,
    )
    assert.match(
      msg({
        Effect: 'Allow',
        Action: '*',
        Resource: '*',
        Condition: { IpAddress: { 'aws:SourceIp': '10.0.0.256/8' } },
      }),
      /not an IP address/,
    )
    assert.match(
      msg({
        Effect: 'Allow',
        Action: '*',
        Resource: '*',
        Condition: { IpAddress: { 'aws:SourceIp': '10.0.0.0/33' } },
      }),
      /not an IP address/,
    )
    assert.match(
      msg({
        Effect: 'Allow',
        Action: '*',
        Resource: '*',
        Condition: { DateLessThan: { 'aws:CurrentTime': '31/01/2026' } },
      }),
      /not a date/,
    )
    assert.match(
      msg({
        Effect: 'Allow',
        Action: '*',
        Resource: '*',
        Condition: { NumericEquals: { 's3:max-keys': 'ten' } },
      }),
      /not a number/,
    )
    assert.match(
      msg({
        Effect: 'Allow',
        Action: '*',
        Resource: '*',
        Condition: { BinaryEquals: { 'a:b': 'not base64!' } },
      }),
      /not base64/,
    )
  })

  it('refuses policy variables where AWS forbids them, and malformed variables', () => {
    const msg = (s: object) =>
      errors(stmt(s))
        .map((e) => e.message)
        .join(' | ')
    assert.match(
      msg({
        Effect: 'Allow',
        Action: '*',
        Resource: '*',
        Condition: { NumericLessThan: { 's3:max-keys': '${aws:username}' } },
      }),
      /policy variables are not allowed in NumericLessThan/,
    )
    assert.match(
      msg({
        Effect: 'Allow',
        Action: '*',
        Resource: '*',
        Condition: { IpAddress: { 'aws:SourceIp': '${aws:SourceIp}' } },
      }),
      /policy variables are not allowed/,
    )
    assert.match(
      msg({ Effect: 'Allow', Action: '*', Resource: 'arn:aws:s3:::b/${aws:username' }),
      /unclosed/,
    )
    assert.match(
      msg({ Effect: 'Allow', Action: '*', Resource: 'arn:aws:s3:::b/${a b}' }),
      /is not a policy variable/,
    )
    // Under 2008-10-17 the same text is literal and valid.
    ok(
      '{"Version":"2008-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"arn:aws:s3:::b/${a b}"}]}',
    )
  })

  it('refuses duplicate Sids in identity policies and warns about them in resource policies', () => {
    const two = (kind: PolicyKind) => {
      const principal = kind === 'key' ? { Principal: '*' } : {}
      const statements = ['Allow', 'Deny'].map((Effect) => ({
        Sid: 'A',
        Effect,
        Action: '*',
        Resource: '*',
        ...principal,
      }))
      return parsePolicyText(JSON.stringify({ Version: '2012-10-17', Statement: statements }), kind)
    }
    assert.deepEqual(
      two('identity').errors.map((e) => e.code),
      ['DuplicateSid'],
    )
    const key = two('key')
    assert.equal(key.errors.length, 0)
    assert.deepEqual(
      key.warnings.filter((w) => w.code === 'DuplicateSid').map((w) => w.path),
      ['$.Statement[1].Sid'],
    )
  })

  it('applies the size limit of each policy type, not counting white space', () => {
    const padded = (n: number) =>
      stmt({ Effect: 'Allow', Action: '*', Resource: `arn:aws:s3:::${'b'.repeat(n)}` })
    const base = JSON.stringify(JSON.parse(padded(0))).length
    const limit = POLICY_SIZE_LIMITS.session
    ok(padded(limit - base), 'session')
    assert.match(
      errors(padded(limit - base + 1), 'session')[0]?.message ?? '',
      /is 2049 characters without white space; the limit is 2048/,
    )
    ok(padded(limit - base + 1), 'identity')
  })
})

function pick(e: Issue | undefined) {
  return e && { path: e.path, line: e.line, column: e.column }
}

describe('least-privilege lint', () => {
  const codes = (s: object, kind: PolicyKind = 'identity', version = '2012-10-17') =>
    parsePolicyText(JSON.stringify({ Version: version, Statement: [s] }), kind).warnings.map(
      (w) => w.code,
    )

  it('warns about grants broader than they look', () => {
    assert.deepEqual(codes({ Effect: 'Allow', NotAction: 'iam:*', Resource: 'arn:aws:s3:::b/*' }), [
      'AllowWithNotAction',
    ])
    assert.deepEqual(
      codes({ Effect: 'Allow', Action: 's3:GetObject', NotResource: 'arn:aws:s3:::secret/*' }),
      ['AllowWithNotResource'],
    )
    assert.deepEqual(codes({ Effect: 'Allow', Action: '*', Resource: 'arn:aws:s3:::b/*' }), [
      'WildcardAction',
      'PrivilegeEscalation',
    ])
    assert.deepEqual(codes({ Effect: 'Allow', Action: '*', Resource: '*' }), [
      'WildcardAction',
      'WildcardResource',
      'PassRoleToAnyRole',
      'PrivilegeEscalation',
    ])
    assert.deepEqual(codes({ Effect: 'Allow', Action: 's3:*', Resource: 'arn:aws:s3:::b/*' }), [
      'WildcardAction',
    ])
    assert.deepEqual(codes({ Effect: 'Allow', Action: 's3:PutObject', Resource: '*' }), [
      'WildcardResource',
    ])
    assert.deepEqual(codes({ Effect: 'Allow', Action: 's3:GetObject', Resource: '*' }), [])
    assert.deepEqual(
      codes({
        Effect: 'Allow',
        Action: 'iam:PassRole',
        Resource: 'arn:aws:iam::111122223333:role/*',
      }),
      ['PassRoleToAnyRole'],
    )
    assert.deepEqual(
      codes({
        Effect: 'Allow',
        Action: ['iam:AttachRolePolicy', 'iam:CreatePolicyVersion'],
        Resource: ['arn:aws:iam::111122223333:role/x', 'arn:aws:iam::111122223333:policy/p'],
      }),
      ['PrivilegeEscalation'],
    )
    assert.deepEqual(
      codes(
        { Effect: 'Allow', Principal: '*', Action: 's3:GetObject', Resource: 'arn:aws:s3:::b/*' },
        'resource',
      ),
      ['PublicPrincipal'],
    )
    assert.deepEqual(
      codes(
        {
          Effect: 'Allow',
          Principal: '*',
          Action: 's3:GetObject',
          Resource: 'arn:aws:s3:::b/*',
          Condition: { StringNotEquals: { 'aws:SourceVpce': 'vpce-1' } },
        },
        'resource',
      ),
      ['InvertedCondition'],
    )
    assert.deepEqual(
      codes(
        { Effect: 'Allow', Action: 's3:GetObject', Resource: 'arn:aws:s3:::b/${aws:username}/*' },
        'identity',
        '2008-10-17',
      ),
      ['VariablesWithoutVersion'],
    )
  })

  it('never warns about Deny statements', () => {
    assert.deepEqual(
      codes({ Effect: 'Deny', NotAction: 's3:GetObject', NotResource: 'arn:aws:s3:::b/*' }),
      [],
    )
  })
})

describe('lint on request', () => {
  const typo = JSON.stringify({
    Version: '2012-10-17',
    Statement: [{ Effect: 'Allow', Action: 's3:GetObjekt', Resource: '*' }],
  })

  it('warns by default, and not when the caller only decides with the policy', () => {
    assert.deepEqual(
      parsePolicyText(typo, 'identity').warnings.map((w) => w.code),
      ['UnknownAction'],
    )
    const quiet = parsePolicyText(typo, 'identity', 'stored', { lint: false })
    assert.deepEqual(quiet.warnings, [])
    assert.equal(quiet.policy?.statements.length, 1)
  })
})
