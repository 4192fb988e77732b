// The migration state machine, table-driven: every transition of
// stepMigration from a given status, app and metrics, the gate's three
// outcomes, pause/resume/abort, manual and automatic finalize, and the exact
// rollback of the application spec.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  appMigration,
  finalSpec,
  resolveTarget,
  stepMigration,
  type FleetCluster,
  type StepInput,
} from '../src/controllers/migration/step.ts';
import { analyze, type TargetMetrics } from '../src/controllers/migration/analysis.ts';
import type {
  Application,
  ApplicationSpec,
  Migration,
  MigrationPhase,
  MigrationStatus,
  PlacementStatus,
} from '../src/model/schema.ts';
import { validateResource } from '../src/model/validate.ts';

const NOW = Date.parse('2026-12-01T12:00:00Z');
const iso = (ms: number) => new Date(ms).toISOString();
const ago = (s: number) => iso(NOW - s * 1000);

const CLUSTERS: FleetCluster[] = [
  { name: 'a1', cloud: 'a', site: 'sa' },
  { name: 'b1', cloud: 'b', site: 'sb' },
  { name: 'b2', cloud: 'b', site: 'sb2' },
];

const baseSpec: ApplicationSpec = {
  components: [{ name: 'web', image: 'hello', replicas: 2 }],
  traffic: { host: 'shop.example.com', strategy: 'failover' },
};

function placement(
  cluster: string,
  ready: number,
  over: Partial<PlacementStatus> = {},
): PlacementStatus {
  return {
    component: 'web',
    cluster,
    cloud: cluster.slice(0, 1),
    desired: 2,
    ready,
    endpoints: [{ address: `127.0.0.${cluster === 'a1' ? 2 : 3}`, port: 8080 }],
    ...over,
  };
}

function app(placements: PlacementStatus[], spec: ApplicationSpec = baseSpec): Application {
  return {
    apiVersion: 'yunjian.io/v1alpha1',
    kind: 'Application',
    metadata: { name: 'shop', namespace: 'default', generation: 3 },
    spec,
    status: { observedGeneration: 3, placements },
  };
}

function migration(
  status: MigrationStatus | undefined,
  spec: Partial<Migration['spec']> = {},
): Migration {
  return {
    apiVersion: 'yunjian.io/v1alpha1',
    kind: 'Migration',
    metadata: { name: 'move-shop', namespace: 'default', generation: 1 },
    spec: {
      application: 'shop',
      to: { cloud: 'b' },
      steps: [10, 50, 100],
      pauseSeconds: 30,
      ...spec,
    },
    ...(status ? { status } : {}),
  };
}

const captured = {
  spec: baseSpec,
  generation: 3,
  placements: [
    { component: 'web', cluster: 'a1', cloud: 'a', replicas: 2, endpoints: ['127.0.0.2:8080'] },
  ],
  at: ago(600),
};
/** A migration in `phase`, started ten minutes ago. */
const at = (phase: MigrationPhase, over: Partial<MigrationStatus> = {}): MigrationStatus => ({
  phase,
  source: ['a1'],
  target: ['b1', 'b2'],
  captured,
  step: 0,
  startedAt: ago(600),
  phaseStartedAt: ago(60),
  ...over,
});
const surge = (weight: number, mode: 'surge' | 'restore' | 'move' = 'surge') => ({
  ...baseSpec,
  migration: appMigration(migration(undefined), mode, weight),
});
const slowTtl: ApplicationSpec = {
  ...baseSpec,
  traffic: { host: 'shop.example.com', strategy: 'failover', ttl: 90 },
};
const good: TargetMetrics = { requests: 500, errors: 0, p99LatencyMs: 20, healthyFraction: 1 };

interface Case {
  name: string;
  input: Partial<StepInput> & { migration: Migration };
  phase: MigrationPhase;
  step?: number;
  weight?: number;
  /** The app spec the pass writes (undefined: no write). */
  writes?: ApplicationSpec;
  /** When the pass asks to look again, ms. */
  requeueAfterMs?: number;
  actions?: string[];
  events?: string[];
  analysis?: 'success' | 'fail' | 'inconclusive';
}

const both = [placement('a1', 2), placement('b1', 1), placement('b2', 1)];

