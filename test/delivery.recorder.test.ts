// Deployments and incidents from Yunjian's own rollouts and outages: the pure
// plan over sequences of application states (each step's writes feed the
// next), then the recorder on a real SQLite store following a real watch.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { planDelivery } from '../src/insights/delivery/plan.ts';
import { DeliveryRecorder, teamOf } from '../src/insights/delivery/recorder.ts';
import type { Tenant } from '../src/model/access.ts';
import type { Application, Condition, DeliveryEvent } from '../src/model/schema.ts';
import { openSqliteStore } from '../src/store/index.ts';
import { until } from './wait.ts';

const T0 = Date.parse('2026-12-01T12:00:00Z');
const t = (minutes: number) => new Date(T0 + minutes * 60_000).toISOString();

interface State {
  generation: number;
  observed: number;
  ready?: Pick<Condition, 'status' | 'reason'> & { since: number };
  version?: string;
  draining?: boolean;
  displacedSince?: number;
}

function appAt(s: State): Application {
  return {
    apiVersion: 'yunjian.io/v1alpha1',
    kind: 'Application',
    metadata: {
      name: 'shop',
      namespace: 'retail',
      uid: 'abcdef12-3456',
      generation: s.generation,
      labels: { 'yunjian.io/team': 'checkout' },
      annotations: { 'yunjian.io/version': s.version ?? 'v1', 'yunjian.io/commit': 'c0ffee' },
    },
    spec: { components: [{ name: 'web', image: 'busybox', replicas: 2 }] },
    status: {
      observedGeneration: s.observed,
      placements: [
        { component: 'web', cluster: 'a', cloud: 'aws', desired: 1, ready: 1 },
        {
          component: 'web',
          cluster: 'b',
          cloud: 'gcp',
          desired: 1,
          ready: 1,
          ...(s.draining === true ? { draining: true } : {}),
        },
      ],
      ...(s.ready
        ? {
            conditions: [
              {
                type: 'Ready',
                status: s.ready.status,
                ...(s.ready.reason !== undefined ? { reason: s.ready.reason } : {}),
                lastTransitionTime: t(s.ready.since),
              },
            ],
          }
        : {}),
      ...(s.displacedSince !== undefined
        ? {
            displaced: [
              {
                component: 'web',
                cluster: 'c',
                replicas: 1,
                replacedBy: ['b'],
                since: t(s.displacedSince),
              },
            ],
          }
        : {}),
    },
  };
}

/** Runs the plan over each step (minute, state, initial?) and returns the records it leaves. */
function replay(steps: [number, State, boolean?][]): {
  records: Map<string, DeliveryEvent>;
  writesPerStep: number[];
} {
  const records = new Map<string, DeliveryEvent>();
  const writesPerStep: number[] = [];
  for (const [minute, state, initial] of steps) {
    const w = planDelivery({
      app: appAt(state),
      records: [...records.values()],
      team: 'checkout',
      nowMs: T0 + minute * 60_000,
      initial: initial ?? false,
    });
    for (const r of [...w.create, ...w.update]) records.set(r.metadata.name, r);
    writesPerStep.push(w.create.length + w.update.length);
  }
  return { records, writesPerStep };
}

const READY = (since: number) => ({ status: 'True' as const, reason: 'AllReplicasReady', since });
const PROGRESSING = (since: number) => ({
  status: 'False' as const,
  reason: 'Progressing',
  since,
});

