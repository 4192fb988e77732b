// A MigrationPlan on an in-process control plane with two sim clouds: six
// applications (a chain, a group, one on its own) move from `old` to `new`
// in waves through real Migrations, the application controller and the sim
// twin. The control plane is closed once the first wave is done and started
// again on the same data directory; the plan resumes and finishes, with one
// Migration per application, dependencies finished before their dependents
// started, and every application running on `new` only.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { stringify } from 'yaml';
import { runServer, type RunningServer } from '../src/cmd/server.ts';
import type { Application, Migration, MigrationPlan } from '../src/model/schema.ts';
import { until } from './wait.ts';

const API = '/api/v1alpha1';
const NS = `${API}/namespaces/default`;

function fleet(): unknown[] {
  return ['old', 'new'].flatMap((cloud) => [
    {
      apiVersion: 'yunjian.io/v1alpha1',
      kind: 'Cloud',
      metadata: { name: cloud },
      spec: { vendor: 'baremetal', type: 'private' },
    },
    {
      apiVersion: 'yunjian.io/v1alpha1',
      kind: 'Site',
      metadata: { name: `${cloud}-1` },
      spec: {
        cloud,
        kind: 'datacenter',
        country: 'DE',
        city: 'Berlin',
        latitude: 52,
        longitude: 13,
      },
    },
    {
      apiVersion: 'yunjian.io/v1alpha1',
      kind: 'Cluster',
      metadata: { name: `${cloud}-1-a` },
      spec: {
        cloud,
        site: `${cloud}-1`,
        driver: {
          type: 'sim',
          sim: { nodePools: [{ name: 'x86', count: 3, arch: 'amd64', cpu: '16', memory: '64Gi' }] },
        },
      },
    },
  ]);
}

function app(name: string, dependsOn?: string[]): Application {
  return {
    apiVersion: 'yunjian.io/v1alpha1',
    kind: 'Application',
    metadata: { name, namespace: 'default', labels: { plan: 'yes' } },
    spec: {
      components: [
        { name: 'web', image: 'hello', replicas: 2, resources: { cpu: '500m', memory: '256Mi' } },
      ],
      placement: { clusterAffinity: { clouds: ['old'] } },
      ...(dependsOn !== undefined ? { dependsOn } : {}),
    },
  };
}

const plan: MigrationPlan = {
  apiVersion: 'yunjian.io/v1alpha1',
  kind: 'MigrationPlan',
  metadata: { name: 'exodus', namespace: 'default' },
  spec: {
    selector: { matchLabels: { plan: 'yes' } },
    targets: [{ fromCloud: 'old', to: { cloud: 'new' } }],
    groups: [{ name: 'pair', applications: ['d', 'e'] }],
    waveSize: 3,
    concurrency: 2,
    migration: { steps: [50, 100], pauseSeconds: 0, analysis: { minRequests: 0 } },
  },
};

describe('MigrationPlan controller across a control-plane restart', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'yunjian-migrationplan-'));
  const fleetPath = join(dataDir, 'fleet.yaml');
  writeFileSync(
    fleetPath,
    fleet()
      .map((d) => stringify(d))
      .join('---\n'),
  );
  let server: RunningServer | undefined;
  after(async () => {
    await server?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });
  const start = async () => {
    server = await runServer({
      port: 0,
      host: '127.0.0.1',
      dataDir: join(dataDir, 'state'),
      fleet: fleetPath,
      fleetScale: 1,
      log: () => {},
      heartbeatSeconds: 1,
      simStartupSeconds: 0.2,
    });
    return { url: server.url, token: readFileSync(server.adminTokenPath, 'utf8').trim() };
  };
  const call = async (
    cp: { url: string; token: string },
    method: string,
    path: string,
    body?: unknown,
  ) => {
    const res = await fetch(`${cp.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${cp.token}`, 'content-type': 'application/json' },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const json = (await res.json()) as Record<string, unknown>;
    assert.ok(res.status < 300, `${method} ${path}: ${res.status} ${JSON.stringify(json)}`);
    return json;
  };
  const getPlan = async (cp: { url: string; token: string }) =>
    (await call(cp, 'GET', `${NS}/migrationplans/exodus`)) as unknown as MigrationPlan;

  it('moves every application in dependency order and resumes after a restart', async () => {
    let cp = await start();
    // a <- b <- c is a chain; d and e move together; f is on its own.
    for (const a of [
      app('a'),
      app('b', ['a']),
      app('c', ['b']),
      app('d'),
      app('e', ['a']),
      app('f'),
    ])
      await call(cp, 'POST', `${NS}/applications`, a);
    await until('every application ready on old', async () => {
      const list = (await call(cp, 'GET', `${NS}/applications`)) as { items: Application[] };
      return list.items.every((a) => (a.status?.replicas?.ready ?? 0) === 2) || undefined;
    });
    await call(cp, 'POST', `${NS}/migrationplans`, plan);

    await until(
      'waves[0]?.phase Succeeded',
      async () => (await getPlan(cp)).status?.waves[0]?.phase === 'Succeeded' || undefined,
      { timeoutMs: 60_000, context: async () => JSON.stringify((await getPlan(cp)).status) },
    );
    const planned = (await getPlan(cp)).status;
    // The group (d, e) waits for a, its member e's dependency; b waits for a too.
    assert.deepEqual(
      planned?.waves.map((w) => w.applications),
      [['a', 'f'], ['b', 'd', 'e'], ['c']],
    );
    assert.deepEqual(planned?.unmovable, []);
    assert.equal(planned?.phase, 'Running', 'the restart comes mid-plan');

    await server?.close();
    server = undefined;
    cp = await start();
    await until(
      'phase Succeeded',
      async () => (await getPlan(cp)).status?.phase === 'Succeeded' || undefined,
      { timeoutMs: 90_000, context: async () => JSON.stringify((await getPlan(cp)).status) },
    );

    const migrations = ((await call(cp, 'GET', `${NS}/migrations`)) as { items: Migration[] })
      .items;
    assert.deepEqual(
      migrations.map((m) => m.spec.application).sort(),
      ['a', 'b', 'c', 'd', 'e', 'f'],
      'one Migration per application',
    );
    for (const m of migrations) assert.equal(m.status?.phase, 'Succeeded', m.metadata.name);
    const by = new Map(migrations.map((m) => [m.spec.application, m.status]));
    for (const [dependent, dependency] of [
      ['b', 'a'],
      ['c', 'b'],
      ['e', 'a'],
      ['d', 'a'],
    ] as const)
      assert.ok(
        (by.get(dependent)?.startedAt ?? '') >= (by.get(dependency)?.finishedAt ?? '~'),
        `${dependent} started after ${dependency} finished`,
      );
    const apps = ((await call(cp, 'GET', `${NS}/applications`)) as { items: Application[] }).items;
    for (const a of apps) {
      const clouds = new Set((a.status?.placements ?? []).map((p) => p.cloud));
      assert.deepEqual([...clouds], ['new'], a.metadata.name);
      assert.equal(a.status?.replicas?.ready, 2, a.metadata.name);
    }
  });
});
