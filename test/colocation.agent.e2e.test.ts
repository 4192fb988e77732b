// Usage-aware placement (placement.colocation) on a real agent cluster: a
// `yunjian server` and one `yunjian agent` offering 4 cores; a component of
// idle real processes asking a whole core each. The control plane learns
// their use from what the agent measures in /proc, the agent runs them with
// the learnt reservation (the request stays their limit), and 6 of them then
// fit on the 4 cores, where by requests only 4 would.
import assert from 'node:assert/strict';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { allocatePort } from '../src/lib/net.ts';
import { AgentLab, ROOT, isAlive, until } from './agents.harness.ts';

const CLUSTER = 'solo';
const ADDRESS = '127.0.21.1';
const AGENT_CPUS = 4; // what AgentLab.startAgent offers
const appPath = '/api/v1alpha1/namespaces/default/applications/idle';

interface Usage {
  component: string;
  samples: number;
  observedCpuMillis?: number;
  reservedCpuMillis: number;
  requestCpuMillis: number;
}
interface AppView {
  status?: {
    replicas?: { desired: number; ready: number };
    placements?: { component: string; cluster: string; desired: number; ready: number }[];
    conditions?: { status: string; reason?: string }[];
    colocation?: { components: Usage[] };
  };
}
interface WorkloadView {
  spec: {
    cluster: string;
    hash: string;
    replicas: number;
    cpuMillis: number;
    cpuLimitMillis?: number;
    key: { app: string; component: string };
  };
  status?: {
    hash?: string;
    ready: number;
    replicas?: { pid?: number; ready: boolean; hash: string }[];
  };
}

const lab = new AgentLab();
after(() => lab.stopAll());

async function applyApp(replicas: number): Promise<void> {
  const file = join(lab.dir, `idle-${replicas}.json`);
  writeFileSync(
    file,
    JSON.stringify({
      apiVersion: 'yunjian.io/v1alpha1',
      kind: 'Application',
      metadata: { name: 'idle', namespace: 'default' },
      spec: {
        components: [
          {
            name: 'worker',
            image: 'example/idle:1',
            replicas,
            resources: { cpu: '1', memory: '32Mi' },
            command: [process.execPath, '-e', 'setInterval(() => {}, 1000)'],
          },
        ],
        placement: { colocation: { minSamples: 2 } },
      },
    }),
  );
  const r = await lab.cli('apply', '-f', file);
  assert.equal(r.code, 0, r.stderr);
}

const getApp = () => lab.api<AppView>(appPath);
async function workload(): Promise<WorkloadView | undefined> {
  const list = await lab.api<{ items: WorkloadView[] }>('/api/v1alpha1/workloads');
  return list.items.find((w) => w.spec.cluster === CLUSTER && w.spec.key.app === 'idle');
}
const ready = (a: AppView, n: number) =>
  a.status?.conditions?.[0]?.status === 'True' &&
  a.status.replicas?.desired === n &&
  a.status.replicas.ready === n;
const context = async () => {
  const [a, w] = await Promise.all([getApp().catch(String), workload().catch(String)]);
  return `; app status: ${JSON.stringify(a)}; workload: ${JSON.stringify(w)}`;
};

