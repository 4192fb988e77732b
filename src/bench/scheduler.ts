// The three scheduler benchmarks end to end: inputs, both sides, a table for
// the screen and the JSON for the disk. The CLI (`yunjian bench scheduler ...`)
// and `npm run bench:scheduler` call these.
import { basename } from 'node:path';
import { candidate as defaultCandidate, type Candidate } from './candidate.ts';
import {
  colocate,
  baselineVmPlacer,
  beats,
  comparisonRows,
  DEFAULT_NODE_CORES,
  DEFAULT_NODE_MEMORY_GIB,
  DEFAULT_TRAIN_HOURS,
  OVERLOAD_THRESHOLD,
  USAGE_AWARE_PERCENTILE,
  usageAwareVmPlacer,
  type ColocationSide,
} from './colocation.ts';
import {
  alibabaNodeInputs,
  baselinePlacer,
  DEFAULT_LEAVE_LOAD,
  LEAVE_FULL,
  LEAVE_PASSES,
  LEAVE_WARMUP_PASSES,
  replay,
  withGpuSpecs,
  type PackingSide,
  type PackingTiming,
} from './packing.ts';
import {
  compareRow,
  fixed,
  int,
  machine,
  mib,
  percent,
  ratio,
  sparkline,
  table,
  type Progress,
  type Row,
} from './report.ts';
import { runThroughput, type ThroughputOptions, type ThroughputResult } from './throughput.ts';
import { loadAlibabaNodes, loadAlibabaPodList, loadBitbrains } from './traces.ts';

export interface BenchOutput<T> {
  result: T;
  text: string;
}

// ------------------------------------------------------------------ throughput

export async function throughputBench(
  o: ThroughputOptions,
  progress: Progress,
  options: { candidate?: Candidate; inProcess?: boolean } = {},
): Promise<BenchOutput<ThroughputResult & { machine: Record<string, string | number> }>> {
  const cand = options.candidate ?? defaultCandidate;
  progress(
    `throughput: ${int(o.cores)} cores, ${int(o.replicas)} replicas in >= ${int(o.apps)} apps, seed ${o.seed}`,
  );
  const r = await runThroughput(o, cand, progress, options.inProcess ?? false);
  // The same rows against each baseline: its own sample, and the candidate on exactly those apps.
  const rowsAgainst = (b: ThroughputResult['baseline'], same: ThroughputResult['samePrefix']) => {
    const rows: Row[] = [];
    const add = (...a: Parameters<typeof compareRow>) => rows.push(compareRow(...a));
    const msFmt = (x: number) => `${fixed(x, 3)} ms`;
    rows.push({
      metric: 'replicas placed',
      candidate: `${int(r.placed)} / ${int(r.replicas)}`,
      baseline: `${int(b.placed)} / ${int(b.replicas)}`,
      ratio: b.sampled ? 'sample' : '',
    });
    rows.push({
      metric: 'replicas placed, same apps',
      candidate: `${int(same.placed)} / ${int(same.replicas)}`,
      baseline: `${int(b.placed)} / ${int(b.replicas)}`,
      ratio: ratio(same.placed, b.placed),
    });
    add('applications', r.apps, b.apps, int, false);
    add('seconds (placement)', r.seconds, b.seconds, (x) => fixed(x), false);
    add('placements / s', r.placementsPerSecond, b.placementsPerSecond, int, (c, bv) =>
      ratio(c, bv, 0),
    );
    add(
      'placements / s, same apps',
      same.placementsPerSecond,
      b.placementsPerSecond,
      int,
      (c, bv) => ratio(c, bv, 0),
    );
    // Latency ratios read "how many times faster".
    add('per-app latency p50', r.appLatencyP50Ms, b.appLatencyP50Ms, msFmt, (c, bv) =>
      ratio(bv, c, 0),
    );
    add('per-app latency p99', r.appLatencyP99Ms, b.appLatencyP99Ms, msFmt, (c, bv) =>
      ratio(bv, c, 0),
    );
    add('peak RSS', r.peakRssBytes, b.peakRssBytes, mib, (c, bv) => ratio(c, bv));
    add('setup: fleet and stream, s', r.setupSeconds, b.setupSeconds, (x) => fixed(x), false);
    add('setup: scheduler indexes, s', r.prepareSeconds, b.prepareSeconds, (x) => fixed(x), false);
    add('nodes over capacity', r.overCapacityNodes, b.overCapacityNodes, int, false);
    return rows;
  };
  const f = r.fleet;
  const title =
    `Scheduler throughput: ${int(f.cores)} cores on ${int(f.nodes)} nodes (${int(f.clusters)} clusters, ${f.clouds} clouds, ` +
    `${f.sites['region'] ?? 0} regions + ${f.sites['datacenter'] ?? 0} data centres + ${f.sites['edge'] ?? 0} edge sites; ` +
    `amd64 ${int(f.nodesByArch['amd64'] ?? 0)}, arm64 ${int(f.nodesByArch['arm64'] ?? 0)}, riscv64 ${int(f.nodesByArch['riscv64'] ?? 0)} nodes; ${int(f.gpus)} GPUs)`;
  const w = r.workload;
  const notes = [
    `stream: ${int(w['apps'] ?? 0)} apps, ${int(w['replicas'] ?? 0)} replicas; apps with: several archs ${int(w['multiArch'] ?? 0)}, ` +
      `no amd64 ${int(w['nonAmd64'] ?? 0)}, whole GPUs ${int(w['gpuWhole'] ?? 0)}, GPU shares ${int(w['gpuShare'] ?? 0)}, GPU model ${int(w['gpuModel'] ?? 0)}, ` +
      `cloud affinity ${int(w['cloudAffinity'] ?? 0)}, residency ${int(w['residency'] ?? 0)}, spread ${int(w['spread'] ?? 0)}, tolerations ${int(w['tolerations'] ?? 0)}`,
    ...r.notes,
  ];
  const result = { ...r, machine: machine() };
  const text =
    table(title, rowsAgainst(r.baseline, r.samePrefix), notes) +
    '\n' +
    table(
      `${title}: against Karmada's cluster selection + one default scheduler per member cluster`,
      rowsAgainst(r.karmada, r.karmada.samePrefix),
      [],
      'karmada + kube',
    );
  return { result, text };
}

