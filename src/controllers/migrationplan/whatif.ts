// The what-if: a MigrationPlan run from start to end against a copy of the
// fleet and applications in a fresh sim twin (an in-memory store, the real
// control loops, the sim driver), so nothing real changes. The twin runs on an
// accelerated clock (lib/clock.ts) shared by the sim and every controller:
// pauses, replica start-up, member API rate limits, readiness polling,
// heartbeats, requeues and throttling waits all shrink by the same factor, so
// the twin's elapsed time is the prediction. The clock slows itself down when
// the host cannot keep up (a saturated event loop would make the controllers
// late in twin time and the prediction long); the report says how fast it ran.
// Members that are not sim clusters become sim clusters with their reported
// nodes (architecture, cpu, memory). The twin has no traffic, so each gate
// sees the targets' health only (analysis.minRequests 0).
//
// The same engine runs at speedup 1 for the benchmark's "real" run. A watch on
// every application's status checks that none that served at the start ever
// has zero ready replicas, and a watch on the clusters tracks each target's
// peak allocation.
import { applyDocuments } from '../../admission/apply.ts';
import { DEFAULT_STARTUP_SECONDS, SimFleet } from '../../drivers/sim/index.ts';
import { AcceleratedClock, sleep, systemClock } from '../../lib/clock.ts';
import { clusterReadyCondition } from '../../model/cluster.ts';
import { ConflictError } from '../../model/errors.ts';
import { parseCpuMillis, parseMemoryBytes } from '../../model/quantity.ts';
import {
  API_VERSION,
  type Application,
  type Cloud,
  type Cluster,
  type MigrationPlan,
  type SimNodePool,
  type Site,
} from '../../model/schema.ts';
import { openSqliteStore } from '../../store/sqlite.ts';
import type { StoredObject, Watch } from '../../store/types.ts';
import { providerByType, startControlLoops } from '../index.ts';
import { targetLabel } from '../../model/migrationplan.ts';
import { initialPlanStatus } from './index.ts';
import { predictSeconds } from './plan.ts';

export interface WhatIfInput {
  clouds: readonly Cloud[];
  sites: readonly Site[];
  clusters: readonly Cluster[];
  apps: readonly Application[];
  plan: MigrationPlan;
  /** How many times faster than real time the twin runs at most (20); 1 runs it at real time. */
  speedup?: number;
  /** Seconds a replica takes to start in the twin (the clusters' own when absent). */
  startupSeconds?: number;
  /**
   * `input` (default): the waves are planned from the input's placements and
   * capacity, as the real plan would be; `twin`: the twin's controller plans
   * them from where the twin placed the applications (inputs without status).
   */
  wavesFrom?: 'input' | 'twin';
  /** Gives up after this many wall-clock milliseconds (10 minutes). */
  timeoutMs?: number;
  log?: (line: string) => void;
  /** Told how far the plan is, about every 10 s of wall time while it runs. */
  progress?: (line: string) => void;
}

export interface WhatIfReport {
  phase: string;
  waves: string[][];
  unmovable: { name: string; reason: string }[];
  /** The planner's estimate for these waves at real time, seconds. */
  plannedSeconds: number;
  /** The prediction: the twin's time from the plan's start to its end, seconds. */
  simulatedSeconds: number;
  /** Wall time of the run, seconds. */
  wallSeconds: number;
  /** How many times faster than real time the twin ran on average while the plan ran. */
  effectiveSpeedup: number;
  /** The fraction of the run the clock ran below the asked speedup because the host was busy. */
  throttledFraction: number;
  /** The most cpu and memory each target held above what it held before the plan. */
  peakExtra: { target: string; cpuCores: number; memoryGiB: number }[];
  /** Monthly cost of the applications' requests at their clusters' list prices (730 h). */
  monthlyCost: { before: number; after: number };
  /** Applications that served when the plan started and had zero ready replicas in some status write (first 20). */
  zeroReady: string[];
  /** Status writes of applications that were checked. */
  samples: number;
}

const GiB = 1024 ** 3;
const HOURS_PER_MONTH = 730;