test('idle replicas on a real agent reserve what they use, and more of them fit', async (t) => {
  // The agent measures replicas' cpu in /proc: Linux only.
  if (!existsSync('/proc/self/stat')) {
    const missing = 'no /proc: the agent cannot measure cpu use here';
    if (process.env['CI'] === 'true') throw new Error(`CI needs Linux /proc: ${missing}`);
    t.skip(missing);
    return;
  }
  // One controller sample per agent usage window (>= 5 s).
  await lab.startServer(0, ['--usage-sample-seconds', '5']);
  await lab.join(join(ROOT, 'test/fixtures/agent/fleet.yaml'), [
    {
      cluster: CLUSTER,
      site: 'alpha-1',
      address: ADDRESS,
      arch: 'amd64',
      apiPort: await allocatePort(ADDRESS),
    },
  ]);
  await until('the agent cluster Ready', async () => {
    const c = await lab.api<{ status?: { conditions?: { status: string }[] } }>(
      `/api/v1alpha1/clusters/${CLUSTER}`,
    );
    return c.status?.conditions?.[0]?.status === 'True' ? true : undefined;
  });

  await applyApp(2);
  const learnt = await until(
    'the reservation learnt from two samples',
    async () => {
      const c = (await getApp()).status?.colocation?.components[0];
      return c !== undefined && c.samples >= 2 && c.reservedCpuMillis < 1000 ? c : undefined;
    },
    { timeoutMs: 90_000, context },
  );
  t.diagnostic(`learnt: ${JSON.stringify(learnt)}`);
  assert.equal(learnt.component, 'worker');
  assert.equal(learnt.requestCpuMillis, 1000);
  // Idle processes use well under 100m; a reservation is at least one 10m step.
  assert.ok(
    learnt.reservedCpuMillis >= 10 && learnt.reservedCpuMillis < 100,
    `reserves ${learnt.reservedCpuMillis}m`,
  );
  const events = await lab.api<{ items: { spec: { reason: string; message: string } }[] }>(
    '/api/v1alpha1/events',
  );
  assert.ok(
    events.items.some(
      (e) =>
        e.spec.reason === 'Reserved' && /^worker reserves \d+m per replica/.test(e.spec.message),
    ),
    'a Reserved event',
  );

  // The agent runs the workload with the reservation in force, limited to the request.
  const running = await until(
    'the agent running the reservation',
    async () => {
      const [a, w] = await Promise.all([getApp(), workload()]);
      const reserved = a.status?.colocation?.components[0]?.reservedCpuMillis;
      return w !== undefined &&
        reserved !== undefined &&
        reserved < 1000 &&
        w.spec.cpuMillis === reserved &&
        w.status?.hash === w.spec.hash &&
        w.status.ready === 2
        ? { reserved, w }
        : undefined;
    },
    { timeoutMs: 60_000, context },
  );
  assert.equal(running.w.spec.cpuMillis, running.reserved);
  assert.equal(running.w.spec.cpuLimitMillis, 1000);
  assert.equal(running.w.spec.replicas, 2);

  // 6 cores by request on 4: fits only by reservation.
  assert.ok(6 * learnt.requestCpuMillis > AGENT_CPUS * 1000);
  await applyApp(6);
  const grown = await until(
    '6 replicas Ready on the agent',
    async () => {
      const a = await getApp();
      return ready(a, 6) ? a : undefined;
    },
    { timeoutMs: 60_000, context },
  );
  assert.deepEqual(
    grown.status?.placements?.map((p) => [p.component, p.cluster, p.desired, p.ready]),
    [['worker', CLUSTER, 6, 6]],
  );
  const w = await until(
    'the agent reporting 6 ready replicas',
    async () => {
      const w = await workload();
      return w?.status?.hash === w?.spec.hash && w?.status?.ready === 6 ? w : undefined;
    },
    { timeoutMs: 30_000, context },
  );
  t.diagnostic(`6 replicas reserving ${w.spec.cpuMillis}m each on ${AGENT_CPUS} cores`);
  assert.equal(w.spec.replicas, 6);
  assert.equal(w.spec.cpuLimitMillis, 1000);
  assert.ok(w.spec.cpuMillis < 1000, `the agent runs replicas reserving ${w.spec.cpuMillis}m`);
  const pids = (w.status?.replicas ?? []).flatMap((r) => (r.ready && r.pid ? [r.pid] : []));
  assert.equal(new Set(pids).size, 6, `replica pids ${pids.join(',')}`);
  for (const pid of pids) assert.ok(isAlive(pid), `replica ${pid} runs`);
});
