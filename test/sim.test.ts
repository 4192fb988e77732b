// The digital twin beyond the shared driver contract: first-fit placement and
// its explanations, start-up latency, API throttling, faults at every scope,
// re-shaping clusters, and a 10M-core fleet.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { testWorkload } from '../src/drivers/conformance.ts';
import { SimFleet, type FaultScope, type SimFleetOptions } from '../src/drivers/sim/index.ts';
import type { WorkloadKey } from '../src/drivers/types.ts';
import { fleetSummary, generateDemoFleet, scaleForCores } from '../src/fleet/index.ts';
import {
  BadRequestError,
  NotFoundError,
  TooManyRequestsError,
  UnavailableError,
} from '../src/model/errors.ts';
import type { Cluster, SimNodePool } from '../src/model/schema.ts';

const GiB = 2 ** 30;

function cluster(
  name: string,
  pools: SimNodePool[],
  at: { cloud?: string; site?: string } = {},
  extra: { startupSeconds?: number; apiQps?: number; apiBurst?: number } = {},
): Cluster {
  return {
    apiVersion: 'yunjian.io/v1alpha1',
    kind: 'Cluster',
    metadata: { name },
    spec: {
      cloud: at.cloud ?? 'aws',
      site: at.site ?? 'aws-us-east-1',
      driver: { type: 'sim', sim: { nodePools: pools, ...extra } },
    },
  };
}

const x86 = (count: number, cpu = 4, memory = '16Gi'): SimNodePool => ({
  name: 'x86',
  count,
  arch: 'amd64',
  cpu,
  memory,
});
const arm = (count: number, cpu = 4): SimNodePool => ({
  name: 'arm',
  count,
  arch: 'arm64',
  cpu,
  memory: '16Gi',
});

function setup(options: SimFleetOptions = {}) {
  const clock = { t: 1_000_000 };
  const fleet = new SimFleet({ now: () => clock.t, ...options });
  return { fleet, clock, advance: (ms: number) => (clock.t += ms) };
}

const key = (component: string): WorkloadKey => ({ namespace: 'default', app: 'shop', component });

