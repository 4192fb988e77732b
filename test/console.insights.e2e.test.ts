// The console's Insights page in Debian's Chromium against a real server: a
// month of backdated cost samples (written through the API, as
// examples/devops does), a team picked in the page, and the page's totals and
// daily rows checked against the cost API; the delivery panel shows metrics or
// says there are none. Screenshot in test-artifacts/console/insights.png.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { chromium, type Browser, type Page } from 'playwright-core';
import { ensureConsoleBuilt } from '../scripts/build-console.ts';
import { runServer, type RunningServer } from '../src/cmd/server.ts';
import { sampleName } from '../src/insights/cost/sample.ts';
import type { CostSample, CostSampleCluster } from '../src/model/schema.ts';

const CHROMIUM = '/usr/bin/chromium';
const ARTIFACTS = join(import.meta.dirname, '..', 'test-artifacts', 'console');
const GiB = 2 ** 30;
const DAY = 86_400_000;
const usd = (micros: number) =>
  (micros / 1e6).toLocaleString('en-US', { style: 'currency', currency: 'USD' });

/** Day i of the month: alpha grows from 2 to 4 web replicas; beta's batch runs on even days. */
function clusters(i: number): CostSampleCluster[] {
  return [
    {
      cluster: 'aws-1',
      cloud: 'aws',
      site: 'us-east-1',
      prices: { cpuCoreHour: 0.0416, memoryGiBHour: 0.0052, gpuHour: 0 },
      capacity: { cpuMillis: 16_000, memoryBytes: 64 * GiB, gpu: 0 },
      workloads: [
        {
          namespace: 'shop',
          app: 'web',
          component: 'web',
          team: 'alpha',
          replicas: 2 + Math.floor(i / 10),
          request: { cpuMillis: 500, memoryBytes: GiB, gpu: 0 },
          usedCpuMillis: 1200,
        },
      ],
    },
    {
      cluster: 'gcp-1',
      cloud: 'gcp',
      site: 'europe-west4',
      prices: { cpuCoreHour: 0.0335, memoryGiBHour: 0.0045, gpuHour: 2.48 },
      capacity: { cpuMillis: 8000, memoryBytes: 32 * GiB, gpu: 1 },
      workloads: [
        {
          namespace: 'shop',
          app: 'web',
          component: 'api',
          team: 'alpha',
          replicas: 1,
          request: { cpuMillis: 1000, memoryBytes: 2 * GiB, gpu: 0 },
        },
        ...(i % 2 === 0
          ? [
              {
                namespace: 'batch',
                app: 'train',
                component: 'worker',
                team: 'beta',
                replicas: 1,
                request: { cpuMillis: 4000, memoryBytes: 16 * GiB, gpu: 1 },
              },
            ]
          : []),
      ],
    },
  ];
}

const missing = !existsSync(CHROMIUM);
if (missing && process.env['CI'] === 'true')
  throw new Error(`${CHROMIUM} is missing: CI must install the Debian package chromium (.ci/run)`);

