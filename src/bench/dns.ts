// `npm run bench:dns [-- --runs N]`: our authoritative DNS server against
// PowerDNS (pdns_server, gsqlite3 backend, Debian defaults apart from where it
// listens) holding the equivalent records, both measured with dnsperf on
// loopback in the same run, one after the other, with the same query file and
// load shape. Each run measures PowerDNS once, then our server once per
// strategy (a fresh server each); the result per strategy is the median over
// the runs of our rate divided by PowerDNS's in the same run.
//
// The zone: 20 hosts under bench.example.com, each an application with two sim
// members on two sites (so no health probe runs), plus SOA/NS. Failover and
// round robin answer both A records (round robin rotating their order),
// weighted one of them, 3:1 by site. The query mix: 80 % A for the hosts, 10 %
// SOA, 10 % NXDOMAIN.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { parseArgs, promisify } from 'node:util';
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
 * The hosts' strategies, each measured in every run: failover answers are
 * stable; roundRobin and weighted answers rotate (served from the packet caches
 * as whole periods).
 */
const BENCH_STRATEGIES = ['failover', 'roundRobin', 'weighted'] as const;
type BenchStrategy = (typeof BENCH_STRATEGIES)[number];
const STRATEGIES = (process.env.BENCH_DNS_STRATEGY ?? BENCH_STRATEGIES.join(','))
  .split(',')
  .map((x) => {
    const s = BENCH_STRATEGIES.find((b) => b === x.trim());
    if (s === undefined)
      throw new Error(
        `BENCH_DNS_STRATEGY: expected a comma-separated list of ${BENCH_STRATEGIES.join(', ')}, got ${x}`,
      );
    return s;
  });
/** Sites of the two members of every host; weighted gives the first 3, the second 1. */
const SITES = ['sim-1', 'sim-2'] as const;
const SCHEMA = '/usr/share/pdns-backend-sqlite3/schema/schema.sqlite3.sql';
const progress = (line: string) => process.stderr.write(`bench:dns: ${line}\n`);

function addr(host: number, member: number): string {
  return `100.64.${host}.${member + 1}`;
}

function trafficOf(strategy: BenchStrategy): Record<string, unknown> {
  switch (strategy) {
    case 'failover':
      return { failover: { order: [{ cloud: 'sim' }] } };
    case 'roundRobin':
      return {};
    case 'weighted':
      return {
        weights: [
          { site: SITES[0], weight: 3 },
          { site: SITES[1], weight: 1 },
        ],
      };
  }
}

const sum = (counts: Map<string, number>) => [...counts.values()].reduce((a, b) => a + b, 0);

