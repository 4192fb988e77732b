// The migration controller against a real store: a stand-in for the
// application controller turns the app's spec.migration into placements (as
// the scheduler hook would), and the migration runs to Succeeded, or, when
// the target's gate fails, rolls back to exactly the pre-migration state:
// the app's spec and placements compared field by field with those captured.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { addClouds, memoryStore } from './traffic.helpers.ts';
import { until } from './wait.ts';
import {
  createMigrationController,
  type MigrationMetricsSource,
} from '../src/controllers/migration/index.ts';
import { Informer } from '../src/controllers/runtime/informer.ts';
import { EventRecorder } from '../src/events/recorder.ts';
import type { Application, Cluster, Migration, PlacementStatus } from '../src/model/schema.ts';
import type { Store } from '../src/store/types.ts';

const placement = (cluster: string, cloud: string, port: number): PlacementStatus => ({
  component: 'web',
  cluster,
  cloud,
  desired: 2,
  ready: 2,
  endpoints: [{ address: '127.0.0.1', port }],
});
const onA = placement('c-a', 'a', 8001);
const onB = placement('c-b', 'b', 8002);

/** Plays the application controller: placements follow spec.migration; returns a stop function. */
function placeByMigration(store: Store, apps: Informer<Application>): () => void {
  const timer = setInterval(() => {
    for (const app of apps.list()) {
      const m = app.spec.migration;
      const placements =
        m === undefined
          ? app.spec.placement?.clusterAffinity?.clouds?.includes('b') === true
            ? [onB]
            : [onA]
          : m.mode === 'surge'
            ? [onA, onB]
            : m.mode === 'restore'
              ? [onA]
              : [onB];
      if (app.status?.observedGeneration === app.metadata.generation) continue;
      void store
        .updateStatus({
          ...app,
          status: {
            observedGeneration: app.metadata.generation,
            placements,
            replicas: { desired: 2, ready: 2 },
          },
        })
        .catch(() => undefined);
    }
  }, 20);
  return () => clearInterval(timer);
}

async function setUp(metrics: MigrationMetricsSource) {
  const store = memoryStore();
  await addClouds(store, [
    { cloud: 'a', site: 'sa', latitude: 0, longitude: 0, type: 'agent' },
    { cloud: 'b', site: 'sb', latitude: 1, longitude: 1, type: 'agent' },
  ]);
  const created = await store.create({
    apiVersion: 'yunjian.io/v1alpha1',
    kind: 'Application',
    metadata: { name: 'shop', namespace: 'default' },
    spec: {
      components: [{ name: 'web', image: 'hello', replicas: 2 }],
      traffic: {
        host: 'shop.example.com',
        strategy: 'failover',
        failover: { order: [{ cloud: 'a' }] },
      },
    },
  });
  await store.updateStatus({
    ...created,
    status: { observedGeneration: 1, placements: [onA], replicas: { desired: 2, ready: 2 } },
  });
  const apps = new Informer<Application>(store, 'Application');
  const clusters = new Informer<Cluster>(store, 'Cluster');
  const migrations = new Informer<Migration>(store, 'Migration');
  const controller = createMigrationController({
    store,
    apps,
    clusters,
    migrations,
    metrics,
    log: () => {},
    events: new EventRecorder({ store, source: 'test' }),
  });
  for (const i of [apps, clusters, migrations]) i.start();
  await Promise.all([apps, clusters, migrations].map((i) => i.hasSynced()));
  const before = (await store.get({
    kind: 'Application',
    namespace: 'default',
    name: 'shop',
  })) as Application;
  const stopPlacing = placeByMigration(store, apps);
  controller.start();
  return {
    store,
    before,
    async stop() {
      stopPlacing();
      await controller.stop();
      await Promise.all([apps, clusters, migrations].map((i) => i.stop()));
      await store.close();
    },
  };
}

