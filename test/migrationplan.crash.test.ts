// Kill -9 of a real `yunjian server` process in the middle of a MigrationPlan
// (once the first wave's Migrations exist), then a restart on the same data
// directory: the plan finishes, with exactly one Migration per application,
// each Succeeded, and every application on the target with exactly the
// replicas it asks for.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, it } from 'node:test';
import { stringify } from 'yaml';
import { allocatePort } from '../src/lib/net.ts';
import type { Application, Migration, MigrationPlan } from '../src/model/schema.ts';
import { until } from './wait.ts';

const repo = join(import.meta.dirname, '..');
const dir = mkdtempSync(join(tmpdir(), 'yunjian-plan-crash-'));
const NS = '/api/v1alpha1/namespaces/default';
const children: ChildProcess[] = [];
after(() => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

const fleet = ['old', 'new'].flatMap((cloud) => [
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
    spec: { cloud, kind: 'datacenter', country: 'DE', city: 'Berlin', latitude: 52, longitude: 13 },
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
        sim: { nodePools: [{ name: 'x86', count: 2, arch: 'amd64', cpu: '16', memory: '64Gi' }] },
      },
    },
  },
]);

async function start(port: number): Promise<ChildProcess> {
  const child = spawn(
    process.execPath,
    [
      join(repo, 'src/cli/main.ts'),
      'server',
      '--port',
      String(port),
      '--data',
      join(dir, 'state'),
      '--fleet',
      join(dir, 'fleet.yaml'),
      '--sim-startup-seconds',
      '0.2',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  children.push(child);
  let output = '';
  child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  await until(
    'the server ready',
    async () => {
      if (child.exitCode !== null) throw new Error(`server exited early:\n${output}`);
      return (await fetch(`http://127.0.0.1:${port}/readyz`)).ok || undefined;
    },
    { timeoutMs: 30_000, context: () => output },
  );
  return child;
}

it('a plan killed -9 mid-wave resumes after a restart and moves every app exactly once', async () => {
  writeFileSync(join(dir, 'fleet.yaml'), fleet.map((d) => stringify(d)).join('---\n'));
  const port = await allocatePort();
  let child = await start(port);
  const token = readFileSync(join(dir, 'state', 'admin.token'), 'utf8').trim();
  const call = async <T>(method: string, path: string, body?: unknown): Promise<T> => {
    const res = await fetch(`http://127.0.0.1:${port}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const json = (await res.json()) as T;
    assert.ok(res.ok, `${method} ${path}: ${res.status} ${JSON.stringify(json)}`);
    return json;
  };
  const names = ['a', 'b', 'c', 'd', 'e'];
  for (const name of names)
    await call('POST', `${NS}/applications`, {
      apiVersion: 'yunjian.io/v1alpha1',
      kind: 'Application',
      metadata: { name, namespace: 'default' },
      spec: {
        components: [{ name: 'web', image: 'hello', replicas: 2, resources: { cpu: '100m' } }],
        placement: { clusterAffinity: { clouds: ['old'] } },
        ...(name !== 'a' ? { dependsOn: ['a'] } : {}),
      },
    });
  const apps = () => call<{ items: Application[] }>('GET', `${NS}/applications`);
  await until('every application ready on old', async () =>
    (await apps()).items.every((a) => a.status?.replicas?.ready === 2) ? true : undefined,
  );
  await call('POST', `${NS}/migrationplans`, {
    apiVersion: 'yunjian.io/v1alpha1',
    kind: 'MigrationPlan',
    metadata: { name: 'exodus', namespace: 'default' },
    spec: {
      targets: [{ to: { cloud: 'new' } }],
      waveSize: 4,
      concurrency: 2,
      migration: { steps: [50, 100], pauseSeconds: 1, analysis: { minRequests: 0 } },
    },
  });
  const plan = () => call<MigrationPlan>('GET', `${NS}/migrationplans/exodus`);
  // Killed while the second wave's first Migrations are on their way.
  await until('the second wave under way', async () => {
    const p = await plan();
    return (p.status?.currentWave ?? 0) >= 1 &&
      p.status?.applications.some((a) => a.wave === 1 && a.migration !== undefined)
      ? true
      : undefined;
  });
  child.kill('SIGKILL');
  await new Promise((r) => child.once('exit', r));
  child = await start(port);
  await until(
    'the plan Succeeded',
    async () => ((await plan()).status?.phase === 'Succeeded' ? true : undefined),
    { timeoutMs: 90_000, context: async () => JSON.stringify((await plan()).status) },
  );
  const migrations = (await call<{ items: Migration[] }>('GET', `${NS}/migrations`)).items;
  assert.deepEqual(migrations.map((m) => m.spec.application).sort(), names);
  for (const m of migrations) assert.equal(m.status?.phase, 'Succeeded', m.metadata.name);
  await until('every application on new with exactly its replicas', async () => {
    const items = (await apps()).items;
    return items.every(
      (a) =>
        a.status?.replicas?.ready === 2 &&
        a.status.replicas.desired === 2 &&
        (a.status.placements ?? []).every((p) => p.cloud === 'new'),
    )
      ? true
      : undefined;
  });
  child.kill('SIGTERM');
  await new Promise((r) => child.once('exit', r));
});
