// Unit tests of the agent's parts: the hub (tokens, credentials, reachability
// from heartbeat age) on an in-memory SQLite store with a fake clock, and the
// process supervisor with real short-lived processes.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import type { HostInfo } from '../src/agent/protocol.ts';
import { Supervisor } from '../src/agent/supervisor.ts';
import { applyDocuments } from '../src/admission/apply.ts';
import { AgentHub } from '../src/drivers/agent/index.ts';
import { sha256Hex } from '../src/lib/hash.ts';
import { createJoinToken } from '../src/drivers/agent/tokens.ts';
import { UnauthorizedError, ValidationError } from '../src/model/errors.ts';
import type { WorkloadResourceSpec } from '../src/model/schema.ts';
import { openSqliteStore } from '../src/store/index.ts';

const dir = mkdtempSync(join(tmpdir(), 'yunjian-agent-unit-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const FROM = '127.0.0.1';

const host: HostInfo = {
  hostname: 'h',
  address: '127.0.0.1',
  apiPort: 7090,
  arch: 'amd64',
  cpu: 2,
  memory: 2 ** 31,
  pods: 10,
};

describe('agent hub', () => {
  let now = Date.parse('2026-01-01T00:00:00Z');
  const store = openSqliteStore({ path: join(dir, 'hub.db') });
  const hub = new AgentHub({ store, now: () => now });
  after(() => store.close());
  let credential = '';

  test('join tokens: hashed, expire, wrong ones get 401; credentials replace tokens', async () => {
    await applyDocuments(
      store,
      [
        {
          apiVersion: 'yunjian.io/v1alpha1',
          kind: 'Cloud',
          metadata: { name: 'c' },
          spec: { vendor: 'aws', type: 'public' },
        },
        {
          apiVersion: 'yunjian.io/v1alpha1',
          kind: 'Site',
          metadata: { name: 's' },
          spec: { cloud: 'c', kind: 'region', country: 'US', city: 'X', latitude: 0, longitude: 0 },
        },
      ],
      {},
    );
    const created = await createJoinToken(store, {
      cluster: 'a1',
      reusable: true,
      ttlSeconds: 60,
      now,
    });
    const stored = await store.get({ kind: 'AgentToken', name: created.name });
    assert.equal((stored.spec as { tokenHash: string }).tokenHash, sha256Hex(created.token));
    assert.ok(!JSON.stringify(stored).includes(created.token.split('.')[1]!), 'secret not stored');

    const req = { cluster: 'a1', site: 's', host, heartbeatSeconds: 1 };
    await assert.rejects(hub.join(`Bearer ${created.token}x`, req, FROM), UnauthorizedError);
    await assert.rejects(hub.join(undefined, req, FROM), UnauthorizedError);
    await assert.rejects(
      hub.join(`Bearer ${created.token}`, { ...req, site: 'nowhere' }, FROM),
      (e: unknown) => e instanceof ValidationError && /site/.test(e.message),
    );
    const joined = await hub.join(`Bearer ${created.token}`, req, FROM);
    assert.match(joined.credential ?? '', /^yja_/);
    credential = joined.credential ?? '';
    // The credential re-joins and heartbeats; the join token is not a credential.
    assert.deepEqual(await hub.join(`Bearer ${joined.credential}`, req, FROM), { cluster: 'a1' });
    const hb = {
      cluster: 'a1',
      host,
      heartbeatSeconds: 1,
      apiToken: 'x'.repeat(16),
      workloads: [],
    };
    assert.ok((await hub.heartbeat(`Bearer ${joined.credential}`, hb)).revision);
    await assert.rejects(hub.heartbeat(`Bearer ${created.token}`, hb), UnauthorizedError);
    await assert.rejects(
      hub.heartbeat(`Bearer ${joined.credential}`, { ...hb, cluster: 'other' }),
      UnauthorizedError,
    );
    now += 61_000;
    await assert.rejects(hub.join(`Bearer ${created.token}`, req, FROM), /expired/);
  });

  test('reachability follows heartbeat age (~3 intervals)', async () => {
    const driver = hub.driver('a1');
    const hb = {
      cluster: 'a1',
      host,
      heartbeatSeconds: 1,
      apiToken: 'x'.repeat(16),
      workloads: [],
    };
    await hub.heartbeat(`Bearer ${credential}`, hb);
    const inv = await driver.inventory();
    assert.equal(inv.reachable, true);
    assert.equal(inv.nodesByArch.amd64, 1);
    const last = inv.lastContactMs;
    now += 3_000;
    assert.equal((await driver.inventory()).reachable, true);
    now += 1_000;
    const silent = await driver.inventory();
    assert.equal(silent.reachable, false);
    assert.equal(silent.lastContactMs, last, 'last contact is the last heartbeat');
    assert.match(silent.message ?? '', /silent/);
  });
});

describe('supervisor', () => {
  const spec = (
    script: string,
    extra: Partial<WorkloadResourceSpec> = {},
  ): WorkloadResourceSpec => ({
    cluster: 'x',
    key: { namespace: 'n', app: 'a', component: 'c' },
    hash: 'h1',
    image: 'i',
    replicas: 1,
    architectures: ['amd64'],
    cpuMillis: 0,
    memoryBytes: 0,
    gpu: 0,
    ports: [{ port: 8080, protocol: 'TCP' }],
    env: {},
    command: [process.execPath, '-e', script],
    args: [],
    ...extra,
  });
  const until = async (fn: () => boolean, ms = 10_000) => {
    const end = Date.now() + ms;
    while (!fn()) {
      if (Date.now() > end) assert.fail('condition not reached');
      await new Promise((r) => setTimeout(r, 50));
    }
  };

  test('${PORT} is substituted, HTTP health makes a replica ready', async () => {
    const sup = new Supervisor({ address: '127.0.0.1', logDir: join(dir, 'logs1') });
    try {
      const server = `require('http').createServer((q,s)=>s.end(q.url)).listen(Number(process.argv[1]), process.env.HOST)`;
      sup.converge([
        {
          name: 'w',
          admitted: 1,
          spec: spec(server, {
            args: ['${PORT}'],
            healthCheck: {
              http: { path: '/healthz' },
              intervalSeconds: 0.2,
              timeoutSeconds: 1,
              failureThreshold: 1,
            },
          }),
        },
      ]);
      await until(() => sup.status()[0]?.status.ready === 1);
      const port = sup.readyBackends('w', 0)[0];
      assert.equal(await (await fetch(`http://127.0.0.1:${port}/hi`)).text(), '/hi');
    } finally {
      await sup.close();
    }
  });

  // Healthy for its first 600 ms, then answering 500 forever without exiting.
  const wedges = `const t0 = Date.now(); require('http').createServer((q, s) => { s.statusCode = Date.now() - t0 < 600 ? 200 : 500; s.end(); }).listen(Number(process.env.PORT), process.env.HOST)`;
  for (const c of [
    { name: 'restarts a wedged replica after restartThreshold failed checks', restartThreshold: 2 },
    { name: 'only takes a wedged replica out of service without restartThreshold' },
  ]) {
    test(c.name, async () => {
      const sup = new Supervisor({
        address: '127.0.0.1',
        logDir: join(dir, `logs-liveness-${c.restartThreshold ?? 0}`),
        backoff: { initialMs: 100, maxMs: 1000, resetAfterMs: 60_000 },
        stopGraceMs: 500,
      });
      try {
        sup.converge([
          {
            name: 'w',
            admitted: 1,
            spec: spec(wedges, {
              healthCheck: {
                http: { path: '/healthz' },
                intervalSeconds: 0.1,
                timeoutSeconds: 1,
                failureThreshold: 1,
                ...(c.restartThreshold !== undefined
                  ? { restartThreshold: c.restartThreshold }
                  : {}),
              },
            }),
          },
        ]);
        const replica = () => sup.status()[0]?.status.replicas?.[0];
        await until(() => replica()?.ready === true);
        const firstPid = replica()?.pid;
        await until(() => replica()?.ready === false);
        if (c.restartThreshold !== undefined) {
          await until(() => (replica()?.restarts ?? 0) >= 1 && replica()?.pid !== undefined);
          assert.equal(replica()?.lastExit, 'restarted after 2 failed health checks');
          assert.notEqual(replica()?.pid, firstPid);
          // The new process passes its check again: back in service.
          await until(() => replica()?.ready === true);
        } else {
          // Many failed checks later it still runs, the same process, out of service.
          await new Promise((r) => setTimeout(r, 1500));
          assert.equal(replica()?.restarts, 0);
          assert.equal(replica()?.pid, firstPid);
          assert.equal(replica()?.ready, false);
        }
      } finally {
        await sup.close();
      }
    });
  }

  test('a process that exits is restarted with growing back-off', async () => {
    const sup = new Supervisor({
      address: '127.0.0.1',
      logDir: join(dir, 'logs2'),
      backoff: { initialMs: 100, maxMs: 10_000, resetAfterMs: 60_000 },
    });
    try {
      sup.converge([
        { name: 'w', admitted: 1, spec: spec('console.log("up"); process.exit(3)', { ports: [] }) },
      ]);
      await until(() => (sup.status()[0]?.status.replicas?.[0]?.restarts ?? 0) >= 3);
      const r = sup.status()[0]?.status.replicas?.[0];
      assert.equal(r?.lastExit, 'exit code 3');
      const lines = sup.logs('w', 100)[0]?.lines ?? [];
      assert.ok(lines.includes('up'));
      // The log stamps every start. A timer never fires early, so each gap is at
      // least its back-off (100, 200, 400 ms), however loaded the machine is.
      const starts = lines
        .map((l) => /^--- (\S+) started /.exec(l)?.[1])
        .filter((t) => t !== undefined)
        .map((t) => Date.parse(t));
      assert.ok(starts.length >= 4, lines.join('\n'));
      for (let i = 1; i < 4; i++)
        assert.ok(
          starts[i]! - starts[i - 1]! >= 100 * 2 ** (i - 1),
          `start ${i} came ${starts[i]! - starts[i - 1]!} ms after the last`,
        );
    } finally {
      await sup.close();
    }
  });
});
