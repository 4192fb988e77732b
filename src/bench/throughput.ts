// Throughput at fleet scale: a generated fleet of at least `cores` cores and a
// stream of at least `replicas` replicas in at least `apps` applications with
// mixed constraints (workload.ts), placed one application after another.
//
// Each side runs in its own child process (throughput-child.ts) so its peak
// RSS is its own: the child generates the fleet and the stream from the seed
// (deterministic, and fingerprinted so the parent can check both sides got the
// same inputs), times the placement, and reports back. Timed: the placement
// calls only; building the fleet, the snapshot and the stream is `setupSeconds`.
//
// Two baselines, each in its own child process too: one default scheduler over
// every node (kube-baseline.ts), and what a Kubernetes user would deploy at
// this scale, Karmada's scheduler choosing member clusters and dividing the
// replicas plus one default scheduler per member cluster (karmada-baseline.ts).
// Both place one pod at a time and are orders of magnitude slower, so each
// runs on a prefix of the same stream: applications in order until its time
// budget is spent. Each rate is compared with the candidate's on the whole
// stream and on the same prefix (timed per application, so the prefix rate is
// exact).
//
// How the stream's constraints reach the baseline (as Kubernetes would say them):
// architectures and GPU model -> required node affinity on kubernetes.io/arch
// and the GPU product label; clouds and residency -> required node affinity on
// the cloud and country node labels; spread {by, min} -> a DoNotSchedule
// topology spread constraint on that label with maxSkew 1 and minDomains min
// (Kubernetes has no "at most N groups", so max is not expressed);
// tolerations -> tolerations. For Karmada (karmadaAppOf): clouds and residency
// -> ClusterAffinity, tolerations -> clusterTolerations (and the member pod's
// tolerations), spread {by, min, max} -> a spread constraint on the matching
// field with minGroups/maxGroups, replicas Divided by dynamic weight (the
// stream asks for N replicas in total).
import { fork } from 'node:child_process';
import { createHash } from 'node:crypto';
import { resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { Candidate } from './candidate.ts';
import { generateBenchFleet, TOPOLOGY_LABELS, type BenchFleet } from './fleet.ts';
import {
  KubeBaseline,
  kubePodFor,
  type KubeNodeSelectorRequirement,
  type KubePod,
} from './kube-baseline.ts';
import {
  KarmadaBaseline,
  type KarmadaApp,
  type KarmadaPlacement,
  type KarmadaSpreadField,
} from './karmada-baseline.ts';
import { peakRssBytes, quantile, type Progress } from './report.ts';
import { generateWorkload, workloadMix, type BenchApp, type BenchSpread } from './workload.ts';
import type { NodeState } from '../scheduler/index.ts';

/** Which scheduler one side of the benchmark runs. */
export type ThroughputSideName = 'candidate' | 'baseline' | 'karmada';

export const DEFAULT_CORES = 10_000_000;
export const DEFAULT_REPLICAS = 1_000_000;
export const DEFAULT_APPS = 50_000;
export const DEFAULT_BASELINE_SECONDS = 30;

export interface ThroughputOptions {
  cores: number;
  replicas: number;
  apps: number;
  seed: number;
  /** Wall-time budget of the baseline's sample. */
  baselineSeconds: number;
  /** Wall-time budget of the Karmada baseline's sample; baselineSeconds when unset. */
  karmadaSeconds?: number;
  /** Fleet scale instead of the one `cores` gives (tests: tiny fleets). */
  scale?: number;
  /** Leave out the Alibaba-shaped data centre (tests). Default included. */
  alibaba?: boolean;
}

/** One side's result: the JSON keys of the throughput benchmark. */
export interface ThroughputSide {
  /** Replicas placed, and left unplaced, of those attempted. */
  placed: number;
  unplaced: number;
  /** Applications and replicas attempted (all of the stream, or the baseline's sample). */
  apps: number;
  replicas: number;
  /** Wall time of the placement calls. */
  seconds: number;
  placementsPerSecond: number;
  peakRssBytes: number;
  appLatencyP50Ms: number;
  appLatencyP99Ms: number;
  appLatencyMaxMs: number;
  /** Building fleet, snapshot and stream (not in `seconds`). */
  setupSeconds: number;
  /** Building the scheduler over the snapshot (its indexes; not in `seconds`). */
  prepareSeconds: number;
  /** Nodes whose cpu, memory, pods or GPUs are over capacity after the run (must be 0). */
  overCapacityNodes: number;
  /** True when only a prefix of the stream was attempted (time budget). */
  sampled: boolean;
  /** Per-application latencies (ms) in stream order, for the prefix comparison; dropped from the JSON. */
  latenciesMs?: number[];
  /** Placed per application in stream order; dropped from the JSON. */
  placedPerApp?: number[];
}

export interface ThroughputInputs {
  fleet: BenchFleet;
  apps: BenchApp[];
  fingerprint: string;
}

export function throughputInputs(o: ThroughputOptions): ThroughputInputs {
  const fleet = generateBenchFleet(o.cores, o.seed, {
    ...(o.scale === undefined ? {} : { scale: o.scale }),
    ...(o.alibaba === undefined ? {} : { alibaba: o.alibaba }),
  });
  const apps = generateWorkload(fleet, { apps: o.apps, replicas: o.replicas, seed: o.seed });
  const h = createHash('sha256');
  const n = fleet.snapshot.nodes;
  h.update(Buffer.from(n.cpuCap.buffer)).update(Buffer.from(n.memCap.buffer));
  h.update(Buffer.from(n.arch.buffer)).update(Buffer.from(n.gpuCount.buffer));
  h.update(JSON.stringify(apps));
  return { fleet, apps, fingerprint: h.digest('hex').slice(0, 16) };
}

/** The stream's constraints for the default scheduler. */
export function kubePodOfApp(app: BenchApp, group: number): KubePod {
  const affinity: KubeNodeSelectorRequirement[] = [];
  if (app.clouds) affinity.push({ key: TOPOLOGY_LABELS.cloud, operator: 'In', values: app.clouds });
  if (app.countries)
    affinity.push({ key: TOPOLOGY_LABELS.country, operator: 'In', values: app.countries });
  const extra: Omit<KubePod, 'cpuMilli' | 'memoryMiB' | 'gpus'> = { group };
  if (affinity.length > 0) extra.nodeAffinity = affinity;
  if (app.tolerations) extra.tolerations = app.tolerations;
  if (app.spread)
    extra.topologySpread = [
      { topologyKey: TOPOLOGY_LABELS[app.spread.by], maxSkew: 1, minDomains: app.spread.min },
    ];
  return kubePodFor(app.request, extra);
}

const SPREAD_FIELD: Record<BenchSpread['by'], KarmadaSpreadField> = {
  cloud: 'provider',
  site: 'region',
  zone: 'zone',
  cluster: 'cluster',
};

/** The stream's application as a ResourceBinding with its PropagationPolicy's placement. */
export function karmadaAppOf(app: BenchApp): KarmadaApp {
  const placement: KarmadaPlacement = { replicaScheduling: 'Divided' };
  if (app.clouds) placement.providers = app.clouds;
  if (app.countries) placement.countries = app.countries;
  if (app.tolerations) placement.clusterTolerations = app.tolerations;
  if (app.spread)
    placement.spreadConstraint = {
      field: SPREAD_FIELD[app.spread.by],
      minGroups: app.spread.min,
      ...(app.spread.max === undefined ? {} : { maxGroups: app.spread.max }),
    };
  return {
    replicas: app.replicas,
    pod: kubePodFor(app.request, app.tolerations ? { tolerations: app.tolerations } : {}),
    placement,
  };
}

/** Nodes over capacity in any resource. */
export function overCapacityNodes(fleet: BenchFleet): number {
  return overCapacityIn(fleet.snapshot.nodes);
}

/** Nodes of the state over capacity in any resource. */
export function overCapacityIn(s: NodeState): number {
  let bad = 0;
  for (let i = 0; i < s.count; i++) {
    if (
      s.cpuUsed[i]! > s.cpuCap[i]! + 1e-6 ||
      s.memUsed[i]! > s.memCap[i]! + 1e-6 ||
      s.podsUsed[i]! > s.podsCap[i]! ||
      s.gpuFreeTotal[i]! < 0 ||
      s.gpuWhole[i]! > s.gpuCount[i]!
    )
      bad++;
  }
  return bad;
}

/** Runs one side in this process. */
export function runThroughputSide(
  side: ThroughputSideName,
  o: ThroughputOptions,
  candidate: Candidate | undefined,
  progress: Progress = () => {},
  inputs?: ThroughputInputs,
): ThroughputSide & { fingerprint: string } {
  const setupStart = performance.now();
  const { fleet, apps, fingerprint } = inputs ?? throughputInputs(o);
  const prepareStart = performance.now();
  let place: (app: BenchApp, i: number) => number;
  let overCapacity = () => overCapacityNodes(fleet);
  if (side === 'candidate') {
    if (candidate === undefined) throw new Error('the candidate side needs a candidate');
    const placer = candidate.fleetPlacer(fleet, o.seed);
    place = (app) => placer(app);
  } else if (side === 'karmada') {
    const karmada = new KarmadaBaseline(fleet.snapshot.nodes, fleet.snapshot.clusters, {
      seed: o.seed,
    });
    place = (app) => karmada.schedule(karmadaAppOf(app));
    overCapacity = () => karmada.members.reduce((t, m) => t + overCapacityIn(m.state), 0);
  } else {
    const kb = new KubeBaseline(fleet.snapshot.nodes, { seed: o.seed, topology: fleet.topology });
    place = (app, i) => {
      const pod = kubePodOfApp(app, i);
      let placed = 0;
      for (let r = 0; r < app.replicas; r++) if (kb.schedule(pod) !== undefined) placed++;
      return placed;
    };
  }
  const prepareSeconds = (performance.now() - prepareStart) / 1000;
  const setupSeconds = (prepareStart - setupStart) / 1000;
  const total = apps.reduce((s, a) => s + a.replicas, 0);
  progress(
    `${side}: fleet of ${fleet.summary.nodes.toLocaleString('en-US')} nodes / ` +
      `${fleet.summary.cores.toLocaleString('en-US')} cores, ${apps.length.toLocaleString('en-US')} apps / ` +
      `${total.toLocaleString('en-US')} replicas ready in ${setupSeconds.toFixed(1)} s`,
  );
  const budgetMs =
    side === 'candidate'
      ? Number.POSITIVE_INFINITY
      : (side === 'karmada' ? (o.karmadaSeconds ?? o.baselineSeconds) : o.baselineSeconds) * 1000;
  const latencies: number[] = [];
  const placedPerApp: number[] = [];
  let placed = 0;
  let replicas = 0;
  const began = performance.now();
  let last = began;
  let now = began;
  let i = 0;
  for (; i < apps.length; i++) {
    const app = apps[i]!;
    const t0 = performance.now();
    const p = place(app, i);
    now = performance.now();
    latencies.push(now - t0);
    placedPerApp.push(p);
    placed += p;
    replicas += app.replicas;
    if (now - last >= 2000) {
      last = now;
      progress(
        `${side}: ${(i + 1).toLocaleString('en-US')} apps, ${placed.toLocaleString('en-US')}/` +
          `${replicas.toLocaleString('en-US')} replicas placed, ${((now - began) / 1000).toFixed(1)} s`,
      );
    }
    if (now - began >= budgetMs) {
      i++;
      break;
    }
  }
  const seconds = (now - began) / 1000;
  const lat = Float64Array.from(latencies);
  return {
    placed,
    unplaced: replicas - placed,
    apps: i,
    replicas,
    seconds,
    placementsPerSecond: seconds > 0 ? placed / seconds : 0,
    peakRssBytes: peakRssBytes(),
    appLatencyP50Ms: quantile(lat, 0.5),
    appLatencyP99Ms: quantile(lat, 0.99),
    appLatencyMaxMs: quantile(lat, 1),
    setupSeconds,
    prepareSeconds,
    overCapacityNodes: overCapacity(),
    sampled: i < apps.length,
    latenciesMs: latencies,
    placedPerApp,
    fingerprint,
  };
}

/** Runs one side in a child process (its own peak RSS); the child writes its progress lines to our stderr. */
export function runThroughputChild(
  side: ThroughputSideName,
  o: ThroughputOptions,
): Promise<ThroughputSide & { fingerprint: string }> {
  return new Promise((ok, fail) => {
    const child = fork(
      resolve(import.meta.dirname, 'throughput-child.ts'),
      [side, JSON.stringify(o)],
      {
        stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
        execArgv: [],
      },
    );
    let result: (ThroughputSide & { fingerprint: string }) | undefined;
    let error = '';
    child.on(
      'message',
      (m: { result?: ThroughputSide & { fingerprint: string }; error?: string }) => {
        if (m.result !== undefined) result = m.result;
        if (m.error !== undefined) error = m.error;
      },
    );
    child.on('error', fail);
    child.on('exit', (code, signal) => {
      if (result !== undefined) ok(result);
      else
        fail(
          new Error(
            `the ${side} throughput run failed (${signal ?? `exit ${code}`})${error ? `: ${error}` : ''}`,
          ),
        );
    });
  });
}

type Reported = Omit<ThroughputSide, 'latenciesMs' | 'placedPerApp'>;

export interface SamePrefix {
  apps: number;
  replicas: number;
  placed: number;
  seconds: number;
  placementsPerSecond: number;
}

export interface ThroughputResult extends Reported {
  benchmark: 'scheduler-throughput';
  candidate: string;
  options: ThroughputOptions;
  fleet: {
    nodes: number;
    cores: number;
    clusters: number;
    clouds: number;
    sites: Record<string, number>;
    nodesByArch: Record<string, number>;
    gpus: number;
  };
  workload: Record<string, number>;
  /** The candidate on the same applications as the baseline's sample. */
  samePrefix: SamePrefix;
  baseline: Reported;
  /** Karmada's cluster selection and division plus one default scheduler per member cluster. */
  karmada: Reported & {
    /** The candidate on the same applications as this baseline's sample. */
    samePrefix: SamePrefix;
    /** Nodes of the largest member cluster (each has its own default scheduler). */
    largestClusterNodes: number;
  };
  notes: string[];
}

function strip(s: ThroughputSide & { fingerprint?: string }): Reported {
  const { latenciesMs: _l, placedPerApp: _p, fingerprint: _f, ...rest } = s;
  return rest;
}

/**
 * Both sides and the comparison. `inProcess` runs them here (tests, tiny inputs); otherwise
 * each in its own child process.
 */
export async function runThroughput(
  o: ThroughputOptions,
  candidate: Candidate,
  progress: Progress,
  inProcess = false,
): Promise<ThroughputResult> {
  const inputs = throughputInputs(o);
  const { fleet, apps } = inputs;
  const run = (side: ThroughputSideName) =>
    inProcess
      ? Promise.resolve(
          runThroughputSide(
            side,
            o,
            candidate,
            progress,
            side === 'candidate' ? inputs : throughputInputs(o),
          ),
        )
      : runThroughputChild(side, o);
  const cand = await run('candidate');
  const base = await run('baseline');
  const karmada = await run('karmada');
  for (const side of [cand, base, karmada])
    if (side.fingerprint !== inputs.fingerprint)
      throw new Error('the sides did not get the same fleet and stream (fingerprints differ)');
  // The candidate's rate on the applications a baseline's sample covered.
  const samePrefix = (sample: ThroughputSide): SamePrefix => {
    let replicas = 0;
    let ms = 0;
    let placed = 0;
    for (let i = 0; i < sample.apps; i++) {
      replicas += apps[i]!.replicas;
      ms += cand.latenciesMs?.[i] ?? 0;
      placed += cand.placedPerApp?.[i] ?? 0;
    }
    return {
      apps: sample.apps,
      replicas,
      placed,
      seconds: ms / 1000,
      placementsPerSecond: ms > 0 ? placed / (ms / 1000) : 0,
    };
  };
  const basePrefix = samePrefix(base);
  const karmadaPrefix = samePrefix(karmada);
  const sampleNote = (name: string, side: ThroughputSide, prefix: SamePrefix, seconds: number) =>
    `${name}: the first ${prefix.apps.toLocaleString('en-US')} applications (${prefix.replicas.toLocaleString('en-US')} replicas) of the same stream` +
    (side.sampled
      ? `, as many as its ${seconds} s budget allowed; "same apps" compares the candidate on exactly those`
      : ' (the whole stream)');
  const clusterNodes = new Int32Array(fleet.snapshot.clusters.length);
  for (let i = 0; i < fleet.snapshot.nodes.count; i++)
    clusterNodes[fleet.snapshot.nodes.cluster[i]!]!++;
  const largestClusterNodes = clusterNodes.reduce((m, n) => Math.max(m, n), 0);
  const notes = [
    sampleNote('baseline', base, basePrefix, o.baselineSeconds),
    sampleNote('karmada baseline', karmada, karmadaPrefix, o.karmadaSeconds ?? o.baselineSeconds),
    `karmada baseline: Karmada's cluster selection (ClusterAffinity, TaintToleration, spread constraints; ClusterLocality score), replicas Divided by AvailableReplicas from a scheduler-estimator model, then one default scheduler per member cluster (${fleet.snapshot.clusters.length.toLocaleString('en-US')} clusters, the largest ${largestClusterNodes.toLocaleString('en-US')} nodes); a binding whose clusters cannot take all its replicas fails whole, as in Karmada`,
    'each side ran in its own process; its peak RSS includes generating the fleet and the stream',
  ];
  const s = fleet.summary;
  const result: ThroughputResult = {
    benchmark: 'scheduler-throughput',
    candidate: candidate.name,
    options: o,
    fleet: {
      nodes: s.nodes,
      cores: s.cores,
      clusters: s.clusters,
      clouds: s.clouds,
      sites: s.sitesByKind,
      nodesByArch: s.nodesByArch,
      gpus: s.gpus,
    },
    workload: workloadMix(apps),
    ...strip(cand),
    samePrefix: basePrefix,
    baseline: strip(base),
    karmada: { ...strip(karmada), samePrefix: karmadaPrefix, largestClusterNodes },
    notes,
  };
  return result;
}
