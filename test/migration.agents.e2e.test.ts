// Issue 16's acceptance run with real processes: a control plane, three agent
// "clouds" on their own loopback addresses and a gateway, with steady HTTP
// load through the gateway the whole time. The app migrates alpha -> beta with
// no failed request; then a migration beta -> gamma whose target starts
// answering 500 at step 2 (examples/apps/hello.mjs with HELLO_FAIL_FILE, set
// on gamma only by an override) fails its gate and rolls back to exactly the
// state before, again with no failed request: the gateway retries what the
// bad target fails, and the gate sees those failures in its per-backend stats.
import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import { Resolver } from 'node:dns/promises';
import { Agent, request } from 'node:http';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { allocatePort } from '../src/lib/net.ts';
import { AgentLab, ROOT, killGroup, until, type AgentSpec } from './agents.harness.ts';

const AGENTS: AgentSpec[] = [
  { cluster: 'east', site: 'alpha-1', address: '127.0.21.1', arch: 'amd64', apiPort: 17790 },
  { cluster: 'north', site: 'beta-1', address: '127.0.22.1', arch: 'arm64', apiPort: 17791 },
  { cluster: 'west', site: 'gamma-1', address: '127.0.23.1', arch: 'amd64', apiPort: 17792 },
];
const HOST = 'hello.migrate.example.com';
const lab = new AgentLab();
const failFile = join(lab.dir, 'gamma-fails');
let gatewayPort = 0;
let dnsPort = 0;
/** The port hello listens on, on each agent's address. */
const APP_PORT = 18190;

interface Placement {
  component: string;
  cluster: string;
  desired: number;
  ready: number;
  draining?: boolean;
  endpoints?: { address: string; port: number }[];
}
interface AppView {
  metadata: { generation?: number };
  spec: Record<string, unknown> & {
    migration?: unknown;
    placement?: { clusterAffinity?: unknown };
  };
  status?: { observedGeneration?: number; placements?: Placement[] };
}
interface MigrationView {
  status?: {
    phase: string;
    step?: number;
    message?: string;
    analyses?: { weight: number; result: string; requests: number; message: string }[];
  };
}

const appPath = '/api/v1alpha1/namespaces/default/applications/hello';
const migrationPath = (name: string) => `/api/v1alpha1/namespaces/default/migrations/${name}`;

const app = `apiVersion: yunjian.io/v1alpha1
kind: Application
metadata: { name: hello, namespace: default }
spec:
  components:
    - name: web
      image: example/hello:1
      platforms: [linux/amd64, linux/arm64]
      replicas: 2
      resources: { cpu: 100m, memory: 32Mi }
      ports: [{ name: http, port: ${APP_PORT} }]
      command: [node, examples/apps/hello.mjs]
      env: { COMPONENT: web }
      healthCheck: { http: { path: /healthz }, intervalSeconds: 1, failureThreshold: 2 }
  placement:
    clusterAffinity: { clouds: [alpha] }
  overrides:
    - target: { clusters: [west] }
      patches: { env: { COMPONENT: web, HELLO_FAIL_FILE: ${failFile} } }
  traffic:
    host: ${HOST}
    strategy: failover
    ttl: 5
    failover: { order: [{ cloud: alpha }, { cloud: beta }, { cloud: gamma }] }
    healthCheck:
      http: { path: /healthz }
      intervalSeconds: 0.2
      timeoutSeconds: 0.5
      unhealthyThreshold: 2
      healthyThreshold: 1
`;

/** Steady GETs through the gateway until stopped (bounded in count and time). */
class Load {
  ok = 0;
  readonly failures: string[] = [];
  readonly byCluster = new Map<string, number>();
  #stop = false;
  readonly #agent = new Agent({ keepAlive: true, maxSockets: 4 });
  readonly #loops: Promise<void>[] = [];

  start(loops = 2, maxRequests = 200_000, maxMs = 300_000): void {
    const deadline = Date.now() + maxMs;
    for (let i = 0; i < loops; i++)
      this.#loops.push(
        (async () => {
          for (let n = 0; n < maxRequests && !this.#stop && Date.now() < deadline; n++) {
            await this.#once();
            await new Promise((r) => setTimeout(r, 5));
          }
        })(),
      );
  }

  #once(): Promise<void> {
    return new Promise((resolve) => {
      const req = request(
        {
          host: '127.0.0.1',
          port: gatewayPort,
          path: '/',
          agent: this.#agent,
          headers: { host: HOST },
        },
        (res) => {
          res.resume();
          res.on('end', () => {
            const ep = String(res.headers['x-yunjian-endpoint'] ?? '?');
            if (res.statusCode === 200) {
              this.ok++;
              this.byCluster.set(ep, (this.byCluster.get(ep) ?? 0) + 1);
            } else this.failures.push(`HTTP ${res.statusCode} from ${ep}`);
            resolve();
          });
        },
      );
      req.setTimeout(5000, () => req.destroy(new Error('timeout')));
      req.on('error', (err) => {
        this.failures.push(err.message);
        resolve();
      });
      req.end();
    });
  }

  async stop(): Promise<void> {
    this.#stop = true;
    await Promise.all(this.#loops);
    this.#agent.destroy();
  }
}

