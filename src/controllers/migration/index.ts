// migration: the thin controller around stepMigration (step.ts). Each pass,
// in this order:
//   1. read the Migration, its Application and the fleet from the informers;
//   2. gather the target's metrics since the current step began;
//   3. decide (pure);
//   4. write the status first, so the captured pre-migration state is durable
//      before anything moves; then the app's spec (compare-and-set on the
//      version read in 1; a conflict retries the whole pass), then spec.paused;
//   5. run data-sync hooks the decision asked for and record their results;
//   6. record the pass's events.
// A crash between any two writes is repaired by the next pass: every phase
// re-asserts what the application must look like.
import { execFile } from 'node:child_process';
import { ConflictError, NotFoundError } from '../../model/errors.ts';
import type {
  Application,
  Cluster,
  DataSyncHook,
  Migration,
  MigrationStatus,
} from '../../model/schema.ts';
import { canonical } from '../../model/canonical.ts';
import type { EventRecorder } from '../../events/recorder.ts';
import type { Store } from '../../store/types.ts';
import { systemClock, type Clock } from '../../lib/clock.ts';
import { Controller } from '../runtime/controller.ts';
import { objectKey, type Informer } from '../runtime/informer.ts';
import { gatewayMetrics } from './metrics.ts';
import type { TargetMetrics } from './analysis.ts';
import { stepMigration, windowStartMs, type HookStage } from './step.ts';

/** The target's traffic and health since `sinceMs` (the gateway's per-backend stats, probes). */
export type MigrationMetricsSource = (q: {
  migration: Migration;
  app: Application;
  target: readonly string[];
  sinceMs: number;
}) => Promise<TargetMetrics | undefined>;

export interface MigrationControllerOptions {
  store: Store;
  migrations: Informer<Migration>;
  apps: Informer<Application>;
  clusters: Informer<Cluster>;
  log: (line: string) => void;
  events?: EventRecorder;
  metrics?: MigrationMetricsSource;
  /** The clock of timestamps and requeue delays (the system clock; the what-if's twin runs faster). */
  clock?: Clock;
}

/** How long a data-sync hook may run when it does not say. */
const DEFAULT_HOOK_TIMEOUT_SECONDS = 300;

