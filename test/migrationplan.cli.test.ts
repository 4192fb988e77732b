// `yunjian migration plan` and `yunjian migrationplan ...` against a stand-in
// server: --dry-run validates on the server and prints the waves without
// storing, a plain `plan` stores it, --what-if rehearses it in a sim twin and
// stores nothing, a file that is not one MigrationPlan is a usage error, and
// describe shows waves with each application's Migration.
import assert from 'node:assert/strict';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { describeMigrationPlan } from '../src/cli/commands/migrationplan.ts';
import { run } from '../src/cli/program.ts';
import type { Application, MigrationPlan } from '../src/model/schema.ts';

const NOW = Date.parse('2026-12-01T12:00:00Z');

interface Sent {
  method: string;
  path: string;
  query: string;
  body: string | undefined;
}

const fleet = {
  clouds: ['old', 'new'].map((name) => ({
    apiVersion: 'yunjian.io/v1alpha1',
    kind: 'Cloud',
    metadata: { name },
    spec: { vendor: 'other', type: 'private' },
  })),
  sites: ['old', 'new'].map((cloud) => ({
    apiVersion: 'yunjian.io/v1alpha1',
    kind: 'Site',
    metadata: { name: `${cloud}-1` },
    spec: { cloud, kind: 'datacenter', country: 'DE', city: 'B', latitude: 1, longitude: 1 },
  })),
  clusters: ['old', 'new'].map((cloud) => ({
    apiVersion: 'yunjian.io/v1alpha1',
    kind: 'Cluster',
    metadata: { name: `${cloud}-1-a` },
    spec: {
      cloud,
      site: `${cloud}-1`,
      driver: {
        type: 'sim',
        sim: { nodePools: [{ name: 'x', count: 2, arch: 'amd64', cpu: '16', memory: '64Gi' }] },
      },
    },
    status: {
      conditions: [
        { type: 'Ready', status: 'True', reason: 'Ok', lastTransitionTime: '2026-12-01T00:00:00Z' },
      ],
      nodeCount: 2,
      nodesByArch: { amd64: 2, arm64: 0, riscv64: 0 },
      allocatable: { cpu: 32, memory: 128 * 1024 ** 3, gpu: 0, pods: 220 },
      allocated: { cpu: 0, memory: 0, gpu: 0, pods: 0 },
    },
  })),
  applications: ['a', 'b', 'eu'].map((name): Application => ({
    apiVersion: 'yunjian.io/v1alpha1',
    kind: 'Application',
    metadata: { name, namespace: 'default' },
    spec: {
      components: [{ name: 'web', image: 'hello', replicas: 1 }],
      placement: {
        clusterAffinity: { clouds: ['old'] },
        ...(name === 'eu' ? { residency: { countries: ['FR'] } } : {}),
      },
      ...(name === 'b' ? { dependsOn: ['a'] } : {}),
    },
    status: {
      placements: [{ component: 'web', cluster: 'old-1-a', cloud: 'old', desired: 1, ready: 1 }],
    },
  })),
};

const PLAN = `apiVersion: yunjian.io/v1alpha1
kind: MigrationPlan
metadata: {name: away}
spec:
  targets: [{to: {cloud: new}}]
  migration: {steps: [100], pauseSeconds: 30}
`;

async function cli(argv: string[], file = PLAN) {
  const home = await mkdtemp(join(tmpdir(), 'yj-migplan-'));
  const planPath = join(home, 'plan.yaml');
  await writeFile(planPath, file);
  const sent: Sent[] = [];
  let stdout = '';
  let stderr = '';
  const code = await run(
    [
      '--server',
      'http://127.0.0.1:9',
      '--token',
      't',
      ...argv.map((a) => (a === 'PLAN' ? planPath : a)),
    ],
    {
      stdout: (s) => (stdout += s),
      stderr: (s) => (stderr += s),
      readStdin: () => Promise.resolve(''),
      env: { YUNJIAN_DATA_DIR: join(home, 'd'), XDG_CONFIG_HOME: join(home, 'c') },
      home,
      now: () => NOW,
      fetch: (input, init) => {
        const url = new URL(input instanceof Request ? input.url : input.toString());
        const s = {
          method: init?.method ?? 'GET',
          path: url.pathname,
          query: url.search,
          body: typeof init?.body === 'string' ? init.body : undefined,
        };
        sent.push(s);
        const kind = /^\/api\/v1alpha1\/(\w+)$/.exec(s.path)?.[1] ?? '';
        const body =
          kind === 'apply'
            ? { items: [{ kind: 'MigrationPlan', name: 'away', action: 'created' }] }
            : {
                metadata: { resourceVersion: '1' },
                items: fleet[kind as keyof typeof fleet] ?? [],
              };
        return Promise.resolve(
          new Response(JSON.stringify(body), { headers: { 'content-type': 'application/json' } }),
        );
      },
      interrupted: () => new AbortController().signal,
    },
  );
  return { code, stdout, stderr, sent };
}

