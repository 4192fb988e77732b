// The Store conformance suite: one set of node:test cases every backend must
// pass unchanged (SQLite today, etcd later). It uses only the Store interface
// and the factory it is given, so what it checks is the contract in types.ts,
// not one implementation.
//
// The factory must return a fresh, empty store each time, and `cleanup` must
// tolerate a store that the test already closed. Configure the backend to keep
// a window of between 1000 and ~10000 change events: the concurrent-watch case
// replays ~500 events from its start, and the compaction case writes until an
// old revision expires.
import assert from 'node:assert/strict';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { describe, it } from 'node:test';
import { YunjianError, type ErrorReason } from '../model/errors.ts';
import type {
  BatchOperation,
  Store,
  StoredObject,
  Watch,
  WatchEvent,
  WatchEventType,
  WatchOptions,
} from './types.ts';

export type OpenStore = () => Promise<{ store: Store; cleanup(): Promise<void> }>;

const API_VERSION = 'yunjian.io/v1alpha1';
/** Writes the compaction case may issue before it gives up waiting for expiry. */
const MAX_WRITES_UNTIL_EXPIRED = 25_000;

export function runStoreConformance(name: string, open: OpenStore): void {
  /** An `it` that gets a fresh store and always cleans up. */
  const test = (title: string, fn: (store: Store) => Promise<void>, timeout = 30_000) => {
    void it(title, { timeout }, async () => {
      const opened = await open();
      try {
        await fn(opened.store);
      } finally {
        await opened.cleanup();
      }
    });
  };

  void describe(`Store conformance: ${name}`, () => {
    void describe('create and get', () => {
      test('create sets uid, resourceVersion, generation 1 and creationTimestamp; get returns the same', async (store) => {
        const created = await store.create(
          app('shop', 'default', { tier: 'web' }, { replicas: 2 }),
        );
        assert.equal(created.kind, 'Application');
        assert.equal(created.metadata.name, 'shop');
        assert.equal(created.metadata.namespace, 'default');
        assert.deepEqual(created.metadata.labels, { tier: 'web' });
        assert.deepEqual(created.spec, { replicas: 2 });
        assert.match(created.metadata.uid ?? '', /^\S{8,}$/);
        assert.match(created.metadata.resourceVersion ?? '', /^\d+$/);
        assert.equal(created.metadata.generation, 1);
        assert.ok(
          !Number.isNaN(Date.parse(created.metadata.creationTimestamp ?? '')),
          'creationTimestamp is a date',
        );
        assert.deepEqual(await store.get(keyOf(created)), created);
        assert.equal(await store.revision(), created.metadata.resourceVersion);
      });

      test('cluster-scoped objects have no namespace', async (store) => {
        const created = await store.create(cloud('aws'));
        assert.equal(created.metadata.namespace, undefined);
        assert.deepEqual(await store.get({ kind: 'Cloud', name: 'aws' }), created);
      });

      test('creating an existing object throws AlreadyExists and changes nothing', async (store) => {
        const first = await store.create(app('shop'));
        await expectError(
          store.create(app('shop', 'default', {}, { replicas: 9 })),
          'AlreadyExists',
          /shop/,
        );
        assert.deepEqual(await store.get(keyOf(first)), first);
        assert.equal(await store.revision(), first.metadata.resourceVersion);
      });

      test('objects are isolated by kind, namespace and name', async (store) => {
        await store.create(app('shop', 'a'));
        const misses: Array<[string, () => Promise<unknown>]> = [
          [
            'get in another namespace',
            () => store.get({ kind: 'Application', namespace: 'b', name: 'shop' }),
          ],
          ['get of another kind', () => store.get({ kind: 'Cloud', name: 'shop' })],
          ['get without namespace', () => store.get({ kind: 'Application', name: 'shop' })],
          [
            'get of another name',
            () => store.get({ kind: 'Application', namespace: 'a', name: 'shop2' }),
          ],
        ];
        for (const [what, call] of misses) await expectError(call(), 'NotFound', /shop/, what);
      });

      test('get, update, updateStatus and delete of a missing object throw NotFound', async (store) => {
        const missing = app('ghost');
        const calls: Array<[string, () => Promise<unknown>]> = [
          ['get', () => store.get(keyOf(missing))],
          ['update', () => store.update(missing)],
          ['updateStatus', () => store.updateStatus({ ...missing, status: { phase: 'x' } })],
          ['delete', () => store.delete(keyOf(missing))],
        ];
        for (const [what, call] of calls) await expectError(call(), 'NotFound', /ghost/, what);
      });
    });

    void describe('revisions', () => {
      test('every write gets a strictly greater revision, across kinds, deletes and re-creates', async (store) => {
        const rvs: bigint[] = [];
        const note = (obj: StoredObject) => {
          rvs.push(rvOf(obj));
          return obj;
        };
        const a = note(await store.create(app('a')));
        note(await store.create(cloud('aws')));
        note(await store.update({ ...a, spec: { replicas: 3 } }));
        note(
          await store.updateStatus(
            { ...a, status: { phase: 'Running' } },
            { expectedResourceVersion: null },
          ),
        );
        const deleted = note(await store.delete(keyOf(a)));
        const again = note(await store.create(app('a')));
        note(await store.delete({ kind: 'Cloud', name: 'aws' }));
        for (let i = 1; i < rvs.length; i++)
          assert.ok(rvs[i]! > rvs[i - 1]!, `revisions ${rvs.join(', ')} strictly increase`);
        assert.equal(BigInt(await store.revision()), rvs[rvs.length - 1]);
        assert.notEqual(
          again.metadata.uid,
          deleted.metadata.uid,
          'a re-created object gets a new uid',
        );
        assert.ok(rvOf(again) > rvOf(deleted));
      });

      test('failed writes do not advance the revision', async (store) => {
        const a = await store.create(app('a'));
        const before = await store.revision();
        await expectError(store.create(app('a')), 'AlreadyExists');
        await expectError(
          store.update({ ...a, spec: { replicas: 5 } }, { expectedResourceVersion: '0' }),
          'Conflict',
        );
        await expectError(
          store.delete({ kind: 'Application', namespace: 'default', name: 'nope' }),
          'NotFound',
        );
        assert.equal(await store.revision(), before);
      });
    });

    void describe('compare-and-set', () => {
      // Each case starts from an object written twice, so `stale` is the first
      // version's resourceVersion and `current` the second's.
      interface CasCase {
        title: string;
        metadataRv: 'stale' | 'current' | 'absent';
        option: 'stale' | 'current' | 'null' | 'absent';
        ok: boolean;
      }
      const cases: CasCase[] = [
        {
          title: 'metadata.resourceVersion current',
          metadataRv: 'current',
          option: 'absent',
          ok: true,
        },
        {
          title: 'metadata.resourceVersion stale',
          metadataRv: 'stale',
          option: 'absent',
          ok: false,
        },
        {
          title: 'no resourceVersion anywhere (unconditional)',
          metadataRv: 'absent',
          option: 'absent',
          ok: true,
        },
        {
          title: 'explicit current overrides stale metadata',
          metadataRv: 'stale',
          option: 'current',
          ok: true,
        },
        {
          title: 'explicit stale overrides current metadata',
          metadataRv: 'current',
          option: 'stale',
          ok: false,
        },
        {
          title: 'explicit null writes unconditionally',
          metadataRv: 'stale',
          option: 'null',
          ok: true,
        },
      ];
      const ops = {
        update: (store: Store, obj: StoredObject, opts: Parameters<Store['update']>[1]) =>
          store.update({ ...obj, spec: { replicas: 42 } }, opts),
        updateStatus: (store: Store, obj: StoredObject, opts: Parameters<Store['update']>[1]) =>
          store.updateStatus({ ...obj, status: { phase: 'Changed' } }, opts),
      };
      for (const [opName, op] of Object.entries(ops)) {
        for (const c of cases) {
          test(`${opName}: ${c.title} → ${c.ok ? 'succeeds' : 'Conflict'}`, async (store) => {
            const v1 = await store.create(app('shop'));
            const v2 = await store.update({
              ...v1,
              metadata: { ...v1.metadata, labels: { touched: 'yes' } },
            });
            const rv = {
              stale: v1.metadata.resourceVersion!,
              current: v2.metadata.resourceVersion!,
            };
            const metadata = { ...v2.metadata };
            if (c.metadataRv === 'absent') delete metadata.resourceVersion;
            else metadata.resourceVersion = rv[c.metadataRv];
            const opts =
              c.option === 'absent'
                ? undefined
                : { expectedResourceVersion: c.option === 'null' ? null : rv[c.option] };
            const attempt = op(store, { ...v2, metadata }, opts);
            if (c.ok) {
              const written = await attempt;
              assert.ok(rvOf(written) > rvOf(v2));
              assert.deepEqual(await store.get(keyOf(v2)), written);
            } else {
              const err = await expectError(
                attempt,
                'Conflict',
                new RegExp(`resourceVersion ${rv.stale} is stale`),
              );
              assert.equal(err.retryable, true);
              assert.match(err.message, new RegExp(`current ${rv.current}`));
              assert.deepEqual(
                await store.get(keyOf(v2)),
                v2,
                'a conflicting write changes nothing',
              );
            }
          });
        }
      }

      test('delete with a stale resourceVersion throws Conflict; with the current one it deletes', async (store) => {
        const v1 = await store.create(app('shop'));
        const v2 = await store.update({ ...v1, spec: { replicas: 2 } });
        await expectError(
          store.delete(keyOf(v1), { expectedResourceVersion: v1.metadata.resourceVersion! }),
          'Conflict',
          /is stale/,
        );
        assert.deepEqual(await store.get(keyOf(v1)), v2);
        const deleted = await store.delete(keyOf(v1), {
          expectedResourceVersion: v2.metadata.resourceVersion!,
        });
        assert.ok(rvOf(deleted) > rvOf(v2), 'the deleted object carries the deletion revision');
        assert.equal(await store.revision(), deleted.metadata.resourceVersion);
        assert.deepEqual(deleted.spec, v2.spec);
        assert.equal(deleted.metadata.uid, v2.metadata.uid);
        await expectError(store.get(keyOf(v1)), 'NotFound');
      });

      test('delete without options is unconditional', async (store) => {
        const v1 = await store.create(app('shop'));
        await store.update({ ...v1, spec: { replicas: 2 } });
        await store.delete(keyOf(v1));
        await expectError(store.get(keyOf(v1)), 'NotFound');
      });
    });

    void describe('update semantics', () => {
      test('update replaces spec, labels and annotations but keeps the stored status', async (store) => {
        const v1 = await store.create({
          ...app('shop', 'default', { tier: 'web', old: 'x' }),
          metadata: {
            name: 'shop',
            namespace: 'default',
            labels: { tier: 'web', old: 'x' },
            annotations: { a: '1' },
          },
        });
        const v2 = await store.updateStatus({ ...v1, status: { phase: 'Running' } });
        const v3 = await store.update({
          ...v2,
          metadata: { ...v2.metadata, labels: { tier: 'db' }, annotations: { b: '2' } },
          spec: { replicas: 7 },
          status: { phase: 'Forged' },
        });
        assert.deepEqual(v3.status, { phase: 'Running' });
        assert.deepEqual(v3.spec, { replicas: 7 });
        assert.deepEqual(v3.metadata.labels, { tier: 'db' });
        assert.deepEqual(v3.metadata.annotations, { b: '2' });
        assert.equal(v3.metadata.uid, v1.metadata.uid);
        assert.equal(v3.metadata.creationTimestamp, v1.metadata.creationTimestamp);
        assert.deepEqual(await store.get(keyOf(v1)), v3);
      });

      test('update cannot change uid or creationTimestamp', async (store) => {
        const v1 = await store.create(app('shop'));
        const v2 = await store.update({
          ...v1,
          metadata: { ...v1.metadata, uid: 'forged', creationTimestamp: '2000-01-01T00:00:00Z' },
        });
        assert.equal(v2.metadata.uid, v1.metadata.uid);
        assert.equal(v2.metadata.creationTimestamp, v1.metadata.creationTimestamp);
      });

      test('updateStatus replaces status only; spec, metadata and generation are kept', async (store) => {
        const v1 = await store.create(app('shop', 'default', { tier: 'web' }, { replicas: 1 }));
        const v2 = await store.updateStatus({
          ...v1,
          metadata: { ...v1.metadata, labels: { tier: 'forged' }, generation: 99 },
          spec: { replicas: 100 },
          status: { phase: 'Running', ready: 1 },
        });
        assert.deepEqual(v2.status, { phase: 'Running', ready: 1 });
        assert.deepEqual(v2.spec, { replicas: 1 });
        assert.deepEqual(v2.metadata.labels, { tier: 'web' });
        assert.equal(v2.metadata.generation, 1);
        assert.ok(rvOf(v2) > rvOf(v1));
        assert.deepEqual(await store.get(keyOf(v1)), v2);
      });

      // [title, change, expected generation delta]
      const generationCases: Array<
        [string, (s: Store, o: StoredObject) => Promise<StoredObject>, number]
      > = [
        ['same spec', (s, o) => s.update({ ...o }), 0],
        [
          'same spec with keys in another order',
          (s, o) => s.update({ ...o, spec: { b: { y: 2, x: 1 }, a: 1 } }),
          0,
        ],
        [
          'labels only',
          (s, o) => s.update({ ...o, metadata: { ...o.metadata, labels: { new: 'label' } } }),
          0,
        ],
        [
          'annotations only',
          (s, o) => s.update({ ...o, metadata: { ...o.metadata, annotations: { n: 'v' } } }),
          0,
        ],
        [
          'status via updateStatus',
          (s, o) => s.updateStatus({ ...o, status: { phase: 'Ready' } }),
          0,
        ],
        [
          'top-level spec field',
          (s, o) => s.update({ ...o, spec: { a: 2, b: { x: 1, y: 2 } } }),
          1,
        ],
        ['nested spec field', (s, o) => s.update({ ...o, spec: { a: 1, b: { x: 1, y: 3 } } }), 1],
        [
          'spec field added',
          (s, o) => s.update({ ...o, spec: { a: 1, b: { x: 1, y: 2 }, c: [] } }),
          1,
        ],
        [
          'spec removed',
          (s, o) => s.update({ apiVersion: o.apiVersion, kind: o.kind, metadata: o.metadata }),
          1,
        ],
      ];
      for (const [title, change, delta] of generationCases) {
        test(`generation ${delta ? 'increments' : 'is kept'}: ${title}`, async (store) => {
          const v1 = await store.create(app('shop', 'default', {}, { a: 1, b: { x: 1, y: 2 } }));
          const v2 = await change(store, v1);
          assert.equal(v2.metadata.generation, 1 + delta);
          const v3 = await store.update({ ...v2, spec: { replaced: true } });
          assert.equal(
            v3.metadata.generation,
            2 + delta,
            'and increments again on the next spec change',
          );
        });
      }

      test('returned objects are copies: mutating them or the input does not change the store', async (store) => {
        const input = app('shop', 'default', { tier: 'web' }, { replicas: 1 });
        const created = await store.create(input);
        (input.spec as { replicas: number }).replicas = 50;
        (created.spec as { replicas: number }).replicas = 60;
        created.metadata.labels!.tier = 'db';
        const got = await store.get(keyOf(created));
        assert.deepEqual(got.spec, { replicas: 1 });
        assert.deepEqual(got.metadata.labels, { tier: 'web' });
      });
    });

    void describe('batch', () => {
      test('applies every operation in order, each at the next revision; later ones see earlier ones', async (store) => {
        const old = await store.create(app('old'));
        const before = rvOf(old);
        const written = await store.batch([
          { op: 'create', object: app('a') },
          { op: 'update', object: app('a', 'default', { tier: 'web' }, { replicas: 2 }) },
          { op: 'updateStatus', object: { ...app('a'), status: { phase: 'Running' } } },
          { op: 'create', object: cloud('aws') },
          { op: 'delete', key: keyOf(old), options: { expectedResourceVersion: String(before) } },
        ]);
        assert.deepEqual(
          written.map(rvOf),
          [1n, 2n, 3n, 4n, 5n].map((n) => before + n),
        );
        assert.equal(await store.revision(), String(before + 5n));
        const a = await store.get({ kind: 'Application', namespace: 'default', name: 'a' });
        assert.deepEqual(a, written[2]);
        assert.deepEqual(a.spec, { replicas: 2 });
        assert.deepEqual(a.status, { phase: 'Running' });
        assert.equal(a.metadata.generation, 2);
        assert.deepEqual(await store.get({ kind: 'Cloud', name: 'aws' }), written[3]);
        assert.deepEqual(written[4]?.spec, old.spec, 'delete yields the deleted object');
        await expectError(store.get(keyOf(old)), 'NotFound');
      });

      test('an empty batch resolves with [] and writes nothing', async (store) => {
        await store.create(app('a'));
        const before = await store.revision();
        assert.deepEqual(await store.batch([]), []);
        assert.equal(await store.revision(), before);
      });

      interface FailingBatchCase {
        title: string;
        reason: ErrorReason;
        /** The last operation of the batch, after two creates that would succeed. */
        failing: (existing: StoredObject) => BatchOperation;
      }
      const failingCases: FailingBatchCase[] = [
        {
          title: 'create of an existing object',
          reason: 'AlreadyExists',
          failing: (existing) => ({ op: 'create', object: app(existing.metadata.name) }),
        },
        {
          title: 'update with a stale resourceVersion',
          reason: 'Conflict',
          failing: (existing) => ({
            op: 'update',
            object: { ...existing, spec: { replicas: 7 } },
            options: { expectedResourceVersion: String(rvOf(existing) - 1n) },
          }),
        },
        {
          title: 'updateStatus of a missing object',
          reason: 'NotFound',
          failing: () => ({ op: 'updateStatus', object: { ...app('ghost'), status: {} } }),
        },
        {
          title: 'delete of a missing object',
          reason: 'NotFound',
          failing: () => ({
            op: 'delete',
            key: { kind: 'Application', namespace: 'default', name: 'ghost' },
          }),
        },
      ];
      for (const c of failingCases) {
        test(`all or nothing: a failing ${c.title} stores none of the batch (${c.reason})`, async (store) => {
          await store.create(app('first'));
          const existing = await store.update({ ...(await store.get(keyOf(app('first')))) });
          const before = await store.revision();
          const watch = store.watch({ fromRevision: before });
          try {
            await expectError(
              store.batch([
                { op: 'create', object: app('b1') },
                { op: 'update', object: { ...existing, spec: { replicas: 3 } } },
                { op: 'create', object: cloud('b2') },
                c.failing(existing),
              ]),
              c.reason,
            );
            assert.equal(await store.revision(), before, 'no revision is used');
            await expectError(store.get(keyOf(app('b1'))), 'NotFound');
            await expectError(store.get({ kind: 'Cloud', name: 'b2' }), 'NotFound');
            assert.deepEqual(await store.get(keyOf(existing)), existing);
            // The first event the watcher sees is the next successful write, not the batch's.
            const after = await store.create(app('after'));
            const [ev] = await take(watch, 1);
            assert.deepEqual(ev?.object, after);
          } finally {
            watch.close();
          }
        });
      }

      test('a failing batch does not affect writes issued alongside it', async (store) => {
        const existing = await store.create(app('x'));
        const [single, failed, batched] = await Promise.allSettled([
          store.create(app('alone')),
          store.batch([
            { op: 'create', object: app('doomed') },
            { op: 'create', object: app('x') },
          ]),
          store.batch([{ op: 'update', object: { ...existing, spec: { replicas: 4 } } }]),
        ]);
        assert.equal(single.status, 'fulfilled');
        assert.equal(failed.status, 'rejected');
        assert.equal(batched.status, 'fulfilled');
        await expectError(store.get(keyOf(app('doomed'))), 'NotFound');
        assert.deepEqual((await store.get(keyOf(existing))).spec, { replicas: 4 });
      });

      test('live watchers get every event of a batch, in order', async (store) => {
        const watch = store.watch({ fromRevision: await store.revision() });
        try {
          const events = take(watch, 3);
          const written = await store.batch([
            { op: 'create', object: app('a') },
            { op: 'create', object: app('b') },
            { op: 'delete', key: keyOf(app('a')) },
          ]);
          assert.deepEqual(
            (await events).map((e) => [e.type, e.object]),
            [
              ['ADDED', written[0]],
              ['ADDED', written[1]],
              ['DELETED', written[2]],
            ],
          );
        } finally {
          watch.close();
        }
      });
    });

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
        assert.ok(
          seen.includes('default/app-09a'),
          'an object created ahead of the cursor is seen',
        );
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

    void describe('watch', () => {
      test('from a revision: ADDED, MODIFIED and DELETED in order with their revisions', async (store) => {
        await store.create(app('before'));
        const from = await store.revision();
        const written: StoredObject[] = [];
        const a = await store.create(app('shop', 'default', { tier: 'web' }, { replicas: 1 }));
        written.push(a);
        const b = await store.update({ ...a, spec: { replicas: 2 } });
        written.push(b);
        written.push(await store.updateStatus({ ...b, status: { phase: 'Running' } }));
        written.push(await store.delete(keyOf(a)));
        const watch = store.watch({ fromRevision: from });
        try {
          const events = await take(watch, 4);
          assert.deepEqual(
            events.map((e) => e.type),
            ['ADDED', 'MODIFIED', 'MODIFIED', 'DELETED'],
          );
          assert.deepEqual(
            events.map((e) => e.object),
            written,
          );
          const deleted = events[3]!.object;
          assert.deepEqual(deleted.status, { phase: 'Running' }, 'DELETED carries the last state');
          assert.deepEqual(deleted.spec, { replicas: 2 });
        } finally {
          watch.close();
        }
      });

      test('from a list: watching from the list resourceVersion continues exactly after it', async (store) => {
        await store.create(app('a'));
        const list = await store.list('Application');
        const b = await store.create(app('b'));
        const watch = store.watch({ kind: 'Application', fromRevision: list.resourceVersion });
        try {
          const [ev] = await take(watch, 1);
          assert.equal(ev?.type, 'ADDED');
          assert.deepEqual(ev?.object, b);
        } finally {
          watch.close();
        }
      });

      test('without fromRevision: only changes after the call', async (store) => {
        await store.create(app('old'));
        const watch = store.watch();
        try {
          const fresh = await store.create(app('new'));
          const [ev] = await take(watch, 1);
          assert.deepEqual(ev?.object, fresh);
        } finally {
          watch.close();
        }
      });

      test('live: changes made while watching arrive in order', async (store) => {
        const watch = store.watch({ fromRevision: await store.revision() });
        try {
          const events = take(watch, 3);
          const a = await store.create(app('a'));
          const b = await store.update({ ...a, spec: { replicas: 3 } });
          const c = await store.delete(keyOf(a));
          assert.deepEqual(
            (await events).map((e) => [e.type, e.object]),
            [
              ['ADDED', a],
              ['MODIFIED', b],
              ['DELETED', c],
            ],
          );
        } finally {
          watch.close();
        }
      });

      test('watches resumed mid-stream during 480 concurrent writes: every later revision exactly once, in order', async (store) => {
        const workers = 8;
        const perWorker = 60;
        const total = workers * perWorker;
        const acked = new Map<bigint, { type: WatchEventType; key: string }>();
        const milestones = new Map<number, () => void>();
        const reach = (count: number) =>
          new Promise<void>((resolve) => milestones.set(count, resolve));
        const ack = (type: WatchEventType, obj: StoredObject) => {
          acked.set(rvOf(obj), { type, key: `${obj.kind}:${nsName(obj)}` });
          milestones.get(acked.size)?.();
        };
        const latestAcked = () => [...acked.keys()].reduce((max, rv) => (rv > max ? rv : max), 0n);
        const oneThird = reach(Math.floor(total / 3));
        const twoThirds = reach(Math.floor((2 * total) / 3));

        const seed = await store.create(cloud('seed'));
        const watchers: Array<{
          label: string;
          from: bigint;
          events: ReturnType<typeof collect>;
          ackedWhenOpened: number;
        }> = [];
        const follow = (label: string, from: bigint) =>
          watchers.push({
            label,
            from,
            events: collect(store.watch({ fromRevision: String(from) })),
            ackedWhenOpened: acked.size,
          });

        follow('watch opened before the writes', rvOf(seed));
        const worker = async (w: number) => {
          let current: StoredObject | undefined;
          for (let j = 0; j < perWorker; j++) {
            await yieldToEventLoop();
            const step = j % 3;
            if (step === 0 || current === undefined) {
              current = await store.create(app(`w${w}-${j}`, `ns${w % 3}`, { worker: String(w) }));
              ack('ADDED', current);
            } else if (step === 1) {
              current = await store.update({ ...current, spec: { replicas: j } });
              ack('MODIFIED', current);
            } else {
              ack('DELETED', await store.delete(keyOf(current), { expectedResourceVersion: null }));
              current = undefined;
            }
          }
        };
        const writing = Promise.all(Array.from({ length: workers }, (_, w) => worker(w)));

        // Resume from a revision a client has actually seen, while writes go on;
        // and later from the very start, with a long backlog to catch up on.
        await oneThird;
        follow('watch resumed from the latest acknowledged revision', latestAcked());
        await twoThirds;
        follow('watch opened late from before the writes', rvOf(seed));
        await writing;
        const last = latestAcked();

        for (const { label, from, events: collector, ackedWhenOpened } of watchers) {
          if (ackedWhenOpened > 0)
            assert.ok(ackedWhenOpened < total, `${label}: opened while writes were still running`);
          const events = await collector.until(last);
          const want = [...acked.keys()]
            .filter((rv) => rv > from)
            .sort((x, y) => (x < y ? -1 : x > y ? 1 : 0));
          const got = events.map((e) => rvOf(e.object));
          assert.deepEqual(got, want, `${label}: exact revision sequence`);
          for (const e of events) {
            const w = acked.get(rvOf(e.object))!;
            assert.equal(e.type, w.type, `${label}: event type at ${rvOf(e.object)}`);
            assert.equal(
              `${e.object.kind}:${nsName(e.object)}`,
              w.key,
              `${label}: object at ${rvOf(e.object)}`,
            );
          }
        }
      }, 60_000);

      // The same writes, watched through different filters, from the backlog and live.
      const scenario = async (store: Store) => {
        await store.create(cloud('c1', { tier: 'web' }));
        const x = await store.create(app('x', 'a', { tier: 'web' }));
        await store.create(app('y', 'b', { tier: 'db' }));
        await store.update({ ...x, spec: { replicas: 5 } });
        await store.create(app('z', 'a'));
        await store.delete(keyOf(x));
        await store.delete({ kind: 'Cloud', name: 'c1' });
        await store.create(app('w', 'b', { tier: 'web' }));
      };
      const filterCases: Array<[string, WatchOptions, string[], StoredObject]> = [
        ['kind', { kind: 'Cloud' }, ['ADDED c1', 'DELETED c1'], cloud('sentinel')],
        [
          'kind and namespace',
          { kind: 'Application', namespace: 'a' },
          ['ADDED a/x', 'MODIFIED a/x', 'ADDED a/z', 'DELETED a/x'],
          app('sentinel', 'a'),
        ],
        [
          'namespace across kinds',
          { namespace: 'b' },
          ['ADDED b/y', 'ADDED b/w'],
          app('sentinel', 'b'),
        ],
        [
          'label selector (DELETED matches on the deleted labels)',
          { kind: 'Application', labelSelector: 'tier=web' },
          ['ADDED a/x', 'MODIFIED a/x', 'DELETED a/x', 'ADDED b/w'],
          app('sentinel', 'c', { tier: 'web' }),
        ],
        [
          'label selector across kinds',
          { labelSelector: 'tier in (web)' },
          ['ADDED c1', 'ADDED a/x', 'MODIFIED a/x', 'DELETED a/x', 'DELETED c1', 'ADDED b/w'],
          cloud('sentinel', { tier: 'web' }),
        ],
        [
          'negative selector',
          { kind: 'Application', labelSelector: '!tier' },
          ['ADDED a/z'],
          app('sentinel', 'c'),
        ],
      ];
      for (const mode of ['backlog', 'live'] as const) {
        for (const [title, options, want, sentinel] of filterCases) {
          test(`filters by ${title} (${mode})`, async (store) => {
            const from = await store.revision();
            let watch: Watch | undefined;
            if (mode === 'live') watch = store.watch({ ...options, fromRevision: from });
            await scenario(store);
            watch ??= store.watch({ ...options, fromRevision: from });
            try {
              const events = await take(watch, want.length);
              assert.deepEqual(
                events.map((e) => `${e.type} ${nsName(e.object)}`),
                want,
              );
              // Nothing else was queued: the next event is a later matching write.
              const written = await store.create(sentinel);
              const [next] = await take(watch, 1);
              assert.deepEqual(next?.object, written);
            } finally {
              watch.close();
            }
          });
        }
      }

      test('close() ends iteration, including a pending next(), and is idempotent', async (store) => {
        const watch = store.watch();
        const seen: WatchEvent[] = [];
        const loop = (async () => {
          for await (const ev of watch) seen.push(ev);
        })();
        await store.create(app('a'));
        await waitFor(() => seen.length === 1);
        watch.close();
        await within(loop, 5000, 'for-await ends after close()');
        watch.close();
        const it = watch[Symbol.asyncIterator]();
        assert.deepEqual(await it.next(), { done: true, value: undefined });
        await store.create(app('b'));
        assert.equal(seen.length, 1);
      });

      test('breaking out of for-await closes the watch', async (store) => {
        const watch = store.watch();
        await store.create(app('a'));
        await store.create(app('b'));
        for await (const ev of watch) {
          assert.equal(ev.object.metadata.name, 'a');
          break;
        }
        assert.deepEqual(await watch[Symbol.asyncIterator]().next(), {
          done: true,
          value: undefined,
        });
      });

      test('closing the store ends its watches', async (store) => {
        const watch = store.watch();
        const loop = (async () => {
          for await (const ev of watch) void ev;
        })();
        await store.close();
        await within(loop, 5000, 'for-await ends after store.close()');
      });

      test('a bad fromRevision or selector fails the first next() with BadRequest', async (store) => {
        for (const options of [{ fromRevision: 'abc' }, { labelSelector: 'a in' }]) {
          const watch = store.watch(options);
          await expectError(
            watch[Symbol.asyncIterator]().next(),
            'BadRequest',
            undefined,
            JSON.stringify(options),
          );
          watch.close();
        }
      });

      test('a compacted revision throws Expired from the first next(); recent revisions still work', async (store) => {
        const first = await store.create(app('churn'));
        const from = first.metadata.resourceVersion!;
        let current = first;
        let expiredErr: YunjianError | undefined;
        for (
          let writes = 0;
          writes < MAX_WRITES_UNTIL_EXPIRED && expiredErr === undefined;
          writes++
        ) {
          current = await store.update({ ...current, spec: { n: writes } });
          if (writes % 50 !== 49) continue;
          await yieldToEventLoop();
          const probe = store.watch({ fromRevision: from });
          try {
            await within(probe[Symbol.asyncIterator]().next(), 5000, 'the probe watch answers');
          } catch (err) {
            if (!(err instanceof YunjianError)) throw err;
            expiredErr = err;
          } finally {
            probe.close();
          }
        }
        assert.ok(
          expiredErr,
          `revision ${from} did not expire within ${MAX_WRITES_UNTIL_EXPIRED} writes; configure a small event retention`,
        );
        assert.equal(expiredErr.reason, 'Expired');

        const list = await store.list('Application');
        const watch = store.watch({ fromRevision: list.resourceVersion });
        try {
          const next = take(watch, 1);
          const written = await store.update({ ...current, spec: { n: 'after' } });
          assert.deepEqual((await next)[0]?.object, written);
        } finally {
          watch.close();
        }
      }, 120_000);
    });
  });
}

