// Issue 17's acceptance run with real processes: two agent "clouds" on their
// own loopback addresses; PostgreSQL, Redis and NATS instances from the
// catalog run as Debian's binaries under the agents, bound to an example
// application (examples/apps/catalog-client.mjs) that writes and reads through
// each with the env its bindings injected; Redis is upgraded one minor version
// and rolled back with its data intact; then the cloud running NATS (an item
// that declares replication) is killed and the application keeps writing and
// reading through NATS from the other cloud.
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { AgentLab, ROOT, killGroup, until, type AgentSpec } from './agents.harness.ts';

const BINARIES = [
  '/usr/lib/postgresql/15/bin/postgres',
  '/usr/bin/redis-server',
  '/usr/sbin/nats-server',
  '/usr/bin/psql',
];
const missing = BINARIES.filter((b) => !existsSync(b));
if (missing.length > 0 && process.env['CI'] === 'true')
  throw new Error(`missing ${missing.join(', ')} (.ci/run installs them)`);

const AGENTS: AgentSpec[] = [
  { cluster: 'east', site: 'alpha-1', address: '127.0.41.1', arch: 'amd64', apiPort: 17790 },
  { cluster: 'west', site: 'beta-1', address: '127.0.42.1', arch: 'amd64', apiPort: 17791 },
];
const lab = new AgentLab();
// World-traversable (postgres drops to its own user), removed after.
const dataDir = mkdtempSync('/var/tmp/yunjian-catalog-e2e-');

interface AppView {
  status?: {
    placements?: { ready: number; endpoints?: { address: string; port: number }[] }[];
    conditions?: { type: string; status: string }[];
  };
}
interface InstanceView {
  status?: { version?: string; previousVersion?: string; conditions?: { status: string }[] };
}

before(async () => {
  chmodSync(dataDir, 0o755);
  await lab.startServer(0, ['--cluster-grace-seconds', '3']);
  await lab.join(join(ROOT, 'examples/agents/fleet.yaml'), AGENTS);
  await until(
    'agents Ready',
    async () => {
      const list = await lab.api<{
        items: { status?: { conditions?: { type: string; status: string }[] } }[];
      }>('/api/v1alpha1/clusters');
      const ready = list.items.filter((c) =>
        c.status?.conditions?.some((x) => x.type === 'Ready' && x.status === 'True'),
      );
      return ready.length === AGENTS.length ? true : undefined;
    },
    { timeoutMs: 30_000 },
  );
});

after(async () => {
  await lab.stopAll();
  rmSync(dataDir, { recursive: true, force: true });
});

const appReady = (a: AppView) =>
  a.status?.conditions?.find((c) => c.type === 'Ready')?.status === 'True';

async function clientUrl(): Promise<string> {
  const app = await until(
    'shopper serving',
    async () => {
      const a = await lab.api<AppView>('/api/v1alpha1/namespaces/default/applications/shopper');
      return appReady(a) ? a : undefined;
    },
    { timeoutMs: 60_000 },
  );
  const e = app.status?.placements?.find((p) => p.ready > 0)?.endpoints?.[0];
  assert.ok(e, 'no endpoint');
  return `http://${e.address}:${e.port}`;
}

async function call(path: string): Promise<Record<string, unknown>> {
  return until(
    `GET ${path}`,
    async () => {
      try {
        const res = await fetch(`${await clientUrl()}${path}`, {
          signal: AbortSignal.timeout(8000),
        });
        return res.status === 200 ? ((await res.json()) as Record<string, unknown>) : undefined;
      } catch {
        return undefined;
      }
    },
    { timeoutMs: 90_000, stepMs: 1000 },
  );
}

