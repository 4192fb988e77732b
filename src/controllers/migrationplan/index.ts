// migrationplan: the thin controller around planWaves (plan.ts) and stepPlan
// (step.ts). Each pass, in this order:
//   1. a plan without status is planned once from the informers' fleet and
//      applications, and the waves are kept from then on;
//   2. decide (pure) from the plan's Migrations;
//   3. write the status first (Migration names are assigned there before they
//      exist), then create the assigned Migrations that are missing, abort
//      those an abort asks for, and set spec.paused when a wave's gate failed;
//   4. record the pass's events.
// Everything lives in the store, so a restarted control plane resumes where
// the last pass wrote.
import { AlreadyExistsError, ConflictError, NotFoundError } from '../../model/errors.ts';
import { canonical } from '../../model/canonical.ts';
import {
  API_VERSION,
  type Application,
  type Cluster,
  type Migration,
  type MigrationPlan,
  type MigrationPlanStatus,
  type Site,
} from '../../model/schema.ts';
import type { EventRecorder } from '../../events/recorder.ts';
import type { Store } from '../../store/types.ts';
import { systemClock, type Clock } from '../../lib/clock.ts';
import { Controller } from '../runtime/controller.ts';
import { objectKey, type Informer } from '../runtime/informer.ts';
import { planClusters, planWaves } from './plan.ts';
import { stepPlan } from './step.ts';

/** The label on every Migration a plan creates: the plan's name. */
export const PLAN_LABEL = 'yunjian.io/migration-plan';
/** A running plan looks again this often even when no Migration changed. */
const RESYNC_MS = 2000;

export interface MigrationPlanControllerOptions {
  store: Store;
  plans: Informer<MigrationPlan>;
  migrations: Informer<Migration>;
  apps: Informer<Application>;
  clusters: Informer<Cluster>;
  sites: Informer<Site>;
  log: (line: string) => void;
  events?: EventRecorder;
  /** The clock of timestamps and requeue delays (the system clock; the what-if's twin runs faster). */
  clock?: Clock;
}

export function initialPlanStatus(
  plan: MigrationPlan,
  fleet: { apps: readonly Application[]; clusters: readonly Cluster[]; sites: readonly Site[] },
): MigrationPlanStatus {
  const planned = planWaves({
    namespace: plan.metadata.namespace ?? 'default',
    clusters: planClusters(fleet.clusters, fleet.sites),
    apps: fleet.apps,
    spec: plan.spec,
  });
  return {
    phase: 'Running',
    waves: planned.waves.map((applications) => ({ applications, phase: 'Pending' })),
    currentWave: 0,
    applications: planned.applications,
    unmovable: planned.unmovable,
    predictedSeconds: planned.predictedSeconds,
  };
}

export function createMigrationPlanController(o: MigrationPlanControllerOptions): Controller {
  const clock = o.clock ?? systemClock;
  const now = clock.now;

  async function reconcile(key: string) {
    const plan = o.plans.get(key);
    if (!plan) return;
    const namespace = plan.metadata.namespace ?? 'default';
    const ref = { kind: 'MigrationPlan', namespace, name: plan.metadata.name };
    const status =
      plan.status ??
      initialPlanStatus(plan, {
        apps: o.apps.list(),
        clusters: o.clusters.list(),
        sites: o.sites.list(),
      });
    const migrations = new Map(
      o.migrations
        .list()
        .filter((m) => (m.metadata.namespace ?? 'default') === namespace)
        .map((m) => [m.metadata.name, m]),
    );
    const r = stepPlan({ plan, status, migrations, nowMs: now() });
    if (plan.status === undefined)
      r.events.unshift({
        type: 'Normal',
        reason: 'PlanComputed',
        message: `${status.waves.length} waves, ${status.applications.length} applications, ${status.unmovable.length} unmovable`,
      });
    try {
      if (canonical(r.status) !== canonical(plan.status))
        await o.store.updateStatus({ ...plan, status: r.status });
      for (const c of r.create) {
        const defaults = plan.spec.migration;
        const migration: Migration = {
          apiVersion: API_VERSION,
          kind: 'Migration',
          metadata: {
            name: c.name,
            namespace,
            ...(plan.metadata.name.length <= 63
              ? { labels: { [PLAN_LABEL]: plan.metadata.name } }
              : {}),
          },
          spec: {
            application: c.application,
            to: c.to,
            finalize: defaults?.finalize ?? 'automatic',
            ...(defaults?.steps !== undefined ? { steps: defaults.steps } : {}),
            ...(defaults?.pauseSeconds !== undefined
              ? { pauseSeconds: defaults.pauseSeconds }
              : {}),
            ...(defaults?.analysis !== undefined ? { analysis: defaults.analysis } : {}),
          },
        };
        await o.store.create(migration).catch((err: unknown) => {
          if (!(err instanceof AlreadyExistsError)) throw err;
        });
      }
      for (const name of r.abort) {
        const m = o.migrations.get(`${namespace}/${name}`);
        if (m !== undefined) await o.store.update({ ...m, spec: { ...m.spec, abort: true } });
      }
      if (r.pause) await o.store.update({ ...plan, spec: { ...plan.spec, paused: true } });
    } catch (err) {
      if (err instanceof ConflictError || err instanceof NotFoundError)
        return { requeueAfterMs: 100 };
      throw err;
    }
    for (const e of r.events) await o.events?.record(ref, e.type, e.reason, e.message);
    const settled =
      r.status.phase === 'Succeeded' || (r.status.phase === 'Aborted' && r.abort.length === 0);
    return settled ? undefined : { requeueAfterMs: RESYNC_MS };
  }

  const controller = new Controller('migrationplan', reconcile, o.log, { workers: 1, clock });
  o.plans.addHandlers({
    onAdd: (p) => controller.enqueue(objectKey(p)),
    onUpdate: (a, b) => {
      if (a.metadata.generation !== b.metadata.generation) controller.enqueue(objectKey(b));
    },
  });
  const owner = (m: Migration) => {
    const plan = m.metadata.labels?.[PLAN_LABEL];
    if (plan !== undefined) controller.enqueue(`${m.metadata.namespace ?? 'default'}/${plan}`);
  };
  o.migrations.addHandlers({ onAdd: owner, onUpdate: (_a, b) => owner(b), onDelete: owner });
  return controller;
}