const applies = (sent: Sent[]) =>
  sent.filter((s) => s.path === '/api/v1alpha1/apply').map((s) => s.query.includes('dryRun'));

describe('yunjian migration plan', () => {
  it('--dry-run validates on the server and prints the waves; nothing is stored', async () => {
    const r = await cli(['migration', 'plan', '-f', 'PLAN', '--dry-run']);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(applies(r.sent), [true]);
    assert.match(r.stdout, /migrationplan away: 2 applications in 2 waves, 1 unmovable/);
    assert.match(r.stdout, /wave 1 \(1\): a -> cloud=new\n {2}wave 2 \(1\): b -> cloud=new/);
    assert.match(r.stdout, /eu: residency: it may run in FR only; cloud=new is in DE/);
    assert.match(r.stdout, /valid \(dry run\)/);
  });

  it('without --dry-run stores the plan after showing the waves', async () => {
    const r = await cli(['migration', 'plan', '-f', 'PLAN']);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(applies(r.sent), [true, false]);
    assert.match(r.stdout, /wave 2 \(1\): b/);
    assert.match(r.stdout, /migrationplan.yunjian.io\/away created/);
  });

  it('--what-if rehearses the plan in a sim twin and stores nothing', async () => {
    const r = await cli(['migration', 'plan', '-f', 'PLAN', '--what-if', '--speedup', '30']);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(applies(r.sent), [true]);
    assert.match(r.stdout, /what-if away .*nothing real changed\): Succeeded/);
    assert.match(r.stdout, /waves: +2 \(1, 1 applications\)/);
    assert.match(r.stdout, /zero ready: +never/);
    assert.match(r.stdout, /eu: residency/);
  });

  for (const [flag, value, expected] of [
    ['--speedup', '0.5', /--speedup.*expected a factor from 1 to 1000, got "0.5"/],
    ['--speedup', 'fast', /--speedup.*expected a factor from 1 to 1000, got "fast"/],
    ['--timeout', '1d', /--timeout.*expected a duration such as 30s, 5m or 1h, got "1d"/],
  ] as const)
    it(`${flag} ${value} is a usage error; nothing is sent`, async () => {
      const r = await cli(['migration', 'plan', '-f', 'PLAN', '--what-if', flag, value]);
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, expected);
      assert.deepEqual(r.sent, []);
    });

  it('a file that is not one MigrationPlan is a usage error; nothing is sent', async () => {
    const r = await cli(['migration', 'plan', '-f', 'PLAN'], 'kind: Application\n');
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /expected one MigrationPlan document/);
    assert.deepEqual(r.sent, []);
  });
});

describe('yunjian migrationplan describe', () => {
  it("shows each wave with its applications' Migrations and phases", () => {
    const p: MigrationPlan = {
      apiVersion: 'yunjian.io/v1alpha1',
      kind: 'MigrationPlan',
      metadata: { name: 'away', namespace: 'default' },
      spec: { targets: [{ to: { cloud: 'new' } }] },
      status: {
        phase: 'Running',
        currentWave: 1,
        waves: [
          { applications: ['a'], phase: 'Succeeded' },
          { applications: ['b', 'c'], phase: 'Running' },
        ],
        applications: [
          { name: 'a', wave: 0, to: { cloud: 'new' }, migration: 'away-a', phase: 'Succeeded' },
          { name: 'b', wave: 1, to: { cloud: 'new' }, migration: 'away-b', phase: 'Shifting' },
          { name: 'c', wave: 1, to: { cloud: 'new' } },
        ],
        unmovable: [{ name: 'eu', reason: 'residency' }],
      },
    };
    const out = describeMigrationPlan(p, NOW);
    assert.match(out, /Wave 1: Succeeded\n {2}a -> cloud=new {2}away-a {2}Succeeded/);
    assert.match(
      out,
      /Wave 2: Running \(current\)\n {2}b -> cloud=new {2}away-b {2}Shifting\n {2}c -> cloud=new {2}- {2}not started/,
    );
    assert.match(out, /Unmovable:\n {2}eu: residency/);
  });
});
