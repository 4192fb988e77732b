// A simulated month of delivery for three teams, and its DORA report.
//
//   node examples/devops/month.ts [--server URL] [--token TOKEN] [--days 30]
//
// Against a running control plane (`npm start`). Each team gets a webhook
// secret (the Secret devops-webhook.TEAM), then every simulated day its
// commits (GitHub push), builds (GitLab Pipeline Hook) and deployments and
// incidents (CloudEvents) are sent through POST /api/v1alpha1/devops/events,
// signed with that secret and backdated to that day. alpha deploys daily and
// fails one day in ten (restored in 30 minutes), beta every third day and fails
// one day in six (5 hours), gamma weekly and every other deployment fails (2
// days). Then alpha rolls out for real on the twin: v1, v2, and v2 rolled back
// to v1, which the control plane records itself (three deployments, v2 rolled
// back). The report (GET /api/v1alpha1/metrics/delivery?by=team) is printed
// and checked against what was sent.
import type { DeliveryReport } from '../../src/insights/delivery/metrics.ts';
import { signBody } from '../../src/insights/delivery/webhook.ts';
import type { Application, DeliveryEvent } from '../../src/model/schema.ts';
import { monthArgs } from './args.ts';

const API = '/api/v1alpha1';
const DAY = 86_400_000;
const HOUR = 3_600_000;
/** How long a rollout on the twin may take. */
const ROLLOUT_MS = 90_000;

interface TeamPlan {
  team: string;
  /** Deploys on day d. */
  deploys: (d: number) => boolean;
  /** The n-th deployment (from 0) on day d fails. */
  fails: (d: number, n: number) => boolean;
  restoreMs: number;
  clouds: string[];
}

const TEAMS: readonly TeamPlan[] = [
  {
    team: 'alpha',
    deploys: () => true,
    fails: (d) => d % 10 === 9,
    restoreMs: HOUR / 2,
    clouds: ['aws', 'gcp'],
  },
  {
    team: 'beta',
    deploys: (d) => d % 3 === 0,
    fails: (d) => d % 6 === 3,
    restoreMs: 5 * HOUR,
    clouds: ['azure'],
  },
  {
    team: 'gamma',
    deploys: (d) => d % 7 === 0,
    fails: (_d, n) => n % 2 === 1,
    restoreMs: 2 * DAY,
    clouds: ['aliyun'],
  },
];

export interface MonthOptions {
  server: string;
  token: string;
  days: number;
  log: (line: string) => void;
}

export interface MonthResult {
  report: DeliveryReport;
  /** What the script sent and rolled out, per team: production deployments that succeeded, failed (outcome, rollback or incident), and all. */
  expected: Record<string, { succeeded: number; failed: number; total: number }>;
  checks: Record<string, boolean>;
}

