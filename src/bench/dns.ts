// `npm run bench:dns`: our authoritative DNS server against PowerDNS
// (pdns_server, gsqlite3 backend, Debian defaults apart from where it listens)
// holding the equivalent records, both measured with dnsperf on loopback in
// the same run, one after the other, with the same query file and load shape.
//
// The zone: 20 hosts under bench.example.com, each an application with two sim
// members (so every answer holds two A records and no health probe runs), plus
// SOA/NS. The query mix: 80 % A for the hosts, 10 % SOA, 10 % NXDOMAIN.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { promisify } from 'node:util';
import { applyDocuments } from '../admission/apply.ts';
import { allocatePort } from '../lib/net.ts';
import { API_VERSION } from '../model/schema.ts';
import { openSqliteStore } from '../store/index.ts';
import { storeFeedSource } from '../traffic/feed.ts';
import { TrafficManager } from '../traffic/manager.ts';
import { UDP_THREADS, type UdpThreads } from '../traffic/dns-native.ts';
import { compareRow, fixed, int, machine, RESULTS_DIR, table, writeJson } from './report.ts';

const run = promisify(execFile);
const HOSTS = 20;
const ZONE = 'bench.example.com';
const SECONDS = Number(process.env.BENCH_DNS_SECONDS ?? 10);
/** dnsperf client sockets; SO_REUSEPORT spreads by client address and port, so few clients may land unevenly. */
const CLIENTS = Number(process.env.BENCH_DNS_CLIENTS ?? 4);
const OUTSTANDING = 200;
/** UDP worker threads of our server; the default is the traffic manager's (available parallelism). */
const WORKERS =
  process.env.BENCH_DNS_WORKERS !== undefined ? Number(process.env.BENCH_DNS_WORKERS) : undefined;
/** What serves our UDP: native threads (the default when built) or Node worker threads. */
const UDP = process.env.BENCH_DNS_UDP;
if (UDP !== undefined && !(UDP_THREADS as readonly string[]).includes(UDP))
  throw new Error(`BENCH_DNS_UDP must be one of ${UDP_THREADS.join(', ')}, not ${UDP}`);
/**
 * The hosts' strategy: failover answers are stable (served from the packet
 * cache); roundRobin answers rotate, so every query is answered by JavaScript.
 */
const STRATEGY = process.env.BENCH_DNS_STRATEGY ?? 'failover';
if (STRATEGY !== 'failover' && STRATEGY !== 'roundRobin')
  throw new Error(`BENCH_DNS_STRATEGY must be failover or roundRobin, not ${STRATEGY}`);
const SCHEMA = '/usr/share/pdns-backend-sqlite3/schema/schema.sqlite3.sql';
const progress = (line: string) => process.stderr.write(`bench:dns: ${line}\n`);

function addr(host: number, member: number): string {
  return `100.64.${host}.${member + 1}`;
}