// ---- helpers -----------------------------------------------------------------

function app(
  name: string,
  namespace = 'default',
  labels?: Record<string, string>,
  spec: unknown = { replicas: 1 },
): StoredObject {
  return {
    apiVersion: API_VERSION,
    kind: 'Application',
    metadata: { name, namespace, ...(labels ? { labels } : {}) },
    spec,
  };
}

function cloud(name: string, labels?: Record<string, string>): StoredObject {
  return {
    apiVersion: API_VERSION,
    kind: 'Cloud',
    metadata: { name, ...(labels ? { labels } : {}) },
    spec: { provider: 'aws' },
  };
}

function keyOf(obj: StoredObject) {
  return { kind: obj.kind, namespace: obj.metadata.namespace, name: obj.metadata.name };
}

function nsName(obj: StoredObject): string {
  return obj.metadata.namespace === undefined
    ? obj.metadata.name
    : `${obj.metadata.namespace}/${obj.metadata.name}`;
}

function rvOf(obj: StoredObject): bigint {
  const rv = obj.metadata.resourceVersion;
  assert.match(rv ?? '', /^\d+$/, `resourceVersion of ${nsName(obj)} is a decimal string`);
  return BigInt(rv!);
}

async function expectError(
  promise: Promise<unknown>,
  reason: ErrorReason,
  message?: RegExp,
  what = '',
): Promise<YunjianError> {
  let caught: unknown;
  try {
    await promise;
  } catch (err) {
    caught = err;
  }
  const prefix = what ? `${what}: ` : '';
  assert.ok(
    caught instanceof YunjianError,
    `${prefix}expected a ${reason} error, got ${caught === undefined ? 'success' : describeError(caught)}`,
  );
  assert.equal(caught.reason, reason, `${prefix}${caught.message}`);
  if (message) assert.match(caught.message, message, prefix);
  return caught;
}

