// The packing benchmark's inputs and protocols: pod lists without timing or
// GPU-model columns, finding every pod list under a folder, lists derived to
// name GPU models, and the leave protocol's calibration.
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  alibabaNodeInputs,
  baselinePlacer,
  LEAVE_PASSES,
  leaveScale,
  leaveStream,
  replay,
  withGpuSpecs,
} from '../src/bench/packing.ts';
import { packingBench } from '../src/bench/scheduler.ts';
import {
  findAlibabaPodLists,
  loadAlibabaNodes,
  loadAlibabaPodList,
  type AlibabaPod,
} from '../src/bench/traces.ts';

let dir: string;
const progress = () => undefined;
const NODES = [
  'sn,cpu_milli,memory_mib,gpu,model',
  'n-cpu,32000,131072,0,',
  'n-t4,16000,65536,2,T4',
  'n-v100,64000,262144,4,V100M16',
  'n-v32,64000,262144,8,V100M32',
].join('\n');

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'yunjian-packing-'));
  await mkdir(join(dir, 'a'));
  await mkdir(join(dir, 'b', 'deeper'), { recursive: true });
  await writeFile(join(dir, 'a', 'nodes.csv'), NODES);
  // No gpu_spec, no timing: file order is arrival order.
  await writeFile(
    join(dir, 'a', 'openb_pod_list_untimed.csv'),
    'name,cpu_milli,memory_mib,num_gpu,gpu_milli\nq0,4000,8192,1,1000\nq1,2000,4096,0,0\nq2,4000,8192,1,500\nq3,128000,1,0,0\n',
  );
  await writeFile(
    join(dir, 'b', 'deeper', 'openb_pod_list_untimed.csv'),
    'name,cpu_milli,memory_mib,num_gpu,gpu_milli\nr0,1000,1024,0,0\n',
  );
  await writeFile(join(dir, 'b', 'other.csv'), 'vm,cores,mem_mib\na,1,1\n');
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('pod lists', () => {
  it('a list without timing columns arrives in file order and never leaves', () => {
    const list = loadAlibabaPodList(join(dir, 'a', 'openb_pod_list_untimed.csv'));
    assert.equal(list.timed, false);
    assert.equal(list.podsNamingGpuModels, 0);
    assert.deepEqual(
      list.pods.map((p) => [p.creation, p.deletion, p.gpuModels.length]),
      [
        [0, Infinity, 0],
        [1, Infinity, 0],
        [2, Infinity, 0],
        [3, Infinity, 0],
      ],
    );
  });

  it('finds every pod list below the folder, each with its folder node list or the default', () => {
    const fallback = join(dir, 'default-nodes.csv');
    const found = findAlibabaPodLists(dir, fallback);
    assert.deepEqual(
      found.map((f) => [f.name, f.nodes]),
      [
        [join('a', 'untimed'), join(dir, 'a', 'nodes.csv')],
        [join('b', 'deeper', 'untimed'), fallback],
      ],
    );
  });

  it('an untimed list runs the fill protocol only', () => {
    const { result } = packingBench(
      join(dir, 'a', 'nodes.csv'),
      join(dir, 'a', 'openb_pod_list_untimed.csv'),
      progress,
      { samples: 4 },
    );
    assert.equal(result.timed, false);
    assert.equal(result.leave, undefined);
    assert.equal(result.trace, undefined);
    assert.equal(result.fill.pods, 4);
    assert.equal(result.fill.unplaced, 1, 'the 128-core pod fits nowhere');
    assert.equal(result.fill.baseline.unplaced, 1);
    assert.equal(result.fill.ratios.unplaced, 1);
  });
});

