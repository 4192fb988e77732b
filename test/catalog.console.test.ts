// The console marketplace's pure parts: every category in order (empty ones
// too), the category filter, items that run on agents, and an instance's
// health and bindings.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { byCategory, CATEGORIES, runsOnAgents, summarize } from '../src/console/catalog.ts';
import { BUILTIN_CATALOG } from '../src/model/catalog/builtin.ts';
import {
  API_VERSION,
  CATALOG_CATEGORIES,
  type Binding,
  type Instance,
} from '../src/model/schema.ts';

describe('console marketplace', () => {
  it('has the schema categories in the schema order', () => {
    assert.deepEqual(CATEGORIES, [...CATALOG_CATEGORIES]);
  });

  it('groups items by category, keeping empty categories', () => {
    const groups = byCategory(BUILTIN_CATALOG.filter((i) => i.spec.category !== 'video'));
    assert.equal(groups.length, 16);
    assert.deepEqual(groups.find((g) => g.category === 'video')?.items, []);
    assert.deepEqual(
      groups.find((g) => g.category === 'databases')?.items.map((i) => i.metadata.name),
      ['mariadb', 'postgresql', 'redis'],
    );
  });

  const filters: [string | undefined, number][] = [
    [undefined, 16],
    ['', 16],
    ['iot', 1],
    ['nonsense', 0],
  ];
  for (const [only, count] of filters)
    it(`filter ${JSON.stringify(only)} keeps ${count} categories`, () =>
      assert.equal(byCategory(BUILTIN_CATALOG, only).length, count));

  it('tells items with a process form from image-only ones', () => {
    const by = (n: string) => BUILTIN_CATALOG.find((i) => i.metadata.name === n);
    assert.equal(runsOnAgents(by('nats')!), true);
    assert.equal(runsOnAgents(by('vault')!), false);
  });

  it("summarizes an instance's health and the bindings in its namespace", () => {
    const instance: Instance = {
      apiVersion: API_VERSION,
      kind: 'Instance',
      metadata: { name: 'cache', namespace: 'a' },
      spec: { item: 'redis', version: '7.0.15', plan: 'small' },
      status: { conditions: [{ type: 'Ready', status: 'False', reason: 'DependencyMissing' }] },
    };
    const binding = (ns: string, name: string, inst: string): Binding => ({
      apiVersion: API_VERSION,
      kind: 'Binding',
      metadata: { name, namespace: ns },
      spec: { instance: inst, application: 'web' },
    });
    const s = summarize(instance, [
      binding('a', 'b1', 'cache'),
      binding('b', 'b2', 'cache'),
      binding('a', 'b3', 'other'),
    ]);
    assert.equal(s.ready, 'False');
    assert.equal(s.reason, 'DependencyMissing');
    assert.deepEqual(
      s.bindings.map((b) => b.metadata.name),
      ['b1'],
    );
    assert.equal(summarize({ ...instance, status: {} }, []).reason, 'Pending');
  });
});
