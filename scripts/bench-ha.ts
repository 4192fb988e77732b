// npm run bench:ha [-- --applies 200 --concurrency 4 --kills 10]
// What high availability costs and buys, in one run on this machine:
// - apply latency (p50/p99) and watch latency (apply sent -> ADDED seen by a
//   watcher on another connection) of one `yunjian server` process on SQLite,
//   on a one-member etcd and on a three-member etcd (scripts/etcd.sh);
// - leader takeover: three control planes on the three-member etcd
//   (--leader-lease-seconds 3), the leader killed with SIGKILL `kills` times;
//   takeover is kill -> another replica's /readyz answers 200 (it leads, its
//   caches synced). The killed replica restarts as a standby each time.
// Writes bench-results/ha.json.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { YunjianClient, type WatchEvent } from '../src/cli/client.ts';
import { lookupKind } from '../src/model/kinds.ts';
import { RESULTS_DIR, machine, quantile, writeJson } from '../src/bench/report.ts';
import { EtcdCluster } from '../test/etcd.harness.ts';
import { appYaml, ReplicaSet, smallFleet } from '../test/ha.harness.ts';

const LEASE_SECONDS = 3;
const progress = (line: string) => process.stderr.write(`${line}\n`);

const { values } = parseArgs({
  options: {
    applies: { type: 'string', default: '200' },
    concurrency: { type: 'string', default: '4' },
    kills: { type: 'string', default: '10' },
  },
});
const bounded = (v: string, lo: number, hi: number) => Math.max(lo, Math.min(hi, Number(v) || lo));
const applies = bounded(values.applies, 10, 5000);
const concurrency = bounded(values.concurrency, 1, 64);
const kills = bounded(values.kills, 1, 50);

interface Latencies {
  store: string;
  applies: number;
  applyP50Ms: number;
  applyP99Ms: number;
  watchP50Ms: number;
  watchP99Ms: number;
}

const round = (n: number) => Math.round(n * 10) / 10;

/** `applies` applications through one server, `concurrency` at a time, with a watcher timing each ADDED. */
async function latencies(label: string, store: string): Promise<Latencies> {
  const dir = mkdtempSync(join(tmpdir(), 'yunjian-bench-ha-'));
  const set = await ReplicaSet.start({
    dir,
    store,
    replicas: 1,
    leaseSeconds: LEASE_SECONDS,
    fleet: smallFleet(3),
  });
  try {
    const client = new YunjianClient({ server: set.servers, token: set.token });
    const apps = lookupKind('Application');
    if (apps === undefined) throw new Error('no Application kind');
    const abort = new AbortController();
    const sentAt = new Map<string, number>();
    const watchMs: number[] = [];
    const seenAll = Promise.withResolvers<void>();
    const list = await client.list(apps, { namespace: 'default' });
    const following = (async () => {
      const events: AsyncIterable<WatchEvent> = client.watch(apps, {
        namespace: 'default',
        resourceVersion: list.metadata.resourceVersion,
        signal: abort.signal,
      });
      for await (const e of events) {
        if (e.type !== 'ADDED') continue;
        const at = sentAt.get(e.object.metadata.name);
        if (at === undefined) continue;
        watchMs.push(performance.now() - at);
        if (watchMs.length === applies) seenAll.resolve();
      }
    })().catch((err: unknown) => {
      if (!abort.signal.aborted) seenAll.reject(err);
    });
    const applyMs: number[] = [];
    let next = 0;
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        for (let i = next++; i < applies; i = next++) {
          const name = `bench-${i}`;
          const t0 = performance.now();
          sentAt.set(name, t0);
          await client.apply(appYaml(name, 1), { dryRun: false });
          applyMs.push(performance.now() - t0);
        }
      }),
    );
    const timeout = setTimeout(() => seenAll.reject(new Error('watch missed events')), 30_000);
    await seenAll.promise;
    clearTimeout(timeout);
    abort.abort();
    await following;
    const result: Latencies = {
      store: label,
      applies,
      applyP50Ms: round(quantile(applyMs, 0.5)),
      applyP99Ms: round(quantile(applyMs, 0.99)),
      watchP50Ms: round(quantile(watchMs, 0.5)),
      watchP99Ms: round(quantile(watchMs, 0.99)),
    };
    progress(`${label}: apply p50 ${result.applyP50Ms} ms, watch p50 ${result.watchP50Ms} ms`);
    return result;
  } finally {
    await set.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Milliseconds from each SIGKILL of the leader to another replica leading. */
async function takeovers(etcd: EtcdCluster): Promise<number[]> {
  const dir = mkdtempSync(join(tmpdir(), 'yunjian-bench-ha-'));
  const set = await ReplicaSet.start({
    dir,
    store: etcd.url,
    replicas: 3,
    leaseSeconds: LEASE_SECONDS,
    fleet: smallFleet(3),
  });
  try {
    const times: number[] = [];
    for (let k = 0; k < kills; k++) {
      const leader = await set.awaitLeader(30_000);
      if (leader === undefined) throw new Error('no replica leads');
      const killedAt = performance.now();
      await leader.kill();
      const successor = await set.awaitLeader(30_000, leader);
      if (successor === undefined) throw new Error(`no takeover within 30 s (kill ${k + 1})`);
      times.push(performance.now() - killedAt);
      progress(
        `kill ${k + 1}/${kills}: replica ${successor.index} leads after ${Math.round(times.at(-1) ?? 0)} ms`,
      );
      await leader.start();
    }
    return times;
  } finally {
    await set.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

const started = Date.now();
const one = await EtcdCluster.start(1);
const three = await EtcdCluster.start(3);
try {
  const rows = [
    await latencies('sqlite', 'sqlite'),
    await latencies('etcd, 1 member', one.url),
    await latencies('etcd, 3 members', three.url),
  ];
  const kills_ = await takeovers(three);
  const takeover = {
    kills: kills_.length,
    leaseSeconds: LEASE_SECONDS,
    minMs: Math.round(Math.min(...kills_)),
    medianMs: Math.round(quantile(kills_, 0.5)),
    maxMs: Math.round(Math.max(...kills_)),
  };
  const pad = (s: string, n: number) => s.padEnd(n);
  const lines = [
    `apply and watch latency, ${applies} applies, ${concurrency} at a time`,
    `${pad('store', 16)} ${pad('apply p50', 10)} ${pad('apply p99', 10)} ${pad('watch p50', 10)} watch p99`,
    ...rows.map(
      (r) =>
        `${pad(r.store, 16)} ${pad(`${r.applyP50Ms} ms`, 10)} ${pad(`${r.applyP99Ms} ms`, 10)} ${pad(`${r.watchP50Ms} ms`, 10)} ${r.watchP99Ms} ms`,
    ),
    '',
    `leader takeover, 3 control planes on 3 etcd members, lease ${LEASE_SECONDS} s, ${takeover.kills} kills:`,
    `min ${takeover.minMs} ms, median ${takeover.medianMs} ms, max ${takeover.maxMs} ms`,
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
  const path = writeJson(join(RESULTS_DIR, 'ha.json'), {
    machine: machine(),
    seconds: Math.round((Date.now() - started) / 1000),
    concurrency,
    latencies: rows,
    takeover: { ...takeover, samplesMs: kills_.map(Math.round) },
  });
  progress(`wrote ${path}`);
} finally {
  await one.stop();
  await three.stop();
}
