// Replica cpu use measured by the agent: /proc/<pid>/stat parsing and the
// sampling arithmetic on a fake proc tree (table-driven), the agent driver
// passing the reported use through, and end to end a real `yunjian agent`
// running a busy-loop and an idle replica, read back through the control
// plane's agent driver.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { allocatePort } from '../src/lib/net.ts';
import { CpuSampler, millicores, parseStat, type ProcStat } from '../src/agent/usage.ts';
import { TokenAuthenticator } from '../src/api/auth.ts';
import { applyDocuments, parseDocuments } from '../src/admission/apply.ts';
import { createApiServer } from '../src/api/server.ts';
import { testWorkload } from '../src/drivers/conformance.ts';
import { agentApiPlugin } from '../src/api/routes/agent.ts';
import { AgentHub } from '../src/drivers/agent/index.ts';
import { workloadName } from '../src/drivers/agent/driver.ts';
import { createJoinToken } from '../src/drivers/agent/tokens.ts';
import type { Workload } from '../src/model/schema.ts';
import { openSqliteStore } from '../src/store/index.ts';
import { AgentLab, ROOT, until } from './agents.harness.ts';

const FLEET = readFileSync(join(ROOT, 'test/fixtures/agent/fleet.yaml'), 'utf8');

/** A /proc/<pid>/stat line: comm, then fields 3.. with pgrp, utime, stime and starttime set. */
function statLine(p: {
  pid: number;
  comm?: string;
  pgid: number;
  utime: number;
  stime?: number;
  start?: number;
}): string {
  const f = Array.from({ length: 50 }, () => '0');
  f[0] = 'R';
  f[1] = '1'; // ppid
  f[2] = String(p.pgid);
  f[11] = String(p.utime);
  f[12] = String(p.stime ?? 0);
  f[13] = '777'; // cutime: never counted
  f[14] = '888'; // cstime
  f[19] = String(p.start ?? 1000);
  return `${p.pid} (${p.comm ?? 'node'}) ${f.join(' ')}\n`;
}

describe('parseStat', () => {
  const cases: { name: string; text: string; want: ProcStat | undefined }[] = [
    {
      name: 'a plain line',
      text: statLine({ pid: 42, pgid: 40, utime: 120, stime: 30, start: 5000 }),
      want: { pid: 42, pgid: 40, ticks: 150, startTime: '5000' },
    },
    {
      name: 'comm with spaces and parentheses: fields counted after the last )',
      text: statLine({ pid: 7, comm: 'a) (b c) 1 2 3 )x', pgid: 7, utime: 5, stime: 6, start: 9 }),
      want: { pid: 7, pgid: 7, ticks: 11, startTime: '9' },
    },
    {
      name: 'a real line of this kernel',
      text: '21688 (cat) R 21681 21681 21085 0 -1 4194304 98 0 0 0 3 4 0 0 20 0 1 0 1198300 3133440 360 18446744073709551615 0\n',
      want: { pid: 21688, pgid: 21681, ticks: 7, startTime: '1198300' },
    },
    { name: 'empty', text: '', want: undefined },
    { name: 'no comm', text: '12 R 1 12 12', want: undefined },
    { name: 'truncated after comm', text: '12 (x) R 1 12 12 0 -1', want: undefined },
    {
      name: 'non-numeric utime',
      text: statLine({ pid: 3, pgid: 3, utime: 0 }).replace(/^(\S+ \(node\) (?:\S+ ){11})0/, '$1x'),
      want: undefined,
    },
  ];
  for (const c of cases) test(c.name, () => assert.deepEqual(parseStat(c.text), c.want));
});

