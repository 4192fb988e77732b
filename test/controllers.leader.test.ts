// The leader lease on a real (in-memory SQLite) store: one holder at a time,
// takeover only after the holder stops renewing for a whole lease duration,
// immediate re-acquisition by the same identity, release on stop.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LeaderElector } from '../src/controllers/leader.ts';
import type { Lease } from '../src/model/schema.ts';
import { openSqliteStore } from '../src/store/index.ts';
import type { Store } from '../src/store/types.ts';

function elector(store: Store, identity: string, seen: string[]) {
  return new LeaderElector({
    store,
    name: 'test',
    identity,
    durationSeconds: 0.6,
    renewSeconds: 0.1,
    retrySeconds: 0.05,
    onStarted: () => seen.push(`${identity} started`),
    onLost: () => seen.push(`${identity} lost`),
    log: () => {},
  });
}

async function until(what: string, check: () => boolean | Promise<boolean>, ms = 10_000) {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const holder = async (store: Store) =>
  ((await store.get({ kind: 'Lease', name: 'test' })) as Lease).spec.holderIdentity;

describe('leader lease', () => {
  it('lets exactly one of two candidates lead, and the other take over after release', async () => {
    const store = openSqliteStore({ path: ':memory:' });
    const seen: string[] = [];
    const a = elector(store, 'a', seen);
    const b = elector(store, 'b', seen);
    a.start();
    await until('a leads', () => a.leading);
    b.start();
    // b keeps campaigning while a renews: several of a's renewals pass.
    await new Promise((r) => setTimeout(r, 400));
    assert.equal(b.leading, false);
    assert.equal(await holder(store), 'a');
    await a.stop();
    await until('b leads', () => b.leading);
    assert.equal(await holder(store), 'b');
    assert.deepEqual(seen, ['a started', 'b started']);
    await b.stop();
    await store.close();
  });

  it('takes over from a holder that stops renewing only after the lease duration', async () => {
    const store = openSqliteStore({ path: ':memory:' });
    const seen: string[] = [];
    // A crashed holder: its lease is in the store, nobody renews it.
    const now = new Date().toISOString();
    await store.create({
      apiVersion: 'yunjian.io/v1alpha1',
      kind: 'Lease',
      metadata: { name: 'test' },
      spec: {
        holderIdentity: 'crashed',
        leaseDurationSeconds: 0.6,
        acquireTime: now,
        renewTime: now,
        leaseTransitions: 0,
      },
    });
    const b = elector(store, 'b', seen);
    const started = Date.now();
    b.start();
    await until('b leads', () => b.leading);
    assert.ok(Date.now() - started >= 550, 'waited out the lease duration');
    const lease = (await store.get({ kind: 'Lease', name: 'test' })) as Lease;
    assert.equal(lease.spec.holderIdentity, 'b');
    assert.equal(lease.spec.leaseTransitions, 1);
    await b.stop();
    await store.close();
  });

  it('keeps the lease of its own identity without a takeover (a restarted control plane)', async () => {
    const store = openSqliteStore({ path: ':memory:' });
    const acquired = new Date(Date.now() - 60_000).toISOString();
    await store.create({
      apiVersion: 'yunjian.io/v1alpha1',
      kind: 'Lease',
      metadata: { name: 'test' },
      spec: {
        holderIdentity: 'cp-1',
        leaseDurationSeconds: 60,
        acquireTime: acquired,
        renewTime: new Date().toISOString(),
        leaseTransitions: 3,
      },
    });
    const again = elector(store, 'cp-1', []);
    again.start();
    // A 60 s lease held by someone else would block this for a minute.
    await until('restarted one leads', () => again.leading, 5_000);
    const lease = (await store.get({ kind: 'Lease', name: 'test' })) as Lease;
    assert.equal(lease.spec.leaseTransitions, 3);
    assert.equal(lease.spec.acquireTime, acquired);
    await again.stop();
    await store.close();
  });
});
