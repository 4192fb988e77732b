// Issue 4's acceptance run with real processes: the example shop
// (examples/agents/shop.yaml) on three agent "clouds" on their own loopback
// addresses. Kill -9 of the control plane in the middle of a rollout loses and
// duplicates no replica; kill -9 of a whole agent cloud (agent and replicas)
// moves its replicas to the others within the grace period plus 5 s, where
// they answer HTTP; after the cloud returns and the stabilisation window
// passes, they fail back.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import {
  AgentLab,
  ROOT,
  hit,
  isAlive,
  killGroup,
  until,
  type AgentSpec,
} from './agents.harness.ts';

const GRACE_SECONDS = 3;
const STABILIZATION_SECONDS = 4;
const AGENTS: AgentSpec[] = [
  { cluster: 'east', site: 'alpha-1', address: '127.0.11.1', arch: 'amd64', apiPort: 17690 },
  { cluster: 'north', site: 'beta-1', address: '127.0.12.1', arch: 'arm64', apiPort: 17691 },
  { cluster: 'west', site: 'gamma-1', address: '127.0.13.1', arch: 'amd64', apiPort: 17692 },
];
const lab = new AgentLab();

interface Placement {
  component: string;
  cluster: string;
  desired: number;
  ready: number;
  draining?: boolean;
  endpoints?: { address: string; port: number }[];
}
interface AppView {
  status?: {
    replicas?: { desired: number; ready: number };
    placements?: Placement[];
    conditions?: { status: string }[];
    displaced?: unknown[];
  };
}
interface WorkloadView {
  spec: { cluster: string; key: { component: string } };
  status?: { replicas?: { id: string; pid?: number; ready: boolean }[] };
}

