import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { chmodSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { setImmediate } from 'node:timers/promises';
import { DatabaseSync } from 'node:sqlite';
import { runStoreConformance } from '../src/store/conformance/index.ts';
import { openSqliteStore, type SqliteStoreOptions } from '../src/store/index.ts';
import type { StoredObject, WatchEvent } from '../src/store/index.ts';
import { YunjianError } from '../src/model/errors.ts';

// A small event window so the conformance suite can reach compaction quickly;
// still well above what its concurrent-watch case needs to stay retained.
const RETENTION = 1000;

async function tempDir(): Promise<{ dir: string; remove(): Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'yunjian-store-'));
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}

runStoreConformance('sqlite file', async () => {
  const tmp = await tempDir();
  const store = openSqliteStore({ path: join(tmp.dir, 'store.db'), eventRetention: RETENTION });
  return {
    store,
    cleanup: async () => {
      await store.close();
      await tmp.remove();
    },
  };
});

runStoreConformance('sqlite :memory:', () => {
  const store = openSqliteStore({ path: ':memory:', eventRetention: RETENTION });
  return Promise.resolve({ store, cleanup: () => store.close() });
});

function app(name: string, spec: unknown = { replicas: 1 }): StoredObject {
  return {
    apiVersion: 'yunjian.io/v1alpha1',
    kind: 'Application',
    metadata: { name, namespace: 'default' },
    spec,
  };
}

async function expectReason(promise: Promise<unknown>, reason: string): Promise<void> {
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(err instanceof YunjianError, String(err));
    assert.equal(err.reason, reason, err.message);
    return true;
  });
}

/** Opens a store on a fresh file; `reopen` closes it and opens the same file again. */
async function fileStore(options: Partial<SqliteStoreOptions> = {}) {
  const tmp = await tempDir();
  const path = join(tmp.dir, 'nested', 'dir', 'store.db');
  let store = openSqliteStore({ ...options, path });
  return {
    path,
    get store() {
      return store;
    },
    async reopen() {
      await store.close();
      store = openSqliteStore({ ...options, path });
      return store;
    },
    async cleanup() {
      await store.close();
      await tmp.remove();
    },
  };
}