const cases: Case[] = [
  {
    name: 'Pending captures the app and pre-scales the target',
    input: { migration: migration(undefined), app: app([placement('a1', 2)]) },
    phase: 'PreScaling',
    writes: surge(0),
    events: ['MigrationPreScaling'],
  },
  {
    name: 'Pending waits for an unplaced app',
    input: { migration: migration(undefined), app: app([]) },
    phase: 'Pending',
  },
  {
    name: 'Pending fails without the app',
    input: { migration: migration(undefined), app: undefined },
    phase: 'Failed',
    events: ['MigrationFailed'],
  },
  {
    name: 'Pending fails when no cluster matches',
    input: {
      migration: migration(undefined, { to: { cloud: 'zz' } }),
      app: app([placement('a1', 2)]),
    },
    phase: 'Failed',
  },
  {
    name: 'Pending fails when the app already runs only on the target',
    input: { migration: migration(undefined), app: app([placement('b1', 2)]) },
    phase: 'Failed',
  },
  {
    name: 'Pending fails when another migration owns the app',
    input: {
      migration: migration(undefined),
      app: app([placement('a1', 2)], {
        ...baseSpec,
        migration: { ...surge(0).migration, name: 'other' },
      }),
    },
    phase: 'Failed',
  },
  {
    name: 'PreScaling waits while the target is short of ready replicas',
    input: {
      migration: migration(at('PreScaling')),
      app: app([placement('a1', 2), placement('b1', 1, { ready: 0 })], surge(0)),
    },
    phase: 'PreScaling',
  },
  {
    name: 'PreScaling re-asserts the surge when the app lost it (crash between writes)',
    input: { migration: migration(at('PreScaling')), app: app([placement('a1', 2)]) },
    phase: 'PreScaling',
    writes: surge(0),
  },
  {
    name: 'PreScaling with the target ready starts step 1',
    input: { migration: migration(at('PreScaling')), app: app(both, surge(0)) },
    phase: 'Shifting',
    step: 0,
    weight: 10,
    writes: surge(10),
    events: ['MigrationShifting'],
  },
  {
    name: 'PreScaling runs the pre-shift data-sync hooks first',
    input: {
      migration: migration(at('PreScaling'), { dataSync: [{ name: 'db', command: ['true'] }] }),
      app: app(both, surge(0)),
    },
    phase: 'PreScaling',
    actions: ['runHooks:preShift'],
  },
  {
    name: 'PreScaling with a failed hook rolls back',
    input: {
      migration: migration(
        at('PreScaling', {
          hooks: [
            { name: 'db', stage: 'preShift', result: 'failed', message: 'exit 1', at: ago(1) },
          ],
        }),
        { dataSync: [{ name: 'db', command: ['false'] }] },
      ),
      app: app(both, surge(0)),
    },
    phase: 'RollingBack',
    writes: surge(0, 'restore'),
    events: ['MigrationRollingBack'],
  },
  {
    name: 'Shifting waits out the pause',
    input: {
      migration: migration(at('Shifting', { weight: 10, phaseStartedAt: ago(10) })),
      app: app(both, surge(10)),
      metrics: good,
    },
    phase: 'Shifting',
    step: 0,
    weight: 10,
  },
  {
    name: 'Shifting after a control-plane restart: the pause counts from the restart, not the step',
    input: {
      migration: migration(at('Shifting', { weight: 10, phaseStartedAt: ago(60) })),
      app: app(both, surge(10)),
      metrics: good,
      runningSinceMs: NOW - 5000,
    },
    phase: 'Shifting',
    step: 0,
    weight: 10,
    requeueAfterMs: 25_000,
  },
  {
    name: 'Shifting under a controller that ran through the whole step: analysed on time',
    input: {
      migration: migration(at('Shifting', { weight: 10, phaseStartedAt: ago(60) })),
      app: app(both, surge(10)),
      metrics: good,
      runningSinceMs: NOW - 3_600_000,
    },
    phase: 'Shifting',
    step: 1,
    weight: 50,
    writes: surge(50),
    events: ['MigrationStep'],
    analysis: 'success',
  },
  {
    name: 'Shifting: a passing gate moves to the next step',
    input: {
      migration: migration(at('Shifting', { weight: 10 })),
      app: app(both, surge(10)),
      metrics: good,
    },
    phase: 'Shifting',
    step: 1,
    weight: 50,
    writes: surge(50),
    events: ['MigrationStep'],
    analysis: 'success',
  },
  {
    name: 'Shifting: an error rate over the threshold rolls back',
    input: {
      migration: migration(at('Shifting', { weight: 10 })),
      app: app(both, surge(10)),
      metrics: { ...good, errors: 100 },
    },
    phase: 'RollingBack',
    writes: surge(0),
    analysis: 'fail',
  },
  {
    name: 'Shifting: a slow p99 rolls back',
    input: {
      migration: migration(at('Shifting', { weight: 10 })),
      app: app(both, surge(10)),
      metrics: { ...good, p99LatencyMs: 5000 },
    },
    phase: 'RollingBack',
    analysis: 'fail',
    writes: surge(0),
  },
  {
    name: 'Shifting: an unhealthy target fails even with little traffic',
    input: {
      migration: migration(at('Shifting', { weight: 10 })),
      app: app(both, surge(10)),
      metrics: { requests: 1, errors: 0, healthyFraction: 0.5 },
    },
    phase: 'RollingBack',
    analysis: 'fail',
    writes: surge(0),
  },
  {
    name: 'Shifting: too few requests is inconclusive and pauses',
    input: {
      migration: migration(at('Shifting', { weight: 10 })),
      app: app(both, surge(10)),
      metrics: { ...good, requests: 3 },
    },
    phase: 'Paused',
    actions: ['pause'],
    analysis: 'inconclusive',
    events: ['MigrationPaused'],
  },
  {
    name: 'Shifting: no metrics at all is inconclusive',
    input: { migration: migration(at('Shifting', { weight: 10 })), app: app(both, surge(10)) },
    phase: 'Paused',
    actions: ['pause'],
    analysis: 'inconclusive',
  },
  {
    name: 'the last step before 100 leads to Cutover',
    input: {
      migration: migration(at('Shifting', { step: 1, weight: 50 })),
      app: app(both, surge(50)),
      metrics: good,
    },
    phase: 'Cutover',
    step: 2,
    weight: 50,
    analysis: 'success',
  },
  {
    name: 'Cutover runs its hooks at the last weight',
    input: {
      migration: migration(at('Cutover', { step: 2, weight: 50 }), {
        dataSync: [{ name: 'db', command: ['true'] }],
      }),
      app: app(both, surge(50)),
    },
    phase: 'Cutover',
    weight: 50,
    actions: ['runHooks:cutover'],
  },
  {
    name: 'Cutover with its hooks done moves all traffic',
    input: {
      migration: migration(at('Cutover', { step: 2, weight: 50 })),
      app: app(both, surge(50)),
      metrics: good,
    },
    phase: 'Cutover',
    weight: 100,
    writes: surge(100),
    events: ['MigrationStep'],
  },
  {
    name: 'Cutover passed, finalize manual: waits for approval',
    input: {
      migration: migration(at('Cutover', { step: 2, weight: 100 })),
      app: app(both, surge(100)),
      metrics: good,
    },
    phase: 'Cutover',
    analysis: 'success',
  },
  {
    name: 'Cutover passed, finalize approved: Finalizing moves the app',
    input: {
      migration: migration(at('Cutover', { step: 2, weight: 100 }), { finalizeApproved: true }),
      app: app(both, surge(100)),
      metrics: good,
    },
    phase: 'Finalizing',
    writes: surge(100, 'move'),
    analysis: 'success',
    events: ['MigrationFinalizing'],
  },
  {
    name: 'Cutover passed, finalize automatic: Finalizing',
    input: {
      migration: migration(at('Cutover', { step: 2, weight: 100 }), { finalize: 'automatic' }),
      app: app(both, surge(100)),
      metrics: good,
    },
    phase: 'Finalizing',
    writes: surge(100, 'move'),
    analysis: 'success',
  },
  {
    name: 'Cutover passed within the TTL of its switch: the source serves cached answers first',
    input: {
      migration: migration(at('Cutover', { step: 2, weight: 100, phaseStartedAt: ago(3) }), {
        finalize: 'automatic',
        pauseSeconds: 2,
      }),
      app: app(both, surge(100)),
      metrics: good,
    },
    phase: 'Cutover',
    analysis: 'success',
    // TTL 5 s + 1 s of propagation since the switch 3 s ago.
    requeueAfterMs: 3000,
  },
  {
    name: 'Cutover passed a minute ago, an app with a 90 s TTL: the source serves 31 s more',
    input: {
      migration: migration(
        at('Cutover', { step: 2, weight: 100, captured: { ...captured, spec: slowTtl } }),
        { finalize: 'automatic' },
      ),
      app: app(both, { ...slowTtl, migration: appMigration(migration(undefined), 'surge', 100) }),
      metrics: good,
    },
    phase: 'Cutover',
    analysis: 'success',
    requeueAfterMs: 31_000,
  },
  {
    name: 'Cutover failing its gate rolls back',
    input: {
      migration: migration(at('Cutover', { step: 2, weight: 100 }), { finalize: 'automatic' }),
      app: app(both, surge(100)),
      metrics: { ...good, errors: 50 },
    },
    phase: 'RollingBack',
    writes: surge(0),
    analysis: 'fail',
  },
  {
    name: 'Finalizing waits while the source runs',
    input: {
      migration: migration(at('Finalizing', { weight: 100 })),
      app: app(both, surge(100, 'move')),
    },
    phase: 'Finalizing',
  },
  {
    name: 'Finalizing done: the app names the target itself',
    input: {
      migration: migration(at('Finalizing', { weight: 100 })),
      app: app([placement('b1', 1), placement('b2', 1)], surge(100, 'move')),
    },
    phase: 'Succeeded',
    writes: { ...baseSpec, placement: { clusterAffinity: { clouds: ['b'] } } },
    events: ['MigrationSucceeded'],
  },
  {
    name: 'abort is ignored while finalizing',
    input: {
      migration: migration(at('Finalizing', { weight: 100 }), { abort: true }),
      app: app(both, surge(100, 'move')),
    },
    phase: 'Finalizing',
  },
  {
    name: 'abort while shifting rolls back',
    input: {
      migration: migration(at('Shifting', { weight: 50, step: 1 }), { abort: true }),
      app: app(both, surge(50)),
    },
    phase: 'RollingBack',
    writes: surge(0),
  },
  {
    name: 'abort while pending: nothing to restore',
    input: { migration: migration(undefined, { abort: true }), app: app([placement('a1', 2)]) },
    phase: 'RolledBack',
  },
  {
    name: 'RollingBack from a target that took traffic: it serves cached answers at weight 0',
    input: {
      migration: migration(at('RollingBack', { weight: 50, phaseStartedAt: ago(2) })),
      app: app(both, surge(0)),
    },
    phase: 'RollingBack',
    requeueAfterMs: 4000,
  },
  {
    name: 'RollingBack once cached answers ran out: the target is removed',
    input: {
      migration: migration(at('RollingBack', { weight: 50, phaseStartedAt: ago(6) })),
      app: app(both, surge(0)),
    },
    phase: 'RollingBack',
    writes: surge(0, 'restore'),
  },
  {
    name: 'RollingBack waits while the target still runs',
    input: { migration: migration(at('RollingBack')), app: app(both, surge(0, 'restore')) },
    phase: 'RollingBack',
  },
  {
    name: 'RollingBack does not trust a status older than the app spec',
    input: {
      migration: migration(at('RollingBack')),
      app: {
        ...app([placement('a1', 2)], surge(0, 'restore')),
        metadata: { name: 'shop', namespace: 'default', generation: 4 },
      },
    },
    phase: 'RollingBack',
  },
  {
    name: 'RollingBack done: the captured spec is written back exactly',
    input: {
      migration: migration(at('RollingBack')),
      app: app([placement('a1', 2)], surge(0, 'restore')),
    },
    phase: 'RolledBack',
    writes: baseSpec,
    events: ['MigrationRolledBack'],
  },
  {
    name: 'RolledBack re-asserts the captured spec after a crash',
    input: {
      migration: migration(at('RolledBack')),
      app: app([placement('a1', 2)], surge(0, 'restore')),
    },
    phase: 'RolledBack',
    writes: baseSpec,
  },
  {
    name: 'Succeeded re-asserts the final spec after a crash',
    input: {
      migration: migration(at('Succeeded')),
      app: app([placement('b1', 2)], surge(100, 'move')),
    },
    phase: 'Succeeded',
    writes: { ...baseSpec, placement: { clusterAffinity: { clouds: ['b'] } } },
  },
  {
    name: 'paused while shifting',
    input: {
      migration: migration(at('Shifting', { weight: 10 }), { paused: true }),
      app: app(both, surge(10)),
      metrics: good,
    },
    phase: 'Paused',
    events: ['MigrationPaused'],
  },
  {
    name: 'resumed: back to the paused phase, the step analysed afresh',
    input: {
      migration: migration(
        at('Paused', {
          resumePhase: 'Shifting',
          weight: 10,
          analyses: [
            {
              step: 0,
              weight: 10,
              result: 'inconclusive',
              requests: 3,
              message: 'few',
              at: ago(5),
            },
          ],
        }),
      ),
      app: app(both, surge(10)),
    },
    phase: 'Shifting',
    step: 0,
    weight: 10,
    events: ['MigrationShifting'],
  },
  {
    name: 'still paused: nothing moves',
    input: {
      migration: migration(at('Paused', { resumePhase: 'Shifting', weight: 10 }), { paused: true }),
      app: app(both, surge(10)),
    },
    phase: 'Paused',
  },
  {
    name: 'the app deleted mid-migration fails it',
    input: { migration: migration(at('Shifting', { weight: 10 })), app: undefined },
    phase: 'Failed',
  },
];