describe('planDelivery', () => {
  const cases: {
    name: string;
    steps: [number, State, boolean?][];
    want: Record<string, Partial<DeliveryEvent['spec']>>;
    writes?: number[];
  }[] = [
    {
      name: 'a rollout succeeds once the generation is observed and Ready',
      steps: [
        [0, { generation: 1, observed: 0 }],
        [1, { generation: 1, observed: 1, ready: PROGRESSING(1) }],
        [3, { generation: 1, observed: 1, ready: READY(3) }],
        [4, { generation: 1, observed: 1, ready: READY(3) }],
      ],
      want: {
        'shop.g1.abcdef12': {
          type: 'deployment',
          team: 'checkout',
          app: 'shop',
          environment: 'production',
          version: 'v1',
          commits: ['c0ffee'],
          start: t(0),
          finish: t(3),
          outcome: 'Succeeded',
          clouds: ['aws', 'gcp'],
        },
      },
      writes: [1, 0, 1, 0],
    },
    {
      name: 'an app already rolled out when the recorder starts is not a deployment',
      steps: [[0, { generation: 3, observed: 3, ready: READY(-60) }, true]],
      want: {},
      writes: [0],
    },
    {
      name: 'a new generation supersedes one in progress',
      steps: [
        [0, { generation: 1, observed: 0 }],
        [1, { generation: 2, observed: 1, ready: PROGRESSING(0), version: 'v2' }],
      ],
      want: {
        'shop.g1.abcdef12': { outcome: 'Superseded', finish: t(1) },
        'shop.g2.abcdef12': { outcome: 'InProgress', version: 'v2', start: t(1) },
      },
    },
    {
      name: 'a rollout past its progress deadline fails and opens an incident naming it',
      steps: [
        [0, { generation: 1, observed: 0 }],
        [1, { generation: 1, observed: 1, ready: PROGRESSING(1) }],
        [
          10,
          {
            generation: 1,
            observed: 1,
            ready: { ...PROGRESSING(10), reason: 'ProgressDeadlineExceeded' },
          },
        ],
        [12, { generation: 1, observed: 1, ready: READY(12) }],
      ],
      want: {
        'shop.g1.abcdef12': { outcome: 'Failed', finish: t(10) },
        [`shop.incident.${(T0 + 10 * 60_000).toString(36)}`]: {
          type: 'incident',
          deployment: 'shop.g1.abcdef12',
          start: t(10),
          finish: t(12),
          title: 'ProgressDeadlineExceeded',
        },
      },
    },
    {
      name: 'putting back an earlier version rolls the latest deployment back',
      steps: [
        [0, { generation: 1, observed: 0, version: 'v1' }],
        [1, { generation: 1, observed: 1, ready: READY(1), version: 'v1' }],
        [10, { generation: 2, observed: 1, ready: READY(1), version: 'v2' }],
        [11, { generation: 2, observed: 2, ready: READY(1), version: 'v2' }],
        [20, { generation: 3, observed: 2, ready: READY(1), version: 'v1' }],
        [21, { generation: 3, observed: 3, ready: READY(1), version: 'v1' }],
      ],
      want: {
        'shop.g1.abcdef12': { outcome: 'Succeeded' },
        'shop.g2.abcdef12': { outcome: 'Succeeded', rolledBack: true },
        'shop.g3.abcdef12': { outcome: 'Succeeded', title: 'rollback of shop.g2.abcdef12' },
      },
    },
    {
      name: 'an outage with no rollout is one incident, closed when Ready with nothing draining',
      steps: [
        [0, { generation: 1, observed: 1, ready: READY(0) }, true],
        [5, { generation: 1, observed: 1, ready: PROGRESSING(5) }],
        [6, { generation: 1, observed: 1, ready: PROGRESSING(5), displacedSince: 6 }],
        [8, { generation: 1, observed: 1, ready: READY(8), draining: true, displacedSince: 6 }],
        [9, { generation: 1, observed: 1, ready: READY(8), displacedSince: 6 }],
        [10, { generation: 1, observed: 1, ready: READY(8), displacedSince: 6 }],
      ],
      want: {
        [`shop.incident.${(T0 + 5 * 60_000).toString(36)}`]: {
          type: 'incident',
          start: t(5),
          finish: t(9),
          title: 'Progressing',
          clouds: ['aws', 'gcp'],
        },
      },
      writes: [0, 1, 0, 0, 1, 0],
    },
    {
      name: 'a failover while the app stays Ready is an incident opened and closed at once',
      steps: [
        [0, { generation: 1, observed: 1, ready: READY(0) }, true],
        [7, { generation: 1, observed: 1, ready: READY(0), displacedSince: 6 }],
        [8, { generation: 1, observed: 1, ready: READY(0), displacedSince: 6 }],
      ],
      want: {
        [`shop.incident.${(T0 + 6 * 60_000).toString(36)}`]: {
          start: t(6),
          finish: t(7),
          title: 'Failover: web left cluster c',
        },
      },
      writes: [0, 1, 0],
    },
  ];
  for (const c of cases)
    it(c.name, () => {
      const { records, writesPerStep } = replay(c.steps);
      assert.deepEqual([...records.keys()].sort(), Object.keys(c.want).sort());
      for (const [name, fields] of Object.entries(c.want))
        for (const [field, value] of Object.entries(fields))
          assert.deepEqual(
            records.get(name)?.spec[field as keyof DeliveryEvent['spec']],
            value,
            `${name} ${field}`,
          );
      if (c.writes) assert.deepEqual(writesPerStep, c.writes);
    });

  const tenant: Tenant = {
    apiVersion: 'yunjian.io/v1alpha1',
    kind: 'Tenant',
    metadata: { name: 'retail-team' },
    spec: { namespaces: ['retail'] },
  };
  for (const [name, labels, tenants, want] of [
    ['the team label', { 'yunjian.io/team': 'checkout' }, [tenant], 'checkout'],
    ['the tenant', {}, [tenant], 'retail-team'],
    ['the namespace', {}, [], 'retail'],
  ] as const)
    it(`an app's team is ${name} first`, () => {
      const app = appAt({ generation: 1, observed: 1 });
      app.metadata.labels = { ...labels };
      assert.equal(teamOf(app, tenants), want);
    });
});

