// `npm run bench:failover`: an application on three real agent clouds, a
// bounded load of 250 requests/s on each of two paths at once, (a) resolving
// the host through the server's DNS and honouring the TTL, (b) through a
// `yunjian gateway` process; then one cloud is killed with SIGKILL (the agent's
// process group and every replica pid it reports). Reports, per path, failed
// requests and the time until no request goes to the dead cloud; the health
// detection time of the server's probers (DNS) and of the gateway's; and the
// control plane's own failover (cluster NotReady after the grace period, the
// replicas Ready on the other clouds).
//
// Every process is real and started here: `yunjian server --dns-port 0
// --cluster-grace-seconds 2`, three `yunjian agent --heartbeat-seconds 0.5` on
// 127.0.31.1, 127.0.32.1 and 127.0.33.1 (each serves the app port on its own
// address and spreads connections over its local replicas of
// examples/apps/hello.mjs), and `yunjian gateway`. Loopback only; each child
// runs in its own process group and is killed at the end, also on failure.
import type { ChildProcess } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { Resolver } from 'node:dns/promises';
import { loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { allocatePort } from '../lib/net.ts';
import type { TrafficStatus } from '../traffic/index.ts';
import { killGroup, killReplica, Lab, sleep, until } from './lab.ts';
import { fixed, int, machine, RESULTS_DIR, table, writeJson } from './report.ts';

const ROOT = resolve(import.meta.dirname, '../..');
const CLOUDS = [
  { cluster: 'east', cloud: 'alpha', site: 'alpha-1', address: '127.0.31.1' },
  { cluster: 'north', cloud: 'beta', site: 'beta-1', address: '127.0.32.1' },
  { cluster: 'west', cloud: 'gamma', site: 'gamma-1', address: '127.0.33.1' },
] as const;
const VICTIM = CLOUDS[0];
const HOST = 'shop.example.com';
const TTL = 1;
const GRACE_SECONDS = 2;
const HEARTBEAT_SECONDS = 0.5;
const RATE = 250;
const DURATION_MS = 12_000;
const KILL_AT_MS = 4_000;
const REQUEST_TIMEOUT_MS = 2_000;
/** How long after the kill we wait for the control plane to move the replicas. */
const CONTROL_PLANE_WAIT_MS = 30_000;
const progress = (line: string) => process.stderr.write(`bench:failover: ${line}\n`);

interface Sample {
  at: number;
  target: string;
  ok: boolean;
}

function get(
  agent: Agent,
  address: string,
  port: number,
): Promise<{ ok: boolean; served: string; attempts: number }> {
  return new Promise((done) => {
    const req = request(
      {
        host: address,
        port,
        path: '/',
        agent,
        headers: { host: HOST },
        timeout: REQUEST_TIMEOUT_MS,
      },
      (res) => {
        res.resume();
        res.on('end', () => {
          const ep = res.headers['x-yunjian-endpoint'];
          done({
            ok: res.statusCode === 200,
            served: typeof ep === 'string' ? ep : address,
            attempts: Number(res.headers['x-yunjian-attempts'] ?? 1),
          });
        });
        res.on('error', () => done({ ok: false, served: address, attempts: 1 }));
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', () => done({ ok: false, served: address, attempts: 1 }));
    req.end();
  });
}

/** Fires requests at a fixed rate (open loop) until the deadline; bounded by count and time. */
async function load(t0: number, fire: () => Promise<Sample>): Promise<Sample[]> {
  const samples: Promise<Sample>[] = [];
  const total = Math.floor((RATE * DURATION_MS) / 1000);
  for (let i = 0; i < total; i++) {
    const due = t0 + (i * 1000) / RATE;
    const wait = due - performance.now();
    if (wait > 0) await sleep(wait);
    samples.push(fire());
  }
  return Promise.all(samples);
}

interface Placement {
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
  };
}
interface WorkloadView {
  spec: { cluster: string };
  status?: { replicas?: { pid?: number }[] };
}
interface ClusterView {
  status?: { conditions?: { type: string; status: string; lastTransitionTime?: string }[] };
}

function appYaml(port: number): string {
  const order = CLOUDS.map((c) => `{ cloud: ${c.cloud} }`).join(', ');
  return `apiVersion: yunjian.io/v1alpha1
kind: Application
metadata: { name: shop, namespace: default }
spec:
  components:
    - name: web
      image: example/web:1
      replicas: 3
      resources: { cpu: 100m, memory: 32Mi }
      ports: [{ name: http, port: ${port} }]
      command: [node, examples/apps/hello.mjs]
      env: { COMPONENT: web }
      healthCheck: { http: { path: /healthz }, intervalSeconds: 1, failureThreshold: 2 }
  placement:
    spread: [{ by: cloud, min: 3 }]
  failover:
    enabled: true
    gracePeriodSeconds: 0
    failback: { enabled: true, stabilizationSeconds: 600 }
  traffic:
    host: ${HOST}
    strategy: failover
    ttl: ${TTL}
    failover: { order: [${order}] }
    healthCheck:
      http: { path: /healthz }
      intervalSeconds: 0.5
      timeoutSeconds: 0.5
      unhealthyThreshold: 2
      healthyThreshold: 2
`;
}

/** One run's record in failover.json; `passed` when every step completed and each failover was observed. */
interface RunRecord {
  run: number;
  passed: boolean;
  error?: string;
  loadAverage?: string;
  detection?: { dnsS: number; gatewayS: number };
  controlPlane?: { replicasMovedS: number; clusterNotReadyS: number };
  dns?: PathSummary;
  gateway?: PathSummary;
  events?: TrafficStatus['events'];
}

interface PathSummary {
  requests: number;
  failed: number;
  untilNoneToDeadS: number;
  rps: number;
}

/** One run with its own processes and data; throws when a step does not complete. */
async function runOnce(run: number): Promise<RunRecord> {
  const lab = new Lab('failover');
  let replicaPids: number[] = [];
  let api: (<T>(path: string) => Promise<T>) | undefined;
  try {
    const server = lab.spawn([
      'server',
      '--port',
      '0',
      '--dns-port',
      '0',
      '--data',
      join(lab.dir, 'server'),
      '--fleet',
      'none',
      '--cluster-grace-seconds',
      String(GRACE_SECONDS),
    ]);
    const url = (await lab.waitFor(server, /API serving on (http:\/\/\S+)/, 'server up'))[1] ?? '';
    const dnsPort = Number(
      (await lab.waitFor(server, /DNS \(GSLB\) serving on \S+:(\d+)/, 'server DNS'))[1],
    );
    const admin = readFileSync(join(lab.dir, 'server/admin.token'), 'utf8').trim();
    progress(`server ${url}, DNS port ${dnsPort}`);
    const call = async <T>(path: string): Promise<T> => {
      const res = await fetch(`${url}${path}`, {
        headers: { authorization: `Bearer ${admin}` },
        signal: AbortSignal.timeout(5000),
      });
      if (!res.ok) throw new Error(`${path}: HTTP ${res.status}`);
      return (await res.json()) as T;
    };
    api = call;
    const cli = async (...args: string[]): Promise<string> => {
      const child = lab.spawn(['--server', url, '--token', admin, ...args]);
      const code = await new Promise<number>((r) => child.once('exit', (c) => r(c ?? 1)));
      const out = lab.output.get(child) ?? '';
      if (code !== 0) throw new Error(`yunjian ${args.join(' ')}: ${out}`);
      return out;
    };

    await cli('apply', '-f', join(ROOT, 'examples/agents/fleet.yaml'));
    const agents = new Map<string, ChildProcess>();
    for (const c of CLOUDS) {
      const created = await cli('token', 'create', '--cluster', c.cluster, '--ttl', '1h');
      const joinToken = created.split('\n').find((l) => l.startsWith('yjt_'));
      if (joinToken === undefined) throw new Error(`no join token for ${c.cluster}`);
      const apiPort = await allocatePort();
      agents.set(
        c.cluster,
        lab.spawn([
          '--server',
          url,
          '--token',
          joinToken,
          'agent',
          '--cluster',
          c.cluster,
          '--site',
          c.site,
          '--address',
          c.address,
          '--api-port',
          String(apiPort),
          '--cpu',
          '4',
          '--memory',
          '4Gi',
          '--data',
          join(lab.dir, `agent-${c.cluster}`),
          '--heartbeat-seconds',
          String(HEARTBEAT_SECONDS),
        ]),
      );
    }
    // The spread is placed over the clusters Ready when the app is applied, and
    // a cluster that turns Ready later is no target for the spread until it has
    // been Ready for the app's stabilisation window (600 s here): applied
    // before every agent had joined, all three replicas stayed on the first
    // cloud ("spread: 1 cloud used, at least 3 wanted"). On a busy machine
    // the agents' start-up loses that race. So wait for all three first.
    await until(
      'three agent clusters Ready',
      async () => {
        const list = await call<{ items: ClusterView[] }>('/api/v1alpha1/clusters');
        const ready = list.items.filter((c) =>
          c.status?.conditions?.some((x) => x.type === 'Ready' && x.status === 'True'),
        );
        return ready.length === CLOUDS.length ? true : undefined;
      },
      60_000,
    );
    const appPort = await allocatePort();
    const appFile = join(lab.dir, 'shop.yaml');
    writeFileSync(appFile, appYaml(appPort));
    await cli('apply', '-f', appFile);
    progress(`3 agent clusters Ready; shop (web x3, port ${appPort}) applied; waiting for Ready`);
    const appPath = '/api/v1alpha1/namespaces/default/applications/shop';
    await until(
      'shop Ready on three clouds',
      async () => {
        const a = await call<AppView>(appPath);
        const ps = a.status?.placements ?? [];
        return a.status?.conditions?.[0]?.status === 'True' &&
          new Set(
            ps.filter((p) => p.ready > 0 && (p.endpoints ?? []).length > 0).map((p) => p.cluster),
          ).size === 3
          ? true
          : undefined;
      },
      60_000,
    );
    await until(
      'DNS health: three healthy endpoints',
      async () => {
        const st = await call<TrafficStatus>('/api/v1alpha1/traffic');
        const r = st.routes.find((x) => x.host === HOST);
        return r !== undefined && r.endpoints.filter((e) => e.healthy).length === 3
          ? true
          : undefined;
      },
      30_000,
    );
    const gatewayProc = lab.spawn([
      '--server',
      url,
      '--token',
      admin,
      'gateway',
      '--listen',
      '127.0.0.1:0',
    ]);
    const gwPort = Number(
      (await lab.waitFor(gatewayProc, /gateway serving on http:\/\/[\d.]+:(\d+)/, 'gateway'))[1],
    );
    const probeAgent = new Agent({ keepAlive: false });
    await until(
      'gateway routes the shop',
      async () => ((await get(probeAgent, '127.0.0.1', gwPort)).ok ? true : undefined),
      30_000,
    );
    // Let the gateway's own probes see every endpoint up.
    await sleep(1500);
    progress(`gateway on port ${gwPort}; everything up`);

    const resolver = new Resolver({ timeout: 1000, tries: 1 });
    resolver.setServers([`127.0.0.1:${dnsPort}`]);
    // A client-side cache that honours the TTL, as a stub resolver does.
    let cached: { address: string; until: number } | undefined;
    const resolveHost = async (): Promise<string> => {
      const now = performance.now();
      if (cached && now < cached.until) return cached.address;
      const [a] = await resolver.resolve4(HOST, { ttl: true });
      if (a === undefined) throw new Error('no address');
      cached = { address: a.address, until: now + a.ttl * 1000 };
      return a.address;
    };
    const dnsAgent = new Agent({ keepAlive: true, maxSockets: 64 });
    const gwAgent = new Agent({ keepAlive: true, maxSockets: 64 });
    const loadBefore = loadavg()
      .map((x) => x.toFixed(2))
      .join(' ');
    const t0 = performance.now();
    let killedAt = 0;
    let killedAtEpoch = 0;
    let victimPids: number[] = [];
    // The victim's replica pids, read shortly before the kill.
    const pidsRead = sleep(KILL_AT_MS - 1000).then(async () => {
      const wl = await call<{ items: WorkloadView[] }>('/api/v1alpha1/workloads');
      victimPids = wl.items
        .filter((w) => w.spec.cluster === VICTIM.cluster)
        .flatMap((w) => (w.status?.replicas ?? []).map((r) => r.pid ?? 0))
        .filter((p) => p > 0);
    });
    const killer = setTimeout(() => {
      killedAt = performance.now();
      killedAtEpoch = Date.now();
      const agent = agents.get(VICTIM.cluster);
      if (agent) killGroup(agent, 'SIGKILL');
      for (const pid of victimPids) killReplica(pid);
      progress(
        `killed cloud ${VICTIM.cloud} (agent group + ${victimPids.length} replicas, kill -9) at ${fixed((killedAt - t0) / 1000, 1)} s`,
      );
    }, KILL_AT_MS);
    // The control plane's failover, watched from the kill until done (bounded).
    const controlPlane = sleep(KILL_AT_MS + 50).then(async () => {
      const moved = await until(
        'replicas Ready off the dead cloud',
        async () => {
          const a = await call<AppView>(appPath);
          const active = (a.status?.placements ?? []).filter((p) => p.draining !== true);
          const r = a.status?.replicas;
          return r !== undefined &&
            r.ready >= 3 &&
            r.ready === r.desired &&
            !active.some((p) => p.cluster === VICTIM.cluster)
            ? Date.now()
            : undefined;
        },
        CONTROL_PLANE_WAIT_MS,
      ).catch(() => NaN);
      const cl = await call<ClusterView>(`/api/v1alpha1/clusters/${VICTIM.cluster}`);
      const notReady = cl.status?.conditions?.find((c) => c.type === 'Ready');
      return {
        replicasMovedS: (moved - killedAtEpoch) / 1000,
        clusterNotReadyS:
          notReady?.status === 'False' && notReady.lastTransitionTime !== undefined
            ? (Date.parse(notReady.lastTransitionTime) - killedAtEpoch) / 1000
            : NaN,
      };
    });
    progress(`load: ${RATE} req/s on each path for ${DURATION_MS / 1000} s`);
    const [viaDns, viaGateway] = await Promise.all([
      load(t0, async () => {
        const at = performance.now();
        const address = await resolveHost().catch(() => 'unresolved');
        const r = address === 'unresolved' ? { ok: false } : await get(dnsAgent, address, appPort);
        return { at, target: address, ok: r.ok };
      }),
      load(t0, async () => {
        const at = performance.now();
        const r = await get(gwAgent, '127.0.0.1', gwPort);
        // A retried request went first to the dead cloud (the gateway's first choice).
        return { at, target: r.attempts > 1 ? 'retried' : r.served, ok: r.ok };
      }),
    ]);
    clearTimeout(killer);
    await pidsRead;
    dnsAgent.destroy();
    gwAgent.destroy();
    progress('load done; waiting for the control plane failover');
    const cp = await controlPlane;

    const st = await call<TrafficStatus>('/api/v1alpha1/traffic');
    const down = st.events.find(
      (h) => h.reason === 'EndpointDown' && h.host === HOST && h.message.includes(VICTIM.cluster),
    );
    const dnsDetectionS = down ? (Date.parse(down.at) - killedAtEpoch) / 1000 : NaN;
    const gwDown = lab.lines.find(
      (l) =>
        l.child === gatewayProc &&
        l.at >= killedAtEpoch &&
        /EndpointDown/.test(l.line) &&
        l.line.includes(VICTIM.cluster),
    );
    const gwDetectionS = gwDown ? (gwDown.at - killedAtEpoch) / 1000 : NaN;
    const summarize = (samples: Sample[], dead: (s: Sample) => boolean): PathSummary => {
      const afterKill = samples.filter((s) => s.at >= killedAt);
      const lastDead = afterKill.filter(dead).reduce((mx, s) => Math.max(mx, s.at), killedAt);
      return {
        requests: samples.length,
        failed: samples.filter((s) => !s.ok).length,
        untilNoneToDeadS: (lastDead - killedAt) / 1000,
        rps: samples.length / (DURATION_MS / 1000),
      };
    };
    const dnsPath = summarize(viaDns, (s) => s.target === VICTIM.address);
    const gwPath = summarize(
      viaGateway,
      (s) => s.target === VICTIM.cluster || s.target === 'retried',
    );
    const row = (metric: string, gw: string, dns: string) => ({
      metric,
      candidate: gw,
      baseline: dns,
      ratio: '',
    });
    process.stdout.write(
      table(
        `Failover run ${run}: kill -9 of one of three agent clouds under ${RATE} req/s per path (loopback)`,
        [
          row('requests sent', int(gwPath.requests), int(dnsPath.requests)),
          row('failed requests', int(gwPath.failed), int(dnsPath.failed)),
          row(
            'time until no request to the dead cloud (s)',
            fixed(gwPath.untilNoneToDeadS, 2),
            fixed(dnsPath.untilNoneToDeadS, 2),
          ),
          row('health-check detection (s)', fixed(gwDetectionS, 2), fixed(dnsDetectionS, 2)),
          row(
            'control plane: cluster NotReady (s)',
            fixed(cp.clusterNotReadyS, 2),
            fixed(cp.clusterNotReadyS, 2),
          ),
          row(
            'control plane: replicas Ready elsewhere (s)',
            fixed(cp.replicasMovedS, 2),
            fixed(cp.replicasMovedS, 2),
          ),
        ],
        [
          `3 agent clouds (heartbeat ${HEARTBEAT_SECONDS} s), server --cluster-grace-seconds ${GRACE_SECONDS}; killed: ${VICTIM.cloud} (first in failover order)`,
          `health check: HTTP every 0.5 s from 2 vantage points, down after 2 failures; DNS TTL ${TTL} s`,
          'gateway: its own probes plus passive ejection; retries idempotent requests on another cloud',
          'targets: detection <= 2 s; 0 failed through the gateway; DNS failures bounded by the TTL',
          `load average before the run: ${loadBefore}`,
        ],
        `DNS path (TTL ${TTL} s)`,
      ).replace('| yunjian ', '| gateway '),
    );
    const observed = [cp.replicasMovedS, cp.clusterNotReadyS, dnsDetectionS, gwDetectionS].every(
      Number.isFinite,
    );
    return {
      run,
      passed: observed,
      ...(observed ? {} : { error: 'a failover was not observed (a blank above)' }),
      loadAverage: loadBefore,
      detection: { dnsS: dnsDetectionS, gatewayS: gwDetectionS },
      controlPlane: cp,
      dns: dnsPath,
      gateway: gwPath,
      events: st.events,
    };
  } catch (err) {
    // What each process said, to see why a step did not complete.
    for (const c of lab.children)
      process.stderr.write(
        `--- ${c.spawnargs.slice(2, 8).join(' ')}\n${(lab.output.get(c) ?? '').slice(-1500)}\n`,
      );
    if (api !== undefined)
      process.stderr.write(
        `--- app status\n${JSON.stringify(
          await api('/api/v1alpha1/namespaces/default/applications/shop').catch(String),
        ).slice(0, 3000)}\n`,
      );
    throw err;
  } finally {
    // Replicas run in their own process groups: end the ones our agents report.
    if (api !== undefined)
      replicaPids = await api<{ items: WorkloadView[] }>('/api/v1alpha1/workloads')
        .then((wl) => wl.items.flatMap((w) => (w.status?.replicas ?? []).map((r) => r.pid ?? 0)))
        .catch(() => []);
    lab.killAll('SIGTERM');
    await sleep(1500);
    lab.killAll('SIGKILL');
    for (const pid of replicaPids) if (pid > 0) killReplica(pid);
    rmSync(lab.dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { runs: { type: 'string', default: '1' } } });
  const runs = Number(values.runs);
  if (!Number.isInteger(runs) || runs < 1 || runs > 20)
    throw new Error(`--runs: expected a whole number from 1 to 20, got ${values.runs}`);
  const records: RunRecord[] = [];
  for (let run = 1; run <= runs; run++) {
    progress(`run ${run} of ${runs}`);
    const record = await runOnce(run).catch((err: unknown): RunRecord => ({
      run,
      passed: false,
      error: String(err),
    }));
    if (!record.passed) progress(`run ${run} failed: ${record.error ?? ''}`);
    records.push(record);
  }
  const passed = records.filter((r) => r.passed).length;
  process.stdout.write(`Failover runs passed: ${passed} of ${runs}\n`);
  const path = writeJson(join(RESULTS_DIR, 'failover.json'), {
    machine: machine(),
    rate: RATE,
    durationMs: DURATION_MS,
    ttl: TTL,
    graceSeconds: GRACE_SECONDS,
    heartbeatSeconds: HEARTBEAT_SECONDS,
    passed,
    runs: records,
  });
  progress(`wrote ${path}`);
  if (passed < runs) process.exitCode = 1;
}

await main();