async function startOurs(): Promise<{
  port: number;
  workers: number;
  udp: string;
  stop: () => Promise<void>;
}> {
  const store = openSqliteStore({ path: ':memory:' });
  const docs: unknown[] = [
    {
      apiVersion: API_VERSION,
      kind: 'Cloud',
      metadata: { name: 'sim' },
      spec: { vendor: 'other', type: 'private' },
    },
    {
      apiVersion: API_VERSION,
      kind: 'Site',
      metadata: { name: 'sim-1' },
      spec: { cloud: 'sim', kind: 'region', country: 'US', city: 'x', latitude: 0, longitude: 0 },
    },
    ...[0, 1].map((m) => ({
      apiVersion: API_VERSION,
      kind: 'Cluster',
      metadata: { name: `sim-${m}` },
      spec: { cloud: 'sim', site: 'sim-1', driver: { type: 'sim', sim: { nodePools: [] } } },
    })),
  ];
  for (let h = 0; h < HOSTS; h++)
    docs.push({
      apiVersion: API_VERSION,
      kind: 'Application',
      metadata: { name: `h${h}`, namespace: 'default' },
      spec: {
        components: [{ name: 'web', image: 'x', replicas: 2, ports: [{ port: 80 }] }],
        traffic: {
          host: `h${h}.${ZONE}`,
          strategy: STRATEGY,
          ttl: 60,
          ...(STRATEGY === 'failover' ? { failover: { order: [{ cloud: 'sim' }] } } : {}),
        },
      },
    });
  await applyDocuments(store, docs, {});
  for (const m of [0, 1]) {
    const c = await store.get({ kind: 'Cluster', name: `sim-${m}` });
    await store.updateStatus({
      ...c,
      status: {
        conditions: [
          {
            type: 'Ready',
            status: 'True',
            reason: 'Bench',
            lastTransitionTime: new Date().toISOString(),
          },
        ],
      },
    });
  }
  for (let h = 0; h < HOSTS; h++) {
    const app = await store.get({ kind: 'Application', namespace: 'default', name: `h${h}` });
    await store.updateStatus({
      ...app,
      status: {
        placements: [0, 1].map((m) => ({
          component: 'web',
          cluster: `sim-${m}`,
          cloud: 'sim',
          desired: 1,
          ready: 1,
          endpoints: [{ address: addr(h, m), port: 80 }],
        })),
      },
    });
  }
  const manager = new TrafficManager({
    source: storeFeedSource(store),
    dnsHost: '127.0.0.1',
    dnsPort: 0,
    ...(WORKERS !== undefined ? { dnsWorkers: WORKERS } : {}),
    ...(UDP !== undefined ? { dnsUdp: UDP as UdpThreads } : {}),
    log: progress,
  });
  await manager.start();
  const deadline = Date.now() + 10_000;
  while (manager.table.routes.size < HOSTS && Date.now() < deadline)
    await new Promise((r) => setTimeout(r, 20));
  return {
    port: manager.dns.port,
    workers: manager.dns.workers,
    udp: manager.dns.udpThreads,
    stop: async () => {
      await manager.stop();
      await store.close();
    },
  };
}