function describeError(err: unknown): string {
  return err instanceof Error ? `${err.name}: ${err.message}` : JSON.stringify(err);
}

async function listAllPages(
  store: Store,
  options: { namespace?: string; labelSelector?: string; limit: number; continue?: string },
) {
  const keys: string[] = [];
  let pages = 0;
  let token = options.continue;
  do {
    const page = await store.list('Application', { ...options, continue: token });
    pages++;
    assert.ok(page.items.length <= options.limit, 'a page holds at most `limit` items');
    if (page.continue !== undefined)
      assert.equal(page.items.length, options.limit, 'only a full page has a continue token');
    keys.push(...page.items.map(nsName));
    token = page.continue;
    assert.ok(pages < 10_000, 'pagination terminates');
  } while (token !== undefined);
  return { keys, pages };
}

async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`timed out after ${ms}ms waiting until ${what}`)),
      ms,
    );
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

async function waitFor(condition: () => boolean, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${ms}ms`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** The next `n` events, failing if they do not arrive in time or the watch ends. */
async function take(watch: Watch, n: number, ms = 10_000): Promise<WatchEvent[]> {
  const it = watch[Symbol.asyncIterator]();
  const events: WatchEvent[] = [];
  while (events.length < n) {
    const r = await within(it.next(), ms, `watch event ${events.length + 1} of ${n}`);
    if (r.done) throw new Error(`watch ended after ${events.length} of ${n} events`);
    events.push(r.value);
  }
  return events;
}

/** Consumes a watch in the background; `until(rv)` waits for revision `rv`, then closes it. */
function collect(watch: Watch) {
  const events: WatchEvent[] = [];
  let target: bigint | undefined;
  const reached = () => {
    const last = events[events.length - 1];
    return (
      target !== undefined &&
      last !== undefined &&
      BigInt(last.object.metadata.resourceVersion!) >= target
    );
  };
  const loop = (async () => {
    for await (const ev of watch) {
      events.push(ev);
      if (reached()) watch.close();
    }
  })();
  // Surface a failure at `until`, not as an unhandled rejection.
  loop.catch(() => undefined);
  return {
    async until(rv: bigint): Promise<WatchEvent[]> {
      target = rv;
      if (reached()) watch.close();
      try {
        await within(
          loop,
          20_000,
          `the watch reaches revision ${rv} (last seen ${events[events.length - 1]?.object.metadata.resourceVersion ?? 'none'})`,
        );
      } finally {
        watch.close();
      }
      return events;
    },
  };
}