describe('stepMigration', () => {
  for (const c of cases)
    it(c.name, () => {
      const r = stepMigration({
        app: undefined,
        clusters: CLUSTERS,
        metrics: undefined,
        nowMs: NOW,
        ...c.input,
      });
      assert.equal(r.status.phase, c.phase, r.status.message);
      if (c.step !== undefined) assert.equal(r.status.step, c.step);
      if (c.weight !== undefined) assert.equal(r.status.weight, c.weight);
      if (c.requeueAfterMs !== undefined) assert.equal(r.requeueAfterMs, c.requeueAfterMs);
      const writes = r.actions.filter((a) => a.type === 'writeApp');
      assert.deepEqual(
        writes.map((a) => a.spec),
        c.writes === undefined ? [] : [c.writes],
      );
      assert.deepEqual(
        r.actions
          .filter((a) => a.type !== 'writeApp')
          .map((a) => (a.type === 'runHooks' ? `runHooks:${a.stage}` : a.type)),
        c.actions ?? [],
      );
      if (c.events)
        assert.deepEqual(
          r.events.map((e) => e.reason),
          c.events,
        );
      const before = c.input.migration.status?.analyses?.length ?? 0;
      const added = (r.status.analyses ?? [])
        .slice(before)
        .filter((a) => a.result !== 'inconclusive' || c.analysis === 'inconclusive');
      assert.deepEqual(
        added.map((a) => a.result),
        c.analysis ? [c.analysis] : [],
      );
      if (r.status.phase !== 'Paused') assert.equal(r.status.resumePhase, undefined);
    });

  it('captures the spec, generation and placements with their endpoints', () => {
    const r = stepMigration({
      migration: migration(undefined),
      app: app([placement('a1', 2)]),
      clusters: CLUSTERS,
      metrics: undefined,
      nowMs: NOW,
    });
    assert.deepEqual(r.status.captured, { ...captured, at: iso(NOW) });
    assert.deepEqual(r.status.source, ['a1']);
    assert.deepEqual(r.status.target, ['b1', 'b2']);
  });

  it('a whole migration, pass by pass, ends on the target with every step analysed', () => {
    let m = migration(undefined, { finalize: 'automatic', pauseSeconds: 0 });
    const placements: Record<MigrationPhase | 'done', PlacementStatus[]> = {
      Pending: [placement('a1', 2)],
      PreScaling: both,
      Shifting: both,
      Cutover: both,
      Finalizing: [placement('b1', 1), placement('b2', 1)],
      done: [],
      Succeeded: [],
      RollingBack: [],
      RolledBack: [],
      Paused: [],
      Failed: [],
    };
    let spec = baseSpec;
    const phases: MigrationPhase[] = [];
    for (
      let pass = 0;
      pass < 20 && !['Succeeded', 'Failed'].includes(m.status?.phase ?? '');
      pass++
    ) {
      const r = stepMigration({
        migration: m,
        app: app(placements[m.status?.phase ?? 'Pending'], spec),
        clusters: CLUSTERS,
        metrics: good,
        nowMs: NOW + pass * 1000,
      });
      for (const a of r.actions) if (a.type === 'writeApp') spec = a.spec;
      m = { ...m, status: r.status };
      phases.push(r.status.phase);
    }
    assert.deepEqual(
      [...new Set(phases)],
      ['PreScaling', 'Shifting', 'Cutover', 'Finalizing', 'Succeeded'],
    );
    assert.deepEqual(
      m.status?.analyses?.map((a) => [a.weight, a.result]),
      [
        [10, 'success'],
        [50, 'success'],
        [100, 'success'],
      ],
    );
    assert.deepEqual(spec, finalSpec(baseSpec, m));
  });
});