describe('DeliveryRecorder on a SQLite store', () => {
  const dir = mkdtempSync(join(tmpdir(), 'yunjian-delivery-'));
  const store = openSqliteStore({ path: join(dir, 'store.db') });
  after(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('records a rollout from the watch, survives a restart without duplicates, and prunes by age', async () => {
    const logs: string[] = [];
    const counted: string[] = [];
    const recorder = new DeliveryRecorder({
      store,
      log: (l) => logs.push(l),
      onDeployment: (r) => counted.push(`${r.spec.team}/${r.spec.outcome ?? ''}`),
    });
    recorder.start();
    await recorder.synced();
    const { status: _status, ...spec } = appAt({ generation: 1, observed: 0 });
    const created = (await store.create({
      ...spec,
      metadata: { ...spec.metadata },
    })) as Application;
    const records = () =>
      store
        .list('DeliveryEvent', { namespace: 'retail' })
        .then((l) => l.items as unknown as DeliveryEvent[]);
    await until('the deployment record', async () =>
      (await records()).length === 1 ? true : undefined,
    );
    await store.updateStatus({
      ...created,
      status: appAt({ generation: 1, observed: 1, ready: READY(0) }).status,
    });
    const [done] = await until('the deployment to succeed', async () => {
      const r = await records();
      return r[0]?.spec.outcome === 'Succeeded' ? r : undefined;
    });
    assert.equal(
      done?.metadata.name,
      `shop.g1.${(created.metadata.uid ?? '').replace(/-/g, '').slice(0, 8)}`,
    );
    assert.deepEqual(done?.spec.clouds, ['aws', 'gcp']);
    assert.deepEqual(counted, ['checkout/Succeeded']);
    await recorder.stop();

    // A restart re-lists: the same state writes nothing new.
    const again = new DeliveryRecorder({ store, log: (l) => logs.push(l) });
    again.start();
    await again.synced();
    assert.equal((await records()).length, 1);
    await again.stop();

    // Pruning by age: a year and a half later, the record is gone.
    const later = new DeliveryRecorder({
      store,
      log: (l) => logs.push(l),
      now: () => Date.now() + 550 * 86_400_000,
    });
    assert.equal(await later.prune(), 1);
    assert.equal((await records()).length, 0);
    assert.deepEqual(logs, []);
  });
});
