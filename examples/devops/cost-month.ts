// A simulated month of cost on the twin, reconciled to the cent.
//
//   node examples/devops/cost-month.ts [--server URL] [--token TOKEN] [--days 30]
//
// Three teams run apps on the running control plane's twin (start one with
// `npm start`). Each simulated day the script applies that day's changes
// (alpha's web scales with the week, beta's ledger migrates from gcp to aws
// half-way, gamma's batch runs every other day), waits until the twin runs
// them, and records the fleet as it really is then as one day-long
// CostSample, backdated to that day, through the API (POST apply; the
// server's own sampler writes only the hour under way). So the state is real
// twin state and the time is not: the month takes minutes, not a month.
//
// It then prints the cost by team, the savings of beta's migration (the
// window before against the window after) and checks that every report
// reconciles: the rows plus idle equal the fleet's cost for the period, in
// integer micro-dollars, and the FOCUS export's BilledCost sums to the same.
import { buildSample } from '../../src/insights/cost/sample.ts';
import type { Tenant } from '../../src/model/access.ts';
import type { Application, Cloud, Cluster } from '../../src/model/schema.ts';
import { monthArgs } from './args.ts';

const API = '/api/v1alpha1';
const DAY = 86_400_000;
/** How long one day's changes may take to run on the twin. */
const SETTLE_MS = 60_000;

export interface MonthOptions {
  server: string;
  token: string;
  days: number;
  log: (line: string) => void;
}

interface Row {
  key: string;
  totalMicros: number;
}
interface Report {
  rows: Row[];
  totals: { totalMicros: number; fleetMicros: number; idleMicros: number };
  samples: number;
}
interface Savings {
  rows: (Row & { beforeMicros: number; afterMicros: number; differenceMicros: number })[];
}

export interface MonthResult {
  byTeam: Report;
  byApp: Report;
  savings: Savings;
  /** Sum of the FOCUS export's BilledCost, micro-dollars. */
  focusMicros: number;
  /** Each check by name: true when it reconciles exactly. */
  checks: Record<string, boolean>;
}

/** The apps as they stand on day `d` of `days`. */
function appsOn(d: number, days: number): Application[] {
  const app = (
    namespace: string,
    name: string,
    team: string,
    components: Application['spec']['components'],
    clouds: string[],
  ): Application => ({
    apiVersion: 'yunjian.io/v1alpha1',
    kind: 'Application',
    metadata: { name, namespace, labels: { 'yunjian.io/team': team } },
    spec: { components, placement: { clusterAffinity: { clouds } } },
  });
  const migrated = d >= Math.floor(days / 2);
  return [
    app(
      'alpha',
      'storefront',
      'alpha',
      [
        {
          name: 'web',
          image: 'registry.example.com/alpha/web:1',
          replicas: 2 + (d % 7 < 5 ? 2 : 0),
          resources: { cpu: '500m', memory: '1Gi' },
        },
        {
          name: 'api',
          image: 'registry.example.com/alpha/api:1',
          replicas: 2,
          resources: { cpu: '1', memory: '2Gi' },
        },
      ],
      ['aws', 'azure'],
    ),
    app(
      'beta',
      'ledger',
      'beta',
      [
        {
          name: 'db',
          image: 'registry.example.com/beta/ledger:3',
          replicas: 2,
          resources: { cpu: '2', memory: '8Gi' },
        },
      ],
      [migrated ? 'aws' : 'gcp'],
    ),
    app(
      'gamma',
      'reports',
      'gamma',
      [
        {
          name: 'batch',
          image: 'registry.example.com/gamma/reports:5',
          replicas: d % 2 === 0 ? 3 : 0,
          resources: { cpu: '4', memory: '4Gi' },
        },
      ],
      ['aliyun', 'huawei'],
    ),
  ];
}

