/**
 * Issue 9, item 16: the second scanner review built pickles that reference
 * allow-listed globals (or names that looked allow-listed under a library
 * prefix) with harmful arguments. Each test is named after one attack and
 * scans its bytes (test/scan/gadgets.ts, also in the scanner corpus) through
 * the real scanner: the verdict and the rule that names the attack are exact.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { classify } from '../../src/scan/rules.ts'
import { scan } from '../../src/scan/scan.ts'
import { bufferSource } from '../../src/scan/source.ts'
import { GADGETS } from '../scan/gadgets.ts'

describe('scanner allow-list gadgets', () => {
  for (const g of GADGETS) {
    it(g.attack, () => {
      const r = scan(bufferSource(g.bytes), g.name)
      const got = r.findings.map((f) => `${f.verdict} ${f.rule} @${f.offset}: ${f.reason}`)
      assert.equal(r.verdict, g.label === 'benign' ? 'clean' : g.label, got.join('\n'))
      if (g.rule !== undefined)
        assert.ok(
          r.findings.some((f) => f.rule === g.rule && f.verdict === g.label),
          `expected a ${g.label} ${g.rule} finding, got:\n${got.join('\n')}`,
        )
    })
  }

  it('no library prefix admits a name: only the exact defining (module, name) pairs are safe', () => {
    const tier = (m: string, n: string) => classify(m, n, 4).tier
    assert.equal(tier('sklearn.linear_model._logistic', 'LogisticRegression'), 'safe')
    // The same class through its public re-export is not the spelling pickle writes.
    assert.equal(tier('sklearn.linear_model', 'LogisticRegression'), 'unknown')
    for (const [m, n] of [
      ['sklearn.linear_model._logistic', 'Anything'],
      ['scipy.sparse._csr', 'Helper'],
      ['transformers.models.bert.modeling_bert', 'BertModel'],
      ['lightgbm.sklearn', 'LGBMClassifier'],
      ['xgboost.sklearn', 'XGBClassifier'],
      ['xgboost.core', 'Booster'],
      ['torch', 'EvilStorage'],
      ['numpy.dtypes', 'EvilDType'],
    ] as const)
      assert.notEqual(tier(m, n), 'safe', `${m}.${n}`)
  })

  it('copy_reg is remapped before the deny-list below protocol 3, and only there', () => {
    assert.equal(classify('copy_reg', '_reconstructor', 0).tier, 'safe')
    assert.equal(classify('copy_reg', '_reconstructor', 3).tier, 'dangerous')
    assert.equal(classify('__builtin__', 'object', 1).tier, 'safe')
    assert.equal(classify('__builtin__', 'eval', 1).tier, 'dangerous')
  })

  it('every gadget class of the review is in the scanner corpus', async () => {
    const { CASES } = await import('../scan/corpus.ts')
    const names = new Set(CASES.map((c) => c.name))
    for (const g of GADGETS) assert.ok(names.has(g.name), g.name)
  })
})
