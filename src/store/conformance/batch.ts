// The conformance cases for batch: all or nothing, in order, one revision each.
import assert from 'node:assert/strict';
import { describe } from 'node:test';
import type { ErrorReason } from '../../model/errors.ts';
import type { BatchOperation, StoredObject } from '../types.ts';
import { app, cloud, keyOf, rvOf, expectError, take, type StoreTest } from './harness.ts';

export function batchCases(test: StoreTest): void {
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
}
