// The etcd store beyond the conformance suite, on real etcd processes:
// compaction (Expired, then a re-list works), several control planes writing
// to one prefix, fencing across them, Secrets sealed in etcd, and quorum loss:
// one member of three killed keeps writes working; two killed fail with a
// typed Unavailable (503) naming the quorum, which clears by itself when they
// return.
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Etcd3 } from 'etcd3';
import { YunjianError } from '../src/model/errors.ts';
import { EncryptedStore } from '../src/store/encrypted.ts';
import { openEtcdStore, type EtcdStore, type EtcdStoreOptions } from '../src/store/index.ts';
import { KeyRing } from '../src/store/keys.ts';
import type { StoredObject, WatchEvent } from '../src/store/types.ts';
import { EtcdCluster, etcdMissing } from './etcd.harness.ts';

const missing = etcdMissing();

function app(name: string, spec: unknown = { replicas: 1 }): StoredObject {
  return {
    apiVersion: 'yunjian.io/v1alpha1',
    kind: 'Application',
    metadata: { name, namespace: 'default' },
    spec,
  };
}

const key = (name: string) => ({ kind: 'Application', namespace: 'default', name });

async function rejection(promise: Promise<unknown>): Promise<YunjianError> {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof YunjianError, `a typed error, got ${String(err)}`);
    return err;
  }
  assert.fail('expected a rejection');
}

async function nextEvents(watch: AsyncIterable<WatchEvent>, n: number): Promise<WatchEvent[]> {
  const it = watch[Symbol.asyncIterator]();
  const out: WatchEvent[] = [];
  while (out.length < n) {
    const r = await it.next();
    if (r.done) throw new Error(`watch ended after ${out.length} of ${n}`);
    out.push(r.value);
  }
  return out;
}