describe('millicores', () => {
  const cases: { ticks: number; elapsedMs: number; hz?: number; want: number }[] = [
    { ticks: 100, elapsedMs: 1000, want: 1000 }, // one core busy
    { ticks: 250, elapsedMs: 5000, want: 500 },
    { ticks: 400, elapsedMs: 2000, want: 2000 }, // two cores
    { ticks: 0, elapsedMs: 5000, want: 0 },
    { ticks: 1, elapsedMs: 3000, want: 3 }, // rounded to whole millicores
    { ticks: 1000, elapsedMs: 1000, hz: 1000, want: 1000 },
    { ticks: 10, elapsedMs: 0, want: 0 }, // no time passed: no division by zero
  ];
  for (const c of cases)
    test(`${c.ticks} ticks in ${c.elapsedMs} ms at ${c.hz ?? 100} Hz = ${c.want}m`, () =>
      assert.equal(millicores(c.ticks, c.elapsedMs, c.hz), c.want));
});

describe('CpuSampler on a fake /proc', () => {
  interface Proc {
    pid: number;
    pgid: number;
    utime: number;
    start?: number;
  }
  interface Step {
    atMs: number;
    procs: Proc[];
    ask: number[];
    want: Record<number, number>;
  }
  const cases: { name: string; windowMs?: number; steps: Step[] }[] = [
    {
      name: 'first sample has no value; the second is the use in between',
      steps: [
        { atMs: 0, procs: [{ pid: 10, pgid: 10, utime: 500 }], ask: [10], want: {} },
        { atMs: 5000, procs: [{ pid: 10, pgid: 10, utime: 750 }], ask: [10], want: { 10: 500 } },
      ],
    },
    {
      name: 'a group sums its members; other groups and cutime are not counted',
      steps: [
        {
          atMs: 0,
          procs: [
            { pid: 10, pgid: 10, utime: 0 },
            { pid: 11, pgid: 10, utime: 0 },
            { pid: 12, pgid: 99, utime: 0 },
          ],
          ask: [10],
          want: {},
        },
        {
          atMs: 5000,
          procs: [
            { pid: 10, pgid: 10, utime: 100 },
            { pid: 11, pgid: 10, utime: 400 },
            { pid: 12, pgid: 99, utime: 1000 },
          ],
          ask: [10],
          want: { 10: 1000 },
        },
      ],
    },
    {
      name: 'a member new since the last sample counts in full; one that exited counts nothing',
      steps: [
        {
          atMs: 0,
          procs: [
            { pid: 10, pgid: 10, utime: 0 },
            { pid: 11, pgid: 10, utime: 300 },
          ],
          ask: [10],
          want: {},
        },
        {
          atMs: 5000,
          procs: [
            { pid: 10, pgid: 10, utime: 50 },
            { pid: 13, pgid: 10, utime: 200 },
          ],
          ask: [10],
          want: { 10: 500 },
        },
      ],
    },
    {
      name: 'a reused pid is a new process, not a negative delta',
      steps: [
        {
          atMs: 0,
          procs: [
            { pid: 10, pgid: 10, utime: 0 },
            { pid: 11, pgid: 10, utime: 900, start: 1 },
          ],
          ask: [10],
          want: {},
        },
        {
          atMs: 5000,
          procs: [
            { pid: 10, pgid: 10, utime: 0 },
            { pid: 11, pgid: 10, utime: 100, start: 2 },
          ],
          ask: [10],
          want: { 10: 200 },
        },
      ],
    },
    {
      name: 'a leader that vanished yields no sample; a reused group id starts over',
      steps: [
        { atMs: 0, procs: [{ pid: 10, pgid: 10, utime: 0 }], ask: [10], want: {} },
        { atMs: 5000, procs: [{ pid: 10, pgid: 10, utime: 100 }], ask: [10], want: { 10: 200 } },
        { atMs: 10_000, procs: [{ pid: 11, pgid: 10, utime: 100 }], ask: [10], want: {} },
        {
          atMs: 15_000,
          procs: [{ pid: 10, pgid: 10, utime: 9000, start: 2000 }],
          ask: [10],
          want: {},
        },
        {
          atMs: 20_000,
          procs: [{ pid: 10, pgid: 10, utime: 9100, start: 2000 }],
          ask: [10],
          want: { 10: 200 },
        },
      ],
    },
    {
      name: 'within a window the last value is reported again',
      windowMs: 5000,
      steps: [
        { atMs: 0, procs: [{ pid: 10, pgid: 10, utime: 0 }], ask: [10], want: {} },
        { atMs: 2000, procs: [{ pid: 10, pgid: 10, utime: 200 }], ask: [10], want: {} },
        { atMs: 5000, procs: [{ pid: 10, pgid: 10, utime: 500 }], ask: [10], want: { 10: 1000 } },
        { atMs: 7000, procs: [{ pid: 10, pgid: 10, utime: 500 }], ask: [10], want: { 10: 1000 } },
        { atMs: 10_000, procs: [{ pid: 10, pgid: 10, utime: 500 }], ask: [10], want: { 10: 0 } },
      ],
    },
    {
      name: 'a group no longer asked for is forgotten',
      steps: [
        { atMs: 0, procs: [{ pid: 10, pgid: 10, utime: 0 }], ask: [10], want: {} },
        { atMs: 5000, procs: [{ pid: 10, pgid: 10, utime: 100 }], ask: [], want: {} },
        { atMs: 10_000, procs: [{ pid: 10, pgid: 10, utime: 200 }], ask: [10], want: {} },
      ],
    },
  ];
  const base = mkdtempSync(join(tmpdir(), 'yunjian-fake-proc-'));
  after(() => rmSync(base, { recursive: true, force: true }));
  for (const [i, c] of cases.entries())
    test(c.name, () => {
      const proc = join(base, String(i));
      let now = 0;
      const sampler = new CpuSampler({
        procDir: proc,
        windowMs: c.windowMs ?? 1000,
        now: () => now,
      });
      for (const step of c.steps) {
        rmSync(proc, { recursive: true, force: true });
        for (const p of step.procs) {
          mkdirSync(join(proc, String(p.pid)), { recursive: true });
          writeFileSync(
            join(proc, String(p.pid), 'stat'),
            statLine(p.start !== undefined ? { ...p, start: p.start } : p),
          );
        }
        mkdirSync(join(proc, 'self'), { recursive: true }); // non-numeric entries are skipped
        now = step.atMs;
        assert.deepEqual(
          Object.fromEntries(sampler.sample(step.ask)),
          step.want,
          `at ${step.atMs} ms`,
        );
      }
    });

  test('without /proc (not Linux) nothing is measured and nothing throws', () => {
    const sampler = new CpuSampler({ procDir: join(base, 'missing'), windowMs: 0 });
    assert.equal(sampler.sample([1, 2]).size, 0);
    assert.equal(sampler.sample([1, 2]).size, 0);
  });
});

