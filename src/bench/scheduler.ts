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
  replay,
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
import { loadAlibabaNodes, loadAlibabaPods, loadBitbrains } from './traces.ts';

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
  const b = r.baseline;
  const rows: Row[] = [];
  const add = (...a: Parameters<typeof compareRow>) => rows.push(compareRow(...a));
  const msFmt = (x: number) => `${fixed(x, 3)} ms`;
  rows.push({
    metric: 'replicas placed',
    candidate: `${int(r.placed)} / ${int(r.replicas)}`,
    baseline: `${int(b.placed)} / ${int(b.replicas)}`,
    ratio: b.sampled ? 'sample' : '',
  });
  add('applications', r.apps, b.apps, int, false);
  add('seconds (placement)', r.seconds, b.seconds, (x) => fixed(x), false);
  add('placements / s', r.placementsPerSecond, b.placementsPerSecond, int, (c, bv) =>
    ratio(c, bv, 0),
  );
  add(
    'placements / s, same apps',
    r.samePrefix.placementsPerSecond,
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
  return { result, text: table(title, rows, notes) };
}

// ------------------------------------------------------------------ packing

export interface PackingResult extends Omit<PackingSide, 'timeline'> {
  benchmark: 'scheduler-packing';
  candidate: string;
  podList: string;
  nodesFile: string;
  podsFile: string;
  cluster: { nodes: number; gpus: number; cpuCores: number };
  /** The candidate's keys above are for the trace's own timing; `fill` has the same keys without deletions. */
  timing: 'trace';
  timeline: PackingSide['timeline'];
  baseline: PackingSide;
  fill: PackingSide & { baseline: PackingSide };
  notes: string[];
  machine: Record<string, string | number>;
}

export function packingBench(
  nodesFile: string,
  podsFile: string,
  progress: Progress,
  options: { candidate?: Candidate; seed?: number; samples?: number; name?: string } = {},
): BenchOutput<PackingResult> {
  const cand = options.candidate ?? defaultCandidate;
  const seed = options.seed ?? 1;
  const name =
    options.name ??
    basename(podsFile)
      .replace(/^openb_pod_list_/, '')
      .replace(/\.csv$/, '');
  const nodes = loadAlibabaNodes(nodesFile);
  const pods = loadAlibabaPods(podsFile);
  const inputs = alibabaNodeInputs(nodes);
  progress(`packing ${name}: ${int(pods.length)} pods on ${int(nodes.length)} nodes`);
  const run = (timing: PackingTiming) => {
    const opts = {
      timing,
      seed,
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
    return { baseline, candidate };
  };
  const trace = run('trace');
  const fill = run('fill');
  const gpus = nodes.reduce((s, n) => s + n.gpus, 0);
  const cpuCores = nodes.reduce((s, n) => s + n.cpuMilli, 0) / 1000;
  const notes = [
    'trace: pods arrive in creation order and leave at their deletion time; at most ~1 % of the GPUs are in use at any moment, so both place everything',
    'fill: pods arrive in creation order and never leave (the clock is the arrival count): the pod list asks for ~98 % of the GPUs, so placement decides what fits',
    'a pod that fits nowhere on arrival is dropped (no queue, no preemption); GPU allocation counts what pods asked for (a 0.3-GPU pod counts 0.3)',
    "the baseline gives a GPU share a whole GPU (nvidia.com/gpu is an integer); 'GPU over-allocated' is the part held but not asked for",
  ];
  const spark = (s: PackingSide) => sparkline(s.timeline.map((p) => p.gpuAllocation));
  notes.push(
    `fill, GPU allocation over arrivals (0-100 %): yunjian ${spark(fill.candidate)}  kube ${spark(fill.baseline)}`,
  );
  const rows: Row[] = [];
  const add = (...a: Parameters<typeof compareRow>) => rows.push(compareRow(...a));
  const tc = trace.candidate;
  const tb = trace.baseline;
  add('trace: pods unplaced', tc.unplaced, tb.unplaced, int);
  add('trace: GPU allocation, avg', tc.gpuAllocationAvg, tb.gpuAllocationAvg, (x) => percent(x, 2));
  add('trace: CPU allocation, avg', tc.cpuAllocationAvg, tb.cpuAllocationAvg, (x) => percent(x, 2));
  add(
    'trace: GPU fragmentation, avg',
    tc.gpuFragmentationAvg,
    tb.gpuFragmentationAvg,
    (x) => percent(x, 2),
    false,
  );
  const fc = fill.candidate;
  const fb = fill.baseline;
  add('fill: pods unplaced', fc.unplaced, fb.unplaced, int);
  add('fill: GPU pods unplaced', fc.unplacedGpuPods, fb.unplacedGpuPods, int);
  add('fill: GPU allocation, avg', fc.gpuAllocationAvg, fb.gpuAllocationAvg, percent);
  add('fill: GPU allocation, end', fc.gpuAllocationFinal, fb.gpuAllocationFinal, percent);
  add('fill: CPU allocation, avg', fc.cpuAllocationAvg, fb.cpuAllocationAvg, percent);
  add('fill: CPU allocation, end', fc.cpuAllocationFinal, fb.cpuAllocationFinal, percent);
  add(
    'fill: GPU fragmentation, avg',
    fc.gpuFragmentationAvg,
    fb.gpuFragmentationAvg,
    percent,
    false,
  );
  add(
    'fill: GPU over-allocated, avg',
    fc.gpuOverAllocationAvg,
    fb.gpuOverAllocationAvg,
    percent,
    false,
  );
  add(
    'fill: GPU lost (fragmented + over-allocated)',
    fc.gpuFragmentationAvg + fc.gpuOverAllocationAvg,
    fb.gpuFragmentationAvg + fb.gpuOverAllocationAvg,
    percent,
  );
  add(
    'placements over capacity',
    tc.overCapacity + fc.overCapacity,
    tb.overCapacity + fb.overCapacity,
    int,
    false,
  );
  add(
    'replay seconds (trace + fill)',
    tc.seconds + fc.seconds,
    tb.seconds + fb.seconds,
    (x) => fixed(x),
    false,
  );
  const title = `Packing on real data: Alibaba GPU 2023, pod list "${name}" (${int(pods.length)} pods) on ${int(nodes.length)} nodes (${int(gpus)} GPUs, ${int(cpuCores)} cores)`;
  const result: PackingResult = {
    benchmark: 'scheduler-packing',
    candidate: cand.name,
    podList: name,
    nodesFile,
    podsFile,
    cluster: { nodes: nodes.length, gpus, cpuCores },
    timing: 'trace',
    ...tc,
    baseline: tb,
    fill: { ...fc, baseline: fb },
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
