// The what-if: a MigrationPlan run from start to end against a copy of the
// fleet and applications in a fresh sim twin (an in-memory store, the real
// control loops, the sim driver), so nothing real changes. Time is
// accelerated by `speedup`: every pause and replica start-up is that many
// times shorter and member API rate limits that many times higher. The
// controllers' own delays (readiness polling, heartbeats, plan resync, listing
// caches) do not shrink, so the wall time is not simply multiplied back: the
// plan runs twice, at the speedup and at half of it, in fresh twins, and the
// wall times W(k) = S/k + F give the scaled part S and the fixed part F; the
// prediction is S + F (see `splitWallTimes`), and never less than the steps'
// pauses each concurrency slot waits in turn. Members that are not sim clusters
// become sim clusters with their reported nodes (architecture, cpu, memory).
// The twin has no traffic, so each gate sees the targets' health only
// (analysis.minRequests 0).
//
// The same engine runs at speedup 1 for the benchmark's "real" run; every
// sample checks that no application has zero ready replicas.
import { applyDocuments } from '../../admission/apply.ts';
import {
  DEFAULT_API_BURST,
  DEFAULT_API_QPS,
  DEFAULT_STARTUP_SECONDS,
  SimFleet,
} from '../../drivers/sim/index.ts';
import { clusterReadyCondition } from '../../model/cluster.ts';
import { ConflictError } from '../../model/errors.ts';
import { parseCpuMillis, parseMemoryBytes } from '../../model/quantity.ts';
import {
  API_VERSION,
  DEFAULT_MIGRATION_PAUSE_SECONDS,
  type Application,
  type Cloud,
  type Cluster,
  type MigrationPlan,
  type SimNodePool,
  type Site,
} from '../../model/schema.ts';
import { openSqliteStore } from '../../store/sqlite.ts';
import type { StoredObject } from '../../store/types.ts';
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
  /** How many times faster than real time the twin runs (60). */
  speedup?: number;
  /** Seconds a replica takes to start in the twin, in simulated time (the clusters' own when absent). */
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
  /** The prediction at real time, seconds: the scaled part plus the fixed part. */
  simulatedSeconds: number;
  /** The part of the duration the speedup does not shrink (the controllers' own delays), seconds. */
  fixedSeconds: number;
  /** Wall time of the run at the speedup, seconds. */
  wallSeconds: number;
  /** Wall time of the run at half the speedup that separates the fixed part, seconds (0 at speedup 1). */
  calibrationWallSeconds: number;
  /** The most cpu and memory each target held above what it held before the plan. */
  peakExtra: { target: string; cpuCores: number; memoryGiB: number }[];
  /** Monthly cost of the applications' requests at their clusters' list prices (730 h). */
  monthlyCost: { before: number; after: number };
  /** Applications that served when the plan started and had zero ready replicas in some sample (first 20). */
  zeroReady: string[];
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

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * The scaled and fixed parts of a run from its wall times at two speedups,
 * W(k) = S/k + F. Noise between the runs can push F outside [0, W(fast)];
 * it is clamped there, so the prediction lies between W(fast) and
 * fast x W(fast) (the plain multiplied-back wall time).
 */
export function splitWallTimes(
  fast: { speedup: number; wallSeconds: number },
  slow: { speedup: number; wallSeconds: number },
): { scaledSeconds: number; fixedSeconds: number } {
  const scaled = (slow.wallSeconds - fast.wallSeconds) / (1 / slow.speedup - 1 / fast.speedup);
  const fixed = Math.min(Math.max(fast.wallSeconds - scaled / fast.speedup, 0), fast.wallSeconds);
  return { scaledSeconds: (fast.wallSeconds - fixed) * fast.speedup, fixedSeconds: fixed };
}