void describe('placement', () => {
  void test('first-fit fills nodes in pool order, then index order', async () => {
    const { fleet } = setup();
    fleet.upsertCluster(
      cluster('c1', [x86(2), { name: 'big', count: 1, arch: 'amd64', cpu: 8, memory: '32Gi' }]),
    );
    const d = fleet.driverFor('c1');
    await d.applyWorkload(
      testWorkload({ key: key('a'), replicas: 3, cpuMillis: 3000, architectures: ['amd64'] }),
    );
    await d.applyWorkload(
      testWorkload({ key: key('b'), replicas: 2, cpuMillis: 1000, architectures: ['amd64'] }),
    );
    const used = fleet.nodes('c1').map((n) => [n.name, n.allocated.cpu, n.allocated.pods]);
    assert.deepEqual(used, [
      ['c1-x86-0', 4, 2],
      ['c1-x86-1', 4, 2],
      ['c1-big-0', 3, 1],
    ]);
  });

  void test('replicas that do not fit stay pending, and the message says why', async () => {
    const { fleet } = setup();
    fleet.upsertCluster(cluster('c1', [x86(3), arm(2)]));
    const d = fleet.driverFor('c1');
    await d.applyWorkload(
      testWorkload({ key: key('web'), replicas: 5, cpuMillis: 3000, architectures: ['amd64'] }),
    );
    const [w] = await d.listWorkloads();
    assert.equal(w?.scheduled, 3);
    assert.equal(
      w?.message,
      "2 of 5 replicas unschedulable: insufficient cpu on 3 amd64 nodes; 2 arm64 nodes not in the image's architectures (amd64); 3 of 5 replicas starting",
    );
    const inv = await d.inventory();
    assert.equal(inv.allocated.cpu, 9);
  });

  void test('a workload for an architecture the cluster lacks is not scheduled', async () => {
    const { fleet } = setup();
    fleet.upsertCluster(cluster('c1', [x86(2)]));
    const d = fleet.driverFor('c1');
    await d.applyWorkload(
      testWorkload({ key: key('rv'), replicas: 2, architectures: ['riscv64'] }),
    );
    const [w] = await d.listWorkloads();
    assert.equal(w?.scheduled, 0);
    assert.equal(
      w?.message,
      "2 of 2 replicas unschedulable: 2 amd64 nodes not in the image's architectures (riscv64)",
    );
  });

  void test('memory and pod limits are respected', async () => {
    const { fleet } = setup();
    fleet.upsertCluster(
      cluster('c1', [
        { name: 'small', count: 2, arch: 'amd64', cpu: 64, memory: '8Gi', maxPods: 3 },
      ]),
    );
    const d = fleet.driverFor('c1');
    await d.applyWorkload(
      testWorkload({ key: key('mem'), replicas: 3, cpuMillis: 100, memoryBytes: 3 * GiB }),
    );
    await d.applyWorkload(
      testWorkload({ key: key('tiny'), replicas: 10, cpuMillis: 10, memoryBytes: 0 }),
    );
    const byKey = new Map((await d.listWorkloads()).map((w) => [w.key.component, w]));
    assert.equal(byKey.get('mem')?.scheduled, 3); // 2 on node 0, 1 on node 1
    assert.equal(byKey.get('tiny')?.scheduled, 3); // 1 pod slot left on node 0, 2 on node 1
    assert.match(
      byKey.get('tiny')?.message ?? '',
      /^7 of 10 replicas unschedulable: insufficient pods on 2 amd64 nodes/,
    );
  });

  void test('GPU requests match the model and may be fractional', async () => {
    const { fleet } = setup();
    fleet.upsertCluster(
      cluster('gpu', [
        { name: 't4', count: 1, arch: 'amd64', cpu: 16, memory: '64Gi', gpu: 1, gpuModel: 'T4' },
        { name: 'a100', count: 2, arch: 'amd64', cpu: 96, memory: '1Ti', gpu: 8, gpuModel: 'A100' },
      ]),
    );
    const d = fleet.driverFor('gpu');
    await d.applyWorkload(
      testWorkload({ key: key('train'), replicas: 2, cpuMillis: 8000, gpu: 8, gpuModel: 'A100' }),
    );
    await d.applyWorkload(testWorkload({ key: key('infer'), replicas: 2, gpu: 0.5 }));
    await d.applyWorkload(
      testWorkload({ key: key('h100'), replicas: 1, gpu: 1, gpuModel: 'H100' }),
    );
    const nodes = fleet.nodes('gpu');
    assert.deepEqual(
      nodes.map((n) => [n.name, n.gpuModel, n.allocated.gpu]),
      [
        ['gpu-t4-0', 'T4', 1],
        ['gpu-a100-0', 'A100', 8],
        ['gpu-a100-1', 'A100', 8],
      ],
    );
    const byKey = new Map((await d.listWorkloads()).map((w) => [w.key.component, w]));
    assert.equal(
      byKey.get('h100')?.message,
      '1 of 1 replica unschedulable: 3 nodes without GPU model H100',
    );
    const inv = await d.inventory();
    assert.deepEqual(inv.gpuModels, { T4: 1, A100: 16 });
    assert.equal(inv.allocated.gpu, 17);
  });

  void test('invalid workload specs are rejected', async () => {
    const { fleet } = setup();
    fleet.upsertCluster(cluster('c1', [x86(1)]));
    const d = fleet.driverFor('c1');
    await assert.rejects(
      d.applyWorkload(testWorkload({ key: key('x'), architectures: [] })),
      BadRequestError,
    );
    await assert.rejects(
      d.applyWorkload(testWorkload({ key: key('x'), replicas: -1 })),
      /replicas must be an integer >= 0/,
    );
  });
});

