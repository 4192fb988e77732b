// Three control planes (real `yunjian server` processes) on a real
// three-member etcd: every replica serves the API, exactly one runs the
// controllers. Under concurrent applies spread over the replicas by the
// multi-server client: a kill -9 of the leader hands the controllers to
// another replica within 5 s, every acknowledged apply is stored, and every
// application ends with exactly its desired replicas; a paused (SIGSTOP)
// leader that wakes after losing its lease stores nothing and steps down; a
// kill -9 of one etcd member loses nothing acknowledged.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { YunjianClient } from '../src/cli/client.ts';
import type { Application, Event, Lease } from '../src/model/schema.ts';
import { EtcdCluster, etcdMissing } from './etcd.harness.ts';
import { API, appYaml, ReplicaSet, smallFleet, type Replica } from './ha.harness.ts';

const missing = etcdMissing();
const LEASE_SECONDS = 3;
const TAKEOVER_MS = 5000;

/** Desired replicas of the i-th application. */
const replicasOf = (i: number) => 1 + (i % 2);

interface LoadResult {
  /** Applications whose apply answered 2xx, with their replicas. */
  acked: Map<string, number>;
  failed: string[];
}

/**
 * Applies `count` applications `app-<prefix>-<i>`, `concurrency` at a time,
 * through three clients that each start at a different replica (so the load
 * is spread and each fails over on its own); `at` runs once `after` are acked.
 * `via` limits the load to some replicas (a paused one would hold requests forever).
 */
async function applyLoad(
  set: ReplicaSet,
  prefix: string,
  count: number,
  concurrency: number,
  at?: { after: number; run: () => Promise<void> },
  via: readonly Replica[] = set.replicas,
): Promise<LoadResult & { during: Promise<void> | undefined }> {
  const urls = via.map((r) => r.url);
  const clients = urls.map(
    (_, i) =>
      new YunjianClient({
        server: [...urls.slice(i), ...urls.slice(0, i)].join(','),
        token: set.token,
      }),
  );
  const acked = new Map<string, number>();
  const failed: string[] = [];
  let next = 0;
  let during: Promise<void> | undefined;
  const worker = async (w: number) => {
    for (let i = next++; i < count; i = next++) {
      const name = `${prefix}-${i}`;
      const client = clients[w % clients.length];
      assert.ok(client);
      try {
        await client.apply(appYaml(name, replicasOf(i)), { dryRun: false });
        acked.set(name, replicasOf(i));
      } catch (err) {
        failed.push(`${name}: ${err instanceof Error ? err.message : String(err)}`);
      }
      if (at !== undefined && during === undefined && acked.size >= at.after) during = at.run();
    }
  };
  await Promise.all(Array.from({ length: concurrency }, (_, w) => worker(w)));
  return { acked, failed, during };
}

async function getJson<T>(url: string, headers: Record<string, string>): Promise<T> {
  const res = await fetch(url, { headers, signal: AbortSignal.timeout(10_000) });
  assert.equal(res.status, 200, `${url}: ${await res.clone().text()}`);
  return (await res.json()) as T;
}

async function applications(set: ReplicaSet, via: Replica): Promise<Application[]> {
  return (
    await getJson<{ items: Application[] }>(
      `${via.url}${API}/namespaces/default/applications`,
      set.headers,
    )
  ).items;
}

/** Why the application does not run exactly its desired replicas yet; undefined when it does. */
function notSettled(app: Application, want: number): string | undefined {
  const name = app.metadata.name;
  const spec = app.spec.components.reduce((n, c) => n + c.replicas, 0);
  if (spec !== want) return `${name}: spec has ${spec} replicas, applied ${want}`;
  const s = app.status;
  if (s === undefined || s.observedGeneration !== app.metadata.generation)
    return `${name}: not observed yet`;
  const placed = (s.placements ?? []).filter((p) => p.draining !== true);
  const desired = placed.reduce((n, p) => n + p.desired, 0);
  const ready = placed.reduce((n, p) => n + p.ready, 0);
  if (desired !== want || ready !== want || s.replicas?.ready !== want)
    return `${name}: ${desired} placed, ${ready} ready (status ${JSON.stringify(s.replicas)}), want ${want}`;
  return undefined;
}