async function startOurs(strategy: BenchStrategy): Promise<{
  port: number;
  workers: number;
  udp: string;
  /** Queries answered so far, and how many of them JavaScript answered (cache misses). */
  answered: () => { total: number; byJavaScript: number };
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
    ...SITES.map((site) => ({
      apiVersion: API_VERSION,
      kind: 'Site',
      metadata: { name: site },
      spec: { cloud: 'sim', kind: 'region', country: 'US', city: 'x', latitude: 0, longitude: 0 },
    })),
    ...SITES.map((site, m) => ({
      apiVersion: API_VERSION,
      kind: 'Cluster',
      metadata: { name: `sim-${m}` },
      spec: { cloud: 'sim', site, driver: { type: 'sim', sim: { nodePools: [] } } },
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
          strategy,
          ttl: 60,
          ...trafficOf(strategy),
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
    answered: () => ({
      total: sum(manager.dns.counts),
      byJavaScript: sum(manager.dns.engine.counts()),
    }),
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

interface StrategyRun {
  yunjian: PerfResult & { byJavaScript: number };
  ratio: number;
}

interface Run {
  run: number;
  loadAverage: string;
  powerdns: PerfResult;
  strategies: Partial<Record<BenchStrategy, StrategyRun>>;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? (s[mid] ?? NaN) : ((s[mid - 1] ?? NaN) + (s[mid] ?? NaN)) / 2;
}

const load = () =>
  loadavg()
    .map((x) => x.toFixed(2))
    .join(' ');

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { runs: { type: 'string', default: '5' } } });
  const runs = Number(values.runs);
  if (!Number.isInteger(runs) || runs < 1 || runs > 20)
    throw new Error(`--runs: expected a whole number from 1 to 20, got ${values.runs}`);
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

    const results: Run[] = [];
    let threads = '';
    for (let r = 1; r <= runs; r++) {
      const loadAverage = load();
      progress(`run ${r} of ${runs}: PowerDNS (pdns_server, gsqlite3), dnsperf for ${SECONDS} s`);
      // A fresh database and config per run.
      const pdns = await startPowerDns(mkdtempSync(join(dir, `pdns-${r}-`)));
      const powerdns = await dnsperf(pdns.port, queries).finally(() => pdns.stop());
      const strategies: Run['strategies'] = {};
      for (const strategy of STRATEGIES) {
        const ours = await startOurs(strategy);
        threads = `${ours.workers} ${ours.udp}`;
        progress(
          `run ${r} of ${runs}: yunjian ${strategy} (UDP: ${threads} threads), dnsperf for ${SECONDS} s`,
        );
        let mine: PerfResult;
        let byJavaScript: number;
        try {
          mine = await dnsperf(ours.port, queries);
          byJavaScript = ours.answered().byJavaScript;
        } finally {
          await ours.stop();
        }
        strategies[strategy] = {
          yunjian: { ...mine, byJavaScript },
          ratio: mine.qps / powerdns.qps,
        };
        progress(
          `run ${r}: ${strategy} ${int(mine.qps)} q/s vs PowerDNS ${int(powerdns.qps)} q/s: ${fixed(mine.qps / powerdns.qps, 2)}x (${int(byJavaScript)} answered by JavaScript)`,
        );
      }
      results.push({ run: r, loadAverage, powerdns, strategies });
    }

    const rows = STRATEGIES.flatMap((strategy) => {
      const of = results.flatMap((x) => {
        const s = x.strategies[strategy];
        return s !== undefined ? [{ ...s, powerdns: x.powerdns }] : [];
      });
      const ratios = of.map((x) => x.ratio);
      return [
        {
          metric: `${strategy}: queries/s, median`,
          candidate: int(median(of.map((x) => x.yunjian.qps))),
          baseline: int(median(of.map((x) => x.powerdns.qps))),
          ratio: `${fixed(median(ratios), 2)}x`,
        },
        {
          metric: `${strategy}: ratio per run (min-max)`,
          candidate: '',
          baseline: '',
          ratio: `${fixed(Math.min(...ratios), 2)}-${fixed(Math.max(...ratios), 2)}x`,
        },
        {
          metric: `${strategy}: answered by JavaScript (cache misses)`,
          candidate: int(median(of.map((x) => x.yunjian.byJavaScript))),
          baseline: '',
          ratio: '',
        },
        compareRow(
          `${strategy}: queries lost, median`,
          median(of.map((x) => x.yunjian.lost)),
          median(of.map((x) => x.powerdns.lost)),
          int,
          false,
        ),
      ];
    });
    process.stdout.write(
      table(
        `DNS throughput: dnsperf, ${SECONDS} s, ${CLIENTS} clients, ${OUTSTANDING} outstanding, loopback, ${runs} runs`,
        rows,
        [
          `${HOSTS} hosts x 2 A records; 80 % A, 10 % SOA, 10 % NXDOMAIN; weighted 3:1 answers one record`,
          `ratio: median over the runs of yunjian / PowerDNS measured in the same run`,
          `yunjian: UDP on ${threads} threads; load average before each run: ${results.map((x) => x.loadAverage.split(' ')[0]).join(', ')}`,
          'target: yunjian >= 1.0x PowerDNS queries/s for every strategy',
        ],
        'PowerDNS',
      ),
    );
    const path = writeJson(join(RESULTS_DIR, 'dns.json'), {
      machine: machine(),
      seconds: SECONDS,
      clients: CLIENTS,
      outstanding: OUTSTANDING,
      udp: threads,
      strategies: STRATEGIES,
      medianRatio: Object.fromEntries(
        STRATEGIES.map((st) => [st, median(results.flatMap((x) => x.strategies[st]?.ratio ?? []))]),
      ),
      runs: results,
    });
    progress(`wrote ${path}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