describe(
  'console Insights page in Chromium',
  { skip: missing ? `${CHROMIUM} not installed (apt-get install chromium)` : false },
  () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'yunjian-insights-'));
    const logs: string[] = [];
    const foreign: string[] = [];
    let server: RunningServer;
    let browser: Browser;
    let page: Page;
    let token: string;

    const api = async <T = any>(path: string, init: RequestInit = {}): Promise<T> => {
      const res = await fetch(`${server.url}${path}`, {
        ...init,
        headers: {
          authorization: `Bearer ${token}`,
          'content-type': 'application/json',
          ...(init.headers ?? {}),
        },
      });
      assert.ok(res.ok, `${path}: ${res.status} ${await res.clone().text()}`);
      return (await res.json()) as T;
    };

    before(async () => {
      mkdirSync(ARTIFACTS, { recursive: true });
      await ensureConsoleBuilt(() => {});
      server = await runServer({
        port: 0,
        host: '127.0.0.1',
        dataDir,
        fleet: 'none',
        fleetScale: 1,
        log: (line) => logs.push(line),
        dnsPort: 0,
      });
      token = readFileSync(server.adminTokenPath, 'utf8').trim();
      // 29 backdated days, one sample a day, all inside "the last 30 days".
      const today = Date.now() - (Date.now() % DAY);
      for (let i = 1; i <= 29; i++) {
        const start = today - (30 - i) * DAY;
        await api('/api/v1alpha1/costsamples', {
          method: 'POST',
          body: JSON.stringify({
            apiVersion: 'yunjian.io/v1alpha1',
            kind: 'CostSample',
            metadata: { name: sampleName(start) },
            spec: { start: new Date(start).toISOString(), seconds: 86_400, clusters: clusters(i) },
          } satisfies CostSample),
        });
      }
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

    it("shows a team's month: totals and every day as the cost API has them", async () => {
      const line = logs.find((l) => l.startsWith('console: http://'));
      assert.ok(line, `the server printed no sign-in link: ${logs.join('\n')}`);
      await page.goto(line.slice('console: '.length));
      await page.getByRole('link', { name: 'Insights' }).click();
      await page.getByRole('heading', { name: 'Insights' }).waitFor();
      const picker = page.getByTestId('insights-team');
      await picker.locator('option', { hasText: 'alpha' }).waitFor({ state: 'attached' });
      await picker.selectOption('alpha');

      const q = 'since=30d&idle=proportional&team=alpha';
      const [total, days] = await Promise.all([
        api(`/api/v1alpha1/cost?by=team&${q}`),
        api(`/api/v1alpha1/cost?by=day&${q}`),
      ]);
      // The server's own sample of the hour under way has no clusters (no fleet).
      assert.ok(total.samples >= 29, `${total.samples} samples`);
      assert.equal(days.rows.length, 29);
      const value = page.getByTestId('cost-total').locator('.value');
      await page.waitForFunction(
        (expected) =>
          (globalThis as any).document.querySelector('[data-testid=cost-total] .value')
            ?.textContent === expected,
        usd(total.totals.totalMicros),
      );
      assert.equal(await value.textContent(), usd(total.totals.totalMicros));
      assert.match(page.url(), /#\/insights\?.*team=alpha/);
      for (const r of days.rows as { key: string; totalMicros: number }[])
        assert.equal(
          await page
            .locator(`[data-testid=cost-days] tr[data-day="${r.key}"] td`)
            .last()
            .textContent(),
          usd(r.totalMicros),
          r.key,
        );
      await page.locator('#cost-daily-title').waitFor();
      await page.locator('#cost-clouds-title').waitFor();
      const delivery = page.getByTestId('delivery');
      await delivery.waitFor();
      assert.ok(
        (await delivery.getByTestId('delivery-keys').count()) +
          (await delivery.getByTestId('delivery-empty').count()) ===
          1,
        'the delivery panel shows the four keys or says there is no data',
      );
      await page.screenshot({ path: join(ARTIFACTS, 'insights.png'), fullPage: true });
      assert.deepEqual(foreign, []);
    });

    it('fits a narrow screen, navigation included', async () => {
      const narrow = await page.context().newPage();
      await narrow.setViewportSize({ width: 390, height: 844 });
      await narrow.goto(`${server.url.replace('127.0.0.1', 'localhost')}/#/insights?team=alpha`);
      await narrow.locator('[data-testid=cost-days] tr[data-day]').first().waitFor();
      const overflow: number = await narrow.evaluate(() => {
        const e = (globalThis as any).document.documentElement;
        return e.scrollWidth - e.clientWidth;
      });
      assert.ok(overflow <= 1, `the page scrolls sideways by ${overflow}px at 390px`);
      await narrow.screenshot({ path: join(ARTIFACTS, 'insights-390x844.png') });
      await narrow.close();
    });
  },
);
