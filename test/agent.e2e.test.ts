// End to end with real processes: a control plane (runServer on a free port)
// and three `yunjian agent` processes on 127.0.1.1, 127.0.2.1 and 127.0.3.1
// (one reporting arm64) run an app of three components; HTTP through each
// agent's ingress is answered by the replicas; a replica killed with -9 comes
// back; `yunjian logs` shows its output; after kill -9 of the control plane
// the replicas keep answering, and a new control plane finds them in sync.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, test } from 'node:test';

const ROOT = resolve(import.meta.dirname, '..');
const NODE = process.execPath;
const MAIN = join(ROOT, 'src/cli/main.ts');
const HELLO = join(ROOT, 'examples/apps/hello.mjs');
const AGENTS = [
  { cluster: 'east', site: 'alpha-1', address: '127.0.1.1', arch: 'amd64' },
  { cluster: 'north', site: 'beta-1', address: '127.0.2.1', arch: 'arm64' },
  { cluster: 'west', site: 'gamma-1', address: '127.0.3.1', arch: 'amd64' },
] as const;

const dir = mkdtempSync(join(tmpdir(), 'yunjian-agent-e2e-'));
const children: ChildProcess[] = [];
let server: ChildProcess | undefined;
let url = '';
let admin = '';

function start(args: string[], logName: string): ChildProcess {
  // Own process group, so cleanup can end it and nothing else.
  const child = spawn(NODE, [MAIN, ...args], {
    cwd: ROOT,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, YUNJIAN_TOKEN: '', YUNJIAN_SERVER: '' },
  });
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  child.on('exit', () => writeFileSync(join(dir, `${logName}.log`), out));
  Object.assign(child, { output: () => out });
  children.push(child);
  return child;
}

function output(child: ChildProcess): string {
  return (child as ChildProcess & { output: () => string }).output();
}

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) {
    try {
      process.kill(-child.pid, signal);
    } catch {
      // gone
    }
  }
}

async function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const child = spawn(NODE, [MAIN, '--server', url, '--token', admin, ...args], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const code = await new Promise<number>((r) => child.on('exit', (c) => r(c ?? 1)));
  return { code, stdout, stderr };
}

async function until<T>(what: string, fn: () => Promise<T | undefined>, ms = 30_000): Promise<T> {
  const deadline = Date.now() + ms;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline)
      assert.fail(
        `${what}: not reached in ${ms} ms${last instanceof Error ? ` (${last.message})` : ''}`,
      );
    await new Promise((r) => setTimeout(r, 250));
  }
}

async function api<T>(path: string): Promise<T> {
  const res = await fetch(`${url}${path}`, { headers: { authorization: `Bearer ${admin}` } });
  if (!res.ok) throw new Error(`${path}: HTTP ${res.status}`);
  return (await res.json()) as T;
}

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

async function hit(address: string, port: number): Promise<{ replica: string; pid: number }> {
  const res = await fetch(`http://${address}:${port}/`, { signal: AbortSignal.timeout(2000) });
  return (await res.json()) as { replica: string; pid: number };
}

async function startServer(port: number): Promise<void> {
  server = start(
    ['server', '--port', String(port), '--data', join(dir, 'server'), '--fleet', 'none'],
    `server-${Date.now()}`,
  );
  const s = server;
  url = await until('server up', () => {
    const m = /API serving on (http:\/\/\S+)/.exec(output(s));
    return Promise.resolve(m?.[1]);
  });
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
  await startServer(0);
  admin = (await import('node:fs')).readFileSync(join(dir, 'server/admin.token'), 'utf8').trim();
  const fleet = await cli('apply', '-f', join(ROOT, 'test/fixtures/agent/fleet.yaml'));
  assert.equal(fleet.code, 0, fleet.stderr);
  const token = await cli('token', 'create', '--ttl', '1h', '--description', 'e2e');
  assert.equal(token.code, 0, token.stderr);
  AGENTS.forEach((a, i) =>
    start(
      [
        '--server',
        url,
        '--token',
        token.stdout.trim(),
        'agent',
        '--cluster',
        a.cluster,
        '--site',
        a.site,
        '--address',
        a.address,
        '--api-port',
        String(17590 + i),
        '--cpu',
        '4',
        '--memory',
        '4Gi',
        '--arch',
        a.arch,
        '--data',
        join(dir, `agent-${a.cluster}`),
        '--heartbeat-seconds',
        '0.5',
      ],
      `agent-${a.cluster}`,
    ),
  );
});

after(() => {
  for (const c of children) killGroup(c, 'SIGTERM');
  return new Promise<void>((r) =>
    setTimeout(() => {
      for (const c of children) killGroup(c, 'SIGKILL');
      rmSync(dir, { recursive: true, force: true });
      r();
    }, 3000),
  );
});

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
      60_000,
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
      const port = Number(new URL(url).port);
      const pidsBefore = await replicaPids();
      killGroup(server!, 'SIGKILL');
      await new Promise((r) => setTimeout(r, 2000));
      for (const e of served) assert.ok((await hit(e.address, e.port)).pid > 0);
      await startServer(port);
      // The agents reconnect on their own and heartbeat into the new control plane.
      await until('every agent reconnected', () =>
        Promise.resolve(
          children.filter((c) => output(c).includes('control plane reachable again')).length === 3
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
