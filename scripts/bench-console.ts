// npm run bench:console [-- --runs 5 --scales 1,57]
// The console's load time and bundle size. For each fleet scale a real server
// starts (as `npm start` does, demo fleet) and Debian's Chromium opens the
// printed sign-in link in a fresh profile `runs` times; the time is measured
// inside the page, from navigation start to the first frame showing the map
// and non-zero totals. Then one page stays open on the fleet view for 10 s of
// live cluster heartbeats and the longest main-thread task is recorded. The
// baseline is the issue's target: the fleet within 2 s. Bundle sizes are
// measured from the production build (raw and gzip). Writes
// bench-results/console.json.
/* eslint-disable @typescript-eslint/no-explicit-any, @typescript-eslint/no-unsafe-assignment, @typescript-eslint/no-unsafe-member-access, @typescript-eslint/no-unsafe-call, @typescript-eslint/no-unsafe-argument --
   the functions passed to page.evaluate run in Chromium, and the root tsconfig has no DOM types */
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { gzipSync } from 'node:zlib';
import { chromium } from 'playwright-core';
import {
  RESULTS_DIR,
  int,
  machine,
  quantile,
  ratio,
  table,
  writeJson,
} from '../src/bench/report.ts';
import type { Row } from '../src/bench/report.ts';
import { runServer } from '../src/cmd/server.ts';
import { CONSOLE_OUT, buildConsole } from './build-console.ts';

const CHROMIUM = '/usr/bin/chromium';
const TARGET_MS = 2000;
const LIVE_SECONDS = 10;
const progress = (line: string) => process.stderr.write(`${line}\n`);