describe('analyze', () => {
  const m = migration(undefined, {
    analysis: {
      maxErrorRate: 0.05,
      maxP99LatencyMs: 100,
      minHealthyFraction: 0.9,
      minRequests: 10,
    },
  });
  const table: [string, TargetMetrics | undefined, 'success' | 'fail' | 'inconclusive'][] = [
    [
      'healthy and quiet enough',
      { requests: 10, errors: 0, p99LatencyMs: 100, healthyFraction: 0.9 },
      'success',
    ],
    [
      'error rate at the threshold passes',
      { requests: 100, errors: 5, healthyFraction: 1 },
      'success',
    ],
    ['error rate above fails', { requests: 100, errors: 6, healthyFraction: 1 }, 'fail'],
    [
      'p99 above fails',
      { requests: 100, errors: 0, p99LatencyMs: 101, healthyFraction: 1 },
      'fail',
    ],
    [
      'unhealthy fails before counting requests',
      { requests: 0, errors: 0, healthyFraction: 0.8 },
      'fail',
    ],
    ['too few requests', { requests: 9, errors: 0, healthyFraction: 1 }, 'inconclusive'],
    [
      'too few requests, but failing whatever the rest do',
      { requests: 2, errors: 1, healthyFraction: 1 },
      'fail',
    ],
    [
      'too few requests, failures within the threshold if the rest pass',
      { requests: 5, errors: 0, healthyFraction: 1 },
      'inconclusive',
    ],
    ['no metrics', undefined, 'inconclusive'],
  ];
  for (const [name, metrics, want] of table)
    it(name, () => assert.equal(analyze(m, metrics, 0, 10, iso(NOW)).result, want));
});

