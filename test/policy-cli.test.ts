/**
 * `strongroom policy validate` and `strongroom policy simulate`, end to end in
 * real processes, in the exact output forms that scripts depend on.
 */
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'

const BIN = join(import.meta.dirname, '..', 'bin', 'strongroom.js')
const dir = mkdtempSync(join(tmpdir(), 'sr-policy-'))
after(() => rmSync(dir, { recursive: true, force: true }))

function run(args: string[], input?: string) {
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd: dir, input, encoding: 'utf8' })
  return { code: r.status, stdout: r.stdout, stderr: r.stderr }
}
function file(name: string, text: string) {
  const p = join(dir, name)
  writeFileSync(p, text)
  return p
}

const allowGet = {
  Version: '2012-10-17',
  Statement: [
    { Sid: 'Read', Effect: 'Allow', Action: 's3:GetObject', Resource: 'arn:aws:s3:::ml/*' },
  ],
}
const req = (action: string) => ({
  principal: 'arn:aws:iam::111122223333:user/alice',
  principalAccount: '111122223333',
  action,
  resource: 'arn:aws:s3:::ml/model.pt',
  resourceAccount: '111122223333',
  context: {},
})

describe('strongroom policy simulate', () => {
  it('prints one JSON object per input line, in order, and goes on past an invalid document', () => {
    const docs = [
      { id: 'get', identityPolicies: [allowGet], request: req('s3:GetObject') },
      { id: 'put', identityPolicies: [allowGet], request: req('s3:PutObject') },
      {
        id: 'broken',
        identityPolicies: [
          { Version: '2012-10-17', Statement: [{ Effect: 'Permit', Action: '*', Resource: '*' }] },
        ],
        request: req('s3:GetObject'),
      },
      {
        identityPolicies: [
          allowGet,
          { Version: '2012-10-17', Statement: [{ Effect: 'Deny', Action: 's3:*', Resource: '*' }] },
        ],
        request: req('s3:GetObject'),
      },
    ]
    const r = run([
      'policy',
      'simulate',
      '--input',
      file('cases.jsonl', docs.map((d) => JSON.stringify(d)).join('\n') + '\n'),
      '--json',
    ])
    assert.equal(r.code, 1, 'a denial or an invalid document makes the exit status 1')
    const out = r.stdout
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>)
    assert.deepEqual(out.slice(0, 2), [
      { id: 'get', decision: 'Allow' },
      { id: 'put', decision: 'ImplicitDeny' },
    ])
    const broken = out.at(2)
    assert.ok(broken)
    assert.equal(broken.id, 'broken')
    const error = broken.error as {
      issues: { path: string; code: string; line: number; column: number }[]
    }
    assert.deepEqual(
      error.issues.map((i) => [i.path, i.code, i.line]),
      [['$.identityPolicies[0].Statement[0].Effect', 'InvalidEffect', 1]],
    )
    assert.deepEqual(out[3], { id: null, decision: 'ExplicitDeny' })
  })

  it('adds the trace with --explain', () => {
    const doc = { id: 'one', identityPolicies: [allowGet], request: req('s3:PutObject') }
    const r = run(
      ['policy', 'simulate', '--input', '-', '--json', '--explain'],
      JSON.stringify(doc, null, 2),
    )
    const line = JSON.parse(r.stdout) as {
      decision: string
      trace: { decidedBy: string; policies: { statements: { sid: string; reason: string }[] }[] }
    }
    assert.equal(line.decision, 'ImplicitDeny')
    const st = line.trace.policies.at(0)?.statements.at(0)
    assert.deepEqual([st?.sid, st?.reason], ['Read', 'action `s3:PutObject` is not in its Action'])
    const human = run(['policy', 'simulate', '--input', '-', '--explain'], JSON.stringify(doc))
    assert.equal(
      human.stdout,
      [
        'one: ImplicitDeny',
        '  decided by: no identity-based or resource-based policy allows the action',
        '  identity policy identityPolicies[0]',
        '    skipped  Allow Read: action `s3:PutObject` is not in its Action',
        '',
      ].join('\n'),
    )
  })

  it('exits 0 when every request is allowed, and 2 on a usage error', () => {
    assert.equal(
      run(
        ['policy', 'simulate', '--input', '-'],
        JSON.stringify({ identityPolicies: [allowGet], request: req('s3:GetObject') }),
      ).code,
      0,
    )
    assert.equal(run(['policy', 'simulate']).code, 2)
  })
})

