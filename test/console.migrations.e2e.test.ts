// The console's Migrations page in Debian's Chromium against a real server
// with two sim clouds: a MigrationPlan moves a (then b, which depends on it)
// from old to new with a long pause at 50 %, so the page is read while the
// first wave's Migration holds its split: the plan's waves with each app's
// phase, the Migration's step, traffic split and plan, and its split over
// time as a chart (with the same points in a table). Nothing leaves the
// server. Screenshot in test-artifacts/console/migrations.png.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { chromium, type Browser, type Page } from 'playwright-core';
import { stringify } from 'yaml';
import { ensureConsoleBuilt } from '../scripts/build-console.ts';
import { runServer, type RunningServer } from '../src/cmd/server.ts';
import type { Migration } from '../src/model/schema.ts';
import { until } from './wait.ts';

const CHROMIUM = '/usr/bin/chromium';
const ARTIFACTS = join(import.meta.dirname, '..', 'test-artifacts', 'console');
const NS = '/api/v1alpha1/namespaces/default';

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

const app = (name: string, dependsOn?: string[]) => ({
  apiVersion: 'yunjian.io/v1alpha1',
  kind: 'Application',
  metadata: { name, namespace: 'default' },
  spec: {
    components: [{ name: 'web', image: 'hello', replicas: 1, resources: { cpu: '100m' } }],
    placement: { clusterAffinity: { clouds: ['old'] } },
    ...(dependsOn !== undefined ? { dependsOn } : {}),
  },
});

const missing = !existsSync(CHROMIUM);
if (missing && process.env['CI'] === 'true')
  throw new Error(`${CHROMIUM} is missing: CI must install the Debian package chromium (.ci/run)`);

describe(
  'console Migrations page in Chromium',
  { skip: missing ? `${CHROMIUM} not installed (apt-get install chromium)` : false },
  () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'yunjian-migrations-'));
    const logs: string[] = [];
    const foreign: string[] = [];
    let server: RunningServer;
    let browser: Browser;
    let page: Page;
    let token: string;

    const api = async <T = unknown>(path: string, init: RequestInit = {}): Promise<T> => {
      const res = await fetch(`${server.url}${path}`, {
        ...init,
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      });
      assert.ok(res.ok, `${path}: ${res.status} ${await res.clone().text()}`);
      return (await res.json()) as T;
    };

    before(async () => {
      mkdirSync(ARTIFACTS, { recursive: true });
      await ensureConsoleBuilt(() => {});
      const fleetPath = join(dataDir, 'fleet.yaml');
      writeFileSync(fleetPath, fleet.map((d) => stringify(d)).join('---\n'));
      server = await runServer({
        port: 0,
        host: '127.0.0.1',
        dataDir: join(dataDir, 'state'),
        fleet: fleetPath,
        fleetScale: 1,
        log: (line) => logs.push(line),
        heartbeatSeconds: 1,
        simStartupSeconds: 0.2,
      });
      token = readFileSync(server.adminTokenPath, 'utf8').trim();
      for (const a of [app('a'), app('b', ['a'])])
        await api(`${NS}/applications`, { method: 'POST', body: JSON.stringify(a) });
      await until('both applications ready on old', async () => {
        const list = await api<{ items: { status?: { replicas?: { ready: number } } }[] }>(
          `${NS}/applications`,
        );
        return list.items.every((a) => a.status?.replicas?.ready === 1) || undefined;
      });
      await api(`${NS}/migrationplans`, {
        method: 'POST',
        body: JSON.stringify({
          apiVersion: 'yunjian.io/v1alpha1',
          kind: 'MigrationPlan',
          metadata: { name: 'exodus', namespace: 'default' },
          spec: {
            targets: [{ to: { cloud: 'new' } }],
            waveSize: 1,
            migration: { steps: [50, 100], pauseSeconds: 600, analysis: { minRequests: 0 } },
          },
        }),
      });
      await until('the first Migration at 50 %', async () => {
        const m = await api<Migration>(`${NS}/migrations/exodus-a`);
        return m.status?.weight === 50 || undefined;
      });
      browser = await chromium.launch({
        executablePath: CHROMIUM,
        args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run'],
      });
      const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
      context.setDefaultTimeout(15_000);
      page = await context.newPage();
      const port = new URL(server.url).port;
      context.on('request', (r) => {
        const u = new URL(r.url());
        if (u.protocol === 'data:') return;
        if (!['localhost', '127.0.0.1'].includes(u.hostname) || u.port !== port)
          foreign.push(r.url());
      });
    });

    after(async () => {
      await browser?.close().catch(() => undefined);
      await server?.close();
      rmSync(dataDir, { recursive: true, force: true });
    });

    it("shows the plan's waves and the migration's step and traffic split", async () => {
      const line = logs.find((l) => l.startsWith('console: http://'));
      assert.ok(line, `the server printed no sign-in link: ${logs.join('\n')}`);
      await page.goto(line.slice('console: '.length));
      await page.getByRole('link', { name: 'Migrations' }).click();
      await page.getByRole('heading', { name: 'Migrations', level: 1 }).waitFor();
      await page.getByRole('heading', { name: /Plan exodus Running, wave 1 of 2/ }).waitFor();
      const waves = page.getByRole('table', { name: 'Waves of exodus' });
      const rows = waves.locator('tbody tr');
      assert.deepEqual(await rows.allTextContents(), [
        '1Runninga → cloud=new (Shifting)',
        '2Pendingb → cloud=new (not started)',
      ]);
      const migration = page
        .getByRole('table', { name: /Migrations in flight and the latest finished/ })
        .locator('tbody tr', { hasText: 'exodus-a' });
      assert.deepEqual(await migration.locator('td').allTextContents(), [
        'exodus-a',
        'a',
        'cloud=new',
        'Shifting',
        '1 of 2',
        '50% target / 50% source',
        '—',
        'exodus',
      ]);
      // A count per phase above the table (nothing hidden: one migration).
      assert.equal(
        await page.locator('section[aria-labelledby="migrations-list"] > p').first().textContent(),
        'Shifting 1',
      );
      // The split over time of the migration in flight: none on the target
      // while it pre-scaled, 50 % since the first step began, up to now.
      const split = page.getByRole('table', {
        name: 'Traffic on the target over time: exodus-a (cloud=new)',
      });
      const points = await split
        .locator('tbody tr')
        .evaluateAll((rows) => rows.map((r) => [...r.children].map((c) => c.textContent ?? '')));
      assert.equal(points.length, 3, JSON.stringify(points));
      assert.deepEqual(points[0], ['start', '0', '0%']);
      assert.deepEqual([points[1]?.[0], points[1]?.[2]], ['step 1 began', '0%']);
      assert.deepEqual([points[2]?.[0], points[2]?.[2]], ['now', '50%']);
      assert.ok(Number(points[2]?.[1]) >= Number(points[1]?.[1]), JSON.stringify(points));
      assert.equal(
        await page.getByRole('button', { name: 'exodus-a' }).getAttribute('aria-pressed'),
        'true',
      );
      assert.ok(await page.locator('#migration-split-title + .chart-box canvas').isVisible());
      assert.match(page.url(), /#\/migrations$/);
      await page.screenshot({ path: join(ARTIFACTS, 'migrations.png'), fullPage: true });
      assert.deepEqual(foreign, []);
    });
  },
);