/**
 * Clients that find the app through the control plane's DNS and honour the
 * TTL: each resolves the host, keeps its answer for the TTL, and sends each GET
 * on a new connection straight to the answered address (no gateway, no
 * retry). They start a second apart, so their answers expire at different
 * times. Bounded in count and time.
 */
class DnsClients {
  ok = 0;
  resolutions = 0;
  readonly failures: string[] = [];
  readonly byAddress = new Map<string, number>();
  readonly ttls = new Set<number>();
  #stop = false;
  readonly #loops: Promise<void>[] = [];
  readonly #resolver = new Resolver({ timeout: 1000, tries: 2 });

  constructor(dnsPort: number) {
    this.#resolver.setServers([`127.0.0.1:${dnsPort}`]);
  }

  start(clients = 4, maxRequests = 50_000, maxMs = 300_000): void {
    const deadline = Date.now() + maxMs;
    for (let i = 0; i < clients; i++)
      this.#loops.push(
        (async () => {
          if (i > 0) await new Promise((r) => setTimeout(r, i * 1000));
          const cache: { answer?: { address: string; until: number } } = {};
          for (let n = 0; n < maxRequests && !this.#stop && Date.now() < deadline; n++) {
            const address = await this.#address(cache);
            if (address !== undefined) await this.#get(address);
            await new Promise((r) => setTimeout(r, 10));
          }
        })(),
      );
  }

  async #address(cache: { answer?: { address: string; until: number } }) {
    if (cache.answer === undefined || Date.now() >= cache.answer.until) {
      try {
        const records = await this.#resolver.resolve4(HOST, { ttl: true });
        this.resolutions++;
        const ttl = Math.min(...records.map((r) => r.ttl));
        this.ttls.add(ttl);
        const address = records[0]?.address;
        if (address === undefined) throw new Error('no address');
        cache.answer = { address, until: Date.now() + ttl * 1000 };
      } catch (err) {
        this.failures.push(`resolve: ${(err as Error).message}`);
        return undefined;
      }
    }
    return cache.answer.address;
  }

  #get(address: string): Promise<void> {
    return new Promise<void>((resolve) => {
      const req = request({ host: address, port: APP_PORT, path: '/', agent: false }, (res) => {
        res.resume();
        res.on('end', () => {
          if (res.statusCode === 200) {
            this.ok++;
            this.byAddress.set(address, (this.byAddress.get(address) ?? 0) + 1);
          } else this.failures.push(`HTTP ${res.statusCode} from ${address}`);
          resolve();
        });
      });
      req.setTimeout(5000, () => req.destroy(new Error('timeout')));
      req.on('error', (err) => {
        this.failures.push(`${address}: ${err.message}`);
        resolve();
      });
      req.end();
    });
  }

  async stop(): Promise<void> {
    this.#stop = true;
    await Promise.all(this.#loops);
  }
}

async function migrate(name: string, to: string, extra: string[]): Promise<MigrationView> {
  const r = await lab.cli(
    'migrate',
    'app',
    'hello',
    '--to',
    to,
    '--name',
    name,
    '--steps',
    '25,50,100',
    '--pause',
    '3s',
    ...extra,
  );
  assert.equal(r.code, 0, r.stderr);
  return until(
    `migration ${name} finished`,
    async () => {
      const m = await lab.api<MigrationView>(migrationPath(name));
      return ['Succeeded', 'RolledBack', 'Failed', 'Paused'].includes(m.status?.phase ?? '')
        ? m
        : undefined;
    },
    {
      timeoutMs: 150_000,
      context: async () =>
        JSON.stringify((await lab.api<MigrationView>(migrationPath(name))).status),
    },
  );
}

