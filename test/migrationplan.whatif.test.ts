// The what-if on a small fleet: two clouds (one a real-agent member, made a
// sim cluster from its reported nodes), four applications with a dependency,
// a plan to the cheaper cloud. It runs to Succeeded in a fresh twin at 30x,
// reports the waves, a simulated duration of the steps' pauses and start-ups, the
// target's peak extra cpu (every moved replica), the cost before and after,
// and no application ever at zero ready replicas; the inputs are untouched.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { runWhatIf, twinCluster } from '../src/controllers/migrationplan/whatif.ts';
import type { Application, Cloud, Cluster, MigrationPlan, Site } from '../src/model/schema.ts';

const clouds: Cloud[] = [
  ['old', 0.1],
  ['new', 0.05],
].map(([name, price]) => ({
  apiVersion: 'yunjian.io/v1alpha1',
  kind: 'Cloud',
  metadata: { name: String(name) },
  spec: { vendor: 'other', type: 'private', prices: { cpuCoreHour: Number(price) } },
}));
const sites: Site[] = ['old', 'new'].map((cloud) => ({
  apiVersion: 'yunjian.io/v1alpha1',
  kind: 'Site',
  metadata: { name: `${cloud}-1` },
  spec: { cloud, kind: 'datacenter', country: 'DE', city: 'Berlin', latitude: 52, longitude: 13 },
}));
const clusters: Cluster[] = [
  {
    apiVersion: 'yunjian.io/v1alpha1',
    kind: 'Cluster',
    metadata: { name: 'old-1-a' },
    spec: {
      cloud: 'old',
      site: 'old-1',
      driver: {
        type: 'sim',
        sim: { nodePools: [{ name: 'x86', count: 2, arch: 'amd64', cpu: '16', memory: '64Gi' }] },
      },
    },
  },
  {
    apiVersion: 'yunjian.io/v1alpha1',
    kind: 'Cluster',
    metadata: { name: 'new-1-a' },
    spec: { cloud: 'new', site: 'new-1', driver: { type: 'agent' } },
    status: {
      conditions: [
        { type: 'Ready', status: 'True', reason: 'Ok', lastTransitionTime: '2026-12-01T00:00:00Z' },
      ],
      nodeCount: 2,
      nodesByArch: { amd64: 2, arm64: 0, riscv64: 0 },
      allocatable: { cpu: 32, memory: 128 * 1024 ** 3, gpu: 0, pods: 220 },
    },
  },
];
const apps: Application[] = ['a', 'b', 'c', 'd'].map((name) => ({
  apiVersion: 'yunjian.io/v1alpha1',
  kind: 'Application',
  metadata: { name, namespace: 'default' },
  spec: {
    components: [{ name: 'web', image: 'hello', replicas: 2, resources: { cpu: '500m' } }],
    placement: { clusterAffinity: { clouds: ['old'] } },
    ...(name === 'b' ? { dependsOn: ['a'] } : {}),
  },
  // Where the real fleet runs it: the planner starts from here.
  status: {
    placements: [{ component: 'web', cluster: 'old-1-a', cloud: 'old', desired: 2, ready: 2 }],
  },
}));
const plan: MigrationPlan = {
  apiVersion: 'yunjian.io/v1alpha1',
  kind: 'MigrationPlan',
  metadata: { name: 'cheaper', namespace: 'default' },
  spec: {
    targets: [{ to: { cloud: 'new' } }],
    waveSize: 3,
    concurrency: 3,
    migration: { steps: [50, 100], pauseSeconds: 15 },
  },
};

describe('what-if', () => {
  it('turns a reported agent member into sim pools', () => {
    const twin = twinCluster(clusters[1] as Cluster);
    assert.deepEqual(twin?.spec.driver, {
      type: 'sim',
      sim: {
        nodePools: [{ name: 'amd64', count: 2, arch: 'amd64', cpu: '16', memory: '65536Mi' }],
      },
    });
    assert.equal(twin?.status, undefined);
  });

  it('runs the plan in a fresh twin and reports it', async () => {
    const before = JSON.stringify({ clusters, apps, plan });
    const r = await runWhatIf({
      clouds,
      sites,
      clusters,
      apps,
      plan,
      speedup: 30,
      startupSeconds: 3,
      timeoutMs: 60_000,
    });
    assert.equal(r.phase, 'Succeeded');
    assert.deepEqual(r.waves, [['a', 'c', 'd'], ['b']]);
    assert.deepEqual(r.unmovable, []);
    // Two waves, each two steps of 15 s: at least 60 s. The planner adds a
    // 3 s start-up per step (72 s). The twin's clock is the controllers' clock
    // too, so its time is the pauses, start-ups and polling, not the wall time
    // multiplied back (which counted every unscaled 500 ms poll 30 times).
    assert.equal(r.plannedSeconds, 2 * (2 * 15 + 2 * 3));
    assert.ok(
      r.simulatedSeconds >= 60 && r.simulatedSeconds <= r.plannedSeconds * 1.25,
      `simulated ${r.simulatedSeconds} s, planned ${r.plannedSeconds} s`,
    );
    assert.ok(r.effectiveSpeedup > 1 && r.effectiveSpeedup <= 30.01, `speed ${r.effectiveSpeedup}`);
    // Every application's 2 x 500m ends on the target.
    assert.deepEqual(r.peakExtra, [{ target: 'cloud=new', cpuCores: 4, memoryGiB: 0 }]);
    // 4 cores for 730 h: $0.10 before, $0.05 after.
    assert.deepEqual(r.monthlyCost, { before: 292, after: 146 });
    assert.deepEqual(r.zeroReady, []);
    assert.ok(r.samples > 0);
    assert.equal(JSON.stringify({ clusters, apps, plan }), before, 'the inputs are untouched');
  });
});
