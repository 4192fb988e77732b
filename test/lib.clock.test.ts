// The accelerated clock, table-driven: timers fire in the clock's time, in
// due order (ties in the order they were set), cancelled ones never; the
// clock starts at the wall time and runs `speedup` times faster; a governor
// that is off keeps the full speed; a sleep keeps the process alive.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { AcceleratedClock, sleep, systemClock } from '../src/lib/clock.ts';

const CLOCK_MODULE = new URL('../src/lib/clock.ts', import.meta.url).href;

describe('AcceleratedClock', () => {
  const orders = [
    { name: 'due order', timers: [30, 10, 20], fired: [10, 20, 30] },
    { name: 'ties keep the order they were set in', timers: [20, 20, 10], fired: [10, 20, 20] },
    { name: 'zero and negative delays run first', timers: [5, 0, -5], fired: [0, -5, 5] },
  ];
  for (const c of orders)
    it(`fires timers in ${c.name}`, async () => {
      const clock = new AcceleratedClock({ speedup: 50, maxUtilization: 1 });
      const fired: number[] = [];
      await Promise.all(
        c.timers.map(
          (ms) => new Promise<void>((r) => void clock.after(ms * 10, () => (fired.push(ms), r()))),
        ),
      );
      clock.stop();
      assert.deepEqual(fired, c.fired);
    });

  it('never fires a cancelled timer and fires the rest', async () => {
    const clock = new AcceleratedClock({ speedup: 20, maxUtilization: 1 });
    const fired: string[] = [];
    const cancelFirst = clock.after(100, () => fired.push('first'));
    clock.after(200, () => fired.push('second'));
    cancelFirst();
    await sleep(clock, 400);
    clock.stop();
    assert.deepEqual(fired, ['second']);
  });

  it('starts at the wall time and runs speedup times faster', async () => {
    const clock = new AcceleratedClock({ speedup: 40, maxUtilization: 1 });
    const t0 = clock.now();
    assert.ok(
      Math.abs(t0 - Date.now()) < 50,
      `started at ${t0 - Date.now()} ms from the wall clock`,
    );
    const wall0 = performance.now();
    await sleep(clock, 4000);
    const wall = performance.now() - wall0;
    const twin = clock.now() - t0;
    clock.stop();
    assert.ok(twin >= 4000, `slept ${twin} ms of clock time`);
    // 4 s at 40x is 100 ms of wall time: never sooner, and a clock that did
    // not run faster would take the whole 4 s (40 times the margin).
    assert.ok(wall >= 95 && wall < 4000, `woke after ${wall} ms of wall time`);
  });

  it('rejects a speedup below 1', () => {
    assert.throws(() => new AcceleratedClock({ speedup: 0.5 }), /speedup: expected >= 1/);
  });
});

describe('systemClock', () => {
  it('is the wall clock', async () => {
    const t0 = systemClock.now();
    assert.ok(Math.abs(t0 - Date.now()) <= 1);
    await sleep(systemClock, 20);
    assert.ok(systemClock.now() - t0 >= 19);
  });
});

describe('sleep', () => {
  it('keeps the process alive while it waits, on either clock', () => {
    // A child whose only pending work is a sleep must print before it exits.
    for (const clock of [
      'systemClock',
      'new AcceleratedClock({ speedup: 10, maxUtilization: 1 })',
    ]) {
      const src = `import { AcceleratedClock, sleep, systemClock } from ${JSON.stringify(CLOCK_MODULE)};
        await sleep(${clock}, 200); console.log('woke');`;
      const out = execFileSync(process.execPath, ['--input-type=module', '-e', src], {
        encoding: 'utf8',
      });
      assert.equal(out.trim(), 'woke', clock);
    }
  });
});
