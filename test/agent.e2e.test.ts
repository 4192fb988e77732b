// End to end with real processes: a control plane (runServer on a free port)
// and three `yunjian agent` processes on 127.0.1.1, 127.0.2.1 and 127.0.3.1
// (one reporting arm64) run an app of three components; HTTP through each
// agent's ingress is answered by the replicas; a replica killed with -9 comes
// back; `yunjian logs` shows its output; after kill -9 of the control plane
// the replicas keep answering, and a new control plane finds them in sync.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { AgentLab, ROOT, hit, killGroup, until, type AgentSpec } from './agents.harness.ts';

const NODE = process.execPath;
const HELLO = join(ROOT, 'examples/apps/hello.mjs');
const AGENTS: AgentSpec[] = [
  { cluster: 'east', site: 'alpha-1', address: '127.0.1.1', arch: 'amd64', apiPort: 17590 },
  { cluster: 'north', site: 'beta-1', address: '127.0.2.1', arch: 'arm64', apiPort: 17591 },
  { cluster: 'west', site: 'gamma-1', address: '127.0.3.1', arch: 'amd64', apiPort: 17592 },
];

const lab = new AgentLab();
const dir = lab.dir;
const api = <T>(path: string) => lab.api<T>(path);
const cli = (...args: string[]) => lab.cli(...args);

/** Every replica process the agents report, sorted. */
async function replicaPids(): Promise<number[]> {
  const wl = await api<{ items: { status?: { replicas?: { pid?: number }[] } }[] }>(
    '/api/v1alpha1/workloads',
  );
  return wl.items
    .flatMap((w) => w.status?.replicas ?? [])
    .map((r) => r.pid ?? 0)
    .sort((a, b) => a - b);
}

interface AppStatus {
  status?: {
    replicas?: { desired: number; ready: number };
    placements?: { component: string; cluster: string; ready: number; desired: number }[];
  };
}

const APP = `
apiVersion: yunjian.io/v1alpha1
kind: Application
metadata: { name: shop }
spec:
  components:
${['web', 'api', 'cache']
  .map(
    (name, i) => `    - name: ${name}
      image: example/${name}:1
      platforms: [${name === 'api' ? 'linux/amd64' : 'linux/amd64, linux/arm64'}]
      replicas: 3
      resources: { cpu: 100m, memory: 32Mi }
      ports: [{ name: http, port: ${18080 + i} }]
      command: [${JSON.stringify(NODE)}, ${JSON.stringify(HELLO)}]
      env: { COMPONENT: ${name} }
      healthCheck: { http: { path: /healthz }, intervalSeconds: 1, failureThreshold: 2 }`,
  )
  .join('\n')}
  placement:
    spread: [{ by: cloud, min: 3 }]
`;

before(async () => {
  await lab.startServer(0);
  await lab.join(join(ROOT, 'test/fixtures/agent/fleet.yaml'), AGENTS);
});

after(() => lab.stopAll());