describe('agent driver', () => {
  test('passes the reported cpu use through while the agent is reachable', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'yunjian-usage-hub-'));
    const store = openSqliteStore({ path: join(dir, 'hub.db') });
    try {
      let now = Date.parse('2026-01-01T00:00:00Z');
      const hub = new AgentHub({ store, now: () => now });
      await applyDocuments(store, parseDocuments(FLEET), {});
      const { token } = await createJoinToken(store, { cluster: 'u1', now });
      const host = {
        hostname: 'h',
        address: '127.0.0.1',
        apiPort: 7090,
        arch: 'amd64' as const,
        cpu: 2,
        memory: 2 ** 31,
        pods: 10,
      };
      const joined = await hub.join(
        `Bearer ${token}`,
        { cluster: 'u1', site: 'alpha-1', host, heartbeatSeconds: 1 },
        '127.0.0.1',
      );
      const driver = hub.driver('u1');
      const measured = testWorkload({ key: { namespace: 'n', app: 'a', component: 'busy' } });
      const unmeasured = testWorkload({ key: { namespace: 'n', app: 'a', component: 'new' } });
      await driver.applyWorkload(measured);
      await driver.applyWorkload(unmeasured);
      const reported = (spec: typeof measured, cpuUsageMillis?: number) => ({
        name: workloadName('u1', spec.key),
        status: {
          hash: spec.hash,
          desired: 1,
          scheduled: 1,
          ready: 1,
          ...(cpuUsageMillis !== undefined ? { cpuUsageMillis } : {}),
        },
      });
      await hub.heartbeat(`Bearer ${joined.credential ?? ''}`, {
        cluster: 'u1',
        host,
        heartbeatSeconds: 1,
        apiToken: 'x'.repeat(16),
        workloads: [reported(measured, 750), reported(unmeasured)],
      });
      const usage = async () =>
        Object.fromEntries(
          (await driver.listWorkloads()).map((w) => [w.key.component, w.cpuUsageMillis]),
        );
      assert.deepEqual(await usage(), { busy: 750, new: undefined });
      now += 10_000; // silent for 10 heartbeats: unreachable
      assert.deepEqual(await usage(), { busy: undefined, new: undefined });
    } finally {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

// ---- end to end: a real agent process and real replicas

describe("a real agent reports its replicas' cpu use", () => {
  const CLUSTER = 'usage';
  const ADDRESS = '127.0.5.1';
  const lab = new AgentLab();
  const store = openSqliteStore({ path: join(lab.dir, 'store.db') });
  const hub = new AgentHub({ store });
  const api = createApiServer({
    store,
    auth: new TokenAuthenticator(),
    version: 'test',
    plugins: [agentApiPlugin(hub)],
  });
  /** Replica process groups seen in statuses, killed in `after` should the agent not stop them. */
  const replicaPids = new Set<number>();

  before(async () => {
    await api.listen({ port: 0, host: '127.0.0.1' });
    lab.url = `http://127.0.0.1:${(api.server.address() as AddressInfo).port}`;
    await applyDocuments(store, parseDocuments(FLEET), {});
    lab.joinTokens.set(
      CLUSTER,
      (await createJoinToken(store, { cluster: CLUSTER, now: Date.now() })).token,
    );
    lab.startAgent({
      cluster: CLUSTER,
      site: 'alpha-1',
      address: ADDRESS,
      arch: 'amd64',
      apiPort: await allocatePort(ADDRESS),
    });
  });

  after(async () => {
    await lab.stopAll();
    for (const pid of replicaPids)
      try {
        process.kill(-pid, 'SIGKILL');
      } catch {
        // stopped by the agent, as it should be
      }
    await api.close();
    await store.close();
  });

  test('a busy-loop replica uses about a core, an idle one almost nothing', async () => {
    const driver = hub.driver(CLUSTER);
    const key = (component: string) => ({ namespace: 'default', app: 'load', component });
    await driver.applyWorkload(
      testWorkload({ key: key('busy'), command: [process.execPath, '-e', 'for (;;) {}'] }),
    );
    await driver.applyWorkload(
      testWorkload({
        key: key('idle'),
        command: [process.execPath, '-e', 'setInterval(() => {}, 1e6)'],
      }),
    );
    let last = '';
    const usage = await until(
      'both replicas measured, the busy one busy',
      async () => {
        for (const w of await hub.workloads(CLUSTER))
          for (const r of w.status?.replicas ?? []) if (r.pid !== undefined) replicaPids.add(r.pid);
        const listed = await driver.listWorkloads();
        last = JSON.stringify(listed);
        const busy = listed.find((w) => w.key.component === 'busy')?.cpuUsageMillis;
        const idle = listed.find((w) => w.key.component === 'idle')?.cpuUsageMillis;
        // Samples cover at least 5 s; a loaded machine may need a later window.
        return busy !== undefined && idle !== undefined && busy >= 500 ? { busy, idle } : undefined;
      },
      {
        timeoutMs: 60_000,
        context: () => `; last listing: ${last}; agent: ${lab.output(lab.agents.get(CLUSTER)!)}`,
      },
    );
    assert.ok(usage.idle < 200, `idle replica uses ${usage.idle} millicores`);
    assert.ok(usage.busy <= 1200, `one thread cannot use ${usage.busy} millicores`);

    // Per replica, in the Workload status the agent reported: one replica each, the same value.
    const byComponent = new Map(
      (await hub.workloads(CLUSTER)).map((w: Workload) => [w.spec.key.component, w.status]),
    );
    for (const component of ['busy', 'idle']) {
      const status = byComponent.get(component);
      const replicas = status?.replicas ?? [];
      assert.equal(replicas.length, 1, component);
      assert.equal(replicas[0]?.cpuMillis, status?.cpuUsageMillis, component);
    }
  });
});