// ------------------------------------------------------------------ packing

/** One protocol's result: the candidate's keys, the baseline's under `baseline`, and their ratios. */
export type PackingProtocol = PackingSide & { baseline: PackingSide; ratios: PackingRatios };

/** Candidate / baseline; undefined where the baseline's value is 0. */
export interface PackingRatios {
  unplaced: number | undefined;
  gpuAllocationAvg: number | undefined;
  gpuAllocationFinal: number | undefined;
}

export interface PackingResult extends Omit<PackingSide, 'timeline'> {
  benchmark: 'scheduler-packing';
  candidate: string;
  podList: string;
  nodesFile: string;
  podsFile: string;
  cluster: { nodes: number; gpus: number; cpuCores: number };
  /** Whether the file has creation/deletion times; without them only `fill` runs. */
  timed: boolean;
  /** Pods that name GPU models, and the share of GPU pods a derived list made name them (0 = as read). */
  podsNamingGpuModels: number;
  derivedGpuSpecShare: number;
  /** The candidate's top-level keys are for `fill`, the protocol every list has. */
  timing: 'fill';
  timeline: PackingSide['timeline'];
  baseline: PackingSide;
  fill: PackingProtocol;
  /** Pods leave after their own trace lifetimes, compressed (timed lists only). */
  leave: (PackingProtocol & { load: number }) | undefined;
  /** Pods leave at their trace deletion times (timed lists only). */
  trace: PackingProtocol | undefined;
  notes: string[];
  machine: Record<string, string | number>;
}

function packingRatios(c: PackingSide, b: PackingSide): PackingRatios {
  const r = (x: number, y: number) => (y > 0 ? x / y : undefined);
  return {
    unplaced: r(c.unplaced, b.unplaced),
    gpuAllocationAvg: r(c.gpuAllocationAvg, b.gpuAllocationAvg),
    gpuAllocationFinal: r(c.gpuAllocationFinal, b.gpuAllocationFinal),
  };
}