void describe('SqliteStore', () => {
  void it('reopening the same file keeps objects and the revision', async () => {
    const f = await fileStore();
    try {
      const a = await f.store.create(app('a'));
      const b = await f.store.update({ ...a, spec: { replicas: 2 } });
      await f.store.create(app('c'));
      const rev = await f.store.revision();
      const store = await f.reopen();
      assert.equal(await store.revision(), rev);
      assert.deepEqual(
        await store.get({ kind: 'Application', namespace: 'default', name: 'a' }),
        b,
      );
      assert.deepEqual(
        (await store.list('Application')).items.map((o) => o.metadata.name),
        ['a', 'c'],
      );
      const next = await store.create(app('d'));
      assert.equal(BigInt(next.metadata.resourceVersion!), BigInt(rev) + 1n);
    } finally {
      await f.cleanup();
    }
  });

  void it('the revision never goes backwards, even after deleting everything and reopening', async () => {
    const f = await fileStore();
    try {
      for (const n of ['a', 'b', 'c']) await f.store.create(app(n));
      for (const n of ['a', 'b', 'c'])
        await f.store.delete({ kind: 'Application', namespace: 'default', name: n });
      const rev = await f.store.revision();
      assert.equal(rev, '6');
      const store = await f.reopen();
      assert.equal(await store.revision(), rev);
      assert.equal((await store.create(app('a'))).metadata.resourceVersion, '7');
    } finally {
      await f.cleanup();
    }
  });

  void it('a watch resumes across a reopen from the events table', async () => {
    const f = await fileStore();
    try {
      const a = await f.store.create(app('a'));
      const b = await f.store.update({ ...a, spec: { replicas: 9 } });
      const store = await f.reopen();
      const watch = store.watch({ fromRevision: a.metadata.resourceVersion! });
      const first = await watch[Symbol.asyncIterator]().next();
      watch.close();
      assert.deepEqual(first.value, { type: 'MODIFIED', object: b });
    } finally {
      await f.cleanup();
    }
  });

  void it('uses a WAL journal and the documented schema', async () => {
    const f = await fileStore();
    try {
      await f.store.create(app('a'));
      await f.store.close();
      const db = new DatabaseSync(f.path);
      try {
        assert.equal(db.prepare('PRAGMA journal_mode').get()?.journal_mode, 'wal');
        const tables = db
          .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
          .all()
          .map((r) => r.name);
        assert.deepEqual(tables, ['events', 'meta', 'objects']);
        assert.equal(db.prepare("SELECT value FROM meta WHERE key = 'revision'").get()?.value, 1);
        const events = db
          .prepare('SELECT revision, type, kind, namespace, name FROM events')
          .all()
          .map((r) => ({ ...r }));
        assert.deepEqual(events, [
          { revision: 1, type: 'ADDED', kind: 'Application', namespace: 'default', name: 'a' },
        ]);
      } finally {
        db.close();
      }
    } finally {
      await f.cleanup();
    }
  });

  void it('the database, its -wal and -shm are 0600 and a directory it creates 0700, also after a reopen of files made 0644', async () => {
    const f = await fileStore();
    try {
      const modes = async () => {
        await f.store.create(app(`a${Date.now()}`));
        const files = [f.path, `${f.path}-wal`, `${f.path}-shm`];
        return Object.fromEntries(files.map((p) => [p, (statSync(p).mode & 0o777).toString(8)]));
      };
      const expected = {
        [f.path]: '600',
        [`${f.path}-wal`]: '600',
        [`${f.path}-shm`]: '600',
      };
      assert.equal((statSync(dirname(f.path)).mode & 0o777).toString(8), '700');
      assert.deepEqual(await modes(), expected);
      await f.store.close();
      chmodSync(f.path, 0o644);
      await f.reopen();
      assert.deepEqual(await modes(), expected);
    } finally {
      await f.cleanup();
    }
  });

  void it('keeps at least `eventRetention` events and expires older revisions, also after a reopen', async () => {
    const f = await fileStore({ eventRetention: 20 });
    try {
      let obj = await f.store.create(app('churn'));
      for (let i = 0; i < 100; i++) obj = await f.store.update({ ...obj, spec: { i } });
      const rev = Number(await f.store.revision());
      for (const reopen of [false, true]) {
        const store = reopen ? await f.reopen() : f.store;
        // The last 20 changes are always there.
        const ok = store.watch({ fromRevision: String(rev - 20) });
        const first = await ok[Symbol.asyncIterator]().next();
        ok.close();
        assert.equal(first.value?.object.metadata.resourceVersion, String(rev - 19));
        const old = store.watch({ fromRevision: '1' });
        await expectReason(old[Symbol.asyncIterator]().next(), 'Expired');
        // After the error the watch is over.
        assert.deepEqual(await old[Symbol.asyncIterator]().next(), {
          done: true,
          value: undefined,
        });
      }
    } finally {
      await f.cleanup();
    }
  });

  void it('a watcher still catching up expires if compaction overtakes it', async () => {
    const store = openSqliteStore({ path: ':memory:', eventRetention: 10 });
    try {
      let obj = await store.create(app('a'));
      const watch = store.watch({ fromRevision: '0' });
      const it = watch[Symbol.asyncIterator]();
      for (let i = 0; i < 50; i++) obj = await store.update({ ...obj, spec: { i } });
      await expectReason(it.next(), 'Expired');
    } finally {
      await store.close();
    }
  });

  void it(
    'catches up through a long backlog in pages and hands over to live delivery',
    { timeout: 20_000 },
    async () => {
      const store = openSqliteStore({ path: ':memory:', watchBufferSize: 7 });
      try {
        let obj = await store.create(app('a'));
        for (let i = 0; i < 100; i++) obj = await store.update({ ...obj, spec: { i } });
        const watch = store.watch({ fromRevision: '0' });
        // Keep writing while the watcher consumes, so the hand-over happens mid-stream.
        const writing = (async () => {
          for (let i = 0; i < 50; i++) {
            await setImmediate();
            obj = await store.update({ ...obj, spec: { more: i } });
          }
        })();
        const seen: number[] = [];
        for await (const ev of watch) {
          seen.push(Number(ev.object.metadata.resourceVersion));
          if (seen.length === 151) break;
          if (seen.length % 5 === 0) await setImmediate();
        }
        await writing;
        assert.deepEqual(
          seen,
          Array.from({ length: 151 }, (_, i) => i + 1),
        );
      } finally {
        await store.close();
      }
    },
  );

  void it('a fromRevision ahead of the store delivers only later revisions', async () => {
    const store = openSqliteStore({ path: ':memory:' });
    try {
      const watch = store.watch({ fromRevision: '3' });
      for (const n of ['a', 'b', 'c', 'd']) await store.create(app(n));
      const first = await watch[Symbol.asyncIterator]().next();
      watch.close();
      assert.equal(first.value?.object.metadata.name, 'd');
    } finally {
      await store.close();
    }
  });

  void it('a slow watcher that overflows its buffer ends with Expired; writers are not held up', async () => {
    const store = openSqliteStore({ path: ':memory:', watchBufferSize: 5 });
    try {
      const slow = store.watch();
      const fast = store.watch();
      const fastEvents: WatchEvent[] = [];
      const draining = (async () => {
        for await (const ev of fast) fastEvents.push(ev);
      })();
      for (let i = 0; i < 20; i++) await store.create(app(`a${i}`));
      const it = slow[Symbol.asyncIterator]();
      await expectReason(it.next(), 'Expired');
      assert.deepEqual(await it.next(), { done: true, value: undefined });
      fast.close();
      await draining;
      assert.equal(fastEvents.length, 20, 'a watcher that keeps up is unaffected');
    } finally {
      await store.close();
    }
  });

  void it('a watcher with a filter counts only matching events towards its buffer', async () => {
    const store = openSqliteStore({ path: ':memory:', watchBufferSize: 3 });
    try {
      const watch = store.watch({ labelSelector: 'keep' });
      for (let i = 0; i < 20; i++) await store.create(app(`skip${i}`));
      const kept = await store.create({
        ...app('kept'),
        metadata: { name: 'kept', namespace: 'default', labels: { keep: 'yes' } },
      });
      const first = await watch[Symbol.asyncIterator]().next();
      watch.close();
      assert.deepEqual(first.value?.object, kept);
    } finally {
      await store.close();
    }
  });

  void it('operations on a closed store fail with Unavailable; close is idempotent', async () => {
    const store = openSqliteStore({ path: ':memory:' });
    await store.close();
    await store.close();
    await expectReason(store.revision(), 'Unavailable');
    await expectReason(store.create(app('a')), 'Unavailable');
    await expectReason(store.list('Application'), 'Unavailable');
    const watch = store.watch();
    assert.deepEqual(await watch[Symbol.asyncIterator]().next(), { done: true, value: undefined });
  });

  void it('rejects invalid options', () => {
    assert.throws(() => openSqliteStore({ path: ':memory:', eventRetention: 0 }), RangeError);
    assert.throws(() => openSqliteStore({ path: ':memory:', watchBufferSize: 1.5 }), RangeError);
  });

  void it('rejects objects without kind or name, and malformed resourceVersions', async () => {
    const store = openSqliteStore({ path: ':memory:' });
    try {
      await expectReason(
        store.create({ apiVersion: 'v1', kind: '', metadata: { name: 'a' } }),
        'BadRequest',
      );
      await expectReason(
        store.create({ apiVersion: 'v1', kind: 'A', metadata: { name: '' } }),
        'BadRequest',
      );
      const a = await store.create(app('a'));
      await expectReason(
        store.update({ ...a, metadata: { ...a.metadata, resourceVersion: 'x1' } }),
        'BadRequest',
      );
      await expectReason(store.list('Application', { limit: -1 }), 'BadRequest');
    } finally {
      await store.close();
    }
  });
});