const appPath = '/api/v1alpha1/namespaces/default/applications/shop';
const shop = (webReplicas: number) =>
  readFileSync(join(ROOT, 'examples/agents/shop.yaml'), 'utf8')
    .replace(/stabilizationSeconds: \d+/, `stabilizationSeconds: ${STABILIZATION_SECONDS}`)
    .replace(
      /replicas: 3\n(\s+resources[^\n]*\n\s+ports: \[\{ name: http, port: 18080)/,
      `replicas: ${webReplicas}\n$1`,
    );

async function applyShop(webReplicas: number): Promise<void> {
  const file = join(lab.dir, `shop-${webReplicas}.yaml`);
  writeFileSync(file, shop(webReplicas));
  const r = await lab.cli('apply', '-f', file);
  assert.equal(r.code, 0, r.stderr);
}

const ready = (a: AppView, desired: number) =>
  a.status?.conditions?.[0]?.status === 'True' &&
  a.status.replicas?.desired === desired &&
  a.status.replicas.ready === desired;

/** Replica processes the agents report: component -> pids (only those alive). */
async function replicaPids(): Promise<Map<string, number[]>> {
  const wl = await lab.api<{ items: WorkloadView[] }>('/api/v1alpha1/workloads');
  const out = new Map<string, number[]>();
  for (const w of wl.items)
    for (const r of w.status?.replicas ?? [])
      if (r.pid !== undefined && isAlive(r.pid))
        out.set(w.spec.key.component, [...(out.get(w.spec.key.component) ?? []), r.pid]);
  return out;
}

before(async () => {
  await lab.startServer(0, ['--cluster-grace-seconds', String(GRACE_SECONDS)]);
  await lab.join(join(ROOT, 'examples/agents/fleet.yaml'), AGENTS);
});
after(() => lab.stopAll());

test('the shop on three agent clouds: control-plane crash mid-rollout, cloud failover and failback', async (t) => {
  assert.match(
    shop(6),
    /replicas: 6\n\s+resources: \{ cpu: 100m, memory: 32Mi \}\n\s+ports: \[\{ name: http, port: 18080/,
  );

  await t.test('runs on three clouds and answers HTTP on every agent address', async () => {
    // Spread is placed over the clusters Ready at apply time: wait for all three.
    await until('three agent clusters Ready', async () => {
      const list = await lab.api<{ items: { status?: { conditions?: { status: string }[] } }[] }>(
        '/api/v1alpha1/clusters',
      );
      return list.items.filter((c) => c.status?.conditions?.[0]?.status === 'True').length === 3
        ? true
        : undefined;
    });
    await applyShop(3);
    const app = await until(
      'shop Ready with an endpoint on every agent',
      async () => {
        const a = await lab.api<AppView>(appPath);
        const ps = a.status?.placements ?? [];
        return ready(a, 9) && ps.every((p) => (p.endpoints ?? []).length > 0) ? a : undefined;
      },
      { timeoutMs: 90_000 },
    );
    const ps = app.status?.placements ?? [];
    assert.equal(new Set(ps.map((p) => p.cluster)).size, 3);
    assert.ok(
      !ps.some((p) => p.component === 'api' && p.cluster === 'north'),
      'amd64-only api not on arm64',
    );
    assert.equal(new Set(ps.flatMap((p) => p.endpoints ?? []).map((e) => e.address)).size, 3);
    for (const p of ps)
      for (const e of p.endpoints ?? [])
        assert.equal((await hit(e.address, e.port)).component, p.component);
  });

  await t.test(
    'kill -9 of the control plane mid-rollout: no replica lost, none duplicated',
    async () => {
      const before = await replicaPids();
      await applyShop(6);
      // Let the rollout start (some new web replicas placed), then crash.
      await until('rollout under way', async () => {
        const a = await lab.api<AppView>(appPath);
        return (a.status?.replicas?.desired ?? 0) > 9 ? true : undefined;
      });
      const port = Number(new URL(lab.url).port);
      killGroup(lab.server!, 'SIGKILL');
      await new Promise((r) => setTimeout(r, 1000));
      await lab.startServer(port, ['--cluster-grace-seconds', String(GRACE_SECONDS)]);
      await until(
        'shop Ready with 6 web replicas',
        async () => {
          const a = await lab.api<AppView>(appPath);
          return ready(a, 12) ? a : undefined;
        },
        { timeoutMs: 90_000 },
      );
      // A few heartbeats later the processes are exactly what the app asks for.
      await new Promise((r) => setTimeout(r, 2000));
      const afterCrash = await replicaPids();
      assert.equal(afterCrash.get('web')?.length, 6, `web: ${afterCrash.get('web')?.join(',')}`);
      assert.equal(afterCrash.get('api')?.length, 3);
      assert.equal(afterCrash.get('cache')?.length, 3);
      for (const c of ['web', 'api', 'cache'])
        for (const pid of before.get(c) ?? [])
          assert.ok(afterCrash.get(c)?.includes(pid), `${c} replica ${pid} survived the crash`);
    },
  );

  const victim = AGENTS[2]!;
  await t.test(
    `kill -9 of cloud ${victim.cluster}: replicas answer elsewhere within grace + 5 s`,
    async () => {
      const wl = await lab.api<{ items: WorkloadView[] }>('/api/v1alpha1/workloads');
      const pids = wl.items
        .filter((w) => w.spec.cluster === victim.cluster)
        .flatMap((w) => (w.status?.replicas ?? []).map((r) => r.pid ?? 0))
        .filter((p) => p > 0);
      assert.ok(pids.length > 0, 'the victim runs replicas');
      const killedAt = Date.now();
      killGroup(lab.agents.get(victim.cluster)!, 'SIGKILL');
      for (const pid of pids) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // gone with its agent
        }
      }
      const moved = await until(
        'replicas Ready off the dead cloud',
        async () => {
          const a = await lab.api<AppView>(appPath);
          const active = (a.status?.placements ?? []).filter((p) => p.draining !== true);
          return ready(a, 12) && !active.some((p) => p.cluster === victim.cluster) ? a : undefined;
        },
        { timeoutMs: 60_000 },
      );
      const endpoints = (moved.status?.placements ?? [])
        .filter((p) => p.draining !== true)
        .flatMap((p) => p.endpoints ?? []);
      for (const e of endpoints) assert.ok((await hit(e.address, e.port)).pid > 0);
      const seconds = (Date.now() - killedAt) / 1000;
      t.diagnostic(`failover took ${seconds.toFixed(1)} s (grace ${GRACE_SECONDS} s)`);
      assert.ok(seconds <= GRACE_SECONDS + 5, `failover took ${seconds.toFixed(1)} s`);
    },
  );

  await t.test(
    'after the cloud returns and the stabilisation window, replicas fail back',
    async () => {
      lab.startAgent(victim);
      const back = await until(
        'failback',
        async () => {
          const a = await lab.api<AppView>(appPath);
          const ps = a.status?.placements ?? [];
          return ready(a, 12) &&
            a.status?.displaced === undefined &&
            ps.some((p) => p.cluster === victim.cluster && p.ready > 0) &&
            ps.every((p) => p.draining !== true)
            ? a
            : undefined;
        },
        { timeoutMs: 90_000 },
      );
      const here = (back.status?.placements ?? []).filter((p) => p.cluster === victim.cluster);
      for (const e of here.flatMap((p) => p.endpoints ?? []))
        assert.ok((await hit(e.address, e.port)).pid > 0, `answers on ${e.address}:${e.port}`);
      const reasons = (
        await lab.api<{ items: { spec: { reason: string } }[] }>('/api/v1alpha1/events')
      ).items.map((e) => e.spec.reason);
      for (const r of ['ClusterNotReady', 'Failover', 'ClusterReady', 'Failback'])
        assert.ok(reasons.includes(r), `event ${r}`);
    },
  );
});
