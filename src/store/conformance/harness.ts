// What every conformance case shares: how a case gets its store, the objects
// it writes, and the assertions and waits on errors, pages and watches.
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { YunjianError, type ErrorReason } from '../../model/errors.ts';
import type { Store, StoredObject, Watch, WatchEvent } from '../types.ts';

export type OpenStore = () => Promise<{ store: Store; cleanup(): Promise<void> }>;

/** Registers one case; it gets a fresh store, and the store is always cleaned up. */
export type StoreTest = (
  title: string,
  fn: (store: Store) => Promise<void>,
  timeout?: number,
) => void;

const API_VERSION = 'yunjian.io/v1alpha1';

export function storeTest(open: OpenStore): StoreTest {
  return (title, fn, timeout = 30_000) => {
    void it(title, { timeout }, async () => {
      const opened = await open();
      try {
        await fn(opened.store);
      } finally {
        await opened.cleanup();
      }
    });
  };
}

export function app(
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

export function cloud(name: string, labels?: Record<string, string>): StoredObject {
  return {
    apiVersion: API_VERSION,
    kind: 'Cloud',
    metadata: { name, ...(labels ? { labels } : {}) },
    spec: { provider: 'aws' },
  };
}

export function keyOf(obj: StoredObject) {
  return { kind: obj.kind, namespace: obj.metadata.namespace, name: obj.metadata.name };
}

export function nsName(obj: StoredObject): string {
  return obj.metadata.namespace === undefined
    ? obj.metadata.name
    : `${obj.metadata.namespace}/${obj.metadata.name}`;
}

export function rvOf(obj: StoredObject): bigint {
  const rv = obj.metadata.resourceVersion;
  assert.match(rv ?? '', /^\d+$/, `resourceVersion of ${nsName(obj)} is a decimal string`);
  return BigInt(rv!);
}

export async function expectError(
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

export async function listAllPages(
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

export async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
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

export async function waitFor(condition: () => boolean, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${ms}ms`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** The next `n` events, failing if they do not arrive in time or the watch ends. */
export async function take(watch: Watch, n: number, ms = 10_000): Promise<WatchEvent[]> {
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
export function collect(watch: Watch) {
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
