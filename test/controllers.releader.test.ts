// A control plane that loses the leader lease (its store writes to the lease
// fail for longer than the lease duration) stops acting, and when it holds the
// lease again its control loops run again: it never holds the lease idle.
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { startControlLoops } from '../src/controllers/index.ts';
import { UnavailableError } from '../src/model/errors.ts';
import type { Application } from '../src/model/schema.ts';
import { openSqliteStore } from '../src/store/index.ts';
import type { Store } from '../src/store/types.ts';
import { until } from './wait.ts';

/** The store, with every Lease operation failing while `cut` is true. */
function partitionedLease(store: Store): { store: Store; cut: (on: boolean) => void } {
  let cut = false;
  const refuse = (kind: string) => {
    if (cut && kind === 'Lease') throw new UnavailableError('lease unreachable (test partition)');
  };
  const guarded: Partial<Store> = {
    get: async (key) => (refuse(key.kind), store.get(key)),
    create: async (obj) => (refuse(obj.kind), store.create(obj)),
    update: async (obj, o) => (refuse(obj.kind), store.update(obj, o)),
    delete: async (key, o) => (refuse(key.kind), store.delete(key, o)),
  };
  const wrapped = new Proxy(store, {
    get(target, prop, receiver) {
      const own = guarded[prop as keyof Store];
      if (own) return own;
      const v: unknown = Reflect.get(target, prop, receiver);
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
  return { store: wrapped, cut: (on) => (cut = on) };
}

const app = (name: string) => ({
  apiVersion: 'yunjian.io/v1alpha1',
  kind: 'Application',
  metadata: { name, namespace: 'default' },
  spec: { components: [{ name: 'web', image: 'registry.example.com/web:1', replicas: 1 }] },
});

/** An app is reconciled when the application controller wrote its status (Unschedulable: no clusters). */
const reconciled = (store: Store, name: string) =>
  until(`${name} reconciled`, async () => {
    const a = (await store.get({
      kind: 'Application',
      namespace: 'default',
      name,
    })) as unknown as Application;
    return a.status?.conditions?.[0]?.reason === 'Unschedulable' ? true : undefined;
  });

it('loses the lease, stops acting, and acts again once it holds the lease again', async () => {
  const shared = openSqliteStore({ path: ':memory:' });
  const a = partitionedLease(shared);
  const options = {
    drivers: { driverFor: () => undefined, forget: () => {} },
    log: () => {},
    leaseSeconds: 0.6,
  };
  const loopsA = startControlLoops({ ...options, store: a.store, identity: 'a' });
  const leads = () =>
    loopsA
      .leading()
      .then(() => true)
      .catch(() => false);
  await until('a leads', async () => ((await leads()) ? true : undefined));
  await shared.create(app('first'));
  await reconciled(shared, 'first');

  // Cut a off the lease for more than its duration: it must stop acting.
  a.cut(true);
  await until('a no longer leads', async () => ((await leads()) ? undefined : true));
  await shared.create(app('while-lost'));
  await new Promise((r) => setTimeout(r, 1000));
  const waiting = (await shared.get({
    kind: 'Application',
    namespace: 'default',
    name: 'while-lost',
  })) as unknown as Application;
  assert.equal(waiting.status, undefined, 'a control plane without the lease acted');

  // Back in touch: a takes the lease again and its loops run again.
  a.cut(false);
  await until('a leads again', async () => ((await leads()) ? true : undefined));
  await reconciled(shared, 'while-lost');
  await shared.create(app('after'));
  await reconciled(shared, 'after');
  await loopsA.stop();
  await shared.close();
});
