// `yunjian migrate` and `yunjian migration ...`: option parsing (bad values are
// usage errors naming what was expected, exit non-zero, nothing sent), the
// Migration document sent, and the spec each control verb PUTs.
import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { stepsOption, targetOption } from '../src/cli/commands/migrate.ts';
import { secondsOption } from '../src/cli/options.ts';
import { describeMigration } from '../src/cli/commands/migration.ts';
import { run } from '../src/cli/program.ts';
import type { Migration } from '../src/model/schema.ts';

const NOW = Date.parse('2026-12-01T12:00:00Z');

interface Sent {
  method: string;
  path: string;
  body: string | undefined;
}

async function cli(argv: string[], reply: (s: Sent) => unknown = () => ({})) {
  const home = await mkdtemp(join(tmpdir(), 'yj-migrate-'));
  const sent: Sent[] = [];
  let stdout = '';
  let stderr = '';
  const code = await run(['--server', 'http://127.0.0.1:9', '--token', 't', ...argv], {
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
        path: url.pathname + url.search,
        body: typeof init?.body === 'string' ? init.body : undefined,
      };
      sent.push(s);
      return Promise.resolve(
        new Response(JSON.stringify(reply(s)), { headers: { 'content-type': 'application/json' } }),
      );
    },
    interrupted: () => new AbortController().signal,
  });
  return { code, stdout, stderr, sent };
}

const existing: Migration = {
  apiVersion: 'yunjian.io/v1alpha1',
  kind: 'Migration',
  metadata: { name: 'shop-to-b', namespace: 'default', resourceVersion: '7' },
  spec: { application: 'shop', to: { cloud: 'b' } },
  status: {
    phase: 'Shifting',
    step: 1,
    weight: 25,
    source: ['a1'],
    target: ['b1'],
    message: 'step 2/4: 25% of traffic on cloud b',
    analyses: [
      {
        step: 0,
        weight: 5,
        result: 'success',
        requests: 120,
        message: 'ok',
        at: '2026-12-01T11:59:00Z',
      },
    ],
  },
};

describe('migrate option parsers', () => {
  it('parses targets, steps and pauses', () => {
    assert.deepEqual(targetOption('cloud=b'), { cloud: 'b' });
    assert.deepEqual(targetOption('site=eu-1'), { site: 'eu-1' });
    assert.deepEqual(targetOption('cluster=c.b'), { cluster: 'c.b' });
    assert.deepEqual(stepsOption('5,25,50,100'), [5, 25, 50, 100]);
    assert.deepEqual(stepsOption('100'), [100]);
    assert.equal(secondsOption('90s'), 90);
    assert.equal(secondsOption('5m'), 300);
    assert.equal(secondsOption('45'), 45);
  });
  const bad: [string, (raw: string) => unknown, string][] = [
    ['a target without a kind', targetOption, 'b'],
    ['an unknown target kind', targetOption, 'region=x'],
    ['falling steps', stepsOption, '50,25,100'],
    ['steps not ending at 100', stepsOption, '5,25'],
    ['a step over 100', stepsOption, '5,200'],
    ['a pause in days', secondsOption, '1d'],
  ];
  for (const [name, parse, raw] of bad)
    it(`rejects ${name}`, () => assert.throws(() => parse(raw), /expected/));
});

describe('yunjian migrate', () => {
  it('applies a Migration named after the app and target', async () => {
    const r = await cli(
      ['migrate', 'app', 'shop', '--to', 'cloud=b', '--steps', '10,100', '--pause', '2m'],
      () => ({
        kind: 'ApplyResult',
        items: [],
      }),
    );
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.sent.length, 1);
    assert.equal(r.sent[0]?.method, 'POST');
    assert.equal(r.sent[0]?.path, '/api/v1alpha1/apply?namespace=default');
    assert.deepEqual(JSON.parse(r.sent[0]?.body ?? ''), {
      apiVersion: 'yunjian.io/v1alpha1',
      kind: 'Migration',
      metadata: { name: 'shop-to-b', namespace: 'default' },
      spec: { application: 'shop', to: { cloud: 'b' }, steps: [10, 100], pauseSeconds: 120 },
    });
    assert.match(r.stdout, /migration\.yunjian\.io\/shop-to-b created/);
  });
  it('--dry-run asks the server to validate only and prints the document', async () => {
    const r = await cli(['migrate', 'app', 'shop', '--to', 'site=s1', '--dry-run'], () => ({
      kind: 'ApplyResult',
      items: [],
    }));
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.sent[0]?.path, '/api/v1alpha1/apply?namespace=default&dryRun=true');
    assert.match(r.stdout, /kind: Migration/);
    assert.match(r.stdout, /valid \(dry run\)/);
  });
  const usage: [string, string[]][] = [
    ['no --to', ['migrate', 'app', 'shop']],
    ['a bad --to', ['migrate', 'app', 'shop', '--to', 'b']],
    ['bad --steps', ['migrate', 'app', 'shop', '--to', 'cloud=b', '--steps', '5,25']],
    ['not an application', ['migrate', 'clusters', 'x', '--to', 'cloud=b']],
  ];
  for (const [name, argv] of usage)
    it(`refuses ${name}: non-zero exit, nothing sent`, async () => {
      const r = await cli(argv);
      assert.notEqual(r.code, 0);
      assert.equal(r.sent.length, 0);
      assert.notEqual(r.stderr, '');
    });
});

describe('yunjian migration', () => {
  const controls: [string, Partial<Migration['spec']>][] = [
    ['pause', { paused: true }],
    ['resume', { paused: false }],
    ['abort', { abort: true }],
    ['finalize', { finalizeApproved: true }],
  ];
  for (const [verb, change] of controls)
    it(`${verb} PUTs the spec with ${JSON.stringify(change)} at the version read`, async () => {
      const r = await cli(['migration', verb, 'shop-to-b'], (s) =>
        s.method === 'GET' ? existing : {},
      );
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(
        r.sent.map((s) => `${s.method} ${s.path}`),
        [
          'GET /api/v1alpha1/namespaces/default/migrations/shop-to-b',
          'PUT /api/v1alpha1/namespaces/default/migrations/shop-to-b',
        ],
      );
      const put = JSON.parse(r.sent[1]?.body ?? '') as Migration;
      assert.deepEqual(put.spec, { ...existing.spec, ...change });
      assert.equal(put.metadata.resourceVersion, '7');
    });

  it('get lists migrations as a table', async () => {
    const r = await cli(['migration', 'get'], () => ({
      kind: 'MigrationList',
      metadata: {},
      items: [existing],
    }));
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /NAME\s+APPLICATION\s+TO\s+PHASE\s+WEIGHT/);
    assert.match(r.stdout, /shop-to-b\s+shop\s+cloud=b\s+Shifting\s+25%/);
  });

  it('describe shows phase, traffic and analyses', () => {
    const text = describeMigration(existing, NOW);
    for (const line of [
      /Phase:\s+Shifting/,
      /Traffic:\s+25% on the target/,
      /step 1 at 5%: success/,
      /Source:\s+a1/,
    ])
      assert.match(text, line);
  });
});