export function createMigrationController(o: MigrationControllerOptions): Controller {
  const clock = o.clock ?? systemClock;
  const now = clock.now;
  const metrics = o.metrics ?? gatewayMetrics([]);

  /** When this leadership term's first reconcile ran (windowStartMs); a new term starts it again. */
  let runningSinceMs: number | undefined;

  async function reconcile(key: string) {
    runningSinceMs ??= now();
    const m = o.migrations.get(key);
    if (!m) return;
    const namespace = m.metadata.namespace ?? 'default';
    const app = o.apps.get(`${namespace}/${m.spec.application}`);
    const target = m.status?.target ?? [];
    const phase = m.status?.phase;
    const gauged = phase === 'Shifting' || phase === 'Cutover';
    const t = now();
    const observed =
      app !== undefined && gauged
        ? await metrics({
            migration: m,
            app,
            target,
            sinceMs: windowStartMs(m.status, { nowMs: t, runningSinceMs }),
          })
        : undefined;
    const r = stepMigration({
      migration: m,
      app,
      clusters: o.clusters.list().map((c) => ({
        name: c.metadata.name,
        cloud: c.spec.cloud,
        site: c.spec.site,
      })),
      metrics: observed,
      nowMs: t,
      runningSinceMs,
    });
    let status = r.status;
    let written = m;
    if (canonical(status) !== canonical(m.status)) written = await writeStatus(m, status);
    for (const a of r.actions) {
      if (a.type === 'writeApp' && app) {
        try {
          await o.store.update({ ...app, spec: a.spec });
        } catch (err) {
          if (err instanceof ConflictError || err instanceof NotFoundError)
            return { requeueAfterMs: 100 };
          throw err;
        }
      } else if (a.type === 'pause') {
        written = (await o.store.update({
          ...written,
          spec: { ...written.spec, paused: true },
        })) as Migration;
      } else if (a.type === 'runHooks' && app) {
        const records = await runHooks(m, app, status, a.stage);
        status = { ...status, hooks: [...(status.hooks ?? []), ...records] };
        written = await writeStatus(written, status);
      }
    }
    for (const e of r.events)
      await o.events?.record(
        { kind: 'Migration', namespace, name: m.metadata.name },
        e.type,
        e.reason,
        e.message,
      );
    return r.requeueAfterMs !== undefined ? { requeueAfterMs: r.requeueAfterMs } : undefined;
  }

  async function writeStatus(m: Migration, status: MigrationStatus): Promise<Migration> {
    return (await o.store.updateStatus({ ...m, status })) as Migration;
  }

  /** Runs the stage's hooks that have no record yet, one after another; stops at the first failure. */
  async function runHooks(
    m: Migration,
    app: Application,
    status: MigrationStatus,
    stage: HookStage,
  ): Promise<NonNullable<MigrationStatus['hooks']>> {
    const done = new Set((status.hooks ?? []).filter((h) => h.stage === stage).map((h) => h.name));
    const target = new Set(status.target ?? []);
    const source = new Set(status.source ?? []);
    const endpoints = (where: Set<string>) =>
      (app.status?.placements ?? [])
        .filter((p) => where.has(p.cluster) && p.draining !== true)
        .flatMap((p) => (p.endpoints ?? []).map((e) => `${e.address}:${e.port}`))
        .join(',');
    const context = {
      migration: m.metadata.name,
      application: app.metadata.name,
      stage,
      source: endpoints(source),
      target: endpoints(target),
    };
    const records: NonNullable<MigrationStatus['hooks']> = [];
    for (const hook of m.spec.dataSync ?? []) {
      if (done.has(hook.name)) continue;
      const message = await runHook(hook, context).then(
        (out) => ({ ok: true, message: out }),
        (err: unknown) => ({
          ok: false,
          message: err instanceof Error ? err.message : String(err),
        }),
      );
      records.push({
        name: hook.name,
        stage,
        result: message.ok ? 'succeeded' : 'failed',
        message: message.message.slice(0, 4096),
        at: new Date(now()).toISOString(),
      });
      o.log(`migration ${objectKey(m)}: hook ${hook.name} (${stage}) ${records.at(-1)?.result}`);
      if (!message.ok) break;
    }
    return records;
  }

  const controller = new Controller('migration', reconcile, o.log, {
    workers: 2,
    clock,
    forgetTerm: () => {
      runningSinceMs = undefined;
    },
  });
  const enqueueFor = (app: Application) => {
    for (const m of o.migrations.list())
      if (
        m.spec.application === app.metadata.name &&
        (m.metadata.namespace ?? 'default') === (app.metadata.namespace ?? 'default')
      )
        controller.enqueue(objectKey(m));
  };
  o.migrations.addHandlers({
    onAdd: (m) => controller.enqueue(objectKey(m)),
    onUpdate: (a, b) => {
      if (a.metadata.generation !== b.metadata.generation) controller.enqueue(objectKey(b));
    },
  });
  o.apps.addHandlers({
    onAdd: enqueueFor,
    onUpdate: (_a, b) => enqueueFor(b),
    onDelete: enqueueFor,
  });
  return controller;
}

interface HookContext {
  migration: string;
  application: string;
  stage: HookStage;
  source: string;
  target: string;
}

/** Runs one hook: a command (context in the environment) or an HTTP call (context as JSON); rejects on failure. */
async function runHook(hook: DataSyncHook, ctx: HookContext): Promise<string> {
  const timeoutMs = (hook.timeoutSeconds ?? DEFAULT_HOOK_TIMEOUT_SECONDS) * 1000;
  const [file, ...args] = hook.command ?? [];
  if (file !== undefined)
    return new Promise((resolve, reject) => {
      execFile(
        file,
        args,
        {
          timeout: timeoutMs,
          maxBuffer: 1024 * 1024,
          env: {
            ...process.env,
            YUNJIAN_MIGRATION: ctx.migration,
            YUNJIAN_MIGRATION_APPLICATION: ctx.application,
            YUNJIAN_MIGRATION_STAGE: ctx.stage,
            YUNJIAN_MIGRATION_SOURCE: ctx.source,
            YUNJIAN_MIGRATION_TARGET: ctx.target,
          },
        },
        (err, stdout, stderr) => {
          if (err) reject(new Error(`${err.message.trim()} ${stderr.trim()}`.trim()));
          else resolve(stdout.trim() || 'exit 0');
        },
      );
    });
  if (hook.http === undefined) throw new Error('the hook has neither command nor http');
  const res = await fetch(hook.http.url, {
    method: hook.http.method ?? 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(ctx),
    signal: AbortSignal.timeout(timeoutMs),
  });
  const text = (await res.text()).slice(0, 4096);
  if (!res.ok) throw new Error(`HTTP ${res.status}: ${text}`);
  return `HTTP ${res.status}`;
}
