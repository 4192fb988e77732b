// What runs now, table-driven: replicas a workload has not placed count for
// the pending grace, held clusters keep what they were assigned, gone or
// failed-over clusters run nothing; and, as a property, no placement runs
// more than it was assigned.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { placementKey } from '../src/controllers/application/observed.ts';
import { PENDING_GRACE_MS, runningReplicas } from '../src/controllers/application/running.ts';
import type { WorkloadStatus } from '../src/drivers/types.ts';
import {
  NOW,
  cluster,
  fleet,
  observations,
  placement,
  workload,
} from './controllers.application.fixtures.ts';

const KEY = placementKey('web', 'a');

describe('runningReplicas', () => {
  const cases: {
    name: string;
    ready?: 'True' | 'False';
    held?: boolean;
    gone?: boolean;
    /** Undefined: the listing failed. */
    listed?: WorkloadStatus | 'absent';
    pendingForMs?: number;
    running: number | undefined;
    pending: 'kept' | 'started' | 'cleared' | 'untouched';
    wakeAtMs?: number;
  }[] = [
    {
      name: 'every assigned replica scheduled: all run, nothing pending',
      listed: workload('web', { scheduled: 3 }),
      running: 3,
      pending: 'cleared',
    },
    {
      name: 'short of scheduled replicas: all count while the grace starts',
      listed: workload('web', { scheduled: 1 }),
      running: 3,
      pending: 'started',
      wakeAtMs: NOW + PENDING_GRACE_MS,
    },
    {
      name: 'short for the whole grace: only the scheduled ones run',
      listed: workload('web', { scheduled: 1 }),
      pendingForMs: PENDING_GRACE_MS,
      running: 1,
      pending: 'kept',
    },
    {
      name: 'workload missing from the listing for the grace: nothing runs',
      listed: 'absent',
      pendingForMs: PENDING_GRACE_MS + 1,
      running: undefined,
      pending: 'kept',
    },
    {
      name: 'the listing failed: what was assigned runs',
      running: 3,
      pending: 'cleared',
    },
    {
      name: 'held NotReady cluster: what was assigned runs, whatever it last listed',
      ready: 'False',
      held: true,
      listed: workload('web', { scheduled: 0 }),
      pendingForMs: PENDING_GRACE_MS * 2,
      running: 3,
      pending: 'cleared',
    },
    {
      name: 'NotReady and not held: nothing runs, pending left as it was',
      ready: 'False',
      listed: workload('web', { scheduled: 3 }),
      pendingForMs: 1,
      running: undefined,
      pending: 'untouched',
    },
    {
      name: 'cluster gone: nothing runs',
      gone: true,
      running: undefined,
      pending: 'untouched',
    },
  ];
  for (const c of cases)
    it(c.name, () => {
      const since = c.pendingForMs !== undefined ? NOW - c.pendingForMs : undefined;
      const got = runningReplicas({
        previous: [placement('web', 'a', 3)],
        clusters: c.gone ? fleet() : fleet(cluster('a', c.ready ?? 'True', 60)),
        held: new Set(c.held ? ['a'] : []),
        observed:
          c.listed === undefined
            ? new Map([[KEY, { listed: false, listedAt: 0 }]])
            : observations([['web', 'a', c.listed === 'absent' ? undefined : c.listed]]),
        pendingSince: new Map(since !== undefined ? [[KEY, since]] : []),
        nowMs: NOW,
      });
      assert.equal(got.current.web?.a, c.running);
      const want = {
        kept: since,
        started: NOW,
        cleared: undefined,
        untouched: since,
      }[c.pending];
      assert.equal(got.pendingSince.get(KEY), want);
      assert.equal(got.wakeAtMs, c.wakeAtMs ?? Infinity);
    });

  it('property: no placement runs more than assigned, and a pending start never moves', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            assigned: fc.integer({ min: 0, max: 6 }),
            scheduled: fc.integer({ min: 0, max: 8 }),
            pendingForMs: fc.option(fc.integer({ min: 0, max: 2 * PENDING_GRACE_MS })),
            ready: fc.boolean(),
            held: fc.boolean(),
          }),
          { minLength: 1, maxLength: 6 },
        ),
        (specs) => {
          const names = specs.map((_, i) => `c${i}`);
          const got = runningReplicas({
            previous: specs.map((s, i) => placement('web', names[i]!, s.assigned)),
            clusters: fleet(...specs.map((s, i) => cluster(names[i]!, s.ready ? 'True' : 'False'))),
            held: new Set(names.filter((_, i) => specs[i]!.held)),
            observed: observations(
              specs.map((s, i) => ['web', names[i]!, workload('web', { scheduled: s.scheduled })]),
            ),
            pendingSince: new Map(
              specs.flatMap((s, i) =>
                s.pendingForMs !== null
                  ? [[placementKey('web', names[i]!), NOW - s.pendingForMs] as const]
                  : [],
              ),
            ),
            nowMs: NOW,
          });
          specs.forEach((s, i) => {
            const name = names[i]!;
            const running = got.current.web?.[name] ?? 0;
            assert.ok(running <= s.assigned);
            const before = s.pendingForMs !== null ? NOW - s.pendingForMs : undefined;
            const after = got.pendingSince.get(placementKey('web', name));
            if (after !== undefined && before !== undefined) assert.equal(after, before);
          });
        },
      ),
      { seed: 14, numRuns: 300 },
    );
  });
});
