// The behaviour every ClusterDriver must show, as node:test cases. A driver's
// test file calls runDriverConformance with a setup that returns a fresh driver
// on an empty cluster (no workloads of this control plane), a way to let time
// pass (a fake clock for the sim, real waiting for real clusters) and cleanup.
//
// The suite learns the cluster's shape from inventory() and sizes its
// workloads from it, so it runs against any cluster with at least one node.
// Readiness is awaited by advancing time in steps, never assumed at once, and a
// driver may make replicas ready immediately.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, test } from 'node:test';
import { ARCHES, type Arch } from '../model/schema.ts';
import type {
  ClusterDriver,
  ClusterInventory,
  WorkloadKey,
  WorkloadSpec,
  WorkloadStatus,
} from './types.ts';

export interface DriverHarness {
  driver: ClusterDriver;
  /** Lets `ms` of time pass for the cluster. */
  advance(ms: number): Promise<void>;
  cleanup(): Promise<void>;
  /**
   * Fields every applied workload gets (e.g. a real `command` for drivers that
   * run processes); the suite's hash is kept, as a controller's would be.
   */
  workloadDefaults?: Partial<Pick<WorkloadSpec, 'command' | 'args'>>;
}

/** How long the suite lets time pass, at most, for replicas to become ready or go away. */
const PATIENCE_MS = 120_000;
const STEP_MS = 1_000;

type SpecInput = Partial<Omit<WorkloadSpec, 'hash' | 'key'>> & { key: WorkloadKey };

/** A complete WorkloadSpec whose hash is derived from its content, as a propagation controller would. */
export function testWorkload(input: SpecInput): WorkloadSpec {
  const body: Omit<WorkloadSpec, 'hash'> = {
    image: 'registry.example.com/conformance/app:1',
    replicas: 1,
    architectures: [...ARCHES],
    cpuMillis: 100,
    memoryBytes: 64 * 2 ** 20,
    gpu: 0,
    ports: [],
    env: {},
    command: [],
    args: [],
    ...input,
  };
  const hash = createHash('sha256').update(JSON.stringify(body)).digest('hex').slice(0, 16);
  return { ...body, hash };
}

function key(component: string): WorkloadKey {
  return { namespace: 'conformance', app: 'suite', component };
}

function sameKey(a: WorkloadKey, b: WorkloadKey): boolean {
  return a.namespace === b.namespace && a.app === b.app && a.component === b.component;
}

async function statusOf(
  driver: ClusterDriver,
  k: WorkloadKey,
): Promise<WorkloadStatus | undefined> {
  return (await driver.listWorkloads()).find((w) => sameKey(w.key, k));
}

/** Advances time until `check` holds for the workload's status; fails with the last status seen. */
async function eventually(
  h: DriverHarness,
  k: WorkloadKey,
  what: string,
  check: (s: WorkloadStatus | undefined) => boolean,
): Promise<WorkloadStatus | undefined> {
  let status = await statusOf(h.driver, k);
  for (let waited = 0; !check(status); waited += STEP_MS) {
    if (waited >= PATIENCE_MS)
      assert.fail(
        `${what}: not reached after ${PATIENCE_MS} ms; last status ${JSON.stringify(status)}`,
      );
    await h.advance(STEP_MS);
    status = await statusOf(h.driver, k);
  }
  return status;
}

function presentArches(inv: ClusterInventory): Arch[] {
  return ARCHES.filter((a) => inv.nodesByArch[a] > 0);
}

function withDefaults(h: DriverHarness): DriverHarness {
  const defaults = h.workloadDefaults;
  if (defaults === undefined) return h;
  const inner = h.driver;
  const driver: ClusterDriver = {
    type: inner.type,
    inventory: () => inner.inventory(),
    applyWorkload: (spec) => inner.applyWorkload({ ...spec, ...defaults }),
    deleteWorkload: (k) => inner.deleteWorkload(k),
    listWorkloads: () => inner.listWorkloads(),
    close: () => inner.close(),
  };
  return { ...h, driver };
}