const migration = (spec: Partial<Migration['spec']>): Migration => ({
  apiVersion: 'yunjian.io/v1alpha1',
  kind: 'Migration',
  metadata: { name: 'move-shop', namespace: 'default' },
  spec: { application: 'shop', to: { cloud: 'b' }, steps: [50, 100], pauseSeconds: 0, ...spec },
});

const healthy: MigrationMetricsSource = () =>
  Promise.resolve({ requests: 100, errors: 0, p99LatencyMs: 5, healthyFraction: 1 });

describe('migration controller', () => {
  const stops: (() => Promise<void>)[] = [];
  after(async () => {
    for (const s of stops) await s();
  });

  const finished = (store: Store, phases: string[]) =>
    until(
      `the migration in ${phases.join(' or ')}`,
      async () => {
        const m = (await store.get({
          kind: 'Migration',
          namespace: 'default',
          name: 'move-shop',
        })) as Migration;
        return phases.includes(m.status?.phase ?? '') ? m : undefined;
      },
      { timeoutMs: 15_000 },
    );

  it('moves the app to the target and finalizes automatically', async () => {
    const env = await setUp(healthy);
    stops.push(() => env.stop());
    await env.store.create(migration({ finalize: 'automatic' }));
    const m = await finished(env.store, ['Succeeded', 'Failed', 'RolledBack']);
    assert.equal(m.status?.phase, 'Succeeded', m.status?.message);
    assert.deepEqual(
      m.status?.analyses?.map((a) => [a.weight, a.result]),
      [
        [50, 'success'],
        [100, 'success'],
      ],
    );
    const app = await until('the app placed on b only', async () => {
      const a = (await env.store.get({
        kind: 'Application',
        namespace: 'default',
        name: 'shop',
      })) as Application;
      return a.status?.placements?.every((p) => p.cluster === 'c-b') === true ? a : undefined;
    });
    assert.equal(app.spec.migration, undefined);
    assert.deepEqual(app.spec.placement?.clusterAffinity, { clouds: ['b'] });
  });

  it('rolls back exactly when the target fails its gate at step 2', async () => {
    let step = 0;
    const failingAtStep2: MigrationMetricsSource = ({ migration: m }) => {
      step = m.status?.step ?? 0;
      return Promise.resolve({ requests: 100, errors: step >= 1 ? 100 : 0, healthyFraction: 1 });
    };
    const env = await setUp(failingAtStep2);
    stops.push(() => env.stop());
    await env.store.create(migration({ steps: [25, 50, 100] }));
    const m = await finished(env.store, ['Succeeded', 'Failed', 'RolledBack']);
    assert.equal(m.status?.phase, 'RolledBack', m.status?.message);
    assert.deepEqual(
      m.status?.analyses?.map((a) => [a.weight, a.result]),
      [
        [25, 'success'],
        [50, 'fail'],
      ],
    );
    const after = await until('the app back on a', async () => {
      const a = (await env.store.get({
        kind: 'Application',
        namespace: 'default',
        name: 'shop',
      })) as Application;
      return a.status?.placements?.length === 1 && a.spec.migration === undefined ? a : undefined;
    });
    // Field by field: the spec, and each placement's cluster, replicas and endpoints.
    assert.deepEqual(after.spec, env.before.spec);
    assert.deepEqual(after.spec, m.status?.captured?.spec);
    const shape = (ps: readonly PlacementStatus[] | undefined) =>
      (ps ?? []).map((p) => ({ c: p.component, cl: p.cluster, d: p.desired, e: p.endpoints }));
    assert.deepEqual(shape(after.status?.placements), shape(env.before.status?.placements));
    const events = await env.store.list('Event');
    const reasons = events.items.map((e) => (e as { spec: { reason: string } }).spec.reason);
    for (const r of [
      'MigrationPreScaling',
      'MigrationShifting',
      'MigrationRollingBack',
      'MigrationRolledBack',
    ])
      assert.ok(reasons.includes(r), `${r} in ${reasons.join(', ')}`);
  });
});