/** Every application (acked or not) ends with exactly its desired replicas; every acked one exists. */
async function assertSettled(
  set: ReplicaSet,
  via: Replica,
  acked: ReadonlyMap<string, number>,
  prefix: string,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const apps = (await applications(set, via)).filter((a) =>
      a.metadata.name.startsWith(`${prefix}-`),
    );
    const stored = new Set(apps.map((a) => a.metadata.name));
    const lost = [...acked.keys()].filter((n) => !stored.has(n));
    assert.deepEqual(lost, [], 'every apply answered 2xx is stored');
    const problems = apps.flatMap((a) => {
      const i = Number(a.metadata.name.slice(prefix.length + 1));
      const why = notSettled(a, replicasOf(i));
      return why === undefined ? [] : [why];
    });
    if (problems.length === 0) return;
    if (Date.now() > deadline)
      assert.fail(
        `${problems.length} applications not settled:\n${problems.slice(0, 10).join('\n')}`,
      );
    await new Promise((r) => setTimeout(r, 500));
  }
}

void describe(
  'three control planes on a three-member etcd',
  { skip: missing, timeout: 540_000 },
  () => {
    let etcd: EtcdCluster;
    let set: ReplicaSet;
    const dir = mkdtempSync(join(tmpdir(), 'yunjian-ha-'));

    before(async () => {
      etcd = await EtcdCluster.start(3);
      set = await ReplicaSet.start({
        dir,
        store: etcd.url,
        replicas: 3,
        leaseSeconds: LEASE_SECONDS,
        fleet: smallFleet(3),
      });
    });
    after(async () => {
      await set?.stop();
      await etcd?.stop();
      rmSync(dir, { recursive: true, force: true });
    });

    void it(
      'kill -9 of the leader during 300 applies: another leads within 5 s, nothing acked is lost, replicas exact',
      { timeout: 180_000 },
      async () => {
        const leader = await set.awaitLeader(30_000);
        assert.ok(leader, 'one replica leads');
        let takeoverMs: number | undefined;
        let successor: Replica | undefined;
        const load = await applyLoad(set, 'kill', 300, 24, {
          after: 100,
          run: async () => {
            const killedAt = Date.now();
            await leader.kill();
            successor = await set.awaitLeader(TAKEOVER_MS + 5000, leader);
            takeoverMs = Date.now() - killedAt;
            // Failing over while the killed replica comes back as a standby.
            await leader.start();
          },
        });
        await load.during;
        assert.ok(successor, 'another replica leads');
        assert.ok(successor !== leader);
        assert.ok(
          takeoverMs !== undefined && takeoverMs <= TAKEOVER_MS,
          `takeover took ${takeoverMs} ms (lease ${LEASE_SECONDS} s)`,
        );
        assert.ok(
          load.acked.size >= 250,
          `most applies succeed: ${load.failed.slice(0, 5).join('; ')}`,
        );
        await assertSettled(set, successor, load.acked, 'kill', 90_000);
        const lease = await getJson<Lease>(
          `${successor.url}${API}/leases/yunjian-controllers`,
          set.headers,
        );
        assert.ok(lease.spec.holderIdentity.endsWith(successor.dataDir), lease.spec.holderIdentity);
        assert.ok(lease.spec.leaseTransitions >= 1);
      },
    );

    void it(
      'a paused leader that wakes after losing its lease stores nothing and steps down; no action taken twice',
      { timeout: 180_000 },
      async () => {
        const paused = await set.awaitLeader(30_000);
        assert.ok(paused, 'one replica leads');
        const eventsBefore = await getJson<{ items: Event[] }>(
          `${paused.url}${API}/events`,
          set.headers,
        );
        paused.pause();
        const pausedAt = Date.now();
        try {
          const successor = await set.awaitLeader(TAKEOVER_MS + 5000, paused);
          assert.ok(successor, 'another replica leads while the leader is paused');
          // Work the successor does while the leader is paused.
          const load = await applyLoad(
            set,
            'pause',
            30,
            6,
            undefined,
            set.replicas.filter((r) => r !== paused),
          );
          assert.equal(load.failed.length, 0, load.failed.join('\n'));
          await assertSettled(set, successor, load.acked, 'pause', 60_000);
          const settled = new Map(
            (await applications(set, successor)).map((a) => [
              a.metadata.name,
              a.metadata.resourceVersion,
            ]),
          );
          // Paused longer than the cluster-status controller's heartbeat write
          // interval (30 s), so the woken leader's overdue heartbeats write at
          // once, before its elector's read of the lease returns.
          await new Promise((r) => setTimeout(r, Math.max(0, pausedAt + 32_000 - Date.now())));
          paused.resume();
          await paused.waitFor(/lost lease yunjian-controllers/, 30_000);
          // The woken replica had its chance to write; give its queue a moment more.
          await new Promise((r) => setTimeout(r, 2000));
          const refused = paused.output.match(/^fence: .* refused: .*$/gm) ?? [];
          assert.ok(
            refused.length > 0,
            `the woken leader's writes were refused:\n${paused.output.slice(-3000)}`,
          );
          for (const line of refused) assert.match(line, /Lease "yunjian-controllers"/);
          // No application was written again: the successor had nothing left to
          // do and the deposed leader's writes never landed.
          const now = await applications(set, successor);
          const rewritten = now.filter(
            (a) =>
              settled.has(a.metadata.name) &&
              settled.get(a.metadata.name) !== a.metadata.resourceVersion,
          );
          assert.deepEqual(
            rewritten.map((a) => a.metadata.name),
            [],
          );
          // No event recorded twice (each event's involved object, reason and message once).
          const events = (
            await getJson<{ items: Event[] }>(`${successor.url}${API}/events`, set.headers)
          ).items;
          const known = new Set(eventsBefore.items.map((e) => e.metadata.name));
          const fresh = events.filter((e) => !known.has(e.metadata.name));
          const seen = new Set<string>();
          for (const e of fresh) {
            const key = `${JSON.stringify(e.spec.involvedObject)} ${e.spec.reason} ${e.spec.message}`;
            assert.ok(!seen.has(key), `event recorded twice: ${key}`);
            assert.equal(e.spec.count, 1, `event repeated: ${key}`);
            seen.add(key);
          }
          assert.deepEqual(
            (await set.leaders()).map((r) => r.index),
            [successor.index],
            'exactly one replica leads',
          );
        } finally {
          paused.resume();
        }
      },
    );

    void it('a standby answers agents 503 Unavailable, so they move on to the leader', async () => {
      const leader = await set.awaitLeader(30_000);
      assert.ok(leader, 'one replica leads');
      for (const r of set.replicas.filter((x) => x !== leader)) {
        for (const path of ['join', 'heartbeat']) {
          const res = await fetch(`${r.url}${API}/agent/${path}`, {
            method: 'POST',
            headers: {
              authorization: 'Bearer not-a-credential',
              'content-type': 'application/json',
            },
            body: '{}',
          });
          assert.equal(res.status, 503, `replica ${r.index} ${path}`);
          assert.equal(((await res.json()) as { reason: string }).reason, 'Unavailable');
        }
      }
    });

    void it(
      'kill -9 of one etcd member during 150 applies loses nothing acknowledged',
      { timeout: 180_000 },
      async () => {
        const leader = await set.awaitLeader(30_000);
        assert.ok(leader, 'one replica leads');
        const load = await applyLoad(set, 'member', 150, 12, {
          after: 50,
          run: () => etcd.stopMember(1),
        });
        await load.during;
        assert.ok(
          load.acked.size >= 140,
          `applies go on with two members: ${load.failed.slice(0, 5).join('; ')}`,
        );
        await assertSettled(set, leader, load.acked, 'member', 60_000);
        await etcd.startMember(1);
      },
    );
  },
);
