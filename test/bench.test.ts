// Smoke tests of the scheduler benchmarks on tiny inputs made here: each runs
// end to end (candidate and baseline), its JSON has the documented keys for
// both, and no placement over-fills a node. No timing is asserted.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { colocationBench, packingBench, throughputBench } from '../src/bench/scheduler.ts';
import type { ThroughputOptions } from '../src/bench/throughput.ts';
import { run, type CliIo } from '../src/cli/program.ts';

let dir: string;
const lines: string[] = [];
const progress = (l: string) => lines.push(l);

const NODES = [
  'sn,cpu_milli,memory_mib,gpu,model',
  'n-cpu,32000,131072,0,',
  'n-t4,16000,65536,2,T4',
  'n-v100,64000,262144,4,V100M16',
].join('\n');

// Shares, whole GPUs, CPU-only pods, a pod restricted to V100M16, one too big for any node.
const PODS = [
  'name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec,qos,pod_phase,creation_time,deletion_time,scheduled_time',
  'p0,4000,8192,1,500,,LS,Running,0,100,0',
  'p1,4000,8192,1,500,,LS,Running,1,100,1',
  'p2,4000,8192,1,1000,,LS,Running,2,50,2',
  'p3,8000,16384,2,1000,V100M16,LS,Running,3,100,3',
  'p4,2000,4096,0,0,,BE,Running,4,10,4',
  'p5,16000,32768,0,0,,BE,Running,5,100,5',
  'p6,4000,8192,1,300,,LS,Running,20,100,20',
  'p7,4000,8192,1,300,,LS,Pending,21,100,',
  'p8,128000,8192,0,0,,BE,Failed,22,30,22',
  'p9,1000,1024,1,250,,LS,Running,60,100,60',
].join('\n');

const VMS = ['vm,cores,mem_mib', 'a,4,8192', 'b,2,4096', 'c,8,16384', 'd,1,1024', 'e,2,2048'].join(
  '\n',
);

function usage(): string {
  const rows = ['vm,hour,cpu_cores_avg,cpu_cores_max,mem_mib_avg'];
  const use: Record<string, [number, number]> = {
    a: [0.5, 1.0],
    b: [0.2, 0.4],
    c: [1.0, 3.0],
    d: [0.1, 0.2],
    e: [0.3, 0.9],
  };
  for (let h = 0; h < 12; h++)
    for (const [vm, [avg, max]] of Object.entries(use)) {
      if (vm === 'd' && h >= 3) continue; // d stops before placement: not placed
      rows.push(`${vm},${h},${avg},${max},${256 + h}`);
    }
  return rows.join('\n');
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'yunjian-bench-'));
  await writeFile(join(dir, 'nodes.csv'), NODES);
  await writeFile(join(dir, 'pods.csv'), PODS);
  await writeFile(join(dir, 'vms.csv'), VMS);
  await writeFile(join(dir, 'usage.csv'), usage());
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

const THROUGHPUT_KEYS = [
  'placed',
  'unplaced',
  'seconds',
  'placementsPerSecond',
  'peakRssBytes',
  'appLatencyP50Ms',
  'appLatencyP99Ms',
  'overCapacityNodes',
];
const PACKING_KEYS = [
  'pods',
  'unplaced',
  'gpuAllocationAvg',
  'cpuAllocationAvg',
  'gpuFragmentationAvg',
  'overCapacity',
];
const COLOCATION_KEYS = ['nodes', 'avgCpuUtilization', 'overloadedNodeHourShare'];

function hasNumbers(obj: Record<string, unknown>, keys: string[], where: string): void {
  for (const k of keys) {
    assert.equal(typeof obj[k], 'number', `${where}.${k} is a number`);
    assert.ok(Number.isFinite(obj[k]), `${where}.${k} is finite`);
  }
}

const tiny: ThroughputOptions = {
  cores: 1,
  replicas: 300,
  apps: 30,
  seed: 3,
  baselineSeconds: 60,
  scale: 0.01,
  alibaba: false,
};

describe('throughput', () => {
  it('runs both sides on a tiny fleet, same keys, nothing over capacity', async () => {
    const { result, text } = await throughputBench(tiny, progress, { inProcess: true });
    const r = result as unknown as Record<string, unknown>;
    hasNumbers(r, THROUGHPUT_KEYS, 'candidate');
    hasNumbers(result.baseline, THROUGHPUT_KEYS, 'baseline');
    hasNumbers(result.karmada, THROUGHPUT_KEYS, 'karmada');
    assert.equal(result.karmada.sampled, false, 'the Karmada baseline finished the tiny stream');
    assert.equal(result.karmada.replicas, 300);
    assert.equal(result.karmada.overCapacityNodes, 0);
    assert.ok(result.karmada.placed > 0 && result.karmada.placed <= 300);
    assert.equal(result.karmada.samePrefix.apps, result.karmada.apps);
    assert.ok(result.karmada.largestClusterNodes > 0);
    assert.match(text, /karmada \+ kube/);
    assert.equal(result.replicas, 300);
    assert.ok(result.apps >= 30);
    assert.equal(result.baseline.sampled, false, 'the baseline finished the tiny stream');
    assert.equal(result.baseline.replicas, 300);
    assert.equal(result.overCapacityNodes, 0);
    assert.equal(result.baseline.overCapacityNodes, 0);
    assert.ok(result.placed > 0 && result.placed <= 300);
    assert.ok(result.baseline.placed > 0 && result.baseline.placed <= 300);
    assert.equal(result.placed + result.unplaced, 300);
    assert.ok(result.fleet.nodes > 0);
    assert.match(text, /placements \/ s/);
    assert.ok(lines.some((l) => l.startsWith('throughput:')));
  });

  it('runs each side in its own process', async () => {
    const { result } = await throughputBench({ ...tiny, replicas: 60, apps: 6 }, progress);
    hasNumbers(result as unknown as Record<string, unknown>, THROUGHPUT_KEYS, 'candidate');
    assert.ok(result.peakRssBytes > 0);
    assert.ok(result.baseline.peakRssBytes > 0);
    assert.ok(result.karmada.peakRssBytes > 0);
  });
});