/** The short name of a pod list file. */
export function podListName(podsFile: string): string {
  return basename(podsFile)
    .replace(/^openb_pod_list_/, '')
    .replace(/\.csv$/, '');
}

export function packingBench(
  nodesFile: string,
  podsFile: string,
  progress: Progress,
  options: {
    candidate?: Candidate;
    seed?: number;
    samples?: number;
    name?: string;
    /** Make this share of the GPU pods name GPU models (withGpuSpecs) before replaying. */
    gpuSpecShare?: number;
    /** The leave protocol's offered GPU load. */
    load?: number;
  } = {},
): BenchOutput<PackingResult> {
  const cand = options.candidate ?? defaultCandidate;
  const seed = options.seed ?? 1;
  const derived = options.gpuSpecShare ?? 0;
  const load = options.load ?? DEFAULT_LEAVE_LOAD;
  const nodes = loadAlibabaNodes(nodesFile);
  const list = loadAlibabaPodList(podsFile);
  const pods = derived > 0 ? withGpuSpecs(list.pods, nodes, derived, seed) : list.pods;
  const namingModels = pods.filter((p) => p.gpuModels.length > 0).length;
  const name =
    (options.name ?? podListName(podsFile)) +
    (derived > 0 ? `+gpuspec${Math.round(derived * 100)}` : '');
  const inputs = alibabaNodeInputs(nodes);
  progress(
    `packing ${name}: ${int(pods.length)} pods (${int(namingModels)} naming GPU models) on ${int(nodes.length)} nodes`,
  );
  const run = (timing: PackingTiming): PackingProtocol => {
    const opts = {
      timing,
      seed,
      load,
      progress,
      ...(options.samples === undefined ? {} : { samples: options.samples }),
    };
    const baseline = replay(inputs, pods, (s) => baselinePlacer(s, seed), {
      ...opts,
      label: `packing ${name} ${timing} baseline`,
    });
    const candidate = replay(inputs, pods, (s) => cand.podPlacer(s, seed), {
      ...opts,
      label: `packing ${name} ${timing} candidate`,
    });
    return { ...candidate, baseline, ratios: packingRatios(candidate, baseline) };
  };
  const fill = run('fill');
  const leave = list.timed ? { ...run('leave'), load } : undefined;
  const trace = list.timed ? run('trace') : undefined;
  const gpus = nodes.reduce((s, n) => s + n.gpus, 0);
  const cpuCores = nodes.reduce((s, n) => s + n.cpuMilli, 0) / 1000;
  const notes = [
    'fill: pods arrive in creation order (file order without timing columns) and never leave (the clock is the arrival count): placement decides what fits',
    list.timed
      ? `leave: the list ${LEAVE_PASSES} times back to back, one arrival per clock unit in creation order; each pod lives its own trace lifetime x ${fixed(leave?.lifetimeScale ?? 0, 3)} (units per trace second), the factor at which the GPU asked for in flight averages ${fixed(load)} x capacity over passes ${LEAVE_WARMUP_PASSES + 1}-${LEAVE_PASSES}; passes 1-${LEAVE_WARMUP_PASSES} are warm-up, not measured (unplaced pods count every pass)`
      : 'leave and trace: not run, the list has no timing columns (no lifetimes)',
    'trace: pods leave at their deletion times; at most ~1 % of the GPUs are in use at any moment, so both place everything',
    'a pod that fits nowhere on arrival is dropped (no queue, no preemption); GPU allocation counts what pods asked for (a 0.3-GPU pod counts 0.3)',
    "the baseline gives a GPU share a whole GPU (nvidia.com/gpu is an integer) and a GPU spec as required node affinity (In) on the GPU product label; 'GPU over-allocated' is the part held but not asked for",
  ];
  if (derived > 0)
    notes.push(
      `derived list: the file names no GPU model; ${percent(derived, 0)} of its GPU pods (seeded) were made to name one or two models whose nodes could hold them, drawn by GPU count (${int(namingModels)} pods, ${percent(namingModels / Math.max(1, pods.length))} of all)`,
    );
  const spark = (s: PackingSide) => sparkline(s.timeline.map((p) => p.gpuAllocation));
  notes.push(
    `fill, GPU allocation over arrivals (0-100 %): yunjian ${spark(fill)}  kube ${spark(fill.baseline)}`,
  );
  if (leave)
    notes.push(
      `leave, GPU allocation over passes ${LEAVE_WARMUP_PASSES + 1}-${LEAVE_PASSES} (0-100 %): yunjian ${spark(leave)}  kube ${spark(leave.baseline)}`,
    );
  const rows: Row[] = [];
  const add = (...a: Parameters<typeof compareRow>) => rows.push(compareRow(...a));
  const protocolRows = (label: string, c: PackingSide, b: PackingSide) => {
    add(`${label}: pods unplaced`, c.unplaced, b.unplaced, int);
    add(`${label}: GPU pods unplaced`, c.unplacedGpuPods, b.unplacedGpuPods, int);
    add(`${label}: GPU allocation, avg`, c.gpuAllocationAvg, b.gpuAllocationAvg, percent);
    add(`${label}: GPU allocation, end`, c.gpuAllocationFinal, b.gpuAllocationFinal, percent);
    add(`${label}: CPU allocation, avg`, c.cpuAllocationAvg, b.cpuAllocationAvg, percent);
    add(
      `${label}: GPU lost (fragmented + over-allocated)`,
      c.gpuFragmentationAvg + c.gpuOverAllocationAvg,
      b.gpuFragmentationAvg + b.gpuOverAllocationAvg,
      percent,
    );
  };
  protocolRows('fill', fill, fill.baseline);
  if (leave) {
    protocolRows('leave', leave, leave.baseline);
    add(
      `leave: lowest GPU held by pods (target > ${percent(LEAVE_FULL, 0)})`,
      leave.gpuHeldMinMeasured,
      leave.baseline.gpuHeldMinMeasured,
      percent,
      false,
    );
  }
  if (trace) {
    add('trace: pods unplaced', trace.unplaced, trace.baseline.unplaced, int);
    add(
      'trace: GPU allocation, avg',
      trace.gpuAllocationAvg,
      trace.baseline.gpuAllocationAvg,
      (x) => percent(x, 2),
    );
  }
  const sides = [fill, leave, trace].filter((x) => x !== undefined);
  add(
    'placements over capacity',
    sides.reduce((t, x) => t + x.overCapacity, 0),
    sides.reduce((t, x) => t + x.baseline.overCapacity, 0),
    int,
    false,
  );
  add(
    'replay seconds (all protocols)',
    sides.reduce((t, x) => t + x.seconds, 0),
    sides.reduce((t, x) => t + x.baseline.seconds, 0),
    (x) => fixed(x),
    false,
  );
  const title = `Packing on real data: Alibaba GPU 2023, pod list "${name}" (${int(pods.length)} pods, ${int(namingModels)} naming GPU models) on ${int(nodes.length)} nodes (${int(gpus)} GPUs, ${int(cpuCores)} cores)`;
  const { ratios: _fillRatios, baseline: fillBaseline, ...fillCandidate } = fill;
  const result: PackingResult = {
    benchmark: 'scheduler-packing',
    candidate: cand.name,
    podList: name,
    nodesFile,
    podsFile,
    cluster: { nodes: nodes.length, gpus, cpuCores },
    timed: list.timed,
    podsNamingGpuModels: namingModels,
    derivedGpuSpecShare: derived,
    timing: 'fill',
    ...fillCandidate,
    baseline: fillBaseline,
    fill,
    leave,
    trace,
    notes,
    machine: machine(),
  };
  return { result, text: table(title, rows, notes) };
}