void describe('etcd store on real etcd', { skip: missing }, () => {
  let single: EtcdCluster;
  const opened: EtcdStore[] = [];
  const open = (cluster: EtcdCluster, options: Partial<EtcdStoreOptions> = {}) => {
    const store = openEtcdStore({
      endpoints: cluster.endpoints,
      prefix: `/t-${randomUUID()}/`,
      compactionIntervalMs: 0,
      ...options,
    });
    opened.push(store);
    return store;
  };
  before(async () => {
    single = await EtcdCluster.start(1);
  });
  after(async () => {
    for (const s of opened) await s.close();
    await single.stop();
  });

  void it('compaction: a watch from a trimmed revision is Expired (410); a re-list and watch from it work', async () => {
    const store = open(single, { eventRetention: 20 });
    let current = await store.create(app('churn'));
    const first = current.metadata.resourceVersion!;
    for (let i = 0; i < 60; i++) current = await store.update({ ...current, spec: { n: i } });
    // etcd's own history too: the second call compacts to what the first saw.
    await store.compactHistory();
    current = await store.update({ ...current, spec: { n: 'compacted' } });
    await store.compactHistory();

    const stale = store.watch({ fromRevision: first });
    const err = await rejection(stale[Symbol.asyncIterator]().next());
    assert.equal(err.reason, 'Expired');
    assert.equal(err.httpStatus, 410);
    assert.match(err.message, /re-list/);

    const list = await store.list('Application');
    assert.deepEqual(list.items, [current]);
    const watch = store.watch({ fromRevision: list.resourceVersion });
    try {
      const next = nextEvents(watch, 1);
      const written = await store.update({ ...current, spec: { n: 'after' } });
      assert.deepEqual((await next)[0]?.object, written);
    } finally {
      watch.close();
    }
  });

  void it('two control planes on one prefix: concurrent writes all land, revisions dense and unique, one watch sees them in order', async () => {
    const a = open(single);
    const b = openEtcdStore({
      endpoints: single.endpoints,
      prefix: a.prefix,
      compactionIntervalMs: 0,
    });
    opened.push(b);
    const watch = a.watch({ fromRevision: '0' });
    try {
      const per = 25;
      const written = (
        await Promise.all([
          Promise.all(Array.from({ length: per }, (_, i) => a.create(app(`a-${i}`)))),
          Promise.all(Array.from({ length: per }, (_, i) => b.create(app(`b-${i}`)))),
        ])
      ).flat();
      const revisions = written
        .map((o) => Number(o.metadata.resourceVersion))
        .sort((x, y) => x - y);
      assert.deepEqual(
        revisions,
        Array.from({ length: 2 * per }, (_, i) => i + 1),
      );
      const events = await nextEvents(watch, 2 * per);
      assert.deepEqual(
        events.map((e) => Number(e.object.metadata.resourceVersion)),
        revisions,
      );
      assert.equal((await b.list('Application')).items.length, 2 * per);
    } finally {
      watch.close();
    }
  });

  void it('fencing across control planes: the deposed holder writes nothing once another took the lease', async () => {
    const a = open(single);
    const b = openEtcdStore({
      endpoints: single.endpoints,
      prefix: a.prefix,
      compactionIntervalMs: 0,
    });
    opened.push(b);
    const lease: StoredObject = {
      apiVersion: 'yunjian.io/v1alpha1',
      kind: 'Lease',
      metadata: { name: 'controllers' },
      spec: { holderIdentity: 'a' },
    };
    const heldByA = await a.create(lease);
    const fenceA = {
      key: { kind: 'Lease', name: 'controllers' },
      resourceVersion: heldByA.metadata.resourceVersion!,
    };
    await a.batch([{ op: 'create', object: app('by-a') }], { fence: fenceA });
    await b.update({ ...heldByA, spec: { holderIdentity: 'b' } });
    const err = await rejection(
      a.batch([{ op: 'create', object: app('late-a') }], { fence: fenceA }),
    );
    assert.equal(err.reason, 'Conflict');
    assert.match(err.message, /no longer holds/);
    assert.equal((await rejection(b.get(key('late-a')))).reason, 'NotFound');
  });

  void it('Secrets stay sealed in etcd: neither the object keys nor the change log hold the plaintext', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'yunjian-etcd-keys-'));
    const raw = new Etcd3({ hosts: single.endpoints.map((e) => `http://${e}`) });
    try {
      const backend = open(single);
      const store = new EncryptedStore({
        inner: backend,
        keys: KeyRing.loadOrCreate(join(dir, 'keys.yaml')).ring,
        purgeHistory: () => backend.purgeHistory(),
      });
      const plaintext = `canary-${randomBytes(12).toString('hex')}`;
      const secret: StoredObject = {
        apiVersion: 'yunjian.io/v1alpha1',
        kind: 'Secret',
        metadata: { name: 'db', namespace: 'default' },
        spec: { type: 'kubeconfig', data: plaintext },
      };
      await store.create(secret);
      const read = await store.get({ kind: 'Secret', namespace: 'default', name: 'db' });
      assert.deepEqual(read.spec, secret.spec);
      const values = await raw.getAll().prefix(backend.prefix).buffers();
      assert.ok(Object.keys(values).length >= 3, 'object, log entry and counter are there');
      for (const [k, v] of Object.entries(values))
        assert.ok(!v.toString('latin1').includes(plaintext), `${k} holds the plaintext`);
    } finally {
      raw.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  void describe('three members', () => {
    let cluster: EtcdCluster;
    before(async () => {
      cluster = await EtcdCluster.start(3);
    });
    after(async () => {
      await cluster.stop();
    });

    void it(
      'one member killed: writes go on; two killed: Unavailable (503) naming the quorum; they return: writes work again, nothing acknowledged lost',
      { timeout: 120_000 },
      async () => {
        const store = open(cluster, { requestTimeoutMs: 1500 });
        const acked: StoredObject[] = [];
        for (let i = 0; i < 5; i++) acked.push(await store.create(app(`before-${i}`)));

        await cluster.stopMember(1);
        for (let i = 0; i < 5; i++) acked.push(await store.create(app(`one-down-${i}`)));

        await cluster.stopMember(2);
        const err = await rejection(store.create(app('no-quorum')));
        assert.equal(err.reason, 'Unavailable');
        assert.equal(err.httpStatus, 503);
        assert.match(err.message, /quorum/);
        assert.equal(err.retryable, true);

        await cluster.startMember(1);
        await cluster.startMember(2);
        // Bounded: the members need an election, the client its circuit breakers' half-open delay.
        const deadline = Date.now() + 45_000;
        let recovered: StoredObject | undefined;
        while (recovered === undefined) {
          try {
            recovered = await store.create(app('after-recovery'));
          } catch (e) {
            assert.ok(e instanceof YunjianError && e.reason === 'Unavailable', String(e));
            if (Date.now() > deadline) throw e;
            await new Promise((resolve) => setTimeout(resolve, 500));
          }
        }
        acked.push(recovered);
        const items = (await store.list('Application')).items;
        for (const obj of acked)
          assert.deepEqual(
            items.find((i) => i.metadata.name === obj.metadata.name),
            obj,
            `${obj.metadata.name} survived`,
          );
      },
    );
  });
});