/** The app settled: its status describes its spec, every placement ready and not draining. */
const settled = () =>
  until(
    'hello settled',
    async () => {
      const a = await lab.api<AppView>(appPath);
      const ps = a.status?.placements ?? [];
      return a.status?.observedGeneration === a.metadata.generation &&
        ps.length > 0 &&
        ps.every(
          (p) => p.draining !== true && p.ready === p.desired && (p.endpoints ?? []).length > 0,
        )
        ? a
        : undefined;
    },
    { timeoutMs: 90_000 },
  );

const serverArgs = () => [
  '--dns-port',
  String(dnsPort),
  '--gateway-stats',
  `http://127.0.0.1:${gatewayPort}/.well-known/yunjian/backends`,
];

before(async () => {
  gatewayPort = await allocatePort();
  dnsPort = await allocatePort();
  await lab.startServer(0, serverArgs());
  await lab.join(join(ROOT, 'examples/agents/fleet.yaml'), AGENTS);
  const gw = lab.spawn(
    ['--server', lab.url, '--token', lab.admin, 'gateway', '--listen', `127.0.0.1:${gatewayPort}`],
    'gateway',
  );
  await until('gateway up', () => (/gateway serving on/.test(lab.output(gw)) ? true : undefined));
});
after(() => lab.stopAll());

