// The cost API, its FOCUS export, savings, Prometheus gauges and `yunjian
// cost`, over samples written to a real store: rows reconcile with the fleet,
// bad parameters are 422 naming each one, the CLI prints the same numbers.
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { Registry } from 'prom-client';
import { TokenAuthenticator } from '../src/api/auth.ts';
import { costRoutes, registerCostMetrics } from '../src/api/routes/cost.ts';
import { createApiServer } from '../src/api/server.ts';
import { run } from '../src/cli/program.ts';
import { FOCUS_COLUMNS } from '../src/insights/cost/focus.ts';
import { sampleName } from '../src/insights/cost/sample.ts';
import { API_VERSION, type CostSample, type CostSampleCluster } from '../src/model/schema.ts';
import { openSqliteStore } from '../src/store/index.ts';
import type { Store } from '../src/store/types.ts';

const API = '/api/v1alpha1';
const TOKEN = 'cost-token-0123456789abcdef';
const GiB = 2 ** 30;

// An hour of c1 costs 4 x 0.04 + 16 x 0.005 = 0.24 USD; web (team alpha) 2 x 500m,
// 2 GiB = 0.05; job (team beta) 1 core, 4 GiB = 0.06; idle 0.13.
const c1: CostSampleCluster = {
  cluster: 'c1',
  cloud: 'aws',
  site: 's1',
  prices: { cpuCoreHour: 0.04, memoryGiBHour: 0.005, gpuHour: 0 },
  capacity: { cpuMillis: 4000, memoryBytes: 16 * GiB, gpu: 0 },
  workloads: [
    {
      namespace: 'shop',
      app: 'web',
      component: 'web',
      team: 'alpha',
      replicas: 2,
      request: { cpuMillis: 500, memoryBytes: GiB, gpu: 0 },
    },
    {
      namespace: 'batch',
      app: 'job',
      component: 'run',
      team: 'beta',
      replicas: 1,
      request: { cpuMillis: 1000, memoryBytes: 4 * GiB, gpu: 0 },
    },
  ],
};
const sample = (startMs: number, clusters: CostSampleCluster[]): CostSample => ({
  apiVersion: API_VERSION,
  kind: 'CostSample',
  metadata: { name: sampleName(startMs) },
  spec: { start: new Date(startMs).toISOString(), seconds: 3600, clusters },
});