/** A member as the twin runs it: its own sim pools, or pools made from what it reported. */
export function twinCluster(c: Cluster): Cluster | undefined {
  const spec = { ...c.spec };
  if (c.spec.driver.type !== 'sim') {
    const st = c.status;
    const nodes = st?.nodeCount ?? 0;
    const cap = st?.allocatable ?? st?.capacity;
    if (st === undefined || cap === undefined || nodes === 0) return undefined;
    const byArch = st.nodesByArch ?? { amd64: nodes, arm64: 0, riscv64: 0 };
    const perNodeCpu = Math.max(1, Math.floor(cap.cpu / nodes));
    const perNodeMemory = Math.max(1, Math.floor(cap.memory / nodes / 1024 ** 2));
    const pools: SimNodePool[] = (['amd64', 'arm64', 'riscv64'] as const)
      .filter((a) => byArch[a] > 0)
      .map((arch) => ({
        name: arch,
        count: byArch[arch],
        arch,
        cpu: String(perNodeCpu),
        memory: `${perNodeMemory}Mi`,
      }));
    spec.driver = { type: 'sim', sim: { nodePools: pools } };
  }
  return {
    apiVersion: API_VERSION,
    kind: 'Cluster',
    metadata: {
      name: c.metadata.name,
      ...(c.metadata.labels ? { labels: c.metadata.labels } : {}),
    },
    spec,
  };
}

function fresh<T extends Cloud | Site | Application>(o: T): T {
  const { name, namespace, labels, annotations } = o.metadata;
  return {
    apiVersion: o.apiVersion,
    kind: o.kind,
    metadata: {
      name,
      ...(namespace !== undefined ? { namespace } : {}),
      ...(labels !== undefined ? { labels } : {}),
      ...(annotations !== undefined ? { annotations } : {}),
    },
    spec: o.spec,
  } as T;
}

/** Monthly list-price cost of the apps' placed requests. */
function monthlyCost(
  apps: readonly Application[],
  clusters: ReadonlyMap<string, Cluster>,
  clouds: ReadonlyMap<string, Cloud>,
): number {
  let perHour = 0;
  for (const app of apps)
    for (const p of app.status?.placements ?? []) {
      if (p.draining === true) continue;
      const comp = app.spec.components.find((c) => c.name === p.component);
      const cl = clusters.get(p.cluster);
      if (comp === undefined || cl === undefined) continue;
      const prices = { ...clouds.get(cl.spec.cloud)?.spec.prices, ...cl.spec.prices };
      const cpu = comp.resources?.cpu !== undefined ? parseCpuMillis(comp.resources.cpu) / 1000 : 0;
      const memory =
        comp.resources?.memory !== undefined ? parseMemoryBytes(comp.resources.memory) : 0;
      perHour +=
        p.desired *
        (cpu * (prices.cpuCoreHour ?? 0) + (memory / GiB) * (prices.memoryGiBHour ?? 0));
    }
  return Math.round(perHour * HOURS_PER_MONTH * 100) / 100;
}

/** Ready reasons of an application the twin will not make ready by waiting. */
const NEVER_READY: ReadonlySet<string> = new Set(['Unschedulable', 'ProgressDeadlineExceeded']);
/** How often a running plan reports how far it is. */
const PROGRESS_MS = 10_000;

/** Follows a watch in the background until it is closed. */
function follow(watch: Watch, onEvent: (object: StoredObject) => void): Promise<void> {
  return (async () => {
    for await (const ev of watch) onEvent(ev.object);
  })();
}

