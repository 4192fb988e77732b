// The conformance cases for fenced batches: a batch carrying a fence is stored
// only while the lease object is still at the fenced resourceVersion, checked
// in the same transaction as the writes.
import assert from 'node:assert/strict';
import { describe } from 'node:test';
import type { Store, StoredObject } from '../types.ts';
import { app, keyOf, expectError, take, type StoreTest } from './harness.ts';

function lease(holder: string): StoredObject {
  return {
    apiVersion: 'yunjian.io/v1alpha1',
    kind: 'Lease',
    metadata: { name: 'controllers' },
    spec: { holderIdentity: holder },
  };
}

export function fenceCases(test: StoreTest): void {
  void describe('fenced batch', () => {
    interface FenceCase {
      title: string;
      /** What happens to the lease between taking it and the fenced write. */
      after: (store: Store, held: StoredObject) => Promise<unknown>;
      /** The lease's state in the refusal's message; undefined: the write succeeds. */
      refused?: RegExp;
    }
    const cases: FenceCase[] = [
      { title: 'lease unchanged: stored', after: () => Promise.resolve() },
      {
        title: 'lease renewed by its holder since: refused',
        after: (store, held) => store.update({ ...held, spec: { holderIdentity: 'a', n: 2 } }),
        refused: /at resourceVersion \d+, not \d+/,
      },
      {
        title: 'lease taken by another writer: refused',
        after: (store, held) => store.update({ ...held, spec: { holderIdentity: 'b' } }),
        refused: /at resourceVersion \d+, not \d+/,
      },
      {
        title: 'lease deleted: refused',
        after: (store, held) => store.delete(keyOf(held)),
        refused: /is gone/,
      },
    ];
    for (const c of cases) {
      test(c.title, async (store) => {
        const held = await store.create(lease('a'));
        const target = await store.create(app('shop'));
        await c.after(store, held);
        const before = await store.revision();
        const watch = store.watch({ kind: 'Application', fromRevision: before });
        try {
          const write = store.batch(
            [
              { op: 'update', object: { ...target, spec: { replicas: 9 } } },
              { op: 'create', object: app('second') },
            ],
            { fence: { key: keyOf(held), resourceVersion: held.metadata.resourceVersion! } },
          );
          if (c.refused === undefined) {
            const written = await write;
            assert.deepEqual((await store.get(keyOf(target))).spec, { replicas: 9 });
            assert.deepEqual(
              (await take(watch, 2)).map((e) => e.object),
              written,
            );
            return;
          }
          const err = await expectError(write, 'Conflict', c.refused);
          assert.match(err.message, /Lease "controllers"/);
          assert.equal(await store.revision(), before, 'no revision is used');
          assert.deepEqual(await store.get(keyOf(target)), target, 'nothing of the batch stored');
          await expectError(store.get(keyOf(app('second'))), 'NotFound');
          const after = await store.create(app('after'));
          assert.deepEqual((await take(watch, 1))[0]?.object, after, 'watchers saw nothing');
        } finally {
          watch.close();
        }
      });
    }

    test('a malformed fence resourceVersion is BadRequest', async (store) => {
      const held = await store.create(lease('a'));
      await expectError(
        store.batch([{ op: 'create', object: app('x') }], {
          fence: { key: keyOf(held), resourceVersion: 'latest' },
        }),
        'BadRequest',
        /fence\.resourceVersion/,
      );
    });
  });
}
