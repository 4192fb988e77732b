// The conformance cases for single-object writes: create, get and what update
// and updateStatus keep or replace.
import assert from 'node:assert/strict';
import { describe } from 'node:test';
import type { Store, StoredObject } from '../types.ts';
import { app, cloud, keyOf, rvOf, expectError, type StoreTest } from './harness.ts';

export function createAndGetCases(test: StoreTest): void {
  void describe('create and get', () => {
    test('create sets uid, resourceVersion, generation 1 and creationTimestamp; get returns the same', async (store) => {
      const created = await store.create(app('shop', 'default', { tier: 'web' }, { replicas: 2 }));
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
}

export function updateSemanticsCases(test: StoreTest): void {
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
      ['top-level spec field', (s, o) => s.update({ ...o, spec: { a: 2, b: { x: 1, y: 2 } } }), 1],
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
}
