// One pass of a plan (stepPlan), table-driven: what it assigns, creates,
// aborts and pauses for a given status and set of Migrations.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { migrationName, stepPlan } from '../src/controllers/migrationplan/step.ts';
import type {
  Migration,
  MigrationPhase,
  MigrationPlan,
  MigrationPlanSpec,
  MigrationPlanStatus,
} from '../src/model/schema.ts';

const to = { cloud: 'b' };

function status(waves: string[][], currentWave = 0): MigrationPlanStatus {
  return {
    phase: 'Running',
    waves: waves.map((applications) => ({ applications, phase: 'Pending' })),
    currentWave,
    applications: waves.flatMap((w, wave) => w.map((name) => ({ name, wave, to }))),
    unmovable: [],
  };
}

/** The status with these applications' Migrations assigned. */
function assigned(s: MigrationPlanStatus, names: string[]): MigrationPlanStatus {
  return {
    ...s,
    applications: s.applications.map((a) =>
      names.includes(a.name) ? { ...a, migration: `p-${a.name}` } : a,
    ),
  };
}

function migration(app: string, phase: MigrationPhase | undefined, abort = false): Migration {
  return {
    apiVersion: 'yunjian.io/v1alpha1',
    kind: 'Migration',
    metadata: { name: `p-${app}`, namespace: 'default' },
    spec: { application: app, to, ...(abort ? { abort } : {}) },
    ...(phase !== undefined ? { status: { phase } } : {}),
  };
}

const plan = (spec: Partial<MigrationPlanSpec> = {}): MigrationPlan => ({
  apiVersion: 'yunjian.io/v1alpha1',
  kind: 'MigrationPlan',
  metadata: { name: 'p', namespace: 'default', generation: 1 },
  spec: { targets: [{ to }], concurrency: 2, ...spec },
});

const cases: {
  name: string;
  spec?: Partial<MigrationPlanSpec>;
  status: MigrationPlanStatus;
  migrations?: Migration[];
  phase: MigrationPlanStatus['phase'];
  currentWave: number;
  create?: string[];
  abort?: string[];
  pause?: boolean;
}[] = [
  {
    name: 'starts the first wave up to concurrency',
    status: status([['a', 'b', 'c'], ['d']]),
    phase: 'Running',
    currentWave: 0,
    create: ['p-a', 'p-b'],
  },
  {
    name: 'starts the next when one finishes; recreates an assigned Migration that is missing',
    status: assigned(status([['a', 'b', 'c'], ['d']]), ['a', 'b']),
    migrations: [migration('a', 'Succeeded')],
    phase: 'Running',
    currentWave: 0,
    create: ['p-b', 'p-c'],
  },
  {
    name: 'moves to the next wave when every migration of this one is done',
    status: assigned(status([['a', 'b'], ['d']]), ['a', 'b']),
    migrations: [migration('a', 'Succeeded'), migration('b', 'Succeeded')],
    phase: 'Running',
    currentWave: 1,
    create: ['p-d'],
  },
  {
    name: 'a failed migration over the gate pauses the plan',
    status: assigned(status([['a', 'b', 'c'], ['d']]), ['a', 'b']),
    migrations: [migration('a', 'RolledBack'), migration('b', 'Shifting')],
    phase: 'Paused',
    currentWave: 0,
    pause: true,
  },
  {
    name: 'within the gate it goes on',
    spec: { gate: { maxFailed: 1 } },
    status: assigned(status([['a', 'b'], ['d']]), ['a', 'b']),
    migrations: [migration('a', 'RolledBack'), migration('b', 'Succeeded')],
    phase: 'Running',
    currentWave: 1,
    create: ['p-d'],
  },
  {
    name: 'paused: nothing new starts',
    spec: { paused: true },
    status: assigned(status([['a', 'b', 'c']]), ['a']),
    migrations: [migration('a', 'Succeeded')],
    phase: 'Paused',
    currentWave: 0,
  },
  {
    name: 'abort aborts what is in flight, not what is done or already aborting',
    spec: { abort: true },
    status: assigned(status([['a', 'b', 'c', 'e']]), ['a', 'b', 'c']),
    migrations: [
      migration('a', 'Succeeded'),
      migration('b', 'Shifting'),
      migration('c', 'PreScaling', true),
    ],
    phase: 'Aborted',
    currentWave: 0,
    abort: ['p-b'],
  },
  {
    name: 'done after the last wave',
    status: assigned(status([['a']]), ['a']),
    migrations: [migration('a', 'Succeeded')],
    phase: 'Succeeded',
    currentWave: 1,
  },
];

describe('stepPlan', () => {
  for (const c of cases)
    it(c.name, () => {
      const r = stepPlan({
        plan: plan(c.spec),
        status: c.status,
        migrations: new Map((c.migrations ?? []).map((m) => [m.metadata.name, m])),
        nowMs: 0,
      });
      assert.equal(r.status.phase, c.phase);
      assert.equal(r.status.currentWave, c.currentWave);
      assert.deepEqual(
        r.create.map((m) => m.name),
        c.create ?? [],
      );
      assert.deepEqual(r.abort, c.abort ?? []);
      assert.equal(r.pause, c.pause ?? false);
    });

  it('keeps Migration names within the name limit, distinct for distinct applications', () => {
    const long = 'x'.repeat(200);
    const a = migrationName(long, `${long}-a`);
    const b = migrationName(long, `${long}-b`);
    assert.ok(a.length <= 253 && b.length <= 253);
    assert.notEqual(a, b);
    assert.equal(migrationName('p', 'a'), 'p-a');
  });
});
