// The conformance cases for watch: resuming from a revision, live delivery,
// filters, resuming under concurrent writes, closing and compaction.
import assert from 'node:assert/strict';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { describe } from 'node:test';
import { YunjianError } from '../../model/errors.ts';
import type {
  Store,
  StoredObject,
  Watch,
  WatchEvent,
  WatchEventType,
  WatchOptions,
} from '../types.ts';
import {
  app,
  cloud,
  keyOf,
  nsName,
  rvOf,
  expectError,
  within,
  waitFor,
  take,
  collect,
  type StoreTest,
} from './harness.ts';

/** Writes the compaction case may issue before it gives up waiting for expiry. */
const MAX_WRITES_UNTIL_EXPIRED = 25_000;

export function watchCases(test: StoreTest): void {
  void describe('watch', () => {
    test('from a revision: ADDED, MODIFIED and DELETED in order with their revisions', async (store) => {
      await store.create(app('before'));
      const from = await store.revision();
      const written: StoredObject[] = [];
      const a = await store.create(app('shop', 'default', { tier: 'web' }, { replicas: 1 }));
      written.push(a);
      const b = await store.update({ ...a, spec: { replicas: 2 } });
      written.push(b);
      written.push(await store.updateStatus({ ...b, status: { phase: 'Running' } }));
      written.push(await store.delete(keyOf(a)));
      const watch = store.watch({ fromRevision: from });
      try {
        const events = await take(watch, 4);
        assert.deepEqual(
          events.map((e) => e.type),
          ['ADDED', 'MODIFIED', 'MODIFIED', 'DELETED'],
        );
        assert.deepEqual(
          events.map((e) => e.object),
          written,
        );
        const deleted = events[3]!.object;
        assert.deepEqual(deleted.status, { phase: 'Running' }, 'DELETED carries the last state');
        assert.deepEqual(deleted.spec, { replicas: 2 });
      } finally {
        watch.close();
      }
    });

    test('from a list: watching from the list resourceVersion continues exactly after it', async (store) => {
      await store.create(app('a'));
      const list = await store.list('Application');
      const b = await store.create(app('b'));
      const watch = store.watch({ kind: 'Application', fromRevision: list.resourceVersion });
      try {
        const [ev] = await take(watch, 1);
        assert.equal(ev?.type, 'ADDED');
        assert.deepEqual(ev?.object, b);
      } finally {
        watch.close();
      }
    });

    test('without fromRevision: only changes after the call', async (store) => {
      await store.create(app('old'));
      const watch = store.watch();
      try {
        const fresh = await store.create(app('new'));
        const [ev] = await take(watch, 1);
        assert.deepEqual(ev?.object, fresh);
      } finally {
        watch.close();
      }
    });

    test('live: changes made while watching arrive in order', async (store) => {
      const watch = store.watch({ fromRevision: await store.revision() });
      try {
        const events = take(watch, 3);
        const a = await store.create(app('a'));
        const b = await store.update({ ...a, spec: { replicas: 3 } });
        const c = await store.delete(keyOf(a));
        assert.deepEqual(
          (await events).map((e) => [e.type, e.object]),
          [
            ['ADDED', a],
            ['MODIFIED', b],
            ['DELETED', c],
          ],
        );
      } finally {
        watch.close();
      }
    });

    test('watches resumed mid-stream during 480 concurrent writes: every later revision exactly once, in order', async (store) => {
      const workers = 8;
      const perWorker = 60;
      const total = workers * perWorker;
      const acked = new Map<bigint, { type: WatchEventType; key: string }>();
      const milestones = new Map<number, () => void>();
      const reach = (count: number) =>
        new Promise<void>((resolve) => milestones.set(count, resolve));
      const ack = (type: WatchEventType, obj: StoredObject) => {
        acked.set(rvOf(obj), { type, key: `${obj.kind}:${nsName(obj)}` });
        milestones.get(acked.size)?.();
      };
      const latestAcked = () => [...acked.keys()].reduce((max, rv) => (rv > max ? rv : max), 0n);
      const oneThird = reach(Math.floor(total / 3));
      const twoThirds = reach(Math.floor((2 * total) / 3));

      const seed = await store.create(cloud('seed'));
      const watchers: Array<{
        label: string;
        from: bigint;
        events: ReturnType<typeof collect>;
        ackedWhenOpened: number;
      }> = [];
      const follow = (label: string, from: bigint) =>
        watchers.push({
          label,
          from,
          events: collect(store.watch({ fromRevision: String(from) })),
          ackedWhenOpened: acked.size,
        });

      follow('watch opened before the writes', rvOf(seed));
      const worker = async (w: number) => {
        let current: StoredObject | undefined;
        for (let j = 0; j < perWorker; j++) {
          await yieldToEventLoop();
          const step = j % 3;
          if (step === 0 || current === undefined) {
            current = await store.create(app(`w${w}-${j}`, `ns${w % 3}`, { worker: String(w) }));
            ack('ADDED', current);
          } else if (step === 1) {
            current = await store.update({ ...current, spec: { replicas: j } });
            ack('MODIFIED', current);
          } else {
            ack('DELETED', await store.delete(keyOf(current), { expectedResourceVersion: null }));
            current = undefined;
          }
        }
      };
      const writing = Promise.all(Array.from({ length: workers }, (_, w) => worker(w)));

      // Resume from a revision a client has actually seen, while writes go on;
      // and later from the very start, with a long backlog to catch up on.
      await oneThird;
      follow('watch resumed from the latest acknowledged revision', latestAcked());
      await twoThirds;
      follow('watch opened late from before the writes', rvOf(seed));
      await writing;
      const last = latestAcked();

      for (const { label, from, events: collector, ackedWhenOpened } of watchers) {
        if (ackedWhenOpened > 0)
          assert.ok(ackedWhenOpened < total, `${label}: opened while writes were still running`);
        const events = await collector.until(last);
        const want = [...acked.keys()]
          .filter((rv) => rv > from)
          .sort((x, y) => (x < y ? -1 : x > y ? 1 : 0));
        const got = events.map((e) => rvOf(e.object));
        assert.deepEqual(got, want, `${label}: exact revision sequence`);
        for (const e of events) {
          const w = acked.get(rvOf(e.object))!;
          assert.equal(e.type, w.type, `${label}: event type at ${rvOf(e.object)}`);
          assert.equal(
            `${e.object.kind}:${nsName(e.object)}`,
            w.key,
            `${label}: object at ${rvOf(e.object)}`,
          );
        }
      }
    }, 60_000);

    // The same writes, watched through different filters, from the backlog and live.
    const scenario = async (store: Store) => {
      await store.create(cloud('c1', { tier: 'web' }));
      const x = await store.create(app('x', 'a', { tier: 'web' }));
      await store.create(app('y', 'b', { tier: 'db' }));
      await store.update({ ...x, spec: { replicas: 5 } });
      await store.create(app('z', 'a'));
      await store.delete(keyOf(x));
      await store.delete({ kind: 'Cloud', name: 'c1' });
      await store.create(app('w', 'b', { tier: 'web' }));
    };
    const filterCases: Array<[string, WatchOptions, string[], StoredObject]> = [
      ['kind', { kind: 'Cloud' }, ['ADDED c1', 'DELETED c1'], cloud('sentinel')],
      [
        'kind and namespace',
        { kind: 'Application', namespace: 'a' },
        ['ADDED a/x', 'MODIFIED a/x', 'ADDED a/z', 'DELETED a/x'],
        app('sentinel', 'a'),
      ],
      [
        'namespace across kinds',
        { namespace: 'b' },
        ['ADDED b/y', 'ADDED b/w'],
        app('sentinel', 'b'),
      ],
      [
        'label selector (DELETED matches on the deleted labels)',
        { kind: 'Application', labelSelector: 'tier=web' },
        ['ADDED a/x', 'MODIFIED a/x', 'DELETED a/x', 'ADDED b/w'],
        app('sentinel', 'c', { tier: 'web' }),
      ],
      [
        'label selector across kinds',
        { labelSelector: 'tier in (web)' },
        ['ADDED c1', 'ADDED a/x', 'MODIFIED a/x', 'DELETED a/x', 'DELETED c1', 'ADDED b/w'],
        cloud('sentinel', { tier: 'web' }),
      ],
      [
        'negative selector',
        { kind: 'Application', labelSelector: '!tier' },
        ['ADDED a/z'],
        app('sentinel', 'c'),
      ],
    ];
    for (const mode of ['backlog', 'live'] as const) {
      for (const [title, options, want, sentinel] of filterCases) {
        test(`filters by ${title} (${mode})`, async (store) => {
          const from = await store.revision();
          let watch: Watch | undefined;
          if (mode === 'live') watch = store.watch({ ...options, fromRevision: from });
          await scenario(store);
          watch ??= store.watch({ ...options, fromRevision: from });
          try {
            const events = await take(watch, want.length);
            assert.deepEqual(
              events.map((e) => `${e.type} ${nsName(e.object)}`),
              want,
            );
            // Nothing else was queued: the next event is a later matching write.
            const written = await store.create(sentinel);
            const [next] = await take(watch, 1);
            assert.deepEqual(next?.object, written);
          } finally {
            watch.close();
          }
        });
      }
    }

    test('close() ends iteration, including a pending next(), and is idempotent', async (store) => {
      const watch = store.watch();
      const seen: WatchEvent[] = [];
      const loop = (async () => {
        for await (const ev of watch) seen.push(ev);
      })();
      await store.create(app('a'));
      await waitFor(() => seen.length === 1);
      watch.close();
      await within(loop, 5000, 'for-await ends after close()');
      watch.close();
      const it = watch[Symbol.asyncIterator]();
      assert.deepEqual(await it.next(), { done: true, value: undefined });
      await store.create(app('b'));
      assert.equal(seen.length, 1);
    });

    test('breaking out of for-await closes the watch', async (store) => {
      const watch = store.watch();
      await store.create(app('a'));
      await store.create(app('b'));
      for await (const ev of watch) {
        assert.equal(ev.object.metadata.name, 'a');
        break;
      }
      assert.deepEqual(await watch[Symbol.asyncIterator]().next(), {
        done: true,
        value: undefined,
      });
    });

    test('closing the store ends its watches', async (store) => {
      const watch = store.watch();
      const loop = (async () => {
        for await (const ev of watch) void ev;
      })();
      await store.close();
      await within(loop, 5000, 'for-await ends after store.close()');
    });

    test('a bad fromRevision or selector fails the first next() with BadRequest', async (store) => {
      for (const options of [{ fromRevision: 'abc' }, { labelSelector: 'a in' }]) {
        const watch = store.watch(options);
        await expectError(
          watch[Symbol.asyncIterator]().next(),
          'BadRequest',
          undefined,
          JSON.stringify(options),
        );
        watch.close();
      }
    });

    test('a compacted revision throws Expired from the first next(); recent revisions still work', async (store) => {
      const first = await store.create(app('churn'));
      const from = first.metadata.resourceVersion!;
      let current = first;
      let expiredErr: YunjianError | undefined;
      for (
        let writes = 0;
        writes < MAX_WRITES_UNTIL_EXPIRED && expiredErr === undefined;
        writes++
      ) {
        current = await store.update({ ...current, spec: { n: writes } });
        if (writes % 50 !== 49) continue;
        await yieldToEventLoop();
        const probe = store.watch({ fromRevision: from });
        try {
          await within(probe[Symbol.asyncIterator]().next(), 5000, 'the probe watch answers');
        } catch (err) {
          if (!(err instanceof YunjianError)) throw err;
          expiredErr = err;
        } finally {
          probe.close();
        }
      }
      assert.ok(
        expiredErr,
        `revision ${from} did not expire within ${MAX_WRITES_UNTIL_EXPIRED} writes; configure a small event retention`,
      );
      assert.equal(expiredErr.reason, 'Expired');

      const list = await store.list('Application');
      const watch = store.watch({ fromRevision: list.resourceVersion });
      try {
        const next = take(watch, 1);
        const written = await store.update({ ...current, spec: { n: 'after' } });
        assert.deepEqual((await next)[0]?.object, written);
      } finally {
        watch.close();
      }
    }, 120_000);
  });
}
