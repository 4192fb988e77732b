// Fenced controller writes on a real (in-memory SQLite) store: a leader paused
// past its lease (its elector does not run; the successor's fake clock moves
// past the lease) still believes it leads, and every kind of write it makes is
// refused by the store, naming the lease, with nothing stored. The new leader's
// writes land, also when its own renewal moves the lease under a write; a
// write begun in a term that was lost is not carried into the next term.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FencedStore } from '../src/controllers/fenced.ts';
import { LeaderElector } from '../src/controllers/leader.ts';
import { ConflictError } from '../src/model/errors.ts';
import type { Lease } from '../src/model/schema.ts';
import { openSqliteStore } from '../src/store/index.ts';
import type { BatchOperation, BatchOptions, Store, StoredObject } from '../src/store/types.ts';

const LEASE = { kind: 'Lease', name: 'controllers' };

const cloud = (name: string, displayName = name): StoredObject => ({
  apiVersion: 'yunjian.io/v1alpha1',
  kind: 'Cloud',
  metadata: { name },
  spec: { vendor: 'aws', type: 'public', displayName },
});

async function until(what: string, check: () => boolean, ms = 10_000) {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** A candidate whose writes go through its own fenced view; `clock.ms` is its time. */
function candidate(store: Store, identity: string, renewSeconds: number) {
  const clock = { ms: 1_000_000 };
  const refusals: string[] = [];
  const fenced = new FencedStore(store, LEASE, identity, (line) => refusals.push(line));
  const elector = new LeaderElector({
    store,
    name: LEASE.name,
    identity,
    durationSeconds: 10,
    renewSeconds,
    retrySeconds: 0.01,
    onHeld: (v) => fenced.hold(v),
    onStarted: () => {},
    onLost: () => fenced.release(),
    log: () => {},
    now: () => clock.ms,
  });
  return { clock, fenced, elector, refusals };
}

async function leaseVersion(store: Store): Promise<string> {
  const lease = (await store.get(LEASE)) as Lease;
  return lease.metadata.resourceVersion ?? '';
}

void describe('fenced controller writes', () => {
  const writes: {
    name: string;
    write: (s: Store, existing: StoredObject) => Promise<unknown>;
  }[] = [
    { name: 'create', write: (s) => s.create(cloud('new')) },
    {
      name: 'update',
      write: (s, e) =>
        s.update({ ...e, spec: { ...(cloud('kept').spec as object), displayName: 'stale' } }),
    },
    { name: 'updateStatus', write: (s, e) => s.updateStatus({ ...e, status: { phase: 'stale' } }) },
    {
      name: 'delete',
      write: (s) => s.delete({ kind: 'Cloud', name: 'kept' }, { expectedResourceVersion: null }),
    },
    {
      name: 'batch',
      write: (s) =>
        s.batch([
          { op: 'create', object: cloud('new') },
          { op: 'delete', key: { kind: 'Cloud', name: 'kept' } },
        ] satisfies BatchOperation[]),
    },
  ];

  for (const { name, write } of writes) {
    void it(`refuses a paused, deposed leader's ${name}, naming the lease; nothing is stored`, async () => {
      const store = openSqliteStore({ path: ':memory:' });
      const existing = await store.create(cloud('kept'));
      // a renews only once a minute of real time: after acquiring it is "paused".
      const a = candidate(store, 'a', 60);
      a.elector.start();
      await until('a leads', () => a.elector.leading);
      const b = candidate(store, 'b', 0.01);
      b.elector.start();
      // b must have seen a's lease version before its clock can time it out.
      await new Promise((r) => setTimeout(r, 50));
      b.clock.ms += 11_000;
      await until('b leads', () => b.elector.leading);
      assert.equal(a.elector.leading, true, 'a was paused: it has not noticed yet');

      await assert.rejects(write(a.fenced, existing), (err: unknown) => {
        assert.ok(err instanceof ConflictError, String(err));
        assert.match(err.message, /fenced write refused: .*Lease.*controllers/);
        return true;
      });
      // Cloud/kept is as it was, and no other Cloud exists.
      const after = await store.list('Cloud');
      assert.deepEqual(
        after.items.map((c) => [c.metadata.name, c.metadata.resourceVersion]),
        [['kept', existing.metadata.resourceVersion]],
      );
      assert.equal(a.refusals.length, 1);
      assert.match(
        a.refusals[0] ?? '',
        new RegExp(`^fence: ${name === 'batch' ? 'create' : name} Cloud/`),
      );

      // The new leader's writes land.
      const landed = await b.fenced.create(cloud('by-b'));
      assert.equal(landed.metadata.name, 'by-b');
      await a.elector.stop();
      await b.elector.stop();
      await store.close();
    });
  }

  void it('refuses every write before the lease is held and after it is released', async () => {
    const store = openSqliteStore({ path: ':memory:' });
    const fenced = new FencedStore(store, LEASE, 'me', () => {});
    await assert.rejects(fenced.create(cloud('x')), /does not hold the leader lease controllers/);
    const lease = await store.create({
      apiVersion: 'yunjian.io/v1alpha1',
      kind: 'Lease',
      metadata: { name: LEASE.name },
      spec: {
        holderIdentity: 'me',
        leaseDurationSeconds: 10,
        acquireTime: new Date().toISOString(),
        renewTime: new Date().toISOString(),
        leaseTransitions: 0,
      },
    });
    fenced.hold(lease.metadata.resourceVersion ?? '');
    await fenced.create(cloud('x'));
    fenced.release();
    await assert.rejects(fenced.create(cloud('y')), /does not hold the leader lease/);
    assert.deepEqual(
      (await store.list('Cloud')).items.map((c) => c.metadata.name),
      ['x'],
    );
    await store.close();
  });

  // A write whose fence was read before the lease moved under it: retried with
  // the new version while the term goes on, refused when the term ended meanwhile.
  const overtaken: {
    name: string;
    /** What the elector did while the write was on its way. */
    meanwhile: (view: FencedStore, renewed: string) => void;
    stored: boolean;
  }[] = [
    {
      name: 'renewed, reported to the view before the refusal',
      meanwhile: (view, renewed) => view.hold(renewed),
      stored: true,
    },
    { name: 'renewed, not yet reported', meanwhile: () => {}, stored: true },
    {
      name: 'lost and held again (a new term)',
      meanwhile: (view, renewed) => {
        view.release();
        view.hold(renewed);
      },
      stored: false,
    },
  ];
  for (const { name, meanwhile, stored } of overtaken) {
    void it(`a write the lease moved under: ${name}: ${stored ? 'stored once' : 'refused'}`, async () => {
      const store = openSqliteStore({ path: ':memory:' });
      const me = candidate(store, 'me', 60);
      me.elector.start();
      await until('me leads', () => me.elector.leading);
      let attempts = 0;
      const racing: Store = {
        get: (key) => store.get(key),
        list: (kind, options) => store.list(kind, options),
        watch: (options) => store.watch(options),
        revision: () => store.revision(),
        create: (o) => store.create(o),
        update: (o, options) => store.update(o, options),
        updateStatus: (o, options) => store.updateStatus(o, options),
        delete: (key, options) => store.delete(key, options),
        close: () => store.close(),
        batch: async (ops: readonly BatchOperation[], options?: BatchOptions) => {
          if (attempts++ === 0) {
            const lease = (await store.get(LEASE)) as Lease;
            const renewed = await store.update({
              ...lease,
              spec: { ...lease.spec, renewTime: new Date().toISOString() },
            });
            meanwhile(view, renewed.metadata.resourceVersion ?? '');
          }
          return store.batch(ops, options);
        },
      };
      const view = new FencedStore(racing, LEASE, 'me', () => {});
      view.hold(await leaseVersion(store));
      if (stored) {
        const written = await view.create(cloud('once'));
        assert.equal(written.metadata.name, 'once');
        assert.equal(attempts, 2, 'refused once by the stale fence, stored on the retry');
      } else {
        await assert.rejects(view.create(cloud('once')), /fenced write refused/);
        assert.equal(attempts, 1, 'not carried into the next term');
      }
      assert.equal((await store.list('Cloud')).items.length, stored ? 1 : 0);
      await me.elector.stop();
      await store.close();
    });
  }
});
