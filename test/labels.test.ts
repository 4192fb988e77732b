import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { BadRequestError } from '../src/model/errors.ts';
import {
  formatLabelSelector,
  matchesLabels,
  parseLabelSelector,
  requirementsFromLabelSelector,
  type Requirement,
} from '../src/model/labels.ts';
import type { LabelSelector } from '../src/model/schema.ts';

void describe('parseLabelSelector', () => {
  const ok: Array<[string, Requirement[]]> = [
    ['', []],
    ['   ', []],
    ['a=b', [{ key: 'a', operator: 'In', values: ['b'] }]],
    ['a==b', [{ key: 'a', operator: 'In', values: ['b'] }]],
    ['a!=b', [{ key: 'a', operator: 'NotIn', values: ['b'] }]],
    ['a=', [{ key: 'a', operator: 'In', values: [''] }]],
    ['a', [{ key: 'a', operator: 'Exists', values: [] }]],
    ['!a', [{ key: 'a', operator: 'DoesNotExist', values: [] }]],
    [' ! a ', [{ key: 'a', operator: 'DoesNotExist', values: [] }]],
    ['a in (x,y)', [{ key: 'a', operator: 'In', values: ['x', 'y'] }]],
    ['a in ( x , y )', [{ key: 'a', operator: 'In', values: ['x', 'y'] }]],
    ['a notin (x)', [{ key: 'a', operator: 'NotIn', values: ['x'] }]],
    ['yunjian.io/tier=web', [{ key: 'yunjian.io/tier', operator: 'In', values: ['web'] }]],
    [
      'tier=web, env in (prod,staging),!canary,team,zone!=us-1',
      [
        { key: 'tier', operator: 'In', values: ['web'] },
        { key: 'env', operator: 'In', values: ['prod', 'staging'] },
        { key: 'canary', operator: 'DoesNotExist', values: [] },
        { key: 'team', operator: 'Exists', values: [] },
        { key: 'zone', operator: 'NotIn', values: ['us-1'] },
      ],
    ],
  ];
  for (const [input, want] of ok) {
    void it(`parses ${JSON.stringify(input)}`, () => {
      assert.deepEqual(parseLabelSelector(input), want);
    });
  }

  // [input, substring the message must contain]
  const bad: Array<[string, string]> = [
    ['a in x', 'at position 6: expected "(" after "in", found "x"'],
    ['a in (x', 'at position 8: expected "," or ")", found end of selector'],
    ['a in ()', 'at position 7: expected a label value, found ")"'],
    ['a notin (x,)', 'at position 12: expected a label value, found ")"'],
    ['a=b=c', 'at position 4: expected "," or end of selector, found "="'],
    [
      'a b',
      'at position 3: expected one of "=", "==", "!=", "in", "notin", "," or end of selector, found "b"',
    ],
    ['a>1', 'at position 2: expected one of "=", "==", "!=", "in", "notin", found ">"'],
    [',a', 'at position 1: expected a label key, found ","'],
    ['a,', 'at position 3: expected a label key, found end of selector'],
    ['!', 'at position 2: expected a label key, found end of selector'],
    ['=b', 'at position 1: expected a label key, found "="'],
    ['a=(b)', 'at position 3: expected a label value, found "("'],
    ['-a=b', 'at position 1: label key "-a" must be'],
    ['Bad_Prefix/a=b', 'label key prefix "Bad_Prefix" must be'],
    ['a=-b', 'at position 3: label value "-b" must be'],
    [`a=${'x'.repeat(64)}`, 'must be empty or at most 63 characters'],
  ];
  for (const [input, message] of bad) {
    void it(`rejects ${JSON.stringify(input)}`, () => {
      assert.throws(
        () => parseLabelSelector(input),
        (err: unknown) => {
          assert.ok(err instanceof BadRequestError, `expected BadRequestError, got ${String(err)}`);
          assert.equal(err.reason, 'BadRequest');
          assert.ok(
            err.message.includes(message),
            `message ${JSON.stringify(err.message)} lacks ${JSON.stringify(message)}`,
          );
          return true;
        },
      );
    });
  }
});

