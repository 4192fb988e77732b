// `npm run bench:failover`: an application in three clouds, a bounded load of
// 250 requests/s on each of two paths at once, (a) resolving the host through
// our DNS server and honouring the TTL, (b) through the gateway; then one
// cloud's ingress process is killed with SIGKILL. Reports detection time, the
// time until no request goes to the dead cloud, and failed requests per path.
//
// Each "cloud" is a real HTTP server process on its own loopback address
// (127.0.1.1, 127.0.2.1, 127.0.3.1) on one shared port, standing in for the
// agent's ingress (the agent serves each app port on its own address the same
// way); the traffic manager and gateway run in this process, fed by the store.
import { spawn, type ChildProcess } from 'node:child_process';
import { Agent, request } from 'node:http';
import { createServer } from 'node:net';
import { Resolver } from 'node:dns/promises';
import { applyDocuments } from '../api/apply.ts';
import { API_VERSION } from '../model/schema.ts';
import { openSqliteStore } from '../store/index.ts';
import { storeFeedSource } from '../traffic/feed.ts';
import { Gateway } from '../traffic/gateway.ts';
import { TrafficManager } from '../traffic/manager.ts';
import { fixed, int, machine, RESULTS_DIR, table, writeJson } from './report.ts';
import { join } from 'node:path';

const CLOUDS = [
  { cloud: 'aws', address: '127.0.1.1', latitude: 38.9, longitude: -77 },
  { cloud: 'aliyun', address: '127.0.2.1', latitude: 1.35, longitude: 103.8 },
  { cloud: 'azure', address: '127.0.3.1', latitude: 50.1, longitude: 8.7 },
];
const HOST = 'shop.example.com';
const TTL = 1;
const RATE = 250;
const DURATION_MS = 12_000;
const KILL_AT_MS = 4_000;
const REQUEST_TIMEOUT_MS = 2_000;
const progress = (line: string) => process.stderr.write(`bench:failover: ${line}\n`);

const BACKEND = `
const http = require('node:http');
const [address, port] = process.argv.slice(1);
http.createServer((req, res) => { req.resume(); res.end(address); })
  .listen(Number(port), address, () => process.stdout.write('ready\\n'));
`;

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

async function startBackend(address: string, port: number): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['-e', BACKEND, address, String(port)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  await new Promise<void>((resolve, reject) => {
    child.stdout?.once('data', () => resolve());
    child.once('exit', (code) => reject(new Error(`backend ${address} exited ${code}`)));
  });
  return child;
}

interface Sample {
  at: number;
  target: string;
  ok: boolean;
}