// ------------------------------------------------------------------ colocation

export interface ColocationResult extends ColocationSide {
  benchmark: 'scheduler-colocation';
  candidate: string;
  vmsFile: string;
  usageFile: string;
  node: { cores: number; memoryGiB: number };
  trainHours: number;
  evaluationHours: number;
  overloadThreshold: number;
  settings: Record<string, string | number>;
  baseline: ColocationSide;
  /** The default scheduler's algorithm on requests set from training-hour use. */
  usageAwareBaseline: ColocationSide;
  /** Fewer nodes than the usage-aware baseline, or as many with fewer overloaded node-hours. */
  beatsUsageAware: boolean;
  notes: string[];
  machine: Record<string, string | number>;
}

export function colocationBench(
  vmsFile: string,
  usageFile: string,
  progress: Progress,
  options: {
    candidate?: Candidate;
    seed?: number;
    nodeCores?: number;
    nodeMemoryGiB?: number;
    trainHours?: number;
  } = {},
): BenchOutput<ColocationResult> {
  const cand = options.candidate ?? defaultCandidate;
  const seed = options.seed ?? 1;
  const trace = loadBitbrains(vmsFile, usageFile);
  const nodeCores = options.nodeCores ?? DEFAULT_NODE_CORES;
  const nodeMemoryGiB = options.nodeMemoryGiB ?? DEFAULT_NODE_MEMORY_GIB;
  const trainHours = Math.min(options.trainHours ?? DEFAULT_TRAIN_HOURS, trace.hours);
  const common = { nodeCores, nodeMemoryGiB, trainHours, seed, progress };
  progress(
    `colocation: ${int(trace.vms.length)} VMs, ${trace.hours} hours; training on the first ${trainHours}`,
  );
  const baseline = colocate(trace, baselineVmPlacer(seed), {
    ...common,
    label: 'colocation baseline',
  });
  const usageAware = colocate(trace, usageAwareVmPlacer(seed), {
    ...common,
    label: 'colocation usage-aware baseline',
  });
  const candidate = colocate(trace, cand.vmPlacer(seed), {
    ...common,
    label: 'colocation candidate',
  });
  const rows = comparisonRows(candidate, baseline);
  const beatsUsageAware = beats(candidate, usageAware);
  const evaluationHours = Math.max(0, trace.hours - trainHours);
  const notes = [
    `placement at hour ${trainHours} of the VMs still running then; the candidate predicts from hours 0-${trainHours - 1} only; evaluated on hours ${trainHours}-${trace.hours - 1} (${evaluationHours} h)`,
    'nodes needed: the fewest identical nodes on which the scheduler places every VM',
    "overload: the sum of the VMs' hourly peaks (cpu_cores_max) on a node above 90 % of its cores",
    `usage-aware baseline: the same default scheduler algorithm, each VM requesting the p${USAGE_AWARE_PERCENTILE * 100} of its hourly average cpu and memory over hours 0-${trainHours - 1} (a vertical autoscaler's recommendation)`,
  ];
  const settings = cand.settings ?? {};
  if (Object.keys(settings).length > 0)
    notes.push(
      `candidate settings: ${Object.entries(settings)
        .map(([k, v]) => `${k} ${v}`)
        .join(', ')}`,
    );
  const title = `Colocation on real data: Bitbrains Rnd, ${int(trace.vms.length)} VMs, July 2013, on nodes of ${nodeCores} cores / ${nodeMemoryGiB} GiB`;
  const result: ColocationResult = {
    benchmark: 'scheduler-colocation',
    candidate: cand.name,
    vmsFile,
    usageFile,
    node: { cores: nodeCores, memoryGiB: nodeMemoryGiB },
    trainHours,
    evaluationHours,
    overloadThreshold: OVERLOAD_THRESHOLD,
    settings,
    ...candidate,
    baseline,
    usageAwareBaseline: usageAware,
    beatsUsageAware,
    notes,
    machine: machine(),
  };
  const verdict = `target (fewer nodes than the usage-aware baseline, or as many with fewer overloaded node-hours): ${beatsUsageAware ? 'met' : 'missed'}`;
  return {
    result,
    text: `${table(title, rows, notes)}\n${table(
      `${title}: against the usage-aware baseline`,
      comparisonRows(candidate, usageAware),
      [verdict],
      `kube, p${USAGE_AWARE_PERCENTILE * 100} use`,
    )}`,
  };
}
