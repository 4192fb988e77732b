// Starts the control loops against a store. Informers are shared: one cache per
// kind, fed by one watch, read by every controller.
//
// Ordering: informers start at once (so caches are warm), workers start only
// when (1) every informer has synced its first list and (2) this process holds
// the leader lease. A process that loses the lease stops its workers and
// reports not ready, and keeps campaigning: when it holds the lease again a
// new term starts, after the last term's workers have stopped, with the
// controllers' memory of the last term dropped and every object enqueued.
import type {
  Application,
  Cloud,
  Cluster,
  Migration,
  MigrationPlan,
  Site,
} from '../model/schema.ts';
import type { Binding, CatalogItem, Instance } from '../model/schema.ts';
import { UnavailableError } from '../model/errors.ts';
import { systemClock, type Clock } from '../lib/clock.ts';
import type { Store } from '../store/types.ts';
import { createApplicationController } from './application/index.ts';
import { createCatalogController } from './catalog/index.ts';
import { createClusterStatusController } from './clusterstatus.ts';
import { createMigrationController, type MigrationMetricsSource } from './migration/index.ts';
import { createMigrationPlanController } from './migrationplan/index.ts';
import type { DriverProvider } from './drivers.ts';
import { EventRecorder } from '../events/recorder.ts';
import { FencedStore } from './fenced.ts';
import { LeaderElector } from './leader.ts';
import type { Controller } from './runtime/controller.ts';
import { Informer, objectKey } from './runtime/informer.ts';

export { providerByType, type DriverProvider, type DriverType } from './drivers.ts';
export { EventRecorder } from '../events/recorder.ts';

export interface ControlLoops {
  controllers: Controller[];
  /** The store fenced by the leader lease, for anything else that acts only while leading. */
  store: Store;
  events: EventRecorder;
  /** Resolves when every informer has loaded its first list. */
  synced(): Promise<void>;
  /** Rejects while this process does not lead (lease held elsewhere, or lost). */
  leading(): Promise<void>;
  stop(): Promise<void>;
}

export interface ControlLoopOptions {
  store: Store;
  drivers: DriverProvider;
  log: (line: string) => void;
  /** Identity in the leader lease; stable across restarts of the same control plane. */
  identity: string;
  heartbeatSeconds?: number;
  gcSeconds?: number;
  /** Seconds a Ready cluster that stops answering stays Ready before NotReady. */
  clusterGraceSeconds?: number;
  /** Seconds between the cpu-use samples of a colocated app. */
  usageSampleSeconds?: number;
  leaseSeconds?: number;
  /** Called as each leader term starts, before its workers do. */
  onLeading?: () => void;
  /** The migration gate's traffic metrics (without it the gate sees the target's readiness only). */
  migrationMetrics?: MigrationMetricsSource;
  /**
   * The controllers' clock: timestamps, requeues, polling, heartbeats and
   * throttling waits (the system clock). The leader lease and the informers'
   * reconnects stay on the system clock: they are about this process, not the
   * fleet it models.
   */
  clock?: Clock;
}

/** The leader lease's name; the fence of every controller write. */
const LEASE_NAME = 'yunjian-controllers';