function get(
  agent: Agent,
  address: string,
  port: number,
  host: string,
): Promise<{ ok: boolean; served: string; attempts: number }> {
  return new Promise((resolve) => {
    const req = request(
      { host: address, port, path: '/', agent, headers: { host }, timeout: REQUEST_TIMEOUT_MS },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => {
          const ep = res.headers['x-yunjian-endpoint'];
          const attempts = Number(res.headers['x-yunjian-attempts'] ?? 1);
          resolve({
            ok: res.statusCode === 200,
            served: typeof ep === 'string' ? ep : body,
            attempts,
          });
        });
        res.on('error', () => resolve({ ok: false, served: address, attempts: 1 }));
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', () => resolve({ ok: false, served: address, attempts: 1 }));
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
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    samples.push(fire());
  }
  return Promise.all(samples);
}

async function main(): Promise<void> {
  const port = await freePort();
  const backends = new Map<string, ChildProcess>();
  const store = openSqliteStore({ path: ':memory:' });
  let manager: TrafficManager | undefined;
  let gateway: Gateway | undefined;
  try {
    for (const c of CLOUDS) backends.set(c.cloud, await startBackend(c.address, port));
    progress(`3 backend processes on port ${port}`);
    const docs: unknown[] = [];
    for (const c of CLOUDS) {
      docs.push(
        {
          apiVersion: API_VERSION,
          kind: 'Cloud',
          metadata: { name: c.cloud },
          spec: { vendor: 'other', type: 'private' },
        },
        {
          apiVersion: API_VERSION,
          kind: 'Site',
          metadata: { name: `${c.cloud}-1` },
          spec: {
            cloud: c.cloud,
            kind: 'region',
            country: 'US',
            city: c.cloud,
            latitude: c.latitude,
            longitude: c.longitude,
          },
        },
        {
          apiVersion: API_VERSION,
          kind: 'Cluster',
          metadata: { name: `${c.cloud}-1` },
          spec: { cloud: c.cloud, site: `${c.cloud}-1`, driver: { type: 'agent' } },
        },
      );
    }
    const healthCheck = {
      http: { path: '/healthz' },
      intervalSeconds: 0.5,
      timeoutSeconds: 0.5,
      unhealthyThreshold: 2,
      healthyThreshold: 2,
    };
    docs.push({
      apiVersion: API_VERSION,
      kind: 'Application',
      metadata: { name: 'shop', namespace: 'default' },
      spec: {
        components: [{ name: 'web', image: 'x', replicas: 3, ports: [{ name: 'http', port }] }],
        traffic: {
          host: HOST,
          strategy: 'failover',
          ttl: TTL,
          failover: { order: CLOUDS.map((c) => ({ cloud: c.cloud })) },
          healthCheck,
        },
      },
    });
    await applyDocuments(store, docs, {});
    const app = await store.get({ kind: 'Application', namespace: 'default', name: 'shop' });
    await store.updateStatus({
      ...app,
      status: {
        placements: CLOUDS.map((c) => ({
          component: 'web',
          cluster: `${c.cloud}-1`,
          cloud: c.cloud,
          desired: 1,
          ready: 1,
          endpoints: [{ name: 'http', address: c.address, port }],
        })),
      },
    });
    manager = new TrafficManager({
      source: storeFeedSource(store),
      dnsHost: '127.0.0.1',
      dnsPort: 0,
    });
    await manager.start();
    gateway = new Gateway({
      source: storeFeedSource(store),
      host: '127.0.0.1',
      port: 0,
      attemptTimeoutMs: 1000,
    });
    await gateway.start();
    const m = manager;
    const gw = gateway;
    const deadline = Date.now() + 10_000;
    while ((m.table.routes.size < 1 || gw.manager.table.routes.size < 1) && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 20));

    const resolver = new Resolver({ timeout: 1000, tries: 1 });
    resolver.setServers([`127.0.0.1:${m.dns.port}`]);
    // A client-side cache that honours the TTL, as a stub resolver does.
    let cached: { address: string; until: number } | undefined;
    const resolve = async (): Promise<string> => {
      const now = performance.now();
      if (cached && now < cached.until) return cached.address;
      const [a] = await resolver.resolve4(HOST, { ttl: true });
      if (a === undefined) throw new Error('no address');
      cached = { address: a.address, until: now + a.ttl * 1000 };
      return a.address;
    };
    const dnsAgent = new Agent({ keepAlive: true, maxSockets: 64 });
    const gwAgent = new Agent({ keepAlive: true, maxSockets: 64 });
    const t0 = performance.now();
    let killedAt = 0;
    const killer = setTimeout(() => {
      killedAt = performance.now();
      backends.get('aws')?.kill('SIGKILL');
      progress(`killed aws (kill -9) at ${fixed((killedAt - t0) / 1000, 1)} s`);
    }, KILL_AT_MS);
    progress(`load: ${RATE} req/s on each path for ${DURATION_MS / 1000} s`);
    const [viaDns, viaGateway] = await Promise.all([
      load(t0, async () => {
        const at = performance.now();
        const address = await resolve().catch(() => 'unresolved');
        const r =
          address === 'unresolved' ? { ok: false } : await get(dnsAgent, address, port, HOST);
        return { at, target: address, ok: r.ok };
      }),
      load(t0, async () => {
        const at = performance.now();
        const r = await get(gwAgent, '127.0.0.1', gw.port, HOST);
        // A retried request went first to the dead cloud (the gateway's first choice).
        return { at, target: r.attempts > 1 ? 'retried' : r.served, ok: r.ok };
      }),
    ]);
    clearTimeout(killer);
    dnsAgent.destroy();
    gwAgent.destroy();

    const down = m.history.find((h) => h.reason === 'EndpointDown');
    const detectionS = down
      ? (Date.parse(down.at) - (performance.timeOrigin + killedAt)) / 1000
      : NaN;
    const summarize = (samples: Sample[], dead: (s: Sample) => boolean) => {
      const afterKill = samples.filter((s) => s.at >= killedAt);
      const lastDead = afterKill.filter(dead).reduce((mx, s) => Math.max(mx, s.at), killedAt);
      return {
        requests: samples.length,
        failed: samples.filter((s) => !s.ok).length,
        untilNoneToDeadS: (lastDead - killedAt) / 1000,
        rps: samples.length / (DURATION_MS / 1000),
      };
    };
    const dnsPath = summarize(viaDns, (s) => s.target === CLOUDS[0]?.address);
    const gwPath = summarize(viaGateway, (s) => s.target === 'aws-1' || s.target === 'retried');
    process.stdout.write(
      table(
        `Failover: kill -9 of one of three clouds under ${RATE} req/s per path (loopback)`,
        [
          {
            metric: 'requests sent',
            candidate: int(gwPath.requests),
            baseline: int(dnsPath.requests),
            ratio: '',
          },
          {
            metric: 'failed requests',
            candidate: int(gwPath.failed),
            baseline: int(dnsPath.failed),
            ratio: '',
          },
          {
            metric: 'time until no request to the dead cloud (s)',
            candidate: fixed(gwPath.untilNoneToDeadS, 2),
            baseline: fixed(dnsPath.untilNoneToDeadS, 2),
            ratio: '',
          },
          {
            metric: 'health-check detection (s)',
            candidate: fixed(detectionS, 2),
            baseline: fixed(detectionS, 2),
            ratio: '',
          },
        ],
        [
          `health check: HTTP every 0.5 s from 2 vantage points, down after 2 failures; DNS TTL ${TTL} s`,
          'gateway retries idempotent requests on another cloud; DNS clients cache the answer for the TTL',
          'targets: detection <= 2 s; 0 failed through the gateway; DNS failures bounded by the TTL',
        ],
        `DNS path (TTL ${TTL} s)`,
      ).replace('| yunjian ', '| gateway '),
    );
    const path = writeJson(join(RESULTS_DIR, 'failover.json'), {
      machine: machine(),
      rate: RATE,
      durationMs: DURATION_MS,
      ttl: TTL,
      detectionS,
      dns: dnsPath,
      gateway: { ...gwPath, retries: gw.stats.retries },
      events: m.history,
    });
    progress(`wrote ${path}`);
  } finally {
    await gateway?.stop();
    await manager?.stop();
    await store.close();
    for (const b of backends.values())
      if (b.exitCode === null && b.signalCode === null) b.kill('SIGKILL');
  }
}

await main();