export function runDriverConformance(name: string, setup: () => Promise<DriverHarness>): void {
  const withDriver = (
    title: string,
    body: (h: DriverHarness, inv: ClusterInventory) => Promise<void>,
  ) =>
    void test(title, async () => {
      const h = withDefaults(await setup());
      try {
        const inv = await h.driver.inventory();
        assert.ok(inv.reachable, `the cluster under test must be reachable: ${inv.message ?? ''}`);
        assert.ok(inv.readyNodeCount > 0, 'the cluster under test needs at least one ready node');
        await body(h, inv);
      } finally {
        await h.cleanup();
      }
    });

  void describe(`${name} driver conformance`, () => {
    withDriver('inventory is consistent', (h, inv) => {
      assert.ok(['sim', 'agent', 'kubernetes'].includes(h.driver.type));
      for (const totals of [inv.capacity, inv.allocatable, inv.allocated]) {
        for (const v of Object.values(totals))
          assert.ok(
            Number.isFinite(v) && v >= 0,
            `resource amounts are finite and >= 0: ${JSON.stringify(totals)}`,
          );
      }
      assert.ok(
        inv.allocatable.cpu <= inv.capacity.cpu && inv.allocatable.memory <= inv.capacity.memory,
      );
      assert.ok(inv.readyNodeCount <= inv.nodeCount);
      assert.ok(ARCHES.reduce((n, a) => n + inv.nodesByArch[a], 0) <= inv.nodeCount);
      assert.ok(Object.values(inv.gpuModels).reduce((n, g) => n + g, 0) <= inv.capacity.gpu);
      return Promise.resolve();
    });

    withDriver('apply schedules replicas, which become ready as time passes', async (h) => {
      const spec = testWorkload({ key: key('web'), replicas: 2 });
      await h.driver.applyWorkload(spec);
      const first = await statusOf(h.driver, spec.key);
      assert.ok(first, 'the applied workload is listed');
      assert.equal(first.hash, spec.hash);
      assert.equal(first.desired, 2);
      assert.ok(first.ready <= first.scheduled && first.scheduled <= 2);
      const ready = await eventually(h, spec.key, '2 replicas ready', (s) => s?.ready === 2);
      assert.equal(ready?.scheduled, 2);
      assert.equal(ready?.message, undefined, 'a healthy, fully ready workload has no message');
    });

    withDriver('re-applying the same spec changes nothing', async (h) => {
      const spec = testWorkload({ key: key('web'), replicas: 2 });
      await h.driver.applyWorkload(spec);
      await eventually(h, spec.key, 'ready', (s) => s?.ready === 2);
      await h.driver.applyWorkload(spec);
      await h.driver.applyWorkload(structuredClone(spec));
      const list = await h.driver.listWorkloads();
      assert.equal(list.length, 1);
      assert.deepEqual(
        {
          desired: list[0]?.desired,
          scheduled: list[0]?.scheduled,
          ready: list[0]?.ready,
          hash: list[0]?.hash,
        },
        { desired: 2, scheduled: 2, ready: 2, hash: spec.hash },
        'replicas are neither added nor restarted',
      );
    });

    withDriver('scales up and down', async (h) => {
      const k = key('api');
      await h.driver.applyWorkload(testWorkload({ key: k, replicas: 1 }));
      await eventually(h, k, '1 ready', (s) => s?.ready === 1);
      await h.driver.applyWorkload(testWorkload({ key: k, replicas: 3 }));
      await eventually(
        h,
        k,
        'scaled up to 3 ready',
        (s) => s?.desired === 3 && s.scheduled === 3 && s.ready === 3,
      );
      await h.driver.applyWorkload(testWorkload({ key: k, replicas: 1 }));
      await eventually(
        h,
        k,
        'scaled down to 1',
        (s) => s?.desired === 1 && s.scheduled === 1 && s.ready === 1,
      );
      await h.driver.applyWorkload(testWorkload({ key: k, replicas: 0 }));
      const zero = await eventually(h, k, 'scaled to 0', (s) => s?.scheduled === 0);
      assert.equal(zero?.desired, 0, 'a workload scaled to zero is still listed');
    });

    withDriver('a new hash rolls out the new spec', async (h) => {
      const k = key('web');
      await h.driver.applyWorkload(testWorkload({ key: k, replicas: 2 }));
      await eventually(h, k, 'v1 ready', (s) => s?.ready === 2);
      const v2 = testWorkload({
        key: k,
        replicas: 2,
        image: 'registry.example.com/conformance/app:2',
        env: { VERSION: '2' },
      });
      await h.driver.applyWorkload(v2);
      const status = await statusOf(h.driver, k);
      assert.equal(status?.hash, v2.hash, 'the status reports the new hash');
      await eventually(
        h,
        k,
        'v2 ready',
        (s) => s?.hash === v2.hash && s.ready === 2 && s.scheduled === 2,
      );
      assert.equal(
        (await h.driver.listWorkloads()).length,
        1,
        'an update does not leave the old version listed',
      );
    });

    withDriver('delete removes the workload and may be repeated', async (h) => {
      const spec = testWorkload({ key: key('web'), replicas: 2 });
      await h.driver.applyWorkload(spec);
      await h.driver.deleteWorkload(spec.key);
      assert.equal(await statusOf(h.driver, spec.key), undefined);
      await h.driver.deleteWorkload(spec.key);
      await h.driver.deleteWorkload(key('never-applied'));
      assert.deepEqual(await h.driver.listWorkloads(), []);
    });

    withDriver('listWorkloads lists exactly what was applied', async (h) => {
      assert.deepEqual(await h.driver.listWorkloads(), [], 'a fresh cluster lists no workloads');
      const specs = ['a', 'b', 'c'].map((c) => testWorkload({ key: key(c), replicas: 1 }));
      for (const s of specs) await h.driver.applyWorkload(s);
      await h.driver.deleteWorkload(key('b'));
      const listed = (await h.driver.listWorkloads()).map((w) => w.key.component).sort();
      assert.deepEqual(listed, ['a', 'c']);
    });

    withDriver('replicas run only on the architectures of the image', async (h, inv) => {
      const present = presentArches(inv);
      const fitting = testWorkload({ key: key('fits'), replicas: 1, architectures: [present[0]!] });
      await h.driver.applyWorkload(fitting);
      await eventually(
        h,
        fitting.key,
        'scheduled on a present architecture',
        (s) => s?.scheduled === 1,
      );

      const absent = ARCHES.filter((a) => !present.includes(a));
      if (absent.length === 0) return; // every architecture is present: nothing can be unplaceable by architecture
      const spec = testWorkload({ key: key('foreign'), replicas: 2, architectures: absent });
      await h.driver.applyWorkload(spec);
      await h.advance(STEP_MS);
      const status = await statusOf(h.driver, spec.key);
      assert.ok(status);
      assert.equal(status.scheduled, 0);
      assert.equal(status.ready, 0);
      assert.ok(status.message, 'the status says why nothing is scheduled');
    });

    withDriver('more replicas than fit are scheduled partially, with a reason', async (h, inv) => {
      // A quarter of the average node: the largest node (at least average) takes
      // at least one replica, and there are more replicas than all cpu can hold.
      const cpuMillis = Math.max(
        1,
        Math.floor((inv.allocatable.cpu * 1000) / inv.readyNodeCount / 4),
      );
      const free = inv.allocatable.cpu * 1000 - inv.allocated.cpu * 1000;
      const replicas = Math.floor(free / cpuMillis) + 2;
      const spec = testWorkload({
        key: key('hog'),
        replicas,
        cpuMillis,
        memoryBytes: 2 ** 20,
        architectures: presentArches(inv),
      });
      await h.driver.applyWorkload(spec);
      await h.advance(STEP_MS);
      const status = await statusOf(h.driver, spec.key);
      assert.ok(status);
      assert.ok(status.scheduled >= 1, `at least one replica fits: ${JSON.stringify(status)}`);
      assert.ok(status.scheduled < replicas, 'not every replica fits');
      assert.match(status.message ?? '', /\S/, 'the status says why replicas are pending');
    });

    withDriver('inventory allocation follows workloads', async (h, inv) => {
      const spec = testWorkload({
        key: key('web'),
        replicas: 2,
        cpuMillis: 250,
        memoryBytes: 128 * 2 ** 20,
      });
      await h.driver.applyWorkload(spec);
      await eventually(h, spec.key, 'scheduled', (s) => s?.scheduled === 2);
      const during = await h.driver.inventory();
      assert.ok(
        Math.abs(during.allocated.cpu - inv.allocated.cpu - 0.5) < 1e-9,
        `allocated cpu grows by 0.5 cores: ${inv.allocated.cpu} -> ${during.allocated.cpu}`,
      );
      assert.equal(during.allocated.memory - inv.allocated.memory, 256 * 2 ** 20);
      assert.equal(during.allocated.pods - inv.allocated.pods, 2);
      await h.driver.deleteWorkload(spec.key);
      await eventually(h, spec.key, 'deleted', (s) => s === undefined);
      const after = await h.driver.inventory();
      assert.ok(
        Math.abs(after.allocated.cpu - inv.allocated.cpu) < 1e-9,
        'deleting gives the cpu back',
      );
      assert.equal(after.allocated.memory, inv.allocated.memory);
    });
  });
}
