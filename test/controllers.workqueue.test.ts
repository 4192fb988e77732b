import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Controller } from '../src/controllers/runtime/controller.ts';
import { WorkQueue } from '../src/controllers/runtime/workqueue.ts';

describe('WorkQueue', () => {
  it('queues a key once however often it is added', async () => {
    const q = new WorkQueue();
    q.add('a');
    q.add('a');
    q.add('b');
    assert.equal(q.length, 2);
    assert.equal(await q.get(), 'a');
    assert.equal(await q.get(), 'b');
    q.shutDown();
  });

  it('never hands a key being processed to a second worker, and re-queues it when done', async () => {
    const q = new WorkQueue();
    q.add('a');
    const key = await q.get();
    q.add('a'); // changed while processing
    assert.equal(q.length, 0);
    q.done(key!);
    assert.equal(q.length, 1);
    assert.equal(await q.get(), 'a');
    q.shutDown();
  });

  it('lets the earliest of several delays win', async () => {
    const q = new WorkQueue();
    q.addAfter('a', 60_000); // a resync far away
    q.addAfter('a', 20); // a backoff retry must not wait for it
    const got = await Promise.race([q.get(), sleep(2_000).then(() => 'timeout')]);
    assert.equal(got, 'a');
    q.shutDown();
  });

  const backoff = [
    { failures: 1, delay: 5 },
    { failures: 2, delay: 10 },
    { failures: 5, delay: 80 },
    { failures: 20, delay: 1_000 },
  ];
  for (const b of backoff) {
    it(`backs off exponentially: failure ${b.failures} -> ${b.delay} ms (capped)`, () => {
      const q = new WorkQueue({ baseDelayMs: 5, maxDelayMs: 1_000 });
      let d = 0;
      for (let i = 0; i < b.failures; i++) d = q.addRateLimited('k');
      assert.equal(d, b.delay);
      q.forget('k');
      assert.equal(q.addRateLimited('k'), 5);
      q.shutDown();
    });
  }

  it('resolves waiting workers with undefined on shutdown', async () => {
    const q = new WorkQueue();
    const waiting = q.get();
    q.shutDown();
    assert.equal(await waiting, undefined);
  });
});

describe('Controller terms', () => {
  it('starts again after a stop with an empty queue, having forgotten the last term', async () => {
    const seen: string[] = [];
    let forgotten = 0;
    const c = new Controller(
      'test',
      async (key) => {
        seen.push(key);
        return key === 'slow' ? { requeueAfterMs: 50 } : undefined;
      },
      () => {},
      { workers: 2, forgetTerm: () => forgotten++ },
    );
    c.enqueue('a');
    c.enqueue('slow');
    c.start();
    await sleep(20);
    await c.stop();
    c.enqueue('lost'); // between terms: nobody works, nothing is kept
    const firstTerm = seen.length;
    assert.deepEqual(seen.slice(0, 2).sort(), ['a', 'slow']);
    c.start();
    assert.equal(forgotten, 1);
    c.enqueue('b');
    await sleep(120);
    await c.stop();
    // The second term ran only what it was given: no requeue timer or key of the first.
    assert.deepEqual(seen.slice(firstTerm), ['b']);
  });
});
