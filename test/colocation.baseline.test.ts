// The colocation benchmark's usage-aware baseline: the default scheduler's
// algorithm on requests set to the p95 of each VM's training-hour use, and
// the rule the candidate is judged by against it.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  baselineVmPlacer,
  beats,
  colocate,
  usageAwareRequest,
  usageAwareVmPlacer,
  type ColocationSide,
  type ColocationVm,
} from '../src/bench/colocation.ts';
import type { BitbrainsTrace } from '../src/bench/traces.ts';

/** A VM asking for `cores` with the given hourly average use (undefined: no sample that hour). */
function vm(cores: number, memoryMiB: number, use: (number | undefined)[]): ColocationVm {
  return {
    name: 'vm',
    index: 0,
    request: { cpuMilli: cores * 1000, memoryMiB, gpuCount: 0, gpuMilli: 0 },
    history: {
      present: Uint8Array.from(use, (u) => (u === undefined ? 0 : 1)),
      cpuAvg: Float64Array.from(use, (u) => u ?? 0),
      cpuMax: Float64Array.from(use, (u) => 2 * (u ?? 0)),
      memAvgMiB: Float64Array.from(use, (u) => (u === undefined ? 0 : 100 * u)),
    },
  };
}

describe('usageAwareRequest: p95 of the sampled training hours', () => {
  const twenty = Array.from({ length: 20 }, (_, i) => (i + 1) / 10);
  const cases = [
    {
      name: 'twenty samples: the 19th smallest',
      vm: vm(4, 8192, twenty),
      cpuMilli: 1900,
      memoryMiB: 190,
    },
    {
      name: 'unsampled hours are left out, not counted as 0',
      vm: vm(4, 8192, [undefined, 2, undefined, 3]),
      cpuMilli: 3000,
      memoryMiB: 300,
    },
    {
      name: 'an idle VM still requests 1m and 1 MiB',
      vm: vm(4, 8192, [0, 0, 0]),
      cpuMilli: 1,
      memoryMiB: 1,
    },
    {
      name: 'a VM never sampled keeps its request',
      vm: vm(4, 8192, [undefined, undefined]),
      cpuMilli: 4000,
      memoryMiB: 8192,
    },
  ];
  for (const c of cases)
    it(c.name, () => {
      const r = usageAwareRequest(c.vm);
      assert.equal(r.cpuMilli, c.cpuMilli);
      assert.equal(r.memoryMiB, c.memoryMiB);
    });
});

describe('beats: fewer nodes, or as many with fewer overloaded node-hours', () => {
  const side = (nodes: number, overloadedNodeHourShare: number): ColocationSide => ({
    nodes,
    vms: 10,
    avgCpuUtilization: 0.2,
    overloadedNodeHourShare,
    maxNodePeakUtilization: 1,
    avgMemoryUtilization: 0.1,
    memoryOverloadedNodeHourShare: 0,
    cpuRequestedPerCore: 1,
    seconds: 0,
  });
  const cases = [
    { name: 'fewer nodes, more overload', candidate: side(12, 0.02), baseline: side(13, 0.01) },
    { name: 'same nodes, less overload', candidate: side(13, 0.0078), baseline: side(13, 0.0149) },
    {
      name: 'same nodes, same overload',
      candidate: side(13, 0.01),
      baseline: side(13, 0.01),
      want: false,
    },
    { name: 'more nodes', candidate: side(14, 0), baseline: side(13, 0.05), want: false },
  ];
  for (const c of cases)
    it(c.name, () => assert.equal(beats(c.candidate, c.baseline), c.want ?? true));
});

describe('the usage-aware baseline on a trace', () => {
  // Eight 4-core VMs that use 0.5 core every hour: 32 requested cores, 4 used.
  const vms = 8;
  const hours = 10;
  const trace: BitbrainsTrace = {
    vms: Array.from({ length: vms }, (_, i) => ({ name: `vm-${i}`, cores: 4, memoryMiB: 1024 })),
    hours,
    present: new Uint8Array(vms * hours).fill(1),
    cpuAvg: new Float64Array(vms * hours).fill(0.5),
    cpuMax: new Float64Array(vms * hours).fill(0.6),
    memAvgMiB: new Float64Array(vms * hours).fill(256),
  };
  const options = { nodeCores: 8, nodeMemoryGiB: 64, trainHours: 5 };

  it('places by use where the request baseline places by requests', () => {
    const byRequests = colocate(trace, baselineVmPlacer(1), options);
    const byUse = colocate(trace, usageAwareVmPlacer(1), options);
    assert.equal(byRequests.nodes, 4, '32 requested cores on 8-core nodes');
    assert.equal(byUse.nodes, 1, '8 x 500m of use fits one 8-core node');
    assert.equal(byUse.vms, vms);
    assert.equal(byUse.overloadedNodeHourShare, 0, 'peaks 8 x 0.6 = 4.8 of 8 cores');
  });
});
