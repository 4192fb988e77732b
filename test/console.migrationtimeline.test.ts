// The console's traffic split over time, table-driven: from a Migration's
// status to the points the chart draws (each weight held up to its point).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { splitTimeline, type SplitPoint } from '../src/console/migrationTimeline.ts';
import type { Migration, MigrationStatus } from '../src/model/schema/migration.ts';

const T0 = Date.parse('2026-12-06T10:00:00Z');
const iso = (seconds: number) => new Date(T0 + seconds * 1000).toISOString();
const analysis = (step: number, weight: number, seconds: number, result = 'success') => ({
  step,
  weight,
  result: result as 'success' | 'fail',
  requests: 10,
  message: '',
  at: iso(seconds),
});
const migration = (status?: MigrationStatus): Migration => ({
  apiVersion: 'yunjian.io/v1alpha1',
  kind: 'Migration',
  metadata: { name: 'm', namespace: 'default' },
  spec: { application: 'web', to: { cloud: 'gcp' } },
  ...(status !== undefined ? { status } : {}),
});

const cases: { name: string; status?: MigrationStatus; now: number; points: SplitPoint[] }[] = [
  { name: 'not started: nothing to draw', now: 5, points: [] },
  {
    name: 'in flight at the first step: nothing while pre-scaling, the current weight since',
    status: { phase: 'Shifting', step: 0, weight: 25, startedAt: iso(0), phaseStartedAt: iso(4) },
    now: 12.34,
    points: [
      { seconds: 0, weight: 0, label: 'start' },
      { seconds: 4, weight: 0, label: 'step 1 began' },
      { seconds: 12.3, weight: 25, label: 'now' },
    ],
  },
  {
    name: 'in flight at the second step: the first step held up to its analysis',
    status: {
      phase: 'Shifting',
      step: 1,
      weight: 100,
      startedAt: iso(0),
      phaseStartedAt: iso(30),
      analyses: [analysis(0, 50, 30)],
    },
    now: 40,
    points: [
      { seconds: 0, weight: 0, label: 'start' },
      { seconds: 30, weight: 50, label: 'step 1 success' },
      { seconds: 40, weight: 100, label: 'now' },
    ],
  },
  {
    name: 'succeeded: each analysed step, then all on the target',
    status: {
      phase: 'Succeeded',
      weight: 100,
      startedAt: iso(0),
      finishedAt: iso(70),
      analyses: [analysis(0, 50, 30), analysis(1, 100, 60)],
    },
    now: 100,
    points: [
      { seconds: 0, weight: 0, label: 'start' },
      { seconds: 30, weight: 50, label: 'step 1 success' },
      { seconds: 60, weight: 100, label: 'step 2 success' },
      { seconds: 70, weight: 100, label: 'Succeeded' },
    ],
  },
  {
    name: 'rolled back after a failed gate: nothing on the target at the end',
    status: {
      phase: 'RolledBack',
      weight: 0,
      startedAt: iso(0),
      finishedAt: iso(45),
      analyses: [analysis(0, 5, 20), analysis(1, 25, 40, 'fail')],
    },
    now: 100,
    points: [
      { seconds: 0, weight: 0, label: 'start' },
      { seconds: 20, weight: 5, label: 'step 1 success' },
      { seconds: 40, weight: 25, label: 'step 2 fail' },
      { seconds: 45, weight: 0, label: 'RolledBack' },
    ],
  },
  {
    name: 'a clock behind the start never draws negative time',
    status: { phase: 'PreScaling', startedAt: iso(10) },
    now: 0,
    points: [
      { seconds: 0, weight: 0, label: 'start' },
      { seconds: 0, weight: 0, label: 'now' },
    ],
  },
];

describe('splitTimeline', () => {
  for (const c of cases)
    it(c.name, () => {
      assert.deepEqual(splitTimeline(migration(c.status), T0 + c.now * 1000), c.points);
    });
});