describe('packing', () => {
  it('replays the pod list with both, trace and fill timing', () => {
    const { result, text } = packingBench(join(dir, 'nodes.csv'), join(dir, 'pods.csv'), progress, {
      samples: 10,
    });
    const r = result as unknown as Record<string, unknown>;
    hasNumbers(r, PACKING_KEYS, 'candidate');
    hasNumbers(result.baseline as unknown as Record<string, unknown>, PACKING_KEYS, 'baseline');
    hasNumbers(result.fill as unknown as Record<string, unknown>, PACKING_KEYS, 'fill');
    hasNumbers(
      result.fill.baseline as unknown as Record<string, unknown>,
      PACKING_KEYS,
      'fill.baseline',
    );
    for (const side of [result, result.baseline, result.fill, result.fill.baseline]) {
      assert.equal(side.pods, 10);
      assert.equal(side.overCapacity, 0);
      assert.ok(side.unplaced >= 1, 'the 128-core pod fits nowhere');
      for (const k of ['gpuAllocationAvg', 'cpuAllocationAvg', 'gpuFragmentationAvg'] as const) {
        assert.ok(side[k] >= 0 && side[k] <= 1, `${k} in [0, 1]`);
      }
      assert.equal(side.timeline?.length, 10);
    }
    // The baseline cannot share a GPU: the two half-GPU pods hold two whole ones.
    assert.ok(result.fill.baseline.gpuOverAllocationAvg > 0);
    assert.equal(result.fill.gpuOverAllocationAvg, 0);
    assert.match(text, /fill: pods unplaced/);
  });

  it('names the file and line of a malformed pod list', () => {
    assert.throws(
      () => packingBench(join(dir, 'nodes.csv'), join(dir, 'vms.csv'), progress),
      /vms\.csv:1: expected a header with the columns name,cpu_milli/,
    );
  });
});

describe('colocation', () => {
  it('packs by requests and by predicted use on identical nodes', () => {
    const { result, text } = colocationBench(
      join(dir, 'vms.csv'),
      join(dir, 'usage.csv'),
      progress,
      {
        nodeCores: 8,
        nodeMemoryGiB: 32,
        trainHours: 6,
      },
    );
    const r = result as unknown as Record<string, unknown>;
    hasNumbers(r, COLOCATION_KEYS, 'candidate');
    hasNumbers(result.baseline as unknown as Record<string, unknown>, COLOCATION_KEYS, 'baseline');
    assert.equal(result.vms, 4, 'd ended before placement');
    assert.equal(result.baseline.vms, 4);
    // By requests: 4 + 2 + 8 + 2 = 16 cores on 8-core nodes -> at least 2 nodes.
    assert.ok(result.baseline.nodes >= 2);
    assert.ok(result.baseline.cpuRequestedPerCore <= 1, 'requests never overcommit');
    assert.ok(result.nodes >= 1 && result.nodes <= result.baseline.nodes);
    for (const side of [result, result.baseline]) {
      assert.ok(side.avgCpuUtilization > 0 && side.avgCpuUtilization <= 1);
      assert.ok(side.overloadedNodeHourShare >= 0 && side.overloadedNodeHourShare <= 1);
    }
    assert.equal(result.evaluationHours, 6);
    assert.match(text, /nodes needed/);
  });
});

describe('yunjian bench scheduler', () => {
  it('runs a benchmark from the command line and writes its JSON', async () => {
    let stdout = '';
    let stderr = '';
    const io: CliIo = {
      stdout: (s) => (stdout += s),
      stderr: (s) => (stderr += s),
      readStdin: async () => '',
      env: {},
      home: dir,
      now: () => 0,
      interrupted: () => new AbortController().signal,
    };
    const json = join(dir, 'out', 'colocation.json');
    const code = await run(
      [
        'bench',
        'scheduler',
        'colocation',
        '--vms',
        join(dir, 'vms.csv'),
        '--usage',
        join(dir, 'usage.csv'),
        '--node-cores',
        '8',
        '--node-memory-gib',
        '32',
        '--train-hours',
        '6',
        '--json',
        json,
      ],
      io,
    );
    assert.equal(code, 0, stderr);
    assert.match(stdout, /Colocation on real data/);
    assert.match(stderr, /colocation baseline: \d+ nodes/);
    const written = JSON.parse(await readFile(json, 'utf8'));
    assert.equal(written.benchmark, 'scheduler-colocation');
    assert.equal(typeof written.baseline.nodes, 'number');
    assert.equal(typeof written.nodes, 'number');
  });

  it('reports a missing input file by name', async () => {
    let stderr = '';
    const io: CliIo = {
      stdout: () => {},
      stderr: (s) => (stderr += s),
      readStdin: async () => '',
      env: {},
      home: dir,
      now: () => 0,
      interrupted: () => new AbortController().signal,
    };
    const code = await run(
      [
        'bench',
        'scheduler',
        'colocation',
        '--vms',
        join(dir, 'nope.csv'),
        '--json',
        join(dir, 'x.json'),
      ],
      io,
    );
    assert.equal(code, 1);
    assert.match(stderr, /nope\.csv: no such file/);
  });
});
