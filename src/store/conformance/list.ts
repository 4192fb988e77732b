// The conformance cases for list: ordering, label selectors and pagination.
import assert from 'node:assert/strict';
import { describe } from 'node:test';
import {
  app,
  cloud,
  keyOf,
  nsName,
  rvOf,
  expectError,
  listAllPages,
  type StoreTest,
} from './harness.ts';

export function listCases(test: StoreTest): void {
  void describe('list', () => {
    test('lists one namespace or all, ordered by namespace then name, only the requested kind', async (store) => {
      for (const [n, ns] of [
        ['b', 'ns1'],
        ['a', 'ns2'],
        ['c', 'ns1'],
        ['a', 'ns1'],
        ['z', 'ns0'],
      ] as const) {
        await store.create(app(n, ns));
      }
      await store.create(cloud('aws'));
      await store.create(cloud('azure'));

      const all = await store.list('Application');
      assert.deepEqual(all.items.map(nsName), ['ns0/z', 'ns1/a', 'ns1/b', 'ns1/c', 'ns2/a']);
      assert.equal(all.continue, undefined);
      const ns1 = await store.list('Application', { namespace: 'ns1' });
      assert.deepEqual(ns1.items.map(nsName), ['ns1/a', 'ns1/b', 'ns1/c']);
      assert.deepEqual((await store.list('Application', { namespace: 'nope' })).items, []);
      assert.deepEqual((await store.list('Cloud')).items.map(nsName), ['aws', 'azure']);
      assert.deepEqual((await store.list('Nothing')).items, []);
      for (const item of all.items) assert.deepEqual(await store.get(keyOf(item)), item);
    });

    test("the list's resourceVersion is the store revision at the time of the read", async (store) => {
      const empty = await store.list('Application');
      assert.equal(empty.resourceVersion, await store.revision());
      await store.create(app('a'));
      const b = await store.create(app('b'));
      await store.create(cloud('aws'));
      const list = await store.list('Application');
      assert.equal(list.resourceVersion, await store.revision());
      assert.ok(BigInt(list.resourceVersion) > rvOf(b));
      for (const item of list.items) assert.ok(BigInt(list.resourceVersion) >= rvOf(item));
    });

    const labelled: Array<[string, Record<string, string> | undefined]> = [
      ['web-prod', { tier: 'web', env: 'prod' }],
      ['web-dev', { tier: 'web', env: 'dev' }],
      ['db-prod', { tier: 'db', env: 'prod', critical: 'true' }],
      ['bare', undefined],
      ['cache', { tier: 'cache' }],
    ];
    const selectorCases: Array<[string, string[]]> = [
      ['', ['bare', 'cache', 'db-prod', 'web-dev', 'web-prod']],
      ['tier=web', ['web-dev', 'web-prod']],
      ['tier==web', ['web-dev', 'web-prod']],
      ['tier!=web', ['bare', 'cache', 'db-prod']],
      ['tier=web,env=prod', ['web-prod']],
      ['env in (prod,staging)', ['db-prod', 'web-prod']],
      ['env notin (prod)', ['bare', 'cache', 'web-dev']],
      ['critical', ['db-prod']],
      ['!env', ['bare', 'cache']],
      ['tier in (web,db),!critical', ['web-dev', 'web-prod']],
      ['tier=nothing', []],
    ];
    test('filters by label selector', async (store) => {
      for (const [n, labels] of labelled) await store.create(app(n, 'default', labels));
      for (const [selector, want] of selectorCases) {
        const got = await store.list('Application', { labelSelector: selector });
        assert.deepEqual(
          got.items.map((o) => o.metadata.name),
          want,
          `selector ${JSON.stringify(selector)}`,
        );
      }
    });

    test('a malformed label selector throws BadRequest', async (store) => {
      await expectError(
        store.list('Application', { labelSelector: 'a in (x' }),
        'BadRequest',
        /position/,
      );
    });

    test('limit and continue visit every item exactly once, in order, across several pages', async (store) => {
      const names: string[] = [];
      for (let i = 0; i < 23; i++) {
        const ns = `ns${i % 3}`;
        const n = `app-${String(i).padStart(2, '0')}`;
        await store.create(app(n, ns, { parity: i % 2 ? 'odd' : 'even' }));
        names.push(`${ns}/${n}`);
      }
      names.sort();
      const cases: Array<
        [string, { namespace?: string; labelSelector?: string }, (k: string) => boolean]
      > = [
        ['all', {}, () => true],
        ['one namespace', { namespace: 'ns1' }, (k) => k.startsWith('ns1/')],
        ['label selector', { labelSelector: 'parity=odd' }, (k) => Number(k.slice(-2)) % 2 === 1],
        [
          'namespace and selector',
          { namespace: 'ns2', labelSelector: 'parity=even' },
          (k) => k.startsWith('ns2/') && Number(k.slice(-2)) % 2 === 0,
        ],
      ];
      for (const [title, filter, keep] of cases) {
        const want = names.filter(keep);
        for (const limit of [1, 4, 5, want.length, want.length + 1]) {
          const seen = await listAllPages(store, { ...filter, limit });
          assert.deepEqual(seen.keys, want, `${title}, limit ${limit}`);
          assert.equal(
            seen.pages,
            Math.max(1, Math.ceil(want.length / limit)),
            `${title}, limit ${limit}: pages`,
          );
        }
      }
    });

    test('pages reflect the current state: objects present throughout are seen exactly once', async (store) => {
      for (let i = 0; i < 12; i++) await store.create(app(`app-${String(i).padStart(2, '0')}`));
      const seen: string[] = [];
      const first = await store.list('Application', { limit: 4 });
      seen.push(...first.items.map(nsName));
      assert.ok(first.continue);
      // Between pages: delete one already seen and one not yet seen, add one behind and one ahead.
      await store.delete({ kind: 'Application', namespace: 'default', name: 'app-01' });
      await store.delete({ kind: 'Application', namespace: 'default', name: 'app-08' });
      await store.create(app('app-00a'));
      await store.create(app('app-09a'));
      const rest = await listAllPages(store, { limit: 4, continue: first.continue });
      seen.push(...rest.keys);
      const present = ['00', '02', '03', '04', '05', '06', '07', '09', '10', '11'].map(
        (n) => `default/app-${n}`,
      );
      for (const key of present)
        assert.equal(seen.filter((k) => k === key).length, 1, `${key} seen once`);
      assert.ok(seen.includes('default/app-09a'), 'an object created ahead of the cursor is seen');
      assert.ok(
        !seen.includes('default/app-08'),
        'an object deleted ahead of the cursor is not seen',
      );
      assert.deepEqual(seen, [...seen].sort(), 'pages stay in key order');
    });

    test('a malformed continue token throws BadRequest', async (store) => {
      await store.create(app('a'));
      for (const token of ['!!!', 'bm90IGpzb24', Buffer.from('{"a":1}').toString('base64url')]) {
        await expectError(
          store.list('Application', { limit: 1, continue: token }),
          'BadRequest',
          /continue/,
          token,
        );
      }
    });
  });
}