void describe('replica lifecycle', () => {
  void test('replicas are ready startupSeconds after placement; a fleet override wins', async () => {
    const { fleet, advance } = setup();
    fleet.upsertCluster(cluster('slow', [x86(2)], {}, { startupSeconds: 10 }));
    const d = fleet.driverFor('slow');
    await d.applyWorkload(testWorkload({ key: key('web'), replicas: 2 }));
    advance(9_999);
    assert.equal((await d.listWorkloads())[0]?.ready, 0);
    advance(1);
    assert.equal((await d.listWorkloads())[0]?.ready, 2);

    const instant = setup({ startupSeconds: 0 });
    instant.fleet.upsertCluster(cluster('slow', [x86(2)], {}, { startupSeconds: 10 }));
    const i = instant.fleet.driverFor('slow');
    await i.applyWorkload(testWorkload({ key: key('web'), replicas: 2 }));
    assert.equal((await i.listWorkloads())[0]?.ready, 2);
  });

  void test('the default start-up time is 3 seconds', async () => {
    const { fleet, advance } = setup();
    fleet.upsertCluster(cluster('c1', [x86(1)]));
    const d = fleet.driverFor('c1');
    await d.applyWorkload(testWorkload({ key: key('web'), replicas: 1 }));
    advance(2_999);
    assert.equal((await d.listWorkloads())[0]?.ready, 0);
    advance(1);
    assert.equal((await d.listWorkloads())[0]?.ready, 1);
  });

  void test('scaling down removes starting replicas before ready ones', async () => {
    const { fleet, advance } = setup();
    fleet.upsertCluster(cluster('c1', [x86(4)]));
    const d = fleet.driverFor('c1');
    await d.applyWorkload(testWorkload({ key: key('web'), replicas: 2 }));
    advance(3_000);
    await d.applyWorkload(testWorkload({ key: key('web'), replicas: 4 }));
    await d.applyWorkload(testWorkload({ key: key('web'), replicas: 2 }));
    const [w] = await d.listWorkloads();
    assert.deepEqual([w?.scheduled, w?.ready], [2, 2]);
  });

  void test('a rolling update keeps serving replicas ready while the new version starts', async () => {
    const { fleet, advance } = setup();
    fleet.upsertCluster(cluster('c1', [x86(4)]));
    const d = fleet.driverFor('c1');
    await d.applyWorkload(testWorkload({ key: key('web'), replicas: 2 }));
    advance(3_000);
    await d.applyWorkload(testWorkload({ key: key('web'), replicas: 3, image: 'web:2' }));
    const [w] = await d.listWorkloads();
    assert.deepEqual([w?.scheduled, w?.ready], [3, 2]);
    advance(3_000);
    assert.equal((await d.listWorkloads())[0]?.ready, 3);
  });
});