describe('derived GPU specs', () => {
  const nodes = () => loadAlibabaNodes(join(dir, 'a', 'nodes.csv'));
  const gpuPod = (name: string, numGpu: number, cpuMilli = 1000): AlibabaPod => ({
    name,
    cpuMilli,
    memoryMiB: 1024,
    numGpu,
    gpuMilli: 1000,
    gpuModels: [],
    qos: 'LS',
    phase: 'Running',
    creation: 0,
    deletion: Infinity,
    scheduled: 0,
  });
  const pods = [
    gpuPod('one', 1),
    gpuPod('four', 4),
    gpuPod('eight', 8),
    gpuPod('big', 1, 32000),
    { ...gpuPod('cpu', 0), gpuMilli: 0 },
    gpuPod('none-can', 16),
  ];

  it('names only models with a node that could hold the pod; CPU pods and impossible pods stay', () => {
    const out = withGpuSpecs(pods, nodes(), 1, 7);
    const canHold: Record<string, string[]> = {
      one: ['T4', 'V100M16', 'V100M32'],
      four: ['V100M16', 'V100M32'],
      eight: ['V100M32'],
      big: ['V100M16', 'V100M32'],
    };
    for (const p of out) {
      const allowed = canHold[p.name];
      if (allowed === undefined) assert.deepEqual(p.gpuModels, [], p.name);
      else {
        assert.ok(p.gpuModels.length >= 1 && p.gpuModels.length <= 2, p.name);
        assert.equal(new Set(p.gpuModels).size, p.gpuModels.length, `${p.name}: no repeats`);
        for (const m of p.gpuModels) assert.ok(allowed.includes(m), `${p.name} may not name ${m}`);
      }
    }
    assert.deepEqual(withGpuSpecs(pods, nodes(), 1, 7), out, 'the same seed, the same list');
    assert.deepEqual(withGpuSpecs(pods, nodes(), 0, 7), pods, 'share 0 changes nothing');
  });
});

describe('leave protocol', () => {
  // Pods of 1 GPU living 10 s each in trace time, arriving one per clock unit.
  const pods: AlibabaPod[] = Array.from({ length: 50 }, (_, i) => ({
    name: `p${i}`,
    cpuMilli: 1000,
    memoryMiB: 1024,
    numGpu: 1,
    gpuMilli: 1000,
    gpuModels: [],
    qos: 'LS',
    phase: 'Running',
    creation: i * 100,
    deletion: i * 100 + 10,
    scheduled: i * 100,
  }));

  const cases: { load: number; capGpus: number; inFlight: number }[] = [
    { load: 1, capGpus: 4, inFlight: 4 },
    { load: 0.5, capGpus: 8, inFlight: 4 },
    { load: 2, capGpus: 5, inFlight: 10 },
  ];
  for (const c of cases) {
    it(`load ${c.load} on ${c.capGpus} GPUs: each pod lives ${c.inFlight} arrivals`, () => {
      const scale = leaveScale(pods, c.capGpus * 1000, c.load);
      // Counted just after each arrival, a pod leaving within k arrivals is in
      // flight at k of them: the offered load is met with the shortest such life.
      assert.equal(Math.ceil(scale * 10), c.inFlight, `lifetime ${scale * 10}`);
      assert.ok(scale * 10 > c.inFlight - 1);
      const stream = leaveStream(pods, scale);
      assert.equal(stream.length, pods.length * LEAVE_PASSES);
      assert.deepEqual(
        stream.slice(0, 2).map((p) => p.creation),
        [0, 1],
      );
    });
  }

  it('no pod ever leaves: no factor', () => {
    assert.equal(
      leaveScale(
        pods.map((p) => ({ ...p, deletion: Infinity })),
        4000,
        1,
      ),
      0,
    );
  });

  it('replays every pass and keeps the cluster at the offered load', () => {
    const inputs = alibabaNodeInputs(loadAlibabaNodes(join(dir, 'a', 'nodes.csv')));
    const side = replay(inputs, pods, (s) => baselinePlacer(s, 1), {
      timing: 'leave',
      load: 0.5,
      samples: 5,
    });
    assert.equal(side.pods, pods.length * LEAVE_PASSES);
    assert.equal(side.unplaced, 0);
    assert.equal(side.overCapacity, 0);
    // 14 GPUs: 7 in flight just after each arrival, 6 once the oldest left.
    assert.ok(
      side.gpuAllocationAvg >= 6 / 14 - 1e-9 && side.gpuAllocationAvg <= 7 / 14 + 1e-9,
      `avg ${side.gpuAllocationAvg}`,
    );
    assert.equal(side.gpuHeldMinMeasured, 6 / 14);
  });
});
