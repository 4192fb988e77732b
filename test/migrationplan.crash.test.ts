// Kill -9 of a real `yunjian server` process in the middle of a MigrationPlan,
// then a restart on the same data directory.
//
// 1. Once, as the second wave starts: the plan finishes, with exactly one
//    Migration per application, each Succeeded, and every application on the
//    target with exactly the replicas it asks for.
// 2. Five times, each as a Migration enters a phase drawn from a seeded
//    random (YUNJIAN_CRASH_SEED; the default, 19, draws each of the four
//    phases; each kill is a diagnostic in the test output), one plan moving
//    its applications one at a time, one of them aborted by the user: every
//    application ends Succeeded on the target or RolledBack on the source,
//    with exactly its replicas, none lost or duplicated.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, it, type TestContext } from 'node:test';
import { stringify } from 'yaml';
import { allocatePort } from '../src/lib/net.ts';
import { seededRandom } from '../src/lib/random.ts';
import type { Application, Migration, MigrationPhase, MigrationPlan } from '../src/model/schema.ts';
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

writeFileSync(join(dir, 'fleet.yaml'), fleet.map((d) => stringify(d)).join('---\n'));

async function start(port: number, data: string): Promise<ChildProcess> {
  const child = spawn(
    process.execPath,
    [
      join(repo, 'src/cli/main.ts'),
      'server',
      '--port',
      String(port),
      '--data',
      data,
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

/** Authenticated JSON calls to the server on `port` with the admin token in `data`. */
function caller(port: number, data: string) {
  const token = readFileSync(join(data, 'admin.token'), 'utf8').trim();
  return async <T>(method: string, path: string, body?: unknown): Promise<T> => {
    const res = await fetch(`http://127.0.0.1:${port}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const json = (await res.json()) as T;
    assert.ok(res.ok, `${method} ${path}: ${res.status} ${JSON.stringify(json)}`);
    return json;
  };
}

/** An application of 2 replicas of 100m placed on cloud `old`. */
const oldApp = (name: string, dependsOn: string[] = []) => ({
  apiVersion: 'yunjian.io/v1alpha1',
  kind: 'Application',
  metadata: { name, namespace: 'default' },
  spec: {
    components: [{ name: 'web', image: 'hello', replicas: 2, resources: { cpu: '100m' } }],
    placement: { clusterAffinity: { clouds: ['old'] } },
    ...(dependsOn.length > 0 ? { dependsOn } : {}),
  },
});

const killed = async (child: ChildProcess) => {
  child.kill('SIGKILL');
  if (child.exitCode === null && child.signalCode === null)
    await new Promise((r) => child.once('exit', r));
};

it('a plan killed -9 mid-wave resumes after a restart and moves every app exactly once', async () => {
  const port = await allocatePort();
  const data = join(dir, 'state');
  let child = await start(port, data);
  const call = caller(port, data);
  const names = ['a', 'b', 'c', 'd', 'e'];
  for (const name of names)
    await call('POST', `${NS}/applications`, oldApp(name, name !== 'a' ? ['a'] : []));
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
  await killed(child);
  child = await start(port, data);
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

/**
 * Kills the server with SIGKILL as soon as its watch reports a Migration in
 * `phase` (a phase can last a single controller pass, too short to be caught
 * by polling); `onEvent` sees every Migration reported before that. Returns
 * the Migration's name.
 */
async function killAtPhase(
  port: number,
  data: string,
  child: ChildProcess,
  phase: MigrationPhase,
  onEvent: (items: Migration[]) => Promise<void>,
): Promise<string> {
  const token = readFileSync(join(data, 'admin.token'), 'utf8').trim();
  const res = await fetch(`http://127.0.0.1:${port}${NS}/migrations?watch=true`, {
    headers: { authorization: `Bearer ${token}` },
    signal: AbortSignal.timeout(60_000),
  });
  assert.ok(res.ok && res.body, `watch: ${res.status}`);
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffered = '';
  let victim: string | undefined;
  try {
    while (victim === undefined) {
      const { done, value } = await reader.read();
      if (done) throw new Error(`the watch ended before a Migration entered ${phase}`);
      const lines = (buffered + value).split('\n');
      buffered = lines.pop() ?? '';
      for (const line of lines) {
        const event = JSON.parse(line) as { type: string; object: Migration };
        if (event.type === 'BOOKMARK') continue;
        if (event.object.status?.phase === phase) {
          child.kill('SIGKILL');
          victim = event.object.metadata.name;
          break;
        }
        await onEvent([event.object]);
      }
    }
  } finally {
    // The kill ends the stream with an error; nothing more is read from it.
    await reader.cancel().catch(() => undefined);
  }
  await killed(child);
  return victim;
}

const KILL_PHASES: readonly MigrationPhase[] = ['PreScaling', 'Shifting', 'Cutover', 'Finalizing'];

it('five kills -9 at random phases: every app Succeeded on the target or RolledBack at its source, replicas exact', async (t: TestContext) => {
  const seed = Number(process.env.YUNJIAN_CRASH_SEED ?? 19);
  const random = seededRandom(seed, 'migration-crash');
  const phases = Array.from(
    { length: 5 },
    () => KILL_PHASES[Math.floor(random() * KILL_PHASES.length)] as MigrationPhase,
  );
  t.diagnostic(`seed ${seed}: kills at ${phases.join(', ')}`);
  const port = await allocatePort();
  const data = join(dir, 'five-kills');
  let child = await start(port, data);
  const call = caller(port, data);
  // One at a time, so each phase comes round again after a kill has passed it.
  const names = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'];
  const aborted = 'c';
  for (const name of names) await call('POST', `${NS}/applications`, oldApp(name));
  const apps = async () =>
    (await call<{ items: Application[] }>('GET', `${NS}/applications`)).items;
  const migrations = async () =>
    (await call<{ items: Migration[] }>('GET', `${NS}/migrations`)).items;
  await until('every application ready on old', async () =>
    (await apps()).every((a) => a.status?.replicas?.ready === 2) ? true : undefined,
  );
  await call('POST', `${NS}/migrationplans`, {
    apiVersion: 'yunjian.io/v1alpha1',
    kind: 'MigrationPlan',
    metadata: { name: 'one-by-one', namespace: 'default' },
    spec: {
      targets: [{ to: { cloud: 'new' } }],
      waveSize: names.length,
      concurrency: 1,
      gate: { maxFailed: 1 },
      migration: { steps: [50, 100], pauseSeconds: 1, analysis: { minRequests: 0 } },
    },
  });
  const plan = () => call<MigrationPlan>('GET', `${NS}/migrationplans/one-by-one`);
  const abortIfShifting = async (items: Migration[]) => {
    const m = items.find((x) => x.spec.application === aborted);
    if (m?.status?.phase === 'Shifting' && m.spec.abort !== true)
      // A conflict with the controller's write is tried again on the next read.
      await call('PUT', `${NS}/migrations/${m.metadata.name}`, {
        ...m,
        spec: { ...m.spec, abort: true },
      }).catch((err: unknown) => {
        if (!(err instanceof Error && err.message.includes(': 409 '))) throw err;
      });
  };
  for (const [i, phase] of phases.entries()) {
    const victim = await killAtPhase(port, data, child, phase, abortIfShifting);
    t.diagnostic(`kill ${i + 1}: -9 as ${victim} entered ${phase}`);
    child = await start(port, data);
  }
  await until(
    'the plan Succeeded',
    async () => {
      await abortIfShifting(await migrations());
      return (await plan()).status?.phase === 'Succeeded' ? true : undefined;
    },
    { timeoutMs: 90_000, context: async () => JSON.stringify((await plan()).status) },
  );
  const done = await migrations();
  assert.deepEqual(done.map((m) => m.spec.application).sort(), names, 'one Migration per app');
  for (const m of done)
    assert.equal(
      m.status?.phase,
      m.spec.application === aborted ? 'RolledBack' : 'Succeeded',
      m.metadata.name,
    );
  // No replica lost or duplicated: each app has exactly its 2, all ready, all
  // on one side (the target when it moved, its source when it rolled back).
  await until(
    'every application with exactly its replicas where its migration left it',
    async () => {
      const items = await apps();
      return items.every((a) => {
        const cloud = a.metadata.name === aborted ? 'old' : 'new';
        const placements = a.status?.placements ?? [];
        return (
          a.status?.replicas?.ready === 2 &&
          a.status.replicas.desired === 2 &&
          placements.reduce((n, p) => n + p.desired, 0) === 2 &&
          placements.reduce((n, p) => n + p.ready, 0) === 2 &&
          placements.every((p) => p.cloud === cloud)
        );
      })
        ? true
        : undefined;
    },
    {
      context: async () =>
        JSON.stringify((await apps()).map((a) => [a.metadata.name, a.status?.placements])),
    },
  );
  child.kill('SIGTERM');
  await new Promise((r) => child.once('exit', r));
});