describe('cost API and CLI', () => {
  let store: Store;
  let base = '';
  let close: () => Promise<void> = () => Promise.resolve();
  const registry = new Registry();
  const thisHour = Date.now() - (Date.now() % 3_600_000);

  before(async () => {
    store = openSqliteStore({ path: ':memory:' });
    // Two hours on 1 Nov, one on 2 Nov with beta gone (moved elsewhere), and the hour under way.
    await store.create(sample(Date.UTC(2026, 10, 1, 0), [c1]));
    await store.create(sample(Date.UTC(2026, 10, 1, 1), [c1]));
    const alphaOnly = { ...c1, workloads: c1.workloads.filter((w) => w.team === 'alpha') };
    await store.create(sample(Date.UTC(2026, 10, 2, 0), [alphaOnly]));
    await store.create(sample(thisHour, [c1]));
    const auth = new TokenAuthenticator();
    auth.addToken(TOKEN, { name: 'admin' });
    registerCostMetrics(registry, store);
    const server = createApiServer({
      store,
      auth,
      version: 'test',
      registry,
      log: () => {},
      plugins: [costRoutes(store)],
    });
    await server.listen({ port: 0, host: '127.0.0.1' });
    base = `http://127.0.0.1:${(server.server.address() as AddressInfo).port}`;
    close = () => server.close();
  });
  after(async () => {
    await close();
    await store.close();
  });

  const get = async (path: string) => {
    const res = await fetch(`${base}${path}`, { headers: { authorization: `Bearer ${TOKEN}` } });
    return { status: res.status, type: res.headers.get('content-type'), text: await res.text() };
  };
  const json = async (path: string) => {
    const res = await get(path);
    return { status: res.status, body: JSON.parse(res.text) as Record<string, any> };
  };
  const NOV = 'since=2026-11-01&until=2026-11-03';

  it('reports by team with idle as its own row, reconciling to the fleet', async () => {
    const { status, body } = await json(`${API}/cost?by=team&${NOV}`);
    assert.equal(status, 200);
    assert.equal(body['samples'], 3);
    assert.deepEqual(
      (body['rows'] as { key: string; totalMicros: number }[]).map((r) => [r.key, r.totalMicros]),
      [
        ['__idle__', 130_000 * 2 + 190_000],
        ['alpha', 150_000],
        ['beta', 120_000],
      ],
    );
    assert.deepEqual(body['totals'], {
      workloadMicros: 270_000,
      idleMicros: 450_000,
      totalMicros: 720_000,
      fleetMicros: 720_000,
    });
  });

  it('shares idle proportionally and filters one team', async () => {
    const { body } = await json(`${API}/cost?by=day&${NOV}&idle=proportional&team=alpha`);
    // 1 Nov: 0.05 + 0.13 x 5/11 = 0.05 + 0.059090.9 -> 59091 each hour; 2 Nov: alone, all 0.24.
    assert.deepEqual(
      (body['rows'] as { key: string; totalMicros: number }[]).map((r) => [r.key, r.totalMicros]),
      [
        ['2026-11-01', 2 * (50_000 + 59_091)],
        ['2026-11-02', 240_000],
      ],
    );
  });

  it('combines dimensions: cost per cloud and day', async () => {
    const { status, body } = await json(`${API}/cost?by=cloud,day&${NOV}`);
    assert.equal(status, 200);
    assert.equal(body['by'], 'cloud,day');
    assert.deepEqual(
      (body['rows'] as { keys: string[]; totalMicros: number }[]).map((r) => [
        ...r.keys,
        r.totalMicros,
      ]),
      [
        ['aws', '2026-11-01', 480_000],
        ['aws', '2026-11-02', 240_000],
      ],
    );
    const twice = await json(`${API}/cost?by=day,day`);
    assert.equal(twice.status, 422);
  });

  it('refuses bad parameters with 422, naming each', async () => {
    const { status, body } = await json(`${API}/cost?by=planet&idle=some&since=yesterday`);
    assert.equal(status, 422);
    assert.deepEqual(
      (body['details']['causes'] as { field: string }[]).map((c) => c.field),
      ['by', 'idle', 'since'],
    );
    const later = await json(`${API}/cost?since=2026-11-03&until=2026-11-01`);
    assert.equal(later.status, 422);
    assert.match(later.body['message'] as string, /until: expected a time after since/);
  });

  it('exports FOCUS CSV whose BilledCost sums to the fleet', async () => {
    const { status, type, text } = await get(`${API}/cost/export?format=focus&${NOV}`);
    assert.equal(status, 200);
    assert.match(type ?? '', /^text\/csv/);
    const [header, ...rows] = text.trimEnd().split('\r\n');
    assert.equal(header, FOCUS_COLUMNS.join(','));
    // Per day: web, job and idle on 1 Nov; web and idle on 2 Nov.
    assert.equal(rows.length, 5);
    const billed = rows.map((r) => Number(r.split(',')[0]!.replace('.', '')));
    assert.equal(
      billed.reduce((a, b) => a + b, 0),
      720_000,
    );
    assert.ok(rows.some((r) => r.includes('IdleCapacity')));
    const bad = await json(`${API}/cost/export?format=xlsx`);
    assert.equal(bad.status, 422);
  });

  it('compares two windows for savings', async () => {
    const { status, body } = await json(
      `${API}/cost/savings?by=team&beforeSince=2026-11-01&beforeUntil=2026-11-02&afterSince=2026-11-02&afterUntil=2026-11-03`,
    );
    assert.equal(status, 200);
    assert.deepEqual(
      (body['rows'] as { key: string; differenceMicros: number }[]).map((r) => [
        r.key,
        r.differenceMicros,
      ]),
      [
        ['beta', -120_000],
        ['__idle__', 190_000 - 260_000],
        ['alpha', 50_000 - 100_000],
      ],
    );
    const missing = await json(`${API}/cost/savings?by=team`);
    assert.equal(missing.status, 422);
  });

  it('exposes month-to-date gauges per team and cloud', async () => {
    const text = (await get('/metrics')).text;
    assert.match(text, /yunjian_cost_team_month_to_date_usd\{team="alpha"\} 0\.05\b/);
    assert.match(text, /yunjian_cost_cloud_month_to_date_usd\{cloud="aws"\} 0\.24\b/);
  });

  it('yunjian cost prints the same rows as a table and as CSV', async () => {
    const cli = async (...args: string[]) => {
      const out: string[] = [];
      const err: string[] = [];
      const code = await run(['--server', base, '--token', TOKEN, 'cost', ...args], {
        stdout: (t) => out.push(t),
        stderr: (t) => err.push(t),
        readStdin: () => Promise.resolve(''),
        env: {},
        home: '/nonexistent',
        now: () => Date.now(),
        interrupted: () => new AbortController().signal,
      });
      return { code, out: out.join(''), err: err.join('') };
    };
    const csv = await cli(
      '--by',
      'team',
      '--since',
      '2026-11-01',
      '--until',
      '2026-11-03',
      '-o',
      'csv',
    );
    assert.equal(csv.code, 0, csv.err);
    assert.equal(
      csv.out,
      'TEAM,CPU,MEMORY,GPU,IDLE,TOTAL\n__idle__,0.00,0.00,0.00,0.45,0.45\nalpha,0.12,0.03,0.00,0.00,0.15\nbeta,0.08,0.04,0.00,0.00,0.12\n',
    );
    const table = await cli('--by', 'cloud', '--since', '2026-11-01', '--until', '2026-11-03');
    assert.equal(table.code, 0, table.err);
    assert.match(
      table.out,
      /^CLOUD\s+CPU\s+MEMORY\s+GPU\s+IDLE\s+TOTAL\naws\s+0\.20\s+0\.07\s+0\.00\s+0\.45\s+0\.72\n/,
    );
    assert.match(table.out, /3 samples, idle none: total 0\.72 USD of a fleet cost of 0\.72 USD/);
    const split = await cli('--by', 'cloud,day', '--since', '2026-11-01', '--until', '2026-11-03');
    assert.equal(split.code, 0, split.err);
    assert.match(
      split.out,
      /^CLOUD\s+DAY\s+CPU\s+MEMORY\s+GPU\s+IDLE\s+TOTAL\naws\s+2026-11-01\s+/,
    );
    const bad = await cli('--by', 'planet');
    assert.notEqual(bad.code, 0);
    assert.match(bad.err, /by: expected one of app, component, team/);
  });
});