export async function runWhatIf(input: WhatIfInput): Promise<WhatIfReport> {
  const speedup = input.speedup ?? 60;
  const fast = await runTwin(input, speedup);
  if (speedup <= 1)
    return {
      ...fast,
      simulatedSeconds: fast.wallSeconds,
      fixedSeconds: 0,
      calibrationWallSeconds: 0,
    };
  const slowSpeedup = Math.max(1, speedup / 2);
  const slow = await runTwin(input, slowSpeedup);
  const { scaledSeconds, fixedSeconds } = splitWallTimes(
    { speedup, wallSeconds: fast.wallSeconds },
    { speedup: slowSpeedup, wallSeconds: slow.wallSeconds },
  );
  // Each concurrency slot waits every step's pause of its migrations in turn,
  // so a plan that succeeded took at least that. Waits the speedup makes
  // shorter than the controllers' polling (500 ms) are rounded up to it in
  // both runs, and their difference can then fall below it.
  const pausesAlone =
    fast.phase === 'Succeeded' ? predictSeconds(fast.waves, input.plan.spec, 0) : 0;
  return {
    ...fast,
    simulatedSeconds: Math.max(scaledSeconds + fixedSeconds, pausesAlone),
    fixedSeconds,
    calibrationWallSeconds: slow.wallSeconds,
    // Both runs are checks: an app at zero ready in either is reported.
    zeroReady: [...new Set([...fast.zeroReady, ...slow.zeroReady])].slice(0, 20),
    samples: fast.samples + slow.samples,
  };
}

type TwinRun = Omit<WhatIfReport, 'simulatedSeconds' | 'fixedSeconds' | 'calibrationWallSeconds'>;