export async function simulateCostMonth(o: MonthOptions): Promise<MonthResult> {
  const call = async <T>(method: string, path: string, body?: unknown): Promise<T> => {
    const res = await fetch(`${o.server}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${o.token}`,
        accept: 'application/json',
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text}`);
    return (path.includes('/export') ? text : JSON.parse(text)) as T;
  };
  const list = async <T>(plural: string) =>
    (await call<{ items: T[] }>('GET', `${API}/${plural}`)).items;

  // The month ends yesterday (UTC), so every day is whole and in the past.
  const today = Date.now() - (Date.now() % DAY);
  const first = today - o.days * DAY;
  for (let d = 0; d < o.days; d++) {
    const apps = appsOn(d, o.days);
    await call('POST', `${API}/apply`, apps);
    const deadline = Date.now() + SETTLE_MS;
    for (;;) {
      const live = await list<Application>('applications');
      const settled = apps.every((want) => {
        const got = live.find(
          (a) =>
            a.metadata.name === want.metadata.name &&
            a.metadata.namespace === want.metadata.namespace,
        );
        const desired = want.spec.components.reduce((n, c) => n + c.replicas, 0);
        return (
          got?.status?.observedGeneration === got?.metadata.generation &&
          got?.status?.replicas?.ready === desired &&
          !(got?.status?.placements ?? []).some((p) => p.draining === true)
        );
      });
      if (settled) break;
      if (Date.now() > deadline)
        throw new Error(`day ${d + 1}: the twin did not run the day's apps within ${SETTLE_MS} ms`);
      await new Promise((r) => setTimeout(r, 250));
    }
    const [clusters, clouds, live, tenants] = await Promise.all([
      list<Cluster>('clusters'),
      list<Cloud>('clouds'),
      list<Application>('applications'),
      list<Tenant>('tenants'),
    ]);
    const sample = buildSample(
      { clusters, clouds, apps: live, tenants, usage: new Map() },
      first + d * DAY,
      86_400,
    );
    // Apply, not create: running the script again records the same days again.
    await call('POST', `${API}/apply`, sample);
    o.log(
      `day ${d + 1}/${o.days}: ${new Date(first + d * DAY).toISOString().slice(0, 10)} recorded`,
    );
  }

  const window = `since=${new Date(first).toISOString()}&until=${new Date(today).toISOString()}`;
  const byTeam = await call<Report>('GET', `${API}/cost?by=team&${window}`);
  const byApp = await call<Report>('GET', `${API}/cost?by=app&idle=proportional&${window}`);
  const half = first + Math.floor(o.days / 2) * DAY;
  const savings = await call<Savings>(
    'GET',
    `${API}/cost/savings?by=app&team=beta&beforeSince=${new Date(first).toISOString()}&beforeUntil=${new Date(half).toISOString()}&afterSince=${new Date(half).toISOString()}&afterUntil=${new Date(today).toISOString()}`,
  );
  const csv = await call<string>('GET', `${API}/cost/export?format=focus&${window}`);
  const focusMicros = csv
    .trimEnd()
    .split('\r\n')
    .slice(1)
    .reduce((sum, line) => sum + Number(line.split(',')[0]!.replace('.', '')), 0);
  const sum = (r: Report) => r.rows.reduce((n, row) => n + row.totalMicros, 0);
  return {
    byTeam,
    byApp,
    savings,
    focusMicros,
    checks: {
      'teams + idle = fleet': sum(byTeam) === byTeam.totals.fleetMicros,
      'apps (idle shared) + unshared idle = fleet': sum(byApp) === byApp.totals.fleetMicros,
      'FOCUS BilledCost = fleet': focusMicros === byTeam.totals.fleetMicros,
      'one sample per day': byTeam.samples === o.days,
    },
  };
}

const usd = (micros: number) => (micros / 1e6).toFixed(2).padStart(14);

async function main(): Promise<number> {
  const args = monthArgs(2);
  if (args === undefined) return 2;
  const { server, token, days } = args;
  const r = await simulateCostMonth({
    server,
    token,
    days,
    log: (line) => process.stdout.write(`${line}\n`),
  });
  process.stdout.write('\nCost by team (USD, idle as its own row)\n');
  for (const row of r.byTeam.rows)
    process.stdout.write(`  ${row.key.padEnd(12)}${usd(row.totalMicros)}\n`);
  process.stdout.write(`  ${'fleet'.padEnd(12)}${usd(r.byTeam.totals.fleetMicros)}\n`);
  process.stdout.write('\nbeta: before and after the migration from gcp to aws (USD)\n');
  for (const row of r.savings.rows)
    process.stdout.write(
      `  ${row.key.padEnd(16)}${usd(row.beforeMicros)}${usd(row.afterMicros)}${usd(row.differenceMicros)}\n`,
    );
  process.stdout.write('\n');
  for (const [check, ok] of Object.entries(r.checks))
    process.stdout.write(`  ${ok ? 'ok  ' : 'FAIL'} ${check}\n`);
  return Object.values(r.checks).every(Boolean) ? 0 : 1;
}

if (import.meta.main) process.exitCode = await main();