async function startPowerDns(dir: string): Promise<{ port: number; stop: () => Promise<void> }> {
  const db = join(dir, 'pdns.sqlite3');
  const sql = new DatabaseSync(db);
  sql.exec(readFileSync(SCHEMA, 'utf8'));
  sql.prepare("INSERT INTO domains (name, type) VALUES (?, 'NATIVE')").run(ZONE);
  const insert = sql.prepare(
    'INSERT INTO records (domain_id, name, type, content, ttl, prio, disabled, auth) VALUES (1, ?, ?, ?, ?, 0, 0, 1)',
  );
  insert.run(ZONE, 'SOA', `ns1.${ZONE} hostmaster.${ZONE} 1 3600 600 604800 5`, 5);
  insert.run(ZONE, 'NS', `ns1.${ZONE}`, 3600);
  insert.run(`ns1.${ZONE}`, 'A', '127.0.0.1', 3600);
  for (let h = 0; h < HOSTS; h++)
    for (const m of [0, 1]) insert.run(`h${h}.${ZONE}`, 'A', addr(h, m), 60);
  sql.close();
  const port = await allocatePort();
  writeFileSync(
    join(dir, 'pdns.conf'),
    [
      'launch=gsqlite3',
      `gsqlite3-database=${db}`,
      'local-address=127.0.0.1',
      `local-port=${port}`,
      `socket-dir=${dir}`,
      'daemon=no',
      'guardian=no',
      'disable-syslog=yes',
      'loglevel=3',
      'webserver=no',
      'api=no',
      '',
    ].join('\n'),
  );
  const child: ChildProcess = spawn('pdns_server', [`--config-dir=${dir}`], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  // Ready once it answers.
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`pdns_server exited: ${stderr.slice(-2000)}`);
    const ok = await run('dig', [
      '@127.0.0.1',
      '-p',
      String(port),
      `h0.${ZONE}`,
      'A',
      '+short',
      '+time=1',
      '+tries=1',
    ]).then(
      (r) => r.stdout.trim() !== '',
      () => false,
    );
    if (ok) break;
    if (Date.now() > deadline)
      throw new Error(`pdns_server did not answer: ${stderr.slice(-2000)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  return {
    port,
    stop: async () => {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    },
  };
}

interface PerfResult {
  qps: number;
  sent: number;
  completed: number;
  lost: number;
  avgLatencyMs: number;
}

async function dnsperf(port: number, queries: string): Promise<PerfResult> {
  const { stdout } = await run(
    'dnsperf',
    [
      '-s',
      '127.0.0.1',
      '-p',
      String(port),
      '-d',
      queries,
      '-l',
      String(SECONDS),
      '-c',
      String(CLIENTS),
      '-q',
      String(OUTSTANDING),
    ],
    { timeout: (SECONDS + 30) * 1000 },
  );
  const num = (re: RegExp) => Number(re.exec(stdout)?.[1] ?? NaN);
  return {
    qps: num(/Queries per second:\s+([\d.]+)/),
    sent: num(/Queries sent:\s+(\d+)/),
    completed: num(/Queries completed:\s+(\d+)/),
    lost: num(/Queries lost:\s+(\d+)/),
    avgLatencyMs: num(/Average Latency \(s\):\s+([\d.]+)/) * 1000,
  };
}

async function main(): Promise<void> {
  for (const tool of [
    ['dnsperf', '-h'],
    ['pdns_server', '--version'],
    ['dig', '-v'],
  ] as const)
    await run(tool[0], [tool[1]]).catch((err: unknown) => {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT')
        throw new Error(
          `${tool[0]} is not installed (apt-get install dnsperf pdns-server pdns-backend-sqlite3 dnsutils)`,
        );
    });
  const dir = mkdtempSync(join(tmpdir(), 'yunjian-bench-dns-'));
  try {
    const lines: string[] = [];
    for (let i = 0; i < 100; i++) {
      if (i % 10 === 8) lines.push(`${ZONE} SOA`);
      else if (i % 10 === 9) lines.push(`missing${i}.${ZONE} A`);
      else lines.push(`h${i % HOSTS}.${ZONE} A`);
    }
    const queries = join(dir, 'queries.txt');
    writeFileSync(queries, `${lines.join('\n')}\n`);

    const loadBefore = loadavg()
      .map((x) => x.toFixed(2))
      .join(' ');
    progress(`PowerDNS: starting pdns_server (gsqlite3) in ${dir}`);
    const pdns = await startPowerDns(dir);
    progress(`PowerDNS: dnsperf for ${SECONDS} s on port ${pdns.port}`);
    const theirs = await dnsperf(pdns.port, queries).finally(() => pdns.stop());

    progress('yunjian: starting the traffic manager');
    const ours = await startOurs();
    progress(
      `yunjian: dnsperf for ${SECONDS} s on port ${ours.port} (UDP: ${ours.workers} ${ours.udp} threads)`,
    );
    const mine = await dnsperf(ours.port, queries).finally(() => ours.stop());

    const rows = [
      compareRow('queries/s (higher is better)', mine.qps, theirs.qps, int),
      compareRow('avg latency ms', mine.avgLatencyMs, theirs.avgLatencyMs, (x) => fixed(x, 3)),
      compareRow('queries lost', mine.lost, theirs.lost, int, false),
    ];
    process.stdout.write(
      table(
        `DNS throughput: dnsperf, ${SECONDS} s, ${CLIENTS} clients, ${OUTSTANDING} outstanding, loopback`,
        rows,
        [
          `${HOSTS} hosts x 2 A records (${STRATEGY}); 80 % A, 10 % SOA, 10 % NXDOMAIN`,
          `yunjian: UDP on ${ours.workers} ${ours.udp} threads; load average before: ${loadBefore}`,
          'target: yunjian >= 1.0x PowerDNS queries/s',
        ],
        'PowerDNS',
      ),
    );
    const path = writeJson(join(RESULTS_DIR, 'dns.json'), {
      machine: machine(),
      seconds: SECONDS,
      clients: CLIENTS,
      strategy: STRATEGY,
      outstanding: OUTSTANDING,
      yunjian: { ...mine, workers: ours.workers, udp: ours.udp },
      loadAverage: loadBefore,
      powerdns: theirs,
      ratio: mine.qps / theirs.qps,
    });
    progress(`wrote ${path}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
