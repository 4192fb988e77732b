// The conformance cases for revisions and compare-and-set: every write gets a
// strictly greater revision, and a stale resourceVersion is a Conflict.
import assert from 'node:assert/strict';
import { describe } from 'node:test';
import type { Store, StoredObject } from '../types.ts';
import { app, cloud, keyOf, rvOf, expectError, type StoreTest } from './harness.ts';

export function revisionCases(test: StoreTest): void {
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
}

export function compareAndSetCases(test: StoreTest): void {
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
            assert.deepEqual(await store.get(keyOf(v2)), v2, 'a conflicting write changes nothing');
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
}