void describe('API throttling', () => {
  void test('calls over the burst are refused with a retry delay until tokens refill', async () => {
    const { fleet, advance } = setup();
    fleet.upsertCluster(cluster('c1', [x86(1)], {}, { apiQps: 10, apiBurst: 3 }));
    const d = fleet.driverFor('c1');
    for (let i = 0; i < 3; i++) await d.listWorkloads();
    const err = await d.inventory().then(
      () => assert.fail('the 4th call in a burst of 3 is throttled'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof TooManyRequestsError);
    assert.equal(err.details.retryAfterSeconds, 0.1);
    assert.equal(err.retryable, true);
    assert.match(err.message, /cluster "c1" API rate limit exceeded \(10 requests\/s, burst 3\)/);
    advance(100);
    await d.listWorkloads();
    await assert.rejects(d.listWorkloads(), TooManyRequestsError);
  });

  void test('buckets are per cluster, close() is free, and apiQps Infinity disables throttling', async () => {
    const { fleet } = setup({ apiBurst: 1 });
    fleet.upsertCluster(cluster('a', [x86(1)]));
    fleet.upsertCluster(cluster('b', [x86(1)]));
    await fleet.driverFor('a').listWorkloads();
    await fleet.driverFor('b').listWorkloads();
    await fleet.driverFor('a').close();
    await assert.rejects(fleet.driverFor('a').listWorkloads(), TooManyRequestsError);

    const free = setup({ apiQps: Infinity });
    free.fleet.upsertCluster(cluster('a', [x86(1)], {}, { apiQps: 1, apiBurst: 1 }));
    for (let i = 0; i < 1000; i++) await free.fleet.driverFor('a').listWorkloads();
  });
});

void describe('faults', () => {
  function threeClouds() {
    const s = setup();
    s.fleet.upsertCluster(cluster('aws-1', [x86(2)], { cloud: 'aws', site: 'aws-east' }));
    s.fleet.upsertCluster(cluster('aws-2', [x86(2)], { cloud: 'aws', site: 'aws-west' }));
    s.fleet.upsertCluster(cluster('ali-1', [x86(3)], { cloud: 'aliyun', site: 'ali-hz' }));
    return s;
  }

  void test('a failed cloud takes down its clusters until it recovers; replicas restart', async () => {
    const { fleet, advance, clock } = threeClouds();
    const aws1 = fleet.driverFor('aws-1');
    await aws1.applyWorkload(testWorkload({ key: key('web'), replicas: 2 }));
    advance(3_000);
    const since = new Date(clock.t).toISOString();
    assert.deepEqual(fleet.fail('cloud', 'aws'), {
      scope: 'cloud',
      name: 'aws',
      clusters: ['aws-1', 'aws-2'],
      nodes: 4,
      since,
    });
    advance(1_000);
    assert.equal(fleet.fail('cloud', 'aws').since, since, 'failing again keeps the original time');
    await assert.rejects(
      aws1.listWorkloads(),
      (e: unknown) =>
        e instanceof UnavailableError &&
        /cluster "aws-1" is unavailable: cloud "aws" is failed/.test(e.message),
    );
    await assert.rejects(aws1.applyWorkload(testWorkload({ key: key('x') })), UnavailableError);
    await assert.rejects(fleet.driverFor('aws-2').deleteWorkload(key('x')), UnavailableError);
    const inv = await aws1.inventory();
    assert.equal(inv.reachable, false);
    assert.match(inv.message ?? '', /cloud "aws" is failed/);
    assert.equal((await fleet.driverFor('ali-1').inventory()).reachable, true);
    assert.deepEqual(fleet.faults(), [
      { scope: 'cloud', name: 'aws', clusters: ['aws-1', 'aws-2'], nodes: 4, since },
    ]);

    assert.deepEqual(fleet.recover('cloud', 'aws'), {
      scope: 'cloud',
      name: 'aws',
      clusters: ['aws-1', 'aws-2'],
      nodes: 4,
    });
    assert.deepEqual(fleet.faults(), []);
    const [w] = await aws1.listWorkloads();
    assert.deepEqual([w?.scheduled, w?.ready], [2, 0], 'replicas start again after the outage');
    advance(3_000);
    assert.equal((await aws1.listWorkloads())[0]?.ready, 2);
  });

  void test('site and cluster faults compose with cloud faults', async () => {
    const { fleet } = threeClouds();
    assert.deepEqual(fleet.fail('site', 'aws-east').clusters, ['aws-1']);
    assert.deepEqual(fleet.fail('cloud', 'aws').clusters, ['aws-1', 'aws-2']);
    fleet.recover('cloud', 'aws');
    await assert.rejects(fleet.driverFor('aws-1').listWorkloads(), /site "aws-east" is failed/);
    await fleet.driverFor('aws-2').listWorkloads();
    fleet.fail('cluster', 'aws-1');
    fleet.fail('cluster', 'aws-1'); // failing twice is harmless
    fleet.recover('site', 'aws-east');
    assert.equal(
      (await fleet.driverFor('aws-1').inventory()).message,
      'cluster "aws-1" is unreachable: cluster "aws-1" is failed',
    );
    assert.deepEqual(
      fleet.faults().map((f) => [f.scope, f.name]),
      [['cluster', 'aws-1']],
    );
    fleet.recover('cluster', 'aws-1');
    assert.equal((await fleet.driverFor('aws-1').inventory()).reachable, true);
  });

  void test('a failed node leaves capacity and its replicas move to other nodes', async () => {
    const { fleet, advance, clock } = threeClouds();
    const d = fleet.driverFor('ali-1');
    await d.applyWorkload(testWorkload({ key: key('web'), replicas: 2, cpuMillis: 3000 }));
    advance(3_000);
    assert.deepEqual(
      fleet.nodes('ali-1').map((n) => n.allocated.cpu),
      [3, 3, 0],
    );
    assert.deepEqual(fleet.fail('node', 'ali-1-x86-0'), {
      scope: 'node',
      name: 'ali-1-x86-0',
      clusters: ['ali-1'],
      nodes: 1,
      since: new Date(clock.t).toISOString(),
    });
    const [w] = await d.listWorkloads();
    assert.deepEqual(
      [w?.scheduled, w?.ready],
      [2, 1],
      'the evicted replica is re-placed and starts again',
    );
    assert.deepEqual(
      fleet.nodes('ali-1').map((n) => [n.healthy, n.allocated.cpu]),
      [
        [false, 0],
        [true, 3],
        [true, 3],
      ],
    );
    const inv = await d.inventory();
    assert.deepEqual(
      [inv.capacity.cpu, inv.nodeCount, inv.readyNodeCount, inv.nodesByArch.amd64],
      [8, 3, 2, 2],
    );
    assert.equal(inv.message, '1 of 3 nodes failed');

    fleet.fail('node', 'ali-1-x86-1');
    const [pending] = await d.listWorkloads();
    assert.equal(pending?.scheduled, 1);
    assert.match(
      pending?.message ?? '',
      /^1 of 2 replicas unschedulable: insufficient cpu on 1 amd64 node; 2 nodes failed/,
    );
    fleet.recover('node', 'ali-1-x86-0');
    assert.equal(
      (await d.listWorkloads())[0]?.scheduled,
      2,
      'a recovered node takes pending replicas',
    );
    assert.deepEqual(
      fleet.faults().map((f) => f.name),
      ['ali-1-x86-1'],
    );
  });

  void test('unknown names are NotFound with a hint', () => {
    const { fleet } = threeClouds();
    assert.throws(
      () => fleet.fail('cloud', 'gcp'),
      (e: unknown) => e instanceof NotFoundError && /known clouds: aliyun, aws/.test(e.message),
    );
    assert.throws(
      () => fleet.fail('site', 'nowhere'),
      /no sim cluster belongs to site "nowhere"; known sites: ali-hz, aws-east, aws-west/,
    );
    assert.throws(
      () => fleet.fail('cluster', 'aws-9'),
      /no sim cluster "aws-9" \(the fleet has 3 clusters\)/,
    );
    assert.throws(
      () => fleet.fail('node', 'aws-1-x86-7'),
      /no sim node "aws-1-x86-7": cluster "aws-1" has node pools x86 \(0\.\.1\)/,
    );
    assert.throws(
      () => fleet.fail('node', 'gcp-1-x86-0'),
      /node names are <cluster>-<pool>-<index>/,
    );
    assert.throws(() => fleet.recover('cluster', 'aws-9'), NotFoundError);
    assert.throws(() => fleet.fail('region' as FaultScope, 'x'), BadRequestError);
    assert.throws(() => fleet.driverFor('aws-9'), NotFoundError);
    assert.throws(() => fleet.nodes('aws-9'), NotFoundError);
  });

  void test('node names resolve to the longest matching cluster name', () => {
    const { fleet } = setup();
    fleet.upsertCluster(
      cluster('edge', [{ name: 'a-x86', count: 1, arch: 'amd64', cpu: 4, memory: '8Gi' }]),
    );
    fleet.upsertCluster(cluster('edge-a', [x86(1)]));
    assert.deepEqual(fleet.fail('node', 'edge-a-x86-0').clusters, ['edge-a']);
  });
});

void describe('cluster lifecycle', () => {
  void test('re-upserting the same spec changes nothing', async () => {
    const { fleet, advance } = setup();
    const c = cluster('c1', [x86(2)]);
    fleet.upsertCluster(c);
    const d = fleet.driverFor('c1');
    await d.applyWorkload(testWorkload({ key: key('web'), replicas: 2 }));
    advance(3_000);
    fleet.upsertCluster(structuredClone(c));
    assert.equal((await d.listWorkloads())[0]?.ready, 2);
  });

  void test('changed pools rebuild nodes and keep replicas where they still fit', async () => {
    const { fleet, advance } = setup();
    fleet.upsertCluster(cluster('c1', [x86(3), arm(1)]));
    const d = fleet.driverFor('c1');
    await d.applyWorkload(
      testWorkload({ key: key('web'), replicas: 3, cpuMillis: 4000, architectures: ['amd64'] }),
    );
    advance(3_000);
    fleet.fail('node', 'c1-x86-2');
    fleet.fail('node', 'c1-arm-0');
    assert.equal((await d.listWorkloads())[0]?.scheduled, 2);

    // x86 shrinks to 2 bigger nodes; the arm pool goes away with its fault.
    fleet.upsertCluster(cluster('c1', [x86(2, 8)]));
    const [w] = await d.listWorkloads();
    assert.deepEqual(
      [w?.scheduled, w?.ready],
      [3, 2],
      'two replicas kept their nodes, the third was placed anew',
    );
    assert.deepEqual(
      fleet.nodes('c1').map((n) => [n.name, n.allocated.cpu]),
      [
        ['c1-x86-0', 8],
        ['c1-x86-1', 4],
      ],
    );
    assert.deepEqual(fleet.faults(), [], 'faults on nodes that no longer exist are dropped');
  });

  void test('a removed cluster is unreachable through drivers still held', async () => {
    const { fleet } = setup();
    fleet.upsertCluster(cluster('c1', [x86(1)]));
    const d = fleet.driverFor('c1');
    assert.equal(fleet.removeCluster('c1'), true);
    assert.equal(fleet.removeCluster('c1'), false);
    assert.equal((await d.inventory()).reachable, false);
    await assert.rejects(
      d.listWorkloads(),
      (e: unknown) => e instanceof UnavailableError && /removed from the sim fleet/.test(e.message),
    );
    assert.deepEqual(fleet.clusterNames(), []);
  });

  void test('only sim clusters are accepted', () => {
    const { fleet } = setup();
    const c = cluster('k', []);
    c.spec.driver = { type: 'kubernetes', kubernetes: {} };
    assert.throws(() => fleet.upsertCluster(c), BadRequestError);
    assert.throws(
      () => fleet.upsertCluster(cluster('dup', [x86(1), x86(2)])),
      /node pool name "x86" is used twice/,
    );
  });
});

void test('a 10M-core demo fleet builds in the twin with matching totals', async () => {
  const docs = generateDemoFleet({ scale: scaleForCores(10_000_000) });
  const summary = fleetSummary(docs);
  assert.ok(summary.cores >= 10_000_000, `cores ${summary.cores}`);
  const fleet = new SimFleet({ apiQps: Infinity });
  for (const c of docs.clusters) fleet.upsertCluster(c);
  let cores = 0;
  let nodes = 0;
  let gpus = 0;
  let arm64 = 0;
  for (const name of fleet.clusterNames()) {
    const inv = await fleet.driverFor(name).inventory();
    cores += inv.capacity.cpu;
    nodes += inv.nodeCount;
    gpus += inv.capacity.gpu;
    arm64 += inv.nodesByArch.arm64;
  }
  assert.equal(fleet.clusterNames().length, summary.clusters);
  assert.equal(cores, summary.cores);
  assert.equal(nodes, summary.nodes);
  assert.equal(gpus, summary.gpus);
  assert.equal(arm64, summary.nodesByArch.arm64);
  assert.ok(nodes > 150_000);
  const first = fleet.driverFor(docs.clusters[0]!.metadata.name);
  await first.applyWorkload(
    testWorkload({ key: key('web'), replicas: 500, architectures: ['amd64', 'arm64'] }),
  );
  assert.equal((await first.listWorkloads())[0]?.scheduled, 500);
});
