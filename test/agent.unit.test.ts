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
import { applyDocuments } from '../src/api/apply.ts';
import { AgentHub } from '../src/drivers/agent/index.ts';
import { createJoinToken, hashToken } from '../src/drivers/agent/tokens.ts';
import { UnauthorizedError, ValidationError } from '../src/model/errors.ts';
import type { WorkloadResourceSpec } from '../src/model/schema.ts';
import { openSqliteStore } from '../src/store/index.ts';

const dir = mkdtempSync(join(tmpdir(), 'yunjian-agent-unit-'));
after(() => rmSync(dir, { recursive: true, force: true }));

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
    const created = await createJoinToken(store, { ttlSeconds: 60, now });
    const stored = await store.get({ kind: 'AgentToken', name: created.name });
    assert.equal((stored.spec as { tokenHash: string }).tokenHash, hashToken(created.token));
    assert.ok(!JSON.stringify(stored).includes(created.token.split('.')[1]!), 'secret not stored');

    const req = { cluster: 'a1', site: 's', host, heartbeatSeconds: 1 };
    await assert.rejects(hub.join(`Bearer ${created.token}x`, req), UnauthorizedError);
    await assert.rejects(hub.join(undefined, req), UnauthorizedError);
    await assert.rejects(
      hub.join(`Bearer ${created.token}`, { ...req, site: 'nowhere' }),
      (e: unknown) => e instanceof ValidationError && /site/.test(e.message),
    );
    const joined = await hub.join(`Bearer ${created.token}`, req);
    assert.match(joined.credential ?? '', /^yja_/);
    credential = joined.credential ?? '';
    // The credential re-joins and heartbeats; the join token is not a credential.
    assert.deepEqual(await hub.join(`Bearer ${joined.credential}`, req), { cluster: 'a1' });
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
    await assert.rejects(hub.join(`Bearer ${created.token}`, req), /expired/);
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

  test('a process that exits is restarted with growing back-off', async () => {
    const sup = new Supervisor({
      address: '127.0.0.1',
      logDir: join(dir, 'logs2'),
      backoff: { initialMs: 100, maxMs: 10_000, resetAfterMs: 60_000 },
    });
    try {
      const starts: number[] = [];
      sup.converge([
        { name: 'w', admitted: 1, spec: spec('console.log("up"); process.exit(3)', { ports: [] }) },
      ]);
      let seen = -1;
      await until(() => {
        const r = sup.status()[0]?.status.replicas?.[0];
        if (r !== undefined && r.restarts !== seen) {
          seen = r.restarts;
          starts.push(Date.now());
        }
        return seen >= 3;
      });
      const gaps = starts.slice(1).map((t, i) => t - starts[i]!);
      assert.ok(gaps[2]! > gaps[0]!, `back-off grows: ${gaps.join(', ')} ms`);
      const r = sup.status()[0]?.status.replicas?.[0];
      assert.equal(r?.lastExit, 'exit code 3');
      assert.ok(sup.logs('w', 100)[0]?.lines.some((l) => l === 'up'));
    } finally {
      await sup.close();
    }
  });
});