export function startControlLoops(o: ControlLoopOptions): ControlLoops {
  // Informers read o.store; every writer below gets the fenced view.
  const store = new FencedStore(o.store, { kind: 'Lease', name: LEASE_NAME }, o.identity, o.log);
  const onError = (err: unknown) =>
    o.log(`informer: ${err instanceof Error ? err.message : String(err)}`);
  const clusters = new Informer<Cluster>(o.store, 'Cluster', onError);
  const sites = new Informer<Site>(o.store, 'Site', onError);
  const apps = new Informer<Application>(o.store, 'Application', onError);
  const clouds = new Informer<Cloud>(o.store, 'Cloud', onError);
  const migrations = new Informer<Migration>(o.store, 'Migration', onError);
  const plans = new Informer<MigrationPlan>(o.store, 'MigrationPlan', onError);
  const clock = o.clock ?? systemClock;
  const events = new EventRecorder({ store, source: 'yunjian-controllers', now: clock.now });
  const migration = createMigrationController({
    store,
    migrations,
    apps,
    clusters,
    log: o.log,
    events,
    clock,
    ...(o.migrationMetrics !== undefined ? { metrics: o.migrationMetrics } : {}),
  });
  const migrationPlan = createMigrationPlanController({
    store,
    plans,
    migrations,
    apps,
    clusters,
    sites,
    log: o.log,
    events,
    clock,
  });
  const clusterStatus = createClusterStatusController({
    store,
    clusters,
    drivers: o.drivers,
    log: o.log,
    events,
    clock,
    ...(o.heartbeatSeconds !== undefined ? { heartbeatSeconds: o.heartbeatSeconds } : {}),
    ...(o.clusterGraceSeconds !== undefined ? { graceSeconds: o.clusterGraceSeconds } : {}),
  });
  const application = createApplicationController({
    store,
    apps,
    clusters,
    sites,
    clouds,
    drivers: o.drivers,
    log: o.log,
    events,
    clock,
    ...(o.usageSampleSeconds !== undefined ? { usageSampleSeconds: o.usageSampleSeconds } : {}),
  });
  const catalogItems = new Informer<CatalogItem>(o.store, 'CatalogItem', onError);
  const instances = new Informer<Instance>(o.store, 'Instance', onError);
  const bindings = new Informer<Binding>(o.store, 'Binding', onError);
  const catalog = createCatalogController({
    store,
    items: catalogItems,
    instances,
    bindings,
    apps,
    clusters,
    log: o.log,
    clock,
  });
  const informers = [
    clusters,
    sites,
    apps,
    clouds,
    migrations,
    plans,
    catalogItems,
    instances,
    bindings,
  ];
  informers.forEach((i) => i.start());
  const synced = Promise.all(informers.map((i) => i.hasSynced())).then(() => undefined);

  let leaderState: 'waiting' | 'leading' | 'lost' = 'waiting';
  /** Leadership terms so far; a term's start is dropped if a newer term began meanwhile. */
  let terms = 0;
  let gc: NodeJS.Timeout | undefined;
  const stopWorkers = () => {
    clearInterval(gc);
    return Promise.all([
      clusterStatus.stop(),
      application.stop(),
      catalog.stop(),
      migration.stop(),
      migrationPlan.stop(),
    ]).then(() => undefined);
  };
  let workersStopped: Promise<void> | undefined;
  const elector = new LeaderElector({
    store: o.store,
    name: LEASE_NAME,
    identity: o.identity,
    ...(o.leaseSeconds !== undefined ? { durationSeconds: o.leaseSeconds } : {}),
    log: o.log,
    onHeld: (resourceVersion) => store.hold(resourceVersion),
    onStarted() {
      leaderState = 'leading';
      o.onLeading?.();
      const term = ++terms;
      // Workers start after the caches are full, so no reconcile sees a partial
      // fleet, and after the last term's workers have stopped, so two terms
      // never act at once.
      void Promise.all([synced, workersStopped]).then(() => {
        if (leaderState !== 'leading' || term !== terms) return;
        clusterStatus.start();
        application.start();
        catalog.start();
        migration.start();
        migrationPlan.start();
        // Level-based: a new term looks at everything again (the first term's
        // keys came from the informers' initial lists; later terms start empty).
        if (term > 1) {
          for (const c of clusters.list()) clusterStatus.enqueue(c.metadata.name);
          for (const a of apps.list()) application.enqueue(objectKey(a));
          for (const i of instances.list()) catalog.enqueue(`instance:${objectKey(i)}`);
          for (const b of bindings.list()) catalog.enqueue(`binding:${objectKey(b)}`);
          for (const m of migrations.list()) migration.enqueue(objectKey(m));
          for (const p of plans.list()) migrationPlan.enqueue(objectKey(p));
        }
        gc = setInterval(
          () => {
            void Promise.all([application.sweep(), events.prune()]).catch((err: unknown) =>
              o.log(`gc: ${err instanceof Error ? err.message : String(err)}`),
            );
          },
          (o.gcSeconds ?? 60) * 1000,
        );
        gc.unref();
      });
    },
    onLost() {
      store.release();
      leaderState = 'lost';
      workersStopped = stopWorkers();
    },
  });
  elector.start();
  return {
    controllers: [clusterStatus, application, catalog, migration, migrationPlan],
    store,
    events,
    synced: () => synced,
    leading() {
      if (leaderState === 'leading') return Promise.resolve();
      // 503, not 500: a standby is healthy, it only does not run the controllers.
      return Promise.reject(
        new UnavailableError(
          leaderState === 'lost'
            ? 'this control plane lost the leader lease and campaigns to take it again'
            : 'waiting for the leader lease',
        ),
      );
    },
    async stop() {
      await elector.stop();
      store.release();
      leaderState = 'lost';
      await workersStopped;
      await stopWorkers();
      await Promise.all(informers.map((i) => i.stop()));
    },
  };
}
