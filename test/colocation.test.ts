// Usage-aware placement (placement.colocation): the reservation rule, the
// sample windows, and the whole loop on the in-process control plane with a
// digital-twin cluster: replicas learn their use, reserve it instead of their
// request, and more of them fit on the same nodes.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  nextReservation,
  percentile,
  UsageWindows,
  WINDOW_SAMPLES,
} from '../src/controllers/colocation.ts';
import { workloadFor } from '../src/controllers/application/workloads.ts';
import { simReplicaCpuMillis, SIM_CPU_UTILIZATION_ENV } from '../src/drivers/sim/replica.ts';
import type { Application, Cluster } from '../src/model/schema.ts';
import { inProcessServer } from './server.harness.ts';
import { until } from './wait.ts';

describe('percentile', () => {
  const cases: { samples: number[]; p: number; want: number | undefined }[] = [
    { samples: [], p: 95, want: undefined },
    { samples: [7], p: 50, want: 7 },
    { samples: [5, 1, 3, 2, 4], p: 50, want: 3 },
    { samples: [5, 1, 3, 2, 4], p: 100, want: 5 },
    { samples: Array.from({ length: 100 }, (_, i) => i + 1), p: 95, want: 95 },
    { samples: Array.from({ length: 20 }, (_, i) => i + 1), p: 95, want: 19 },
  ];
  for (const c of cases)
    it(`p${c.p} of ${c.samples.length} samples is ${c.want}`, () => {
      assert.equal(percentile(c.samples, c.p), c.want);
    });
});

describe('nextReservation', () => {
  const ten = (v: number) => Array.from({ length: 10 }, () => v);
  const cases: {
    name: string;
    reserved?: number;
    samples: number[];
    policy?: { percentile?: number; minSamples?: number };
    want: number;
  }[] = [
    { name: 'no samples: the request', samples: [], want: 1000 },
    { name: 'too few samples: the request', samples: [100, 100], want: 1000 },
    { name: 'too few samples: keeps what is reserved', reserved: 300, samples: [100], want: 300 },
    { name: 'enough samples: the percentile, in 10m steps', samples: ten(123), want: 130 },
    { name: 'never above the request', reserved: 500, samples: ten(1500), want: 1000 },
    { name: 'never below one step', samples: ten(0), want: 10 },
    { name: 'rises at once', reserved: 200, samples: ten(210), want: 210 },
    { name: 'holds on a small drop', reserved: 200, samples: ten(160), want: 200 },
    { name: 'falls on a clear drop', reserved: 200, samples: ten(140), want: 140 },
    {
      name: 'follows the given percentile',
      samples: [10, 20, 30, 40, 50, 60, 70, 80, 90, 100],
      policy: { percentile: 50, minSamples: 5 },
      want: 50,
    },
    { name: 'a request below the reservation wins', reserved: 2000, samples: [], want: 1000 },
  ];
  for (const c of cases)
    it(c.name, () => {
      const got = nextReservation({
        requestMillis: 1000,
        ...(c.reserved !== undefined ? { reservedMillis: c.reserved } : {}),
        samples: c.samples,
        policy: c.policy ?? {},
      });
      assert.equal(got.reservedMillis, c.want);
    });
});

describe('UsageWindows', () => {
  it('keeps one sample per interval, a bounded window, and forgets by prefix', () => {
    const w = new UsageWindows(1000);
    w.record('ns/a/web', 0, 1);
    w.record('ns/a/web', 500, 2); // inside the interval: dropped
    w.record('ns/a/web', 1000, 3);
    assert.deepEqual(w.samples('ns/a/web'), [1, 3]);
    for (let i = 0; i < WINDOW_SAMPLES + 5; i++) w.record('ns/b/api', 10_000 + i * 1000, i);
    assert.equal(w.samples('ns/b/api').length, WINDOW_SAMPLES);
    assert.equal(w.samples('ns/b/api')[0], 5);
    w.forget('ns/a/');
    assert.deepEqual(w.samples('ns/a/web'), []);
    assert.equal(w.samples('ns/b/api').length, WINDOW_SAMPLES);
  });
});

describe('workloadFor a colocated component', () => {
  const cluster = {
    apiVersion: 'yunjian.io/v1alpha1',
    kind: 'Cluster',
    metadata: { name: 'c1' },
    spec: { cloud: 'lab', site: 'lab-1', driver: { type: 'sim', sim: { nodePools: [] } } },
  } as unknown as Cluster;
  const app = (status?: Application['status']): Application => ({
    apiVersion: 'yunjian.io/v1alpha1',
    kind: 'Application',
    metadata: { name: 'batch', namespace: 'default' },
    spec: {
      components: [
        { name: 'w', image: 'busybox', replicas: 1, resources: { cpu: '2', memory: '1Gi' } },
      ],
      placement: { colocation: {} },
    },
    ...(status ? { status } : {}),
  });
  const cases = [
    { name: 'before any use is known: reserves the request', status: undefined, want: 2000 },
    {
      name: 'once learnt: reserves the learnt use',
      status: {
        colocation: {
          components: [
            { component: 'w', samples: 10, reservedCpuMillis: 350, requestCpuMillis: 2000 },
          ],
        },
      },
      want: 350,
    },
  ];
  for (const c of cases)
    it(c.name, () => {
      const a = app(c.status);
      const spec = workloadFor(a, a.spec.components[0]!, cluster, 1);
      assert.equal(spec.cpuMillis, c.want);
      assert.equal(spec.cpuLimitMillis, 2000);
    });
});