describe('resolveTarget and the Migration schema', () => {
  it('resolves cloud, site and cluster targets', () => {
    assert.deepEqual(resolveTarget(migration(undefined, { to: { cloud: 'b' } }), CLUSTERS), [
      'b1',
      'b2',
    ]);
    assert.deepEqual(resolveTarget(migration(undefined, { to: { site: 'sb2' } }), CLUSTERS), [
      'b2',
    ]);
    assert.deepEqual(resolveTarget(migration(undefined, { to: { cluster: 'a1' } }), CLUSTERS), [
      'a1',
    ]);
  });

  const invalid: [string, Partial<Migration['spec']>, string][] = [
    ['steps not rising', { steps: [50, 25, 100] }, 'spec.steps[1]'],
    ['steps not ending at 100', { steps: [5, 25] }, 'spec.steps[1]'],
    ['a step over 100', { steps: [5, 101] }, 'spec.steps[1]'],
    ['a hook with neither command nor http', { dataSync: [{ name: 'db' }] }, 'spec.dataSync[0]'],
    ['two targets', { to: { cloud: 'b', site: 'x' } }, 'spec.to'],
  ];
  for (const [name, spec, field] of invalid)
    it(`rejects ${name} naming ${field}`, () => {
      assert.throws(
        () => validateResource(migration(undefined, spec)),
        (err: { causes?: { field: string }[] }) =>
          err.causes?.some((c) => c.field.startsWith(field)) === true,
      );
    });
  it('accepts the defaults', () => {
    assert.doesNotThrow(() => validateResource(migration(undefined, { steps: [5, 25, 50, 100] })));
  });
});