void describe('matchesLabels', () => {
  const labels = { tier: 'web', env: 'prod', empty: '' };
  // [selector, labels, expected]
  const cases: Array<[string, Record<string, string> | undefined, boolean]> = [
    ['', labels, true],
    ['', undefined, true],
    ['tier=web', labels, true],
    ['tier=db', labels, false],
    ['tier==web', labels, true],
    ['tier!=db', labels, true],
    ['tier!=web', labels, false],
    ['missing!=x', labels, true],
    ['missing=x', labels, false],
    ['empty=', labels, true],
    ['empty', labels, true],
    ['env in (prod,staging)', labels, true],
    ['env in (dev,staging)', labels, false],
    ['missing in (x)', labels, false],
    ['env notin (dev)', labels, true],
    ['env notin (prod)', labels, false],
    ['missing notin (x)', labels, true],
    ['tier', labels, true],
    ['missing', labels, false],
    ['!missing', labels, true],
    ['!tier', labels, false],
    ['tier=web,env=prod', labels, true],
    ['tier=web,env=dev', labels, false],
    ['tier', undefined, false],
    ['!tier', undefined, true],
    ['constructor', {}, false],
    ['!toString', {}, true],
  ];
  for (const [sel, l, want] of cases) {
    void it(`${JSON.stringify(sel)} on ${JSON.stringify(l)} is ${want}`, () => {
      assert.equal(matchesLabels(parseLabelSelector(sel), l), want);
    });
  }
});

void describe('requirementsFromLabelSelector', () => {
  const ok: Array<[LabelSelector | undefined, Requirement[]]> = [
    [undefined, []],
    [{}, []],
    [{ matchLabels: { a: 'b' } }, [{ key: 'a', operator: 'In', values: ['b'] }]],
    [
      {
        matchLabels: { tier: 'web' },
        matchExpressions: [
          { key: 'env', operator: 'In', values: ['prod', 'staging'] },
          { key: 'zone', operator: 'NotIn', values: ['z1'] },
          { key: 'team', operator: 'Exists' },
          { key: 'canary', operator: 'DoesNotExist', values: [] },
        ],
      },
      [
        { key: 'tier', operator: 'In', values: ['web'] },
        { key: 'env', operator: 'In', values: ['prod', 'staging'] },
        { key: 'zone', operator: 'NotIn', values: ['z1'] },
        { key: 'team', operator: 'Exists', values: [] },
        { key: 'canary', operator: 'DoesNotExist', values: [] },
      ],
    ],
  ];
  for (const [sel, want] of ok) {
    void it(`converts ${JSON.stringify(sel)}`, () => {
      assert.deepEqual(requirementsFromLabelSelector(sel), want);
    });
  }

  const bad: Array<[LabelSelector, string]> = [
    [
      { matchExpressions: [{ key: 'a', operator: 'In' }] },
      'matchExpressions[0]: operator In expects at least one value',
    ],
    [
      { matchExpressions: [{ key: 'a', operator: 'NotIn', values: [] }] },
      'operator NotIn expects at least one value',
    ],
    [
      { matchExpressions: [{ key: 'a', operator: 'Exists', values: ['x'] }] },
      'operator Exists expects no values',
    ],
    [{ matchLabels: { 'a b': 'x' } }, 'matchLabels: label key "a b"'],
    [
      { matchExpressions: [{ key: 'a', operator: 'In', values: ['ok', 'not ok'] }] },
      'label value "not ok"',
    ],
  ];
  for (const [sel, message] of bad) {
    void it(`rejects ${JSON.stringify(sel)}`, () => {
      assert.throws(
        () => requirementsFromLabelSelector(sel),
        (err: unknown) => {
          assert.ok(err instanceof BadRequestError);
          assert.ok(err.message.includes(message), err.message);
          return true;
        },
      );
    });
  }

  void it('matches like the equivalent string selector', () => {
    const reqs = requirementsFromLabelSelector({
      matchLabels: { tier: 'web' },
      matchExpressions: [{ key: 'env', operator: 'NotIn', values: ['dev'] }],
    });
    assert.equal(matchesLabels(reqs, { tier: 'web', env: 'prod' }), true);
    assert.equal(matchesLabels(reqs, { tier: 'web' }), true);
    assert.equal(matchesLabels(reqs, { tier: 'web', env: 'dev' }), false);
    assert.equal(matchesLabels(reqs, { env: 'prod' }), false);
  });
});

void describe('formatLabelSelector', () => {
  for (const s of [
    '',
    'a=b',
    'a!=b',
    'a=',
    'a',
    '!a',
    'a in (x,y)',
    'a notin (x,y)',
    'p.io/k=v,!q,r in (1,2)',
  ]) {
    void it(`round-trips ${JSON.stringify(s)}`, () => {
      const reqs = parseLabelSelector(s);
      assert.equal(formatLabelSelector(reqs), s);
      assert.deepEqual(parseLabelSelector(formatLabelSelector(reqs)), reqs);
    });
  }
});