describe('strongroom policy validate', () => {
  it('reports errors as FILE:line:column and fails, warnings alone pass', () => {
    const bad = file(
      'bad.json',
      '{\n  "Version": "2012-10-17",\n  "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "bucket"}]\n}\n',
    )
    const r = run(['policy', 'validate', bad])
    assert.equal(r.code, 1)
    assert.equal(
      r.stdout,
      `${bad}:3:75: error: \`bucket\` is not an ARN (arn:partition:service:region:account:resource) or * [InvalidResource] at $.Statement[0].Resource\n`,
    )
    const wide = file(
      'wide.json',
      JSON.stringify({
        Version: '2012-10-17',
        Statement: [{ Effect: 'Allow', Action: 's3:*', Resource: 'arn:aws:s3:::ml/*' }],
      }),
    )
    const w = run(['policy', 'validate', wide])
    assert.equal(w.code, 0)
    assert.match(
      w.stdout,
      /wide\.json:1:\d+: warning: `s3:\*` grants every action of the service; name the actions needed \[WildcardAction\]/,
    )
    const ok = file('ok.json', JSON.stringify(allowGet))
    assert.equal(run(['policy', 'validate', ok]).stdout, `${ok}: ok\n`)
  })

  it('warns on a misspelt action, a key the action never carries and a resource of the wrong type, and passes', () => {
    const typos = file(
      'typos.json',
      `{
  "Version": "2012-10-17",
  "Statement": [
    {"Sid": "Read", "Effect": "Allow", "Action": "s3:GetObjekt", "Resource": "arn:aws:s3:::ml/*"},
    {"Sid": "List", "Effect": "Allow", "Action": "s3:ListBucket", "Resource": "arn:aws:s3:::ml/*"},
    {"Sid": "Tls", "Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::ml/*",
     "Condition": {"StringEquals": {"s3:TlsVersoin": "1.3"}}}
  ]
}
`,
    )
    const r = run(['policy', 'validate', typos])
    assert.equal(r.code, 0, 'warnings alone do not fail')
    assert.equal(
      r.stdout,
      [
        `${typos}:4:50: warning: \`s3:GetObjekt\` is not an action of s3; did you mean \`s3:GetObject\`? [UnknownAction] at $.Statement[0].Action`,
        `${typos}:5:79: warning: \`s3:ListBucket\` acts on accesspoint (arn:\${Partition}:s3:\${Region}:\${Account}:accesspoint/\${AccessPointName}), bucket (arn:\${Partition}:s3:::\${BucketName}); no resource of the statement is one [UnsupportedResource] at $.Statement[1].Resource`,
        `${typos}:7:19: warning: no action of the statement (\`s3:GetObject\`) carries the condition key \`s3:TlsVersoin\`: requests for them never have it; did you mean \`s3:TlsVersion\`? [UnsupportedConditionKey] at $.Statement[2].Condition`,
        '',
      ].join('\n'),
    )
  })

  it('uses the grammar of the policy type, and prints JSON with --json', () => {
    const bucket = file('bucket.json', JSON.stringify(allowGet))
    const r = run(['policy', 'validate', '--type', 'resource', '--json', bucket])
    assert.equal(r.code, 1)
    const [report] = JSON.parse(r.stdout) as { valid: boolean; errors: { code: string }[] }[]
    assert.deepEqual(
      [report?.valid, report?.errors.map((e) => e.code)],
      [false, ['MissingElement']],
    )
    assert.equal(run(['policy', 'validate', '--type', 'bogus', bucket]).code, 2)
  })
})