test(
  'PostgreSQL, Redis and NATS on two agent clouds, bound to an app: data round-trips; Redis upgrades and rolls back with its data',
  { skip: missing.length > 0 ? `missing ${missing.join(', ')}` : false },
  async () => {
    const file = join(lab.dir, 'catalog.yaml');
    writeFileSync(
      file,
      readFileSync(join(ROOT, 'examples/catalog/agents.yaml'), 'utf8').replaceAll(
        '/var/tmp/yunjian-catalog',
        dataDir,
      ),
    );
    const applied = await lab.cli('apply', '-f', file);
    assert.equal(applied.code, 0, applied.stderr);

    const put = await call('/put?value=round-trip-1');
    assert.deepEqual(put, {
      redis: 'round-trip-1',
      nats: 'round-trip-1',
      postgres: 'round-trip-1',
    });

    const upgrade = await lab.cli('instance', 'upgrade', 'cache', '--to', '7.2.0');
    assert.equal(upgrade.code, 0, upgrade.stderr);
    await until(
      'cache on 7.2.0 and Ready',
      async () => {
        const i = await lab.api<InstanceView>('/api/v1alpha1/namespaces/default/instances/cache');
        return i.status?.version === '7.2.0' &&
          i.status.previousVersion === '7.0.15' &&
          i.status.conditions?.[0]?.status === 'True'
          ? i
          : undefined;
      },
      { timeoutMs: 60_000 },
    );
    const afterUpgrade = await call('/get');
    assert.equal(afterUpgrade['redis'], 'round-trip-1');

    const rollback = await lab.cli('instance', 'rollback', 'cache');
    assert.equal(rollback.code, 0, rollback.stderr);
    await until(
      'cache back on 7.0.15',
      async () => {
        const i = await lab.api<InstanceView>('/api/v1alpha1/namespaces/default/instances/cache');
        return i.status?.version === '7.0.15' && i.status.conditions?.[0]?.status === 'True'
          ? i
          : undefined;
      },
      { timeoutMs: 60_000 },
    );
    const afterRollback = await call('/get');
    assert.deepEqual(afterRollback, { redis: 'round-trip-1', postgres: 'round-trip-1' });
  },
);

interface WorkloadView {
  spec: { cluster: string; key: { app: string } };
  status?: { replicas?: { pid?: number }[] };
}

test(
  'kill -9 of the cloud running NATS: the application keeps serving through NATS from the other cloud',
  { skip: missing.length > 0 ? `missing ${missing.join(', ')}` : false },
  async () => {
    const bus = await lab.api<AppView & { status?: { placements?: { cluster: string }[] } }>(
      '/api/v1alpha1/namespaces/default/applications/bus',
    );
    const victim = bus.status?.placements?.[0]?.cluster;
    assert.ok(victim !== undefined, 'bus runs somewhere');
    const wl = await lab.api<{ items: WorkloadView[] }>('/api/v1alpha1/workloads');
    const pids = wl.items
      .filter((w) => w.spec.cluster === victim)
      .flatMap((w) => (w.status?.replicas ?? []).map((r) => r.pid ?? 0))
      .filter((p) => p > 0);
    const agent = lab.agents.get(victim);
    assert.ok(agent);
    killGroup(agent, 'SIGKILL');
    // Each replica is its own process group (postgres has children).
    for (const pid of pids) {
      try {
        process.kill(-pid, 'SIGKILL');
      } catch {
        // gone with its agent
      }
    }
    await until(
      'bus serving off the dead cloud',
      async () => {
        const a = await lab.api<{
          status?: { placements?: { cluster: string; ready: number; draining?: boolean }[] };
        }>('/api/v1alpha1/namespaces/default/applications/bus');
        const live = (a.status?.placements ?? []).filter((p) => p.draining !== true && p.ready > 0);
        return live.length > 0 && live.every((p) => p.cluster !== victim) ? a : undefined;
      },
      { timeoutMs: 60_000 },
    );
    const put = await until(
      'a put through NATS after the failover',
      async () => {
        const r = await call('/put?value=after-failover');
        return r['nats'] === 'after-failover' ? r : undefined;
      },
      { timeoutMs: 90_000, stepMs: 1000 },
    );
    assert.equal(put['nats'], 'after-failover');
  },
);