export async function runWhatIf(input: WhatIfInput): Promise<WhatIfReport> {
  const speedup = input.speedup ?? 20;
  const log = input.log ?? (() => undefined);
  const timeoutMs = input.timeoutMs ?? 600_000;
  // At speedup 1 the clock is the wall clock (no governor: there is nothing to slow).
  const clock = new AcceleratedClock({ speedup, ...(speedup === 1 ? { maxUtilization: 1 } : {}) });
  const store = openSqliteStore({ path: ':memory:' });
  const sim = new SimFleet({
    now: clock.now,
    ...(input.startupSeconds !== undefined ? { startupSeconds: input.startupSeconds } : {}),
  });
  const drivers = providerByType(
    {
      sim: {
        driverFor(cluster) {
          sim.upsertCluster(cluster);
          return sim.driverFor(cluster.metadata.name);
        },
        forget: (name) => void sim.removeCluster(name),
      },
    },
    clock,
  );
  const clusters = input.clusters.flatMap((c) => twinCluster(c) ?? []);
  const fleetDocs = [...input.clouds.map(fresh), ...input.sites.map(fresh), ...clusters];
  const apps = input.apps.map(fresh);
  for (let i = 0; i < fleetDocs.length; i += 200)
    await applyDocuments(store, fleetDocs.slice(i, i + 200), {});
  for (let i = 0; i < apps.length; i += 200)
    await applyDocuments(store, apps.slice(i, i + 200), {});
  const loops = startControlLoops({
    store,
    drivers,
    log,
    identity: 'what-if',
    gcSeconds: 3600,
    clock,
  });
  const watches: Watch[] = [];
  const following: Promise<void>[] = [];
  const deadline = Date.now() + timeoutMs;
  const namespace = input.plan.metadata.namespace ?? 'default';
  const listApps = async () => (await store.list('Application')).items as unknown as Application[];
  const listClusters = async () => (await store.list('Cluster')).items as unknown as Cluster[];
  try {
    // Before the plan starts, every cluster has reported and every application
    // is ready in the twin, or its Ready condition for its current spec says it
    // never will be (no feasible cluster, or its progress deadline passed).
    let serving = new Set<string>();
    let toldAt = Date.now();
    for (;;) {
      const now = await listApps();
      const ready = new Set(
        now
          .filter(
            (a) =>
              a.status?.observedGeneration === a.metadata.generation &&
              (a.status?.replicas?.ready ?? 0) >= (a.status?.replicas?.desired ?? 1),
          )
          .map((a) => a.metadata.name),
      );
      serving = new Set(
        now.filter((a) => (a.status?.replicas?.ready ?? 0) > 0).map((a) => a.metadata.name),
      );
      const stuck = now.filter((a) => !ready.has(a.metadata.name));
      const reported = (await listClusters()).every(
        (c) => clusterReadyCondition(c.status) !== undefined,
      );
      const settled = stuck.every(
        (a) =>
          a.status?.observedGeneration === a.metadata.generation &&
          NEVER_READY.has(a.status?.conditions?.find((c) => c.type === 'Ready')?.reason ?? ''),
      );
      if (settled && reported) break;
      if (input.progress !== undefined && Date.now() - toldAt >= PROGRESS_MS) {
        toldAt = Date.now();
        input.progress(`${speedup}x: placing, ${ready.size}/${now.length} applications ready`);
      }
      if (Date.now() > deadline)
        throw new Error(
          `the twin did not place every application in time (${stuck.length} not ready)`,
        );
      await sleep(systemClock, 200);
    }
    const clouds = new Map(input.clouds.map((c) => [c.metadata.name, c]));
    const clusterList = await store.list('Cluster');
    const allocated = new Map(
      (clusterList.items as unknown as Cluster[]).map((c) => [
        c.metadata.name,
        c.status?.allocated,
      ]),
    );
    const before = monthlyCost(
      await listApps(),
      new Map((clusterList.items as unknown as Cluster[]).map((c) => [c.metadata.name, c])),
      clouds,
    );
    // Each target's clusters, its allocation when the plan starts and its peak
    // since, from every status the clusters write.
    const targets = input.plan.spec.targets.map((t) => ({
      label: targetLabel(t.to),
      clusters: clusters
        .filter((c) =>
          'cloud' in t.to
            ? c.spec.cloud === t.to.cloud
            : 'site' in t.to
              ? c.spec.site === t.to.site
              : c.metadata.name === t.to.cluster,
        )
        .map((c) => c.metadata.name),
    }));
    const held = (names: readonly string[]) =>
      names.reduce(
        (s, n) => ({
          cpu: s.cpu + (allocated.get(n)?.cpu ?? 0),
          memory: s.memory + (allocated.get(n)?.memory ?? 0),
        }),
        { cpu: 0, memory: 0 },
      );
    const baseline = new Map(targets.map((t) => [t.label, held(t.clusters)]));
    const peak = new Map(baseline);
    const clusterWatch = store.watch({
      kind: 'Cluster',
      fromRevision: clusterList.resourceVersion,
    });
    watches.push(clusterWatch);
    following.push(
      follow(clusterWatch, (o) => {
        const c = o as unknown as Cluster;
        allocated.set(c.metadata.name, c.status?.allocated);
        for (const t of targets) {
          if (!t.clusters.includes(c.metadata.name)) continue;
          const now = held(t.clusters);
          const p = peak.get(t.label) ?? now;
          peak.set(t.label, {
            cpu: Math.max(p.cpu, now.cpu),
            memory: Math.max(p.memory, now.memory),
          });
        }
      }),
    );
    const zeroReady = new Set<string>();
    let samples = 0;
    const appWatch = store.watch({
      kind: 'Application',
      fromRevision: (await store.list('Application', { limit: 1 })).resourceVersion,
    });
    watches.push(appWatch);
    following.push(
      follow(appWatch, (o) => {
        const a = o as unknown as Application;
        if (!serving.has(a.metadata.name)) return;
        samples++;
        if ((a.status?.replicas?.ready ?? 0) === 0) zeroReady.add(a.metadata.name);
      }),
    );

    // The twin's plan is created paused; the waves are the real fleet's
    // (planned from the input, with its placements and capacity), given to it
    // as its status, so the twin moves exactly what the real plan would.
    const defaults = input.plan.spec.migration;
    const key = { kind: 'MigrationPlan', namespace, name: input.plan.metadata.name };
    const waves = input.wavesFrom === 'twin' ? undefined : initialPlanStatus(input.plan, input);
    await store.create({
      apiVersion: API_VERSION,
      kind: 'MigrationPlan',
      metadata: { name: input.plan.metadata.name, namespace },
      spec: {
        ...input.plan.spec,
        paused: true,
        abort: false,
        migration: { ...defaults, analysis: { ...defaults?.analysis, minRequests: 0 } },
      },
    });
    // Compare-and-set against the twin's own controller, which writes the
    // plan's status meanwhile: re-read and retry on a conflict.
    const retrying = async (write: (current: StoredObject) => Promise<unknown>) => {
      for (;;) {
        const done = await write(await store.get(key)).then(
          () => true,
          (err: unknown) => {
            if (err instanceof ConflictError) return false;
            throw err;
          },
        );
        if (done) return;
      }
    };
    if (waves !== undefined)
      await retrying((current) => store.updateStatus({ ...current, status: waves }));
    await retrying((current) =>
      store.update({ ...current, spec: { ...(current.spec as object), paused: false } }),
    );
    const started = { wall: performance.now(), twin: clock.now() };
    toldAt = Date.now();
    let plan: MigrationPlan;
    for (;;) {
      plan = (await store.get(key)) as unknown as MigrationPlan;
      if (input.progress !== undefined && Date.now() - toldAt >= PROGRESS_MS) {
        toldAt = Date.now();
        const st = plan.status;
        const moved = (st?.applications ?? []).filter((a) => a.phase === 'Succeeded').length;
        input.progress(
          `${speedup}x: wave ${Math.min((st?.currentWave ?? 0) + 1, st?.waves.length ?? 0)}/${st?.waves.length ?? 0}, ${moved}/${st?.applications.length ?? 0} applications moved, ${Math.round((clock.now() - started.twin) / 1000)} s twin time in ${Math.round((performance.now() - started.wall) / 1000)} s`,
        );
      }
      // Paused counts only once the controller has seen the spec we unpaused (a failed gate).
      const phase = plan.status?.phase;
      const seen = plan.status?.observedGeneration === plan.metadata.generation;
      if (
        phase === 'Succeeded' ||
        phase === 'Aborted' ||
        phase === 'Failed' ||
        (phase === 'Paused' && seen)
      )
        break;
      if (Date.now() > deadline) break;
      await sleep(systemClock, 100);
    }
    const ended = { wall: performance.now(), twin: clock.now() };
    const wallSeconds = (ended.wall - started.wall) / 1000;
    const simulatedSeconds = (ended.twin - started.twin) / 1000;
    const after = monthlyCost(
      await listApps(),
      new Map((await listClusters()).map((c) => [c.metadata.name, c])),
      clouds,
    );
    const st = plan.status;
    return {
      phase: st?.phase ?? 'Pending',
      waves: st?.waves.map((w) => w.applications) ?? [],
      unmovable: st?.unmovable ?? [],
      plannedSeconds: predictSeconds(
        st?.waves.map((w) => w.applications) ?? [],
        input.plan.spec,
        input.startupSeconds ?? DEFAULT_STARTUP_SECONDS,
      ),
      simulatedSeconds,
      wallSeconds,
      effectiveSpeedup: wallSeconds > 0 ? simulatedSeconds / wallSeconds : speedup,
      throttledFraction: clock.throttledFraction(),
      peakExtra: [...peak].map(([target, p]) => {
        const b = baseline.get(target) ?? { cpu: 0, memory: 0 };
        return {
          target,
          cpuCores: Math.round((p.cpu - b.cpu) * 10) / 10,
          memoryGiB: Math.round(((p.memory - b.memory) / GiB) * 10) / 10,
        };
      }),
      monthlyCost: { before, after },
      zeroReady: [...zeroReady].slice(0, 20),
      samples,
    };
  } finally {
    for (const w of watches) w.close();
    await Promise.allSettled(following);
    await loops.stop();
    clock.stop();
    await store.close();
  }
}