describe('the twin models replica cpu use', () => {
  const base = {
    key: { namespace: 'default', app: 'a', component: 'c' },
    hash: 'h',
    image: 'i',
    replicas: 1,
    architectures: ['amd64' as const],
    cpuMillis: 200,
    memoryBytes: 0,
    gpu: 0,
    ports: [],
    command: [],
    args: [],
  };
  it('uses the what-if share of the limit when the workload sets it', () => {
    const spec = { ...base, cpuLimitMillis: 1000, env: { [SIM_CPU_UTILIZATION_ENV]: '0.25' } };
    assert.equal(simReplicaCpuMillis(spec, 0), 250);
  });
  it('otherwise stays within 8 % and 60 % of the limit all day', () => {
    const spec = { ...base, cpuMillis: 1000, env: {} };
    for (let h = 0; h < 24; h++) {
      const v = simReplicaCpuMillis(spec, h * 3600_000);
      assert.ok(v >= 80 && v <= 600, `hour ${h}: ${v}`);
    }
  });
});

describe('colocated app on a twin cluster, end to end', () => {
  const cp = inProcessServer('colocation', { fleet: 'none', simStartupSeconds: 0.2 });
  const headers = () => ({ ...cp.headers, 'content-type': 'application/json' });

  async function apply(doc: object): Promise<void> {
    const res = await fetch(`${cp.url}/api/v1alpha1/apply`, {
      method: 'POST',
      headers: headers(),
      body: JSON.stringify(doc),
    });
    assert.ok(res.ok, `apply: ${res.status} ${await res.text()}`);
  }
  async function getApp(name: string): Promise<Application> {
    const res = await fetch(`${cp.url}/api/v1alpha1/namespaces/default/applications/${name}`, {
      headers: headers(),
    });
    assert.equal(res.status, 200);
    return (await res.json()) as Application;
  }
  const app = (name: string, replicas: number, colocation: boolean) => ({
    apiVersion: 'yunjian.io/v1alpha1',
    kind: 'Application',
    metadata: { name },
    spec: {
      components: [
        {
          name: 'worker',
          image: 'registry.example/worker:1',
          replicas,
          resources: { cpu: '1', memory: '256Mi' },
          env: { [SIM_CPU_UTILIZATION_ENV]: '0.2' },
        },
      ],
      ...(colocation ? { placement: { colocation: { minSamples: 1 } } } : {}),
    },
  });
  const ready = (a: Application) => (a.status?.conditions?.[0]?.status === 'True' ? a : undefined);

  it('learns the use, reserves it, and fits more replicas than requests allow', async () => {
    await apply({
      apiVersion: 'yunjian.io/v1alpha1',
      kind: 'Cloud',
      metadata: { name: 'lab' },
      spec: { vendor: 'aws', type: 'public' },
    });
    await apply({
      apiVersion: 'yunjian.io/v1alpha1',
      kind: 'Site',
      metadata: { name: 'lab-1' },
      spec: {
        cloud: 'lab',
        kind: 'region',
        country: 'US',
        city: 'Ashburn',
        latitude: 39,
        longitude: -77,
      },
    });
    // One node of 4 cores: room for 4 replicas by request.
    await apply({
      apiVersion: 'yunjian.io/v1alpha1',
      kind: 'Cluster',
      metadata: { name: 'lab-small' },
      spec: {
        cloud: 'lab',
        site: 'lab-1',
        driver: {
          type: 'sim',
          sim: {
            nodePools: [{ name: 'x86', count: 1, arch: 'amd64', cpu: 4, memory: '16Gi' }],
          },
        },
      },
    });
    await apply(app('batch', 2, true));
    const learnt = await until(
      'the reservation to follow the use',
      async () => {
        const a = await getApp('batch');
        const c = a.status?.colocation?.components[0];
        return c !== undefined && c.reservedCpuMillis < 1000 && ready(a) ? c : undefined;
      },
      { context: async () => JSON.stringify((await getApp('batch')).status) },
    );
    // Each twin replica uses 20 % of its 1-core limit.
    assert.equal(learnt.observedCpuMillis, 200);
    assert.equal(learnt.reservedCpuMillis, 200);
    assert.equal(learnt.requestCpuMillis, 1000);
    const events = await until('the Reserved event', async () => {
      const res = await fetch(`${cp.url}/api/v1alpha1/events`, { headers: headers() });
      const list = (await res.json()) as { items: { spec: { reason: string; message: string } }[] };
      const found = list.items.filter((e) => e.spec.reason === 'Reserved');
      return found.length > 0 ? found : undefined;
    });
    assert.match(events[0]!.spec.message, /worker reserves 200m per replica \(was 1000m/);

    // 12 replicas of 1 core on 4 cores: 2.4 cores reserved, within the 0.8 limit (3.2).
    await apply(app('batch', 12, true));
    const grown = await until(
      '12 colocated replicas ready',
      async () => {
        const a = ready(await getApp('batch'));
        return a?.status?.replicas?.ready === 12 ? a : undefined;
      },
      { context: async () => JSON.stringify((await getApp('batch')).status) },
    );
    assert.deepEqual(
      grown.status?.placements?.map((p) => [p.cluster, p.desired, p.ready]),
      [['lab-small', 12, 12]],
    );
    const risk = grown.status?.colocation?.maxOverloadProbability;
    assert.ok(risk !== undefined && risk >= 0 && risk < 0.5, `overload risk ${risk}`);

    // By requests the rest does not fit: 1.6 cores left, 4 replicas of 1 core asked.
    await apply(app('plain', 4, false));
    const plain = await until('the plain app to be judged', async () => {
      const a = await getApp('plain');
      return a.status?.conditions?.[0] !== undefined &&
        a.status.conditions[0].reason !== 'Progressing'
        ? a
        : undefined;
    });
    assert.equal(plain.status?.conditions?.[0]?.reason, 'Unschedulable');
    assert.equal(plain.status?.colocation, undefined);
  });
});
