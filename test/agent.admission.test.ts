// Admission on the agent's one-node host, table-driven: what each workload
// gets, why the rest does not fit, and that running replicas are kept before
// anything grows.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { admit } from '../src/agent/admission.ts';
import type { DesiredWorkload, HostInfo } from '../src/agent/protocol.ts';
import type { WorkloadResourceSpec } from '../src/model/schema.ts';

const host: HostInfo = {
  hostname: 'h',
  address: '127.0.0.1',
  apiPort: 9000,
  arch: 'amd64',
  cpu: 4,
  memory: 8 * 2 ** 30,
  pods: 10,
};

function workload(name: string, over: Partial<WorkloadResourceSpec> = {}): DesiredWorkload {
  return {
    name,
    spec: {
      cluster: 'c',
      key: { namespace: 'n', app: name, component: 'w' },
      hash: 'h',
      image: 'i',
      replicas: 1,
      architectures: ['amd64'],
      cpuMillis: 1000,
      memoryBytes: 2 ** 20,
      gpu: 0,
      ports: [],
      env: {},
      command: ['/bin/true'],
      args: [],
      ...over,
    },
  };
}

describe('admit', () => {
  const cases: {
    name: string;
    desired: DesiredWorkload[];
    running?: Record<string, number>;
    want: Record<string, number>;
    messages?: Record<string, RegExp>;
  }[] = [
    {
      name: 'everything that fits',
      desired: [workload('a', { replicas: 2 }), workload('b', { replicas: 2 })],
      want: { a: 2, b: 2 },
    },
    {
      name: 'cpu runs out in name order on a fresh agent',
      desired: [workload('b', { replicas: 2 }), workload('a', { replicas: 3 })],
      want: { a: 3, b: 1 },
      messages: { b: /^1 replicas unschedulable: insufficient cpu$/ },
    },
    {
      name: 'running replicas are kept: a growing workload takes only what is free',
      desired: [workload('a', { replicas: 4 }), workload('b', { replicas: 2 })],
      running: { a: 1, b: 2 },
      want: { a: 2, b: 2 },
      messages: { a: /^2 replicas unschedulable: insufficient cpu$/ },
    },
    {
      name: 'a spec that grew keeps only what still fits',
      desired: [workload('a', { replicas: 3, cpuMillis: 2000 })],
      running: { a: 3 },
      want: { a: 2 },
      messages: { a: /insufficient cpu/ },
    },
    {
      name: 'memory',
      desired: [workload('a', { replicas: 3, memoryBytes: 3 * 2 ** 30, cpuMillis: 0 })],
      want: { a: 2 },
      messages: { a: /insufficient memory/ },
    },
    {
      name: 'pods',
      desired: [workload('a', { replicas: 12, cpuMillis: 0 })],
      want: { a: 10 },
      messages: { a: /^2 replicas unschedulable: insufficient pods$/ },
    },
    {
      name: 'maxReplicasPerNode counts kept replicas too',
      desired: [workload('a', { replicas: 3, maxReplicasPerNode: 2 })],
      running: { a: 1 },
      want: { a: 2 },
      messages: { a: /at most 2 per node on this one-node cluster/ },
    },
    {
      name: 'architecture, gpu and command are refused whole',
      desired: [
        workload('arm', { architectures: ['arm64'] }),
        workload('gpu', { gpu: 1 }),
        workload('image', { command: [] }),
      ],
      want: { arm: 0, gpu: 0, image: 0 },
      messages: {
        arm: /no node of architecture arm64 \(this host is amd64\)/,
        gpu: /insufficient gpu/,
        image: /has no command/,
      },
    },
    {
      name: 'zero replicas say nothing',
      desired: [workload('a', { replicas: 0, architectures: ['arm64'] })],
      want: { a: 0 },
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const out = admit(c.desired, host, new Map(Object.entries(c.running ?? {})));
      assert.deepEqual(Object.fromEntries([...out].map(([n, a]) => [n, a.count])), c.want);
      for (const [name, a] of out) {
        const m = c.messages?.[name];
        if (m) assert.match(a.message ?? '', m);
        else assert.equal(a.message, undefined, `${name}: ${a.message ?? ''}`);
      }
    });
  }
});
