import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
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