test('migrating an app between agent clouds under load through the gateway', async (t) => {
  await until(
    'three agent clusters Ready',
    async () => {
      const list = await lab.api<{ items: { status?: { conditions?: { status: string }[] } }[] }>(
        '/api/v1alpha1/clusters',
      );
      return list.items.filter((c) => c.status?.conditions?.[0]?.status === 'True').length === 3
        ? true
        : undefined;
    },
    { timeoutMs: 60_000 },
  );
  const file = join(lab.dir, 'hello.yaml');
  writeFileSync(file, app);
  const applied = await lab.cli('apply', '-f', file);
  assert.equal(applied.code, 0, applied.stderr);
  const placed = await settled();
  assert.deepEqual(
    placed.status?.placements?.map((p) => p.cluster),
    ['east'],
  );
  const load = new Load();
  await until('the gateway serves hello', async () => {
    const probe = new Load();
    probe.start(1, 1);
    await probe.stop();
    return probe.ok === 1 ? true : undefined;
  });
  load.start();
  t.after(() => load.stop());
  const dns = new DnsClients(dnsPort);
  await until('DNS answers hello with east', async () => {
    const probe = new DnsClients(dnsPort);
    probe.start(1, 1);
    await probe.stop();
    return probe.byAddress.has('127.0.21.1') ? true : undefined;
  });
  dns.start(5);
  t.after(() => dns.stop());

  await t.test('alpha -> beta: every step passes, 0 failed requests', async () => {
    const m = await migrate('hello-to-beta', 'cloud=beta', ['--finalize', 'automatic']);
    assert.equal(m.status?.phase, 'Succeeded', JSON.stringify(m.status));
    assert.deepEqual(
      m.status?.analyses?.map((a) => [a.weight, a.result]),
      [
        [25, 'success'],
        [50, 'success'],
        [100, 'success'],
      ],
    );
    const a = await settled();
    assert.deepEqual(
      a.status?.placements?.map((p) => p.cluster),
      ['north'],
    );
    assert.equal(a.spec.migration, undefined);
    assert.deepEqual(a.spec.placement?.clusterAffinity, { clouds: ['beta'] });
    t.diagnostic(`requests by cluster: ${JSON.stringify(Object.fromEntries(load.byCluster))}`);
    assert.ok((load.byCluster.get('north') ?? 0) > 0, 'the target served');
    assert.deepEqual(load.failures, []);
    // The DNS client followed the answers as they changed, each kept for its
    // TTL (5 s, longer than the 3 s pauses: the source outlives its last answer).
    t.diagnostic(
      `DNS clients: ${dns.ok} requests, ${dns.resolutions} resolutions, by address ${JSON.stringify(Object.fromEntries(dns.byAddress))}`,
    );
    assert.deepEqual(dns.failures, []);
    assert.deepEqual([...dns.ttls], [5]);
    assert.ok((dns.byAddress.get('127.0.22.1') ?? 0) > 0, 'DNS sent the client to the target');
    assert.ok(dns.resolutions >= 10, `re-resolved as the TTL ran out (${dns.resolutions})`);
  });

  await t.test('beta -> gamma failing at step 2: exact rollback, 0 failed requests', async () => {
    const before = await settled();
    const watcher = (async () => {
      // gamma's replicas start failing when step 2 begins.
      await until(
        'step 2',
        async () => {
          const m = await lab.api<MigrationView>(migrationPath('hello-to-gamma'));
          return (m.status?.step ?? 0) >= 1 || m.status?.phase === 'RollingBack' ? true : undefined;
        },
        { timeoutMs: 150_000, stepMs: 20 },
      );
      writeFileSync(failFile, 'fail\n');
    })();
    const m = await migrate('hello-to-gamma', 'cloud=gamma', []);
    await watcher;
    assert.equal(m.status?.phase, 'RolledBack', JSON.stringify(m.status));
    assert.deepEqual(
      m.status?.analyses?.map((a) => [a.weight, a.result]),
      [
        [25, 'success'],
        [50, 'fail'],
      ],
    );
    const after = await settled();
    // Field by field: the spec, then each placement's cluster, replicas and endpoints.
    assert.deepEqual(after.spec, before.spec);
    const shape = (a: AppView) =>
      (a.status?.placements ?? []).map((p) => ({
        component: p.component,
        cluster: p.cluster,
        desired: p.desired,
        endpoints: p.endpoints,
      }));
    assert.deepEqual(shape(after), shape(before));
    assert.deepEqual(load.failures, []);
    const reasons = (
      await lab.api<{ items: { spec: { reason: string } }[] }>('/api/v1alpha1/events')
    ).items.map((e) => e.spec.reason);
    for (const r of [
      'MigrationPreScaling',
      'MigrationShifting',
      'MigrationRollingBack',
      'MigrationRolledBack',
    ])
      assert.ok(reasons.includes(r), `event ${r}`);
    // A DNS client has no gateway to retry for it: gamma's own 500s reach it.
    // Nothing else does: gamma served until the answers pointing at it expired.
    await dns.stop();
    t.diagnostic(`DNS clients during the rollback: ${JSON.stringify(dns.failures.slice(0, 5))}`);
    assert.deepEqual(
      dns.failures.filter((f) => f !== 'HTTP 500 from 127.0.23.1'),
      [],
    );
  });

  // YUNJIAN_KILL_PHASE picks the phase; by default one is drawn at random.
  const phases = ['PreScaling', 'Shifting', 'Cutover'];
  const killAt =
    process.env.YUNJIAN_KILL_PHASE ??
    phases[Math.floor(Math.random() * phases.length)] ??
    'Shifting';
  await t.test(
    `kill -9 of the control plane in ${killAt}: the migration resumes and succeeds`,
    async () => {
      rmSync(failFile, { force: true });
      await settled();
      // Watched, not polled: PreScaling can last less than one poll.
      const entered = await lab.firstWatched<MigrationView & { metadata: { name: string } }>(
        '/api/v1alpha1/namespaces/default/migrations',
        (m) => m.metadata.name === 'hello-to-gamma-again' && m.status?.phase === killAt,
        120_000,
      );
      const created = lab.cli(
        'migrate',
        'app',
        'hello',
        '--to',
        'cloud=gamma',
        '--name',
        'hello-to-gamma-again',
        '--steps',
        '25,50,100',
        '--pause',
        '3s',
        '--finalize',
        'automatic',
      );
      await entered.found;
      const port = Number(new URL(lab.url).port);
      killGroup(lab.server!, 'SIGKILL');
      // The kill may land before the CLI reads its answer; the watch saw the
      // Migration stored, which is what the rest checks.
      await created;
      await new Promise((r) => setTimeout(r, 1000));
      await lab.startServer(port, serverArgs());
      const m = await until(
        'the migration finished after the restart',
        async () => {
          const v = await lab.api<MigrationView>(migrationPath('hello-to-gamma-again'));
          return ['Succeeded', 'RolledBack', 'Failed', 'Paused'].includes(v.status?.phase ?? '')
            ? v
            : undefined;
        },
        { timeoutMs: 150_000 },
      );
      assert.equal(m.status?.phase, 'Succeeded', JSON.stringify(m.status));
      const a = await settled();
      assert.deepEqual(
        a.status?.placements?.map((p) => [p.cluster, p.desired]),
        [['west', 2]],
      );
      // No replica lost or duplicated: the agents run exactly the two replicas the app asks for.
      await new Promise((r) => setTimeout(r, 2000));
      const wl = await lab.api<{
        items: { spec: { cluster: string }; status?: { replicas?: unknown[] } }[];
      }>('/api/v1alpha1/workloads');
      assert.deepEqual(
        wl.items.map((w) => [w.spec.cluster, w.status?.replicas?.length]),
        [['west', 2]],
      );
      assert.deepEqual(load.failures, []);
    },
  );
});
