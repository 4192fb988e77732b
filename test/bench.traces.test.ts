// Trace loaders: the formats of the Alibaba GPU 2023 and Bitbrains files, and
// errors that name the file and the line.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  loadAlibabaNodes,
  loadAlibabaPods,
  loadBitbrains,
  sortByCreation,
} from '../src/bench/traces.ts';

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'yunjian-traces-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function file(name: string, text: string): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, text);
  return path;
}

const POD_HEADER =
  'name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec,qos,pod_phase,creation_time,deletion_time,scheduled_time';

describe('Alibaba GPU 2023', () => {
  it('reads nodes; a CPU node has no model', async () => {
    const p = await file(
      'n.csv',
      'sn,cpu_milli,memory_mib,gpu,model\na,32000,262144,0,\nb,96000,786432,8,G2\n',
    );
    assert.deepEqual(loadAlibabaNodes(p), [
      { name: 'a', cpuMilli: 32000, memoryMiB: 262144, gpus: 0, model: undefined },
      { name: 'b', cpuMilli: 96000, memoryMiB: 786432, gpus: 8, model: 'G2' },
    ]);
  });

  it('reads pods: GPU model lists, empty scheduled time, and sorts by creation (stable)', async () => {
    const p = await file(
      'p.csv',
      `${POD_HEADER}\nx,1000,512,1,500,V100M16|V100M32,LS,Running,20,30,20\ny,1000,512,0,0,,BE,Pending,10,11,\nz,1,1,0,0,,BE,Running,10,40,10\n`,
    );
    const pods = loadAlibabaPods(p);
    assert.deepEqual(pods[0]!.gpuModels, ['V100M16', 'V100M32']);
    assert.equal(pods[1]!.scheduled, undefined);
    assert.equal(pods[1]!.gpuModels.length, 0);
    assert.deepEqual(
      sortByCreation(pods).map((q) => q.name),
      ['y', 'z', 'x'],
    );
  });

  const bad: [name: string, text: string, error: RegExp][] = [
    ['empty', '', /empty\.csv:1: .*the file is empty/],
    [
      'missing column',
      'sn,cpu_milli,gpu,model\na,1,0,\n',
      /missing column\.csv:1: .*missing memory_mib/,
    ],
    [
      'not a number',
      'sn,cpu_milli,memory_mib,gpu,model\na,1,x,0,\n',
      /not a number\.csv:2: memory_mib must be/,
    ],
    [
      'negative',
      'sn,cpu_milli,memory_mib,gpu,model\na,-1,1,0,\n',
      /negative\.csv:2: cpu_milli must be/,
    ],
    [
      'gpu without model',
      'sn,cpu_milli,memory_mib,gpu,model\na,1,1\nb,1,1,2,\n',
      /gpu without model\.csv:2: expected 5 fields/,
    ],
    [
      'model missing',
      'sn,cpu_milli,memory_mib,gpu,model\nb,1,1,2,\n',
      /model missing\.csv:2: a node with 2 GPUs needs a model/,
    ],
  ];
  for (const [name, text, error] of bad) {
    it(`node list: ${name}`, async () => {
      const p = await file(`${name}.csv`, text);
      assert.throws(() => loadAlibabaNodes(p), error);
    });
  }

  const badPods: [name: string, line: string, error: RegExp][] = [
    [
      'share of several GPUs',
      'x,1,1,2,500,,LS,Running,0,1,0',
      /:2: a share of a GPU .* needs num_gpu = 1/,
    ],
    [
      'deleted before created',
      'x,1,1,0,0,,LS,Running,5,1,0',
      /:2: deletion_time is before creation_time/,
    ],
    ['gpu_milli over 1000', 'x,1,1,1,1500,,LS,Running,0,1,0', /:2: gpu_milli is per GPU/],
    [
      'GPUs without milli',
      'x,1,1,1,0,,LS,Running,0,1,0',
      /:2: a pod with num_gpu > 0 needs gpu_milli > 0/,
    ],
  ];
  for (const [name, line, error] of badPods) {
    it(`pod list: ${name}`, async () => {
      const p = await file(`${name}.csv`, `${POD_HEADER}\n${line}\n`);
      assert.throws(() => loadAlibabaPods(p), error);
    });
  }

  it('a missing file is named', () => {
    assert.throws(() => loadAlibabaNodes(join(dir, 'absent.csv')), /absent\.csv: no such file/);
  });
});

describe('Bitbrains', () => {
  it('reads VMs and hourly usage into per-VM hour columns', async () => {
    const vms = await file('vms.csv', 'vm,cores,mem_mib\nbb-1,2,8192\nbb-2,1,1024\n');
    const usage = await file(
      'usage.csv',
      'vm,hour,cpu_cores_avg,cpu_cores_max,mem_mib_avg\nbb-1,0,0.5,1.0,100\nbb-2,2,0.1,0.3,50\n',
    );
    const t = loadBitbrains(vms, usage);
    assert.equal(t.hours, 3);
    assert.equal(t.vms.length, 2);
    assert.deepEqual([...t.present], [1, 0, 0, 0, 0, 1]);
    assert.equal(t.cpuMax[0], 1.0);
    assert.equal(t.cpuAvg[5], 0.1);
    assert.equal(t.memAvgMiB[5], 50);
  });

  it('rejects usage of an unknown VM, a peak below the average and a duplicate hour', async () => {
    const vms = await file('v2.csv', 'vm,cores,mem_mib\nbb-1,2,8192\n');
    const h = 'vm,hour,cpu_cores_avg,cpu_cores_max,mem_mib_avg\n';
    const unknown = await file('u1.csv', `${h}bb-9,0,0.1,0.2,1\n`);
    assert.throws(() => loadBitbrains(vms, unknown), /u1\.csv:2: VM bb-9 is not in .*v2\.csv/);
    const low = await file('u2.csv', `${h}bb-1,0,0.5,0.2,1\n`);
    assert.throws(() => loadBitbrains(vms, low), /u2\.csv:2: cpu_cores_max is below cpu_cores_avg/);
    const twice = await file('u3.csv', `${h}bb-1,0,0.1,0.2,1\nbb-1,0,0.1,0.2,1\n`);
    assert.throws(() => loadBitbrains(vms, twice), /u3\.csv: VM bb-1 has two samples for hour 0/);
    const zero = await file('v3.csv', 'vm,cores,mem_mib\nbb-1,0,8192\n');
    assert.throws(() => loadBitbrains(zero, unknown), /v3\.csv:2: cores must be > 0/);
  });
});