export async function simulateDeliveryMonth(o: MonthOptions): Promise<MonthResult> {
  const call = async <T>(method: string, path: string, body?: unknown): Promise<T> => {
    const res = await fetch(`${o.server}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${o.token}`,
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text}`);
    return JSON.parse(text) as T;
  };
  const secrets = new Map<string, string>();
  const hook = async (team: string, headers: Record<string, string>, body: unknown) => {
    const text = JSON.stringify(body);
    const res = await fetch(
      `${o.server}${API}/devops/events?team=${team}&namespace=${team}&app=${team}-web`,
      {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'x-hub-signature-256': signBody(text, secrets.get(team) ?? ''),
          ...headers,
        },
        body: text,
      },
    );
    if (res.status !== 202)
      throw new Error(`webhook for ${team}: ${res.status} ${await res.text()}`);
  };
  const iso = (ms: number) => new Date(ms).toISOString();

  for (const { team } of TEAMS) {
    const secret = `month-${team}-${Math.random().toString(36).slice(2)}`;
    secrets.set(team, secret);
    await call('POST', `${API}/apply`, {
      apiVersion: 'yunjian.io/v1alpha1',
      kind: 'Secret',
      metadata: { name: `devops-webhook.${team}` },
      spec: { type: 'webhook', data: secret },
    });
  }

  // The month ends at midnight today (UTC); the twin's rollouts follow, now.
  const today = Date.now() - (Date.now() % DAY);
  const first = today - o.days * DAY;
  const expected: MonthResult['expected'] = {};
  for (const plan of TEAMS) {
    const { team } = plan;
    const tally = { succeeded: 0, failed: 0, total: 0 };
    let n = 0;
    for (let d = 0; d < o.days; d++) {
      const day = first + d * DAY;
      const shas = [`${team}-${d}-a`, `${team}-${d}-b`];
      await hook(
        team,
        { 'x-github-event': 'push' },
        {
          repository: { name: `${team}-web` },
          commits: shas.map((id, i) => ({
            id,
            timestamp: iso(day + (9 + 2 * i) * HOUR),
            message: `change ${id}`,
          })),
        },
      );
      await hook(
        team,
        { 'x-gitlab-event': 'Pipeline Hook' },
        {
          project: { name: `${team}-web` },
          object_attributes: {
            id: `${team}-${d}`,
            sha: shas[1],
            status: 'success',
            created_at: iso(day + 12 * HOUR),
            finished_at: iso(day + 12.25 * HOUR),
          },
        },
      );
      if (!plan.deploys(d)) continue;
      const failed = plan.fails(d, n++);
      tally.total++;
      const finish = day + 15 * HOUR;
      await hook(
        team,
        {},
        {
          specversion: '1.0',
          id: `${team}-deploy-${d}`,
          source: 'month.ts',
          type: 'io.yunjian.devops.deployment',
          time: iso(finish),
          data: {
            commit: shas[1],
            environment: 'production',
            clouds: plan.clouds,
            start: iso(day + 14 * HOUR),
            finish: iso(finish),
            outcome: failed ? 'Failed' : 'Succeeded',
          },
        },
      );
      if (failed) {
        tally.failed++;
        for (const [suffix, type, time] of [
          ['open', 'detected', finish + 10 * 60_000],
          ['close', 'resolved', finish + 10 * 60_000 + plan.restoreMs],
        ] as const)
          await hook(
            team,
            {},
            {
              specversion: '1.0',
              id: `${team}-incident-${d}-${suffix}`,
              source: 'month.ts',
              type: `dev.cdevents.incident.${type}.0.2.0`,
              time: iso(time),
              data: { id: `${team}-incident-${d}`, environment: 'production' },
            },
          );
      } else tally.succeeded++;
    }
    expected[team] = tally;
    o.log(`${team}: ${o.days} days sent (${tally.total} deployments, ${tally.failed} failed)`);
  }

  // alpha on the twin: v1, v2, then v1 again (a rollback of v2).
  const alpha = expected.alpha ?? { succeeded: 0, failed: 0, total: 0 };
  const app = (version: string): Application => ({
    apiVersion: 'yunjian.io/v1alpha1',
    kind: 'Application',
    metadata: {
      name: 'alpha-web',
      namespace: 'alpha',
      labels: { 'yunjian.io/team': 'alpha', 'yunjian.io/environment': 'production' },
      annotations: { 'yunjian.io/version': version },
    },
    spec: {
      components: [
        {
          name: 'web',
          image: `nginx:${version}`,
          replicas: 2,
          resources: { cpu: '100m', memory: '64Mi' },
        },
      ],
    },
  });
  const twinRecords = async () =>
    (
      await call<{ items: DeliveryEvent[] }>(
        'GET',
        `${API}/namespaces/alpha/deliveryevents?labelSelector=${encodeURIComponent('yunjian.io/delivery-source=yunjian,yunjian.io/delivery-type=deployment')}`,
      )
    ).items;
  // The twin part needs a control plane that has not run it yet (v1 again would change nothing).
  const before = (await twinRecords()).length;
  if (before === 0)
    for (const [i, version] of ['1.25', '1.26', '1.25'].entries()) {
      await call('POST', `${API}/apply`, app(version));
      const deadline = Date.now() + ROLLOUT_MS;
      for (;;) {
        const done = (await twinRecords()).filter(
          (r) => r.spec.outcome === 'Succeeded' || r.spec.outcome === 'Failed',
        );
        if (done.length >= before + i + 1) break;
        if (Date.now() > deadline)
          throw new Error(`the twin did not roll out alpha-web ${version} within ${ROLLOUT_MS} ms`);
        await new Promise((r) => setTimeout(r, 500));
      }
      o.log(`twin: alpha-web ${version} rolled out`);
    }
  // Three successful rollouts; v2's is rolled back, so it also counts as failed.
  if (before === 0) {
    alpha.succeeded += 3;
    alpha.total += 3;
    alpha.failed += 1;
  } else o.log('twin: alpha-web was rolled out by an earlier run; skipped');

  const report = await call<DeliveryReport>(
    'GET',
    `${API}/metrics/delivery?by=team&interval=week&since=${iso(first)}&until=${iso(Date.now() + 60_000)}`,
  );
  const checks: Record<string, boolean> = {};
  for (const [team, want] of Object.entries(expected)) {
    const g = report.groups.find((x) => x.key === team);
    checks[`${team}: ${want.succeeded} successful deployments`] =
      g?.deploymentFrequency.deployments === want.succeeded;
    checks[`${team}: ${want.failed} failed of ${want.total}`] =
      g?.changeFailureRate.failed === want.failed && g.changeFailureRate.deployments === want.total;
  }
  return { report, expected, checks };
}

const duration = (s: number | null) =>
  s === null
    ? '-'
    : s >= 86_400
      ? `${(s / 86_400).toFixed(1)}d`
      : s >= 3600
        ? `${(s / 3600).toFixed(1)}h`
        : `${Math.round(s / 60)}m`;

async function main(): Promise<number> {
  const args = monthArgs(7);
  if (args === undefined) return 2;
  const { server, token, days } = args;
  const r = await simulateDeliveryMonth({
    server,
    token,
    days,
    log: (line) => process.stdout.write(`${line}\n`),
  });
  process.stdout.write(
    '\nteam     deploys/day  lead time  change failure  restore  builds/week  bands (DF/LT/CFR/TTR)\n',
  );
  for (const g of r.report.groups)
    process.stdout.write(
      `${g.key.padEnd(9)}${g.deploymentFrequency.perDay.toFixed(2).padStart(11)}  ${duration(g.leadTimeForChanges.medianSeconds).padStart(9)}  ${`${((g.changeFailureRate.ratio ?? 0) * 100).toFixed(1)}%`.padStart(14)}  ${duration(g.timeToRestore.medianSeconds).padStart(7)}  ${(g.buildFrequency?.perWeek ?? 0).toFixed(1).padStart(11)}  ${[g.bands.deploymentFrequency, g.bands.leadTimeForChanges, g.bands.changeFailureRate, g.bands.timeToRestore].join('/')}\n`,
    );
  process.stdout.write('\n');
  for (const [check, ok] of Object.entries(r.checks))
    process.stdout.write(`  ${ok ? 'ok  ' : 'FAIL'} ${check}\n`);
  return Object.values(r.checks).every(Boolean) ? 0 : 1;
}

if (import.meta.main) process.exitCode = await main();