test('an app runs on three agents, survives replica and control-plane kill -9', async (t) => {
  await t.test('agents join and their clusters become Ready', async () => {
    await until('3 clusters ready', async () => {
      const list = await api<{
        items: {
          spec: { driver: { type: string } };
          status?: { conditions?: { type: string; status: string }[] };
        }[];
      }>('/api/v1alpha1/clusters');
      const ready = list.items.filter(
        (c) =>
          c.spec.driver.type === 'agent' &&
          c.status?.conditions?.some((x) => x.type === 'Ready' && x.status === 'True'),
      );
      return ready.length === 3 ? true : undefined;
    });
  });

  await t.test('the app becomes Ready, architecture-aware, on three clouds', async () => {
    writeFileSync(join(dir, 'app.yaml'), APP);
    const applied = await cli('apply', '-f', join(dir, 'app.yaml'));
    assert.equal(applied.code, 0, applied.stderr);
    const app = await until(
      'app ready',
      async () => {
        const a = await api<AppStatus>('/api/v1alpha1/namespaces/default/applications/shop');
        const r = a.status?.replicas;
        return r !== undefined && r.desired === 9 && r.ready === 9 ? a : undefined;
      },
      { timeoutMs: 60_000 },
    );
    const placements = app.status?.placements ?? [];
    assert.ok(
      !placements.some((p) => p.component === 'api' && p.cluster === 'north' && p.desired > 0),
      'the amd64-only component is not placed on the arm64 agent',
    );
    assert.ok(new Set(placements.map((p) => p.cluster)).size === 3, 'spread over three clusters');
  });

  const served: { address: string; port: number }[] = [];
  await t.test("HTTP to each agent's ingress is answered by the replicas", async () => {
    const app = await api<
      AppStatus & {
        status?: { placements?: { endpoints?: { address: string; port: number }[] }[] };
      }
    >('/api/v1alpha1/namespaces/default/applications/shop');
    for (const p of app.status?.placements ?? [])
      for (const e of (p as { endpoints?: { address: string; port: number }[] }).endpoints ?? [])
        served.push(e);
    assert.deepEqual(
      [...new Set(served.map((e) => e.address))].sort(),
      AGENTS.map((a) => a.address).sort(),
      'every agent serves an endpoint',
    );
    for (const e of served) {
      const answer = await hit(e.address, e.port);
      assert.ok(answer.pid > 0, `answered on ${e.address}:${e.port}`);
    }
  });

  let victim = { replica: '', pid: 0 };
  await t.test('a replica killed with -9 is restarted', async () => {
    const e = served[0]!;
    victim = await hit(e.address, e.port);
    process.kill(victim.pid, 'SIGKILL');
    await until('replica restarted', async () => {
      const wl = await api<{
        items: { status?: { replicas?: { id: string; restarts: number; ready: boolean }[] } }[];
      }>('/api/v1alpha1/workloads');
      const r = wl.items
        .flatMap((w) => w.status?.replicas ?? [])
        .find((x) => x.id === victim.replica && x.restarts >= 1);
      return r?.ready === true ? r : undefined;
    });
  });

  await t.test('yunjian logs shows the replicas output', async () => {
    const logs = await until('logs', async () => {
      const r = await cli('logs', 'app', 'shop', '--tail', '50');
      return r.code === 0 && r.stdout.includes(`/${victim.replica}] `) ? r : undefined;
    });
    assert.match(logs.stdout, /listening on 127\.0\.[123]\.1:/);
    assert.match(logs.stdout, /exited on SIGKILL/);
  });

  await t.test(
    'kill -9 of the control plane: replicas keep answering; a restart reconciles',
    async () => {
      const port = Number(new URL(lab.url).port);
      const pidsBefore = await replicaPids();
      killGroup(lab.server!, 'SIGKILL');
      await new Promise((r) => setTimeout(r, 2000));
      for (const e of served) assert.ok((await hit(e.address, e.port)).pid > 0);
      await lab.startServer(port);
      // The agents reconnect on their own and heartbeat into the new control plane.
      await until('every agent reconnected', () =>
        Promise.resolve(
          [...lab.agents.values()].filter((c) =>
            lab.output(c).includes('control plane reachable again'),
          ).length === 3
            ? true
            : undefined,
        ),
      );
      await until('app ready after restart', async () => {
        const a = await api<AppStatus>('/api/v1alpha1/namespaces/default/applications/shop');
        return a.status?.replicas?.ready === 9 ? a : undefined;
      });
      // A few heartbeats and controller passes later, nothing was restarted or added.
      await new Promise((r) => setTimeout(r, 3000));
      assert.deepEqual(await replicaPids(), pidsBefore, 'the same replica processes, none added');
      for (const e of served) assert.ok((await hit(e.address, e.port)).pid > 0);
    },
  );
});
