// Node placement in the sim twin is the scheduler's: the same NodePlacer, so
// the twin honours maxReplicasPerNode and anti-affinity, shares GPUs best-fit,
// and reports nodes the scheduler can read back. The controller's workloads
// carry those limits.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { testWorkload } from '../src/drivers/conformance.ts';
import { SimFleet } from '../src/drivers/sim/index.ts';
import { workloadFor } from '../src/controllers/application/workloads.ts';
import type { Application, Cluster, SimNodePool } from '../src/model/schema.ts';
import { snapshotFromResources } from '../src/scheduler/index.ts';
import { schedule } from '../src/scheduler/index.ts';
import { appRequest } from '../src/scheduler/index.ts';

function cluster(name: string, pools: SimNodePool[]): Cluster {
  return {
    apiVersion: 'yunjian.io/v1alpha1',
    kind: 'Cluster',
    metadata: { name },
    spec: { cloud: 'lab', site: 'lab-1', driver: { type: 'sim', sim: { nodePools: pools } } },
    status: { conditions: [{ type: 'Ready', status: 'True' }] },
  };
}
const x86 = (count: number): SimNodePool => ({
  name: 'x86',
  count,
  arch: 'amd64',
  cpu: 8,
  memory: '32Gi',
});
const key = (component: string) => ({ namespace: 'default', app: 'shop', component });

describe('sim node placement', () => {
  it('honours maxReplicasPerNode', async () => {
    const fleet = new SimFleet({ now: () => 0 });
    fleet.upsertCluster(cluster('c1', [x86(3)]));
    const d = fleet.driverFor('c1');
    await d.applyWorkload(
      testWorkload({ key: key('web'), replicas: 5, cpuMillis: 100, maxReplicasPerNode: 2 }),
    );
    const [w] = await d.listWorkloads();
    assert.equal(w?.scheduled, 5);
    assert.deepEqual(
      fleet.nodes('c1').map((n) => n.allocated.pods),
      [2, 2, 1],
    );
    await d.applyWorkload(
      testWorkload({ key: key('web'), replicas: 7, cpuMillis: 100, maxReplicasPerNode: 2 }),
    );
    const [more] = await d.listWorkloads();
    assert.equal(more?.scheduled, 6);
    assert.match(
      more?.message ?? '',
      /1 of 7 replicas unschedulable: 3 nodes at the per-node limit/,
    );
  });

  it('keeps anti-affine components of one app on different nodes', async () => {
    const fleet = new SimFleet({ now: () => 0 });
    fleet.upsertCluster(cluster('c1', [x86(4)]));
    const d = fleet.driverFor('c1');
    const spec = (component: string) =>
      testWorkload({
        key: key(component),
        replicas: 2,
        cpuMillis: 100,
        maxReplicasPerNode: 1,
        antiAffinity: ['cache', 'db'],
      });
    await d.applyWorkload(spec('db'));
    await d.applyWorkload(spec('cache'));
    assert.deepEqual(
      fleet.nodes('c1').map((n) => n.allocated.pods),
      [1, 1, 1, 1],
    );
  });

  it('reports per-GPU use that a snapshot reads back exactly', async () => {
    const fleet = new SimFleet({ now: () => 0 });
    const c = cluster('g1', [
      { name: 'a100', count: 1, arch: 'amd64', cpu: 96, memory: '1Ti', gpu: 4, gpuModel: 'A100' },
    ]);
    fleet.upsertCluster(c);
    const d = fleet.driverFor('g1');
    await d.applyWorkload(testWorkload({ key: key('infer'), replicas: 3, gpu: 0.3 }));
    await d.applyWorkload(testWorkload({ key: key('train'), replicas: 1, gpu: 2 }));
    const nodes = await d.nodes();
    assert.deepEqual(nodes[0]?.gpuUsedMilli, [900, 1000, 1000, 0]);
    const snap = snapshotFromResources({ clusters: [c], sites: [], nodes: () => nodes });
    assert.equal(snap.nodes.gpuWhole[0], 1);
    assert.equal(snap.nodes.gpuFreeTotal[0], 1100);
  });

  it('places what the scheduler plans: the scheduler and the twin agree node by node', async () => {
    const fleet = new SimFleet({ now: () => 0 });
    const c = cluster('c1', [
      x86(2),
      { name: 'big', count: 2, arch: 'amd64', cpu: 32, memory: '128Gi' },
    ]);
    fleet.upsertCluster(c);
    const app: Application = {
      apiVersion: 'yunjian.io/v1alpha1',
      kind: 'Application',
      metadata: { name: 'shop', namespace: 'default' },
      spec: {
        components: [
          { name: 'web', image: 'web:1', replicas: 9, resources: { cpu: '3', memory: '1Gi' } },
        ],
        placement: { maxReplicasPerNode: 4 },
      },
    };
    const snap = snapshotFromResources({
      clusters: [c],
      sites: [],
      nodes: () => fleet.nodes('c1'),
    });
    const plan = schedule(snap, [appRequest(app)], { seed: 1 });
    const a = plan.plans[0]!.components[0]!.assignments[0]!;
    const planned = new Array<number>(4).fill(0);
    for (const i of a.nodes) planned[i]!++;
    await fleet
      .driverFor('c1')
      .applyWorkload(workloadFor(app, app.spec.components[0]!, c, a.replicas));
    assert.deepEqual(
      fleet.nodes('c1').map((n) => n.allocated.pods),
      planned,
    );
  });
});

describe('workloads carry node limits', () => {
  const c = cluster('c1', [x86(1)]);
  const base: Application = {
    apiVersion: 'yunjian.io/v1alpha1',
    kind: 'Application',
    metadata: { name: 'shop', namespace: 'default' },
    spec: {
      components: [
        { name: 'web', image: 'web:1', replicas: 2 },
        { name: 'db', image: 'db:1', replicas: 2 },
      ],
    },
  };
  it('leaves them out (and the hash as it was) when the app sets none', () => {
    const w = workloadFor(base, base.spec.components[0]!, c, 2);
    assert.equal('maxReplicasPerNode' in w, false);
    assert.equal('antiAffinity' in w, false);
  });
  it('maps placement.maxReplicasPerNode and antiAffinity groups', () => {
    const app: Application = {
      ...base,
      spec: {
        ...base.spec,
        placement: { maxReplicasPerNode: 3, antiAffinity: [{ components: ['db'] }] },
      },
    };
    const web = workloadFor(app, app.spec.components[0]!, c, 2);
    const db = workloadFor(app, app.spec.components[1]!, c, 2);
    assert.deepEqual([web.maxReplicasPerNode, web.antiAffinity], [3, undefined]);
    assert.deepEqual([db.maxReplicasPerNode, db.antiAffinity], [1, ['db']]);
  });
});