/** One run of the plan in a fresh twin at `speedup`. */
async function runTwin(input: WhatIfInput, speedup: number): Promise<TwinRun> {
  const log = input.log ?? (() => undefined);
  const timeoutMs = input.timeoutMs ?? 600_000;
  const store = openSqliteStore({ path: ':memory:' });
  // Every member gets the default start-up and API rate limit, scaled by the speedup.
  const sim = new SimFleet({
    startupSeconds: (input.startupSeconds ?? DEFAULT_STARTUP_SECONDS) / speedup,
    apiQps: DEFAULT_API_QPS * speedup,
    apiBurst: DEFAULT_API_BURST * speedup,
  });
  const drivers = providerByType({
    sim: {
      driverFor(cluster) {
        sim.upsertCluster(cluster);
        return sim.driverFor(cluster.metadata.name);
      },
      forget: (name) => void sim.removeCluster(name),
    },
  });
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
    heartbeatSeconds: 1,
    gcSeconds: 3600,
  });
  const deadline = Date.now() + timeoutMs;
  const namespace = input.plan.metadata.namespace ?? 'default';
  const listApps = async () => (await store.list('Application')).items as unknown as Application[];
  const listClusters = async () => (await store.list('Cluster')).items as unknown as Cluster[];
  try {
    // Before the plan starts, every cluster has reported and every application
    // is ready in the twin, or its Ready condition for its current spec says it
    // never will be (no feasible cluster, or its progress deadline passed). A
    // twin slowed by its host waits rather than starting from half a fleet.
    let settledApps = new Set<string>();
    let serving = new Set<string>();
    let toldAt = Date.now();
    for (;;) {
      const now = await listApps();
      const ready = now.filter(
        (a) =>
          a.status?.observedGeneration === a.metadata.generation &&
          (a.status?.replicas?.ready ?? 0) >= (a.status?.replicas?.desired ?? 1),
      );
      settledApps = new Set(ready.map((a) => a.metadata.name));
      serving = new Set(
        now.filter((a) => (a.status?.replicas?.ready ?? 0) > 0).map((a) => a.metadata.name),
      );
      const stuck = now.filter((a) => !settledApps.has(a.metadata.name));
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
        input.progress(
          `${speedup}x: placing, ${settledApps.size}/${now.length} applications ready`,
        );
      }
      if (Date.now() > deadline)
        throw new Error(
          `the twin did not place every application in time (${stuck.length} not ready)`,
        );
      await sleep(200);
    }
    const clouds = new Map(input.clouds.map((c) => [c.metadata.name, c]));
    const clusterMap = new Map((await listClusters()).map((c) => [c.metadata.name, c]));
    const before = monthlyCost(await listApps(), clusterMap, clouds);
    const defaults = input.plan.spec.migration;
    const pause = (defaults?.pauseSeconds ?? DEFAULT_MIGRATION_PAUSE_SECONDS) / speedup;
    // The waves are the real fleet's (planned from the input, with its
    // placements and capacity), given to the twin's plan as its status while
    // it is paused, so the twin moves exactly what the real plan would.
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
        migration: {
          ...defaults,
          pauseSeconds: pause,
          analysis: { ...defaults?.analysis, minRequests: 0 },
        },
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
    const started = Date.now();
    const baseline = new Map<string, { cpu: number; memory: number }>();
    const peak = new Map<string, { cpu: number; memory: number }>();
    const zeroReady = new Set<string>();
    let samples = 0;
    toldAt = started;
    let plan: MigrationPlan;
    for (;;) {
      plan = (await store.get(key)) as unknown as MigrationPlan;
      if (input.progress !== undefined && Date.now() - toldAt >= PROGRESS_MS) {
        toldAt = Date.now();
        const st = plan.status;
        const moved = (st?.applications ?? []).filter((a) => a.phase === 'Succeeded').length;
        input.progress(
          `${speedup}x: wave ${Math.min((st?.currentWave ?? 0) + 1, st?.waves.length ?? 0)}/${st?.waves.length ?? 0}, ${moved}/${st?.applications.length ?? 0} applications moved, ${Math.round((toldAt - started) / 1000)} s`,
        );
      }
      const targets = new Map<string, string[]>();
      for (const a of plan?.status?.applications ?? []) {
        const label = targetLabel(a.to);
        if (!targets.has(label))
          targets.set(
            label,
            clusters
              .filter((c) =>
                'cloud' in a.to
                  ? c.spec.cloud === a.to.cloud
                  : 'site' in a.to
                    ? c.spec.site === a.to.site
                    : c.metadata.name === a.to.cluster,
              )
              .map((c) => c.metadata.name),
          );
      }
      const byName = new Map((await listClusters()).map((c) => [c.metadata.name, c]));
      for (const [label, names] of targets) {
        const use = names.reduce(
          (s, n) => {
            const a = byName.get(n)?.status?.allocated;
            return { cpu: s.cpu + (a?.cpu ?? 0), memory: s.memory + (a?.memory ?? 0) };
          },
          { cpu: 0, memory: 0 },
        );
        if (!baseline.has(label)) baseline.set(label, use);
        const p = peak.get(label) ?? use;
        peak.set(label, { cpu: Math.max(p.cpu, use.cpu), memory: Math.max(p.memory, use.memory) });
      }
      for (const a of await listApps())
        if (serving.has(a.metadata.name) && (a.status?.replicas?.ready ?? 0) === 0)
          zeroReady.add(a.metadata.name);
      samples++;
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
      await sleep(250);
    }
    const wallSeconds = (Date.now() - started) / 1000;
    const after = monthlyCost(
      await listApps(),
      new Map((await listClusters()).map((c) => [c.metadata.name, c])),
      clouds,
    );
    const st = plan?.status;
    return {
      phase: st?.phase ?? 'Pending',
      waves: st?.waves.map((w) => w.applications) ?? [],
      unmovable: st?.unmovable ?? [],
      plannedSeconds: predictSeconds(
        st?.waves.map((w) => w.applications) ?? [],
        input.plan.spec,
        input.startupSeconds ?? DEFAULT_STARTUP_SECONDS,
      ),
      wallSeconds,
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
    await loops.stop();
    await store.close();
  }
}