const { values } = parseArgs({
  options: { runs: { type: 'string', default: '5' }, scales: { type: 'string', default: '1,57' } },
});
const runs = Math.max(1, Math.min(20, Number(values.runs)));
const scales = values.scales.split(',').map(Number);
if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install chromium`);

// ------------------------------------------------------------------ bundle
const buildStarted = performance.now();
await buildConsole(progress);
const buildMs = performance.now() - buildStarted;
const assets = join(CONSOLE_OUT, 'assets');
const html = readFileSync(join(CONSOLE_OUT, 'index.html'), 'utf8');
const initialNames = new Set([...html.matchAll(/\/assets\/([^"]+)"/g)].map((m) => m[1]!));
const files = readdirSync(assets).map((name) => {
  const body = readFileSync(join(assets, name));
  return { name, raw: statSync(join(assets, name)).size, gzip: gzipSync(body).length };
});
const sum = (list: typeof files, k: 'raw' | 'gzip') => list.reduce((n, f) => n + f[k], 0);
const initial = files.filter((f) => initialNames.has(f.name));
const kib = (b: number) => `${(b / 1024).toFixed(1)} KiB`;

// ------------------------------------------------------------------ load time
const FLEET_VISIBLE = () => {
  const d = (globalThis as any).document;
  return (
    d.querySelector('[data-site]') !== null &&
    /[1-9]/.test(d.querySelector('[data-testid=total-cores] .value')?.textContent ?? '')
  );
};

interface ScaleResult {
  scale: number;
  cores: number;
  serverStartMs: number;
  visibleMs: number[];
  longestTaskMs: number;
  longTaskTotalMs: number;
  updates: number;
}
const results: ScaleResult[] = [];

for (const scale of scales) {
  const dataDir = mkdtempSync(join(tmpdir(), 'yunjian-bench-console-'));
  const logs: string[] = [];
  progress(`scale ${scale}: starting the server with the demo fleet…`);
  const started = performance.now();
  const server = await runServer({
    port: 0,
    host: '127.0.0.1',
    dataDir,
    fleet: 'demo',
    fleetScale: scale,
    log: (l) => logs.push(l),
  });
  const serverStartMs = performance.now() - started;
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--no-first-run',
    ],
  });
  try {
    const printed = logs.find((l) => l.startsWith('console: http'))?.slice('console: '.length);
    if (!printed) throw new Error(`the server printed no console link:\n${logs.join('\n')}`);
    // A sign-in link works once: each fresh profile gets its own, as `yunjian console` prints.
    const adminToken = readFileSync(server.adminTokenPath, 'utf8').trim();
    const freshLink = async () => {
      const res = await fetch(`${server.url}/api/v1alpha1/console/codes`, {
        method: 'POST',
        headers: { authorization: `Bearer ${adminToken}` },
      });
      if (!res.ok) throw new Error(`no sign-in code: ${res.status} ${await res.text()}`);
      const { path } = (await res.json()) as { path: string };
      return new URL(path, printed).href;
    };
    const visibleMs: number[] = [];
    for (let i = 0; i < runs; i++) {
      const context = await browser.newContext({ viewport: { width: 1280, height: 720 } });
      const page = await context.newPage();
      await page.goto(await freshLink());
      await page.waitForFunction(FLEET_VISIBLE, undefined, { polling: 'raf', timeout: 30_000 });
      visibleMs.push(await page.evaluate(() => performance.now()));
      progress(
        `scale ${scale}: run ${i + 1}/${runs}: fleet visible after ${int(visibleMs.at(-1)!)} ms`,
      );
      await context.close();
    }

    progress(`scale ${scale}: ${LIVE_SECONDS} s of live updates on the fleet view…`);
    const context = await browser.newContext({ viewport: { width: 1280, height: 720 } });
    const page = await context.newPage();
    await page.goto(await freshLink());
    await page.waitForFunction(FLEET_VISIBLE, undefined, { polling: 'raf', timeout: 30_000 });
    const live = await page.evaluate(async (seconds) => {
      const g = globalThis as any;
      const tasks: number[] = [];
      const observer = new g.PerformanceObserver((list: any) => {
        for (const e of list.getEntries()) tasks.push(e.duration);
      });
      observer.observe({ type: 'longtask' });
      // Renders of the totals stand for update batches the page absorbed.
      let updates = 0;
      const mo = new g.MutationObserver(() => updates++);
      mo.observe(g.document.querySelector('[data-testid=totals]'), {
        subtree: true,
        characterData: true,
        childList: true,
      });
      await new Promise((r) => setTimeout(r, seconds * 1000));
      observer.disconnect();
      mo.disconnect();
      return { tasks, updates };
    }, LIVE_SECONDS);
    await context.close();
    const cores = Number(/([\d,]+) cores/.exec(logs.join('\n'))?.[1]?.replaceAll(',', '') ?? 0);
    results.push({
      scale,
      cores,
      serverStartMs,
      visibleMs,
      longestTaskMs: Math.max(0, ...live.tasks),
      longTaskTotalMs: live.tasks.reduce((n, t) => n + t, 0),
      updates: live.updates,
    });
  } finally {
    await browser.close();
    await server.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

// ------------------------------------------------------------------ report
const rows: Row[] = [];
for (const r of results) {
  const median = quantile(r.visibleMs, 0.5);
  const worst = Math.max(...r.visibleMs);
  const label = `${int(r.cores)} cores (scale ${r.scale})`;
  rows.push({
    metric: `fleet visible, median of ${r.visibleMs.length}, ${label}`,
    candidate: `${int(median)} ms`,
    baseline: `${int(TARGET_MS)} ms`,
    ratio: ratio(median, TARGET_MS),
  });
  rows.push({
    metric: `fleet visible, worst, ${label}`,
    candidate: `${int(worst)} ms`,
    baseline: `${int(TARGET_MS)} ms`,
    ratio: ratio(worst, TARGET_MS),
  });
  rows.push({
    metric: `longest main-thread task in ${LIVE_SECONDS} s live, ${label}`,
    candidate: `${int(r.longestTaskMs)} ms`,
    baseline: '',
    ratio: '',
  });
}
rows.push(
  {
    metric: 'bundle loaded before the fleet, raw',
    candidate: kib(sum(initial, 'raw')),
    baseline: '',
    ratio: '',
  },
  {
    metric: 'bundle loaded before the fleet, gzip',
    candidate: kib(sum(initial, 'gzip')),
    baseline: '',
    ratio: '',
  },
  { metric: 'whole bundle, raw', candidate: kib(sum(files, 'raw')), baseline: '', ratio: '' },
  { metric: 'whole bundle, gzip', candidate: kib(sum(files, 'gzip')), baseline: '', ratio: '' },
);
process.stdout.write(
  table(
    'Web console: time to the fleet and bundle size',
    rows,
    [
      'fleet visible: in-page time from navigation start (sign-in link) to the first frame with the map and totals, fresh browser profile each run',
      `bundle: ${files.length} files, ${initial.length} loaded by index.html (Chart.js and the YAML editor load later); built in ${int(buildMs)} ms`,
      `server start (fleet generation + store) ${results.map((r) => `${int(r.serverStartMs)} ms at scale ${r.scale}`).join(', ')}; not part of the measured time`,
    ],
    'target',
  ),
);
const path = writeJson(join(RESULTS_DIR, 'console.json'), {
  machine: machine(),
  targetMs: TARGET_MS,
  buildMs,
  bundle: { files, initial: initial.map((f) => f.name) },
  results,
});
progress(`wrote ${path}`);
