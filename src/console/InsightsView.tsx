// Insights: what a team (or everyone) spent per day and per cloud, and how it
// delivered (DORA's four keys), over a window. Cost comes from GET /cost (idle
// shared in proportion, so a team bears its part of the capacity it leaves
// idle); delivery from GET /metrics/delivery, which a server may not have: the
// page then says there is no delivery data instead of failing.
import { Suspense, lazy, useEffect, useState } from 'react';
import { API, ApiError, getJson } from './api.ts';
import type { Series } from './BarChart.tsx';
import { fmtInt } from './format.ts';
import { replaceQuery, useRoute } from './router.ts';
import { Field, FilterForm, TableHead, num } from './ui.tsx';

const BarChart = lazy(() => import('./BarChart.tsx').then((m) => ({ default: m.BarChart })));

const WINDOWS: readonly [string, string][] = [
  ['7d', 'Last 7 days'],
  ['30d', 'Last 30 days'],
  ['90d', 'Last 90 days'],
];
const IDLE_KEY = '__idle__';
/** Clouds drawn as their own series; the rest are summed as "other". */
const CLOUD_SERIES = 6;
const PALETTE = ['#0969da', '#1a7f37', '#8250df', '#bf3989', '#9a6700', '#cf222e', '#57606a'];
const WORKLOAD = '#0969da';
const IDLE = '#9ec5f5';
const DEPLOYS = '#1a7f37';
const FAILURES = '#cf222e';

interface CostRow {
  key: string;
  keys: string[];
  workloadMicros: number;
  idleMicros: number;
  totalMicros: number;
}
interface CostReport {
  window: { since: string; until: string };
  samples: number;
  rows: CostRow[];
  totals: { workloadMicros: number; idleMicros: number; totalMicros: number; fleetMicros: number };
}
interface DeliveryPoint {
  start: string;
  deployments: number;
  failures: number;
}
interface DeliveryGroup {
  key: string;
  deploymentFrequency: { deployments: number; perDay: number };
  leadTimeForChanges: { medianSeconds: number | null };
  changeFailureRate: { ratio: number | null };
  timeToRestore: { medianSeconds: number | null; incidents: number };
  bands: Record<string, string | null>;
  series: DeliveryPoint[];
}
interface DeliveryReport {
  groups: DeliveryGroup[];
}

interface DayCost {
  workloadMicros: number;
  idleMicros: number;
  totalMicros: number;
}

interface Insights {
  teams: string[];
  days: string[];
  samples: number;
  /** The team's (or everyone's) cost over the window, its idle share, and the fleet's. */
  summary: { totalMicros: number; idleMicros: number; fleetMicros: number };
  daily: Map<string, DayCost>;
  /** The most expensive clouds, then "other": cost per day. */
  clouds: { cloud: string; perDay: Map<string, number> }[];
  /** undefined: the server has no delivery metrics. */
  delivery?: { all: DeliveryReport; byCloud: DeliveryReport };
}

type Load =
  { state: 'loading' } | { state: 'ok'; data: Insights } | { state: 'error'; message: string };

const usd = (micros: number) =>
  (micros / 1e6).toLocaleString('en-US', { style: 'currency', currency: 'USD' });
const usdNumber = (n: number) => n.toLocaleString('en-US', { style: 'currency', currency: 'USD' });

function duration(seconds: number | null): string {
  if (seconds === null) return 'no data';
  if (seconds < 3600) return `${Math.round(seconds / 60)} min`;
  if (seconds < 86_400) return `${(seconds / 3600).toFixed(1)} h`;
  return `${(seconds / 86_400).toFixed(1)} d`;
}

/** Counts label only whole ticks: a scale of 0..1 deployments has no "0.2". */
const count = (n: number) => (Number.isInteger(n) ? fmtInt(n) : '');

/** Every UTC day from since to until, so days without samples show as 0. */
function daysOf(since: string, until: string): string[] {
  const out: string[] = [];
  const end = Date.parse(until);
  for (let t = Date.parse(since.slice(0, 10)); t < end && out.length < 400; t += 86_400_000)
    out.push(new Date(t).toISOString().slice(0, 10));
  return out;
}

async function load(team: string, since: string, signal: AbortSignal): Promise<Insights> {
  // Two reports: every team (the picker, the totals) and the team's cloud x day
  // rows (both daily charts); idle is shared, so a team carries its part.
  const [teams, cloudDays] = await Promise.all([
    getJson<CostReport>(`${API}/cost?by=team&idle=proportional&since=${since}`, signal),
    getJson<CostReport>(
      `${API}/cost?${new URLSearchParams({ by: 'cloud,day', idle: 'proportional', since, ...(team ? { team } : {}) }).toString()}`,
      signal,
    ),
  ]);
  const mine = team ? teams.rows.find((r) => r.key === team) : undefined;
  const daily = new Map<string, DayCost>();
  const byCloud = new Map<string, Map<string, number>>();
  for (const r of cloudDays.rows) {
    const [cloud = '', day = ''] = r.keys;
    const d = daily.get(day) ?? { workloadMicros: 0, idleMicros: 0, totalMicros: 0 };
    d.workloadMicros += r.workloadMicros;
    d.idleMicros += r.idleMicros;
    d.totalMicros += r.totalMicros;
    daily.set(day, d);
    const perDay = byCloud.get(cloud) ?? new Map<string, number>();
    perDay.set(day, (perDay.get(day) ?? 0) + r.totalMicros);
    byCloud.set(cloud, perDay);
  }
  const sum = (m: Map<string, number>) => [...m.values()].reduce((a, b) => a + b, 0);
  const ranked = [...byCloud.entries()].sort((a, b) => sum(b[1]) - sum(a[1]));
  const other = new Map<string, number>();
  for (const [, perDay] of ranked.slice(CLOUD_SERIES))
    for (const [day, micros] of perDay) other.set(day, (other.get(day) ?? 0) + micros);
  const clouds = [
    ...ranked.slice(0, CLOUD_SERIES).map(([cloud, perDay]) => ({ cloud, perDay })),
    ...(other.size > 0 ? [{ cloud: 'other', perDay: other }] : []),
  ];
  const deliveryQuery = (by?: string) =>
    getJson<DeliveryReport>(
      `${API}/metrics/delivery?${new URLSearchParams({ since, interval: 'day', ...(team ? { team } : {}), ...(by ? { by } : {}) }).toString()}`,
      signal,
    );
  let delivery: Insights['delivery'];
  try {
    const [all, perCloud] = await Promise.all([deliveryQuery(), deliveryQuery('cloud')]);
    delivery = { all, byCloud: perCloud };
  } catch (err) {
    // A server without delivery metrics answers 404; anything else is an error.
    if (!(err instanceof ApiError && err.status === 404)) throw err;
  }
  return {
    teams: teams.rows.map((r) => r.key).filter((k) => k !== IDLE_KEY),
    days: daysOf(teams.window.since, teams.window.until),
    samples: teams.samples,
    summary: {
      totalMicros: team ? (mine?.totalMicros ?? 0) : teams.totals.totalMicros,
      idleMicros: team ? (mine?.idleMicros ?? 0) : teams.totals.idleMicros,
      fleetMicros: teams.totals.fleetMicros,
    },
    daily,
    clouds,
    ...(delivery !== undefined ? { delivery } : {}),
  };
}

export function InsightsView() {
  const route = useRoute();
  const team = route.query.get('team') ?? '';
  const since = route.query.get('since') ?? '30d';
  const [result, setResult] = useState<Load>({ state: 'loading' });
  useEffect(() => {
    const abort = new AbortController();
    setResult({ state: 'loading' });
    load(team, since, abort.signal).then(
      (data) => setResult({ state: 'ok', data }),
      (err: unknown) => {
        if (!abort.signal.aborted)
          setResult({ state: 'error', message: err instanceof Error ? err.message : String(err) });
      },
    );
    return () => abort.abort();
  }, [team, since]);
  const set = (patch: Record<string, string>) =>
    replaceQuery(
      Object.fromEntries(Object.entries({ team, since, ...patch }).filter(([, v]) => v !== '')),
    );
  const teams = result.state === 'ok' ? result.data.teams : [];

  return (
    <section>
      <h1 tabIndex={-1}>Insights</h1>
      <FilterForm label="Choose a team and a window">
        <Field label="Team">
          <select
            value={team}
            data-testid="insights-team"
            onChange={(e) => set({ team: e.target.value })}
          >
            <option value="">all teams</option>
            {[...new Set([...teams, ...(team ? [team] : [])])].sort().map((t) => (
              <option key={t}>{t}</option>
            ))}
          </select>
        </Field>
        <Field label="Window">
          <select
            value={since}
            data-testid="insights-window"
            onChange={(e) => set({ since: e.target.value })}
          >
            {WINDOWS.map(([value, label]) => (
              <option key={value} value={value}>
                {label}
              </option>
            ))}
          </select>
        </Field>
      </FilterForm>
      {result.state === 'loading' && <p role="status">Loading…</p>}
      {result.state === 'error' && (
        <p role="alert" className="error">
          Could not load insights: {result.message}
        </p>
      )}
      {result.state === 'ok' && <InsightsBody data={result.data} team={team} />}
    </section>
  );
}

function InsightsBody({ data, team }: { data: Insights; team: string }) {
  const dayRows = data.daily;
  const cloudSeries: Series[] = data.clouds.map((c, i) => ({
    label: c.cloud,
    data: data.days.map((d) => (c.perDay.get(d) ?? 0) / 1e6),
    color: PALETTE[i % PALETTE.length]!,
  }));
  const totals = data.summary;
  const who = team || 'all teams';
  return (
    <>
      <dl className="totals" data-testid="insights-totals">
        <div className="total" data-testid="cost-total">
          <dt>Cost ({who})</dt>
          <dd>
            <span className="value">{usd(totals.totalMicros)}</span>
            <span className="note">{fmtInt(data.samples)} samples</span>
          </dd>
        </div>
        <div className="total" data-testid="cost-idle">
          <dt>Idle share</dt>
          <dd>
            <span className="value">{usd(totals.idleMicros)}</span>
            <span className="note">capacity left idle, shared by cost</span>
          </dd>
        </div>
        <div className="total" data-testid="cost-fleet">
          <dt>Fleet cost</dt>
          <dd>
            <span className="value">{usd(totals.fleetMicros)}</span>
            <span className="note">every cluster&apos;s capacity</span>
          </dd>
        </div>
      </dl>
      {data.samples === 0 && (
        <p className="empty" data-testid="cost-empty">
          No cost samples in this window yet: the server records one every hour.
        </p>
      )}
      <Suspense fallback={<p role="status">Loading charts…</p>}>
        <div className="charts">
          <BarChart
            id="cost-daily"
            title={`Cost per day, ${who} (USD)`}
            labels={data.days}
            series={[
              {
                label: 'Workloads',
                data: data.days.map((d) => (dayRows.get(d)?.workloadMicros ?? 0) / 1e6),
                color: WORKLOAD,
              },
              {
                label: 'Idle share',
                data: data.days.map((d) => (dayRows.get(d)?.idleMicros ?? 0) / 1e6),
                color: IDLE,
              },
            ]}
            stacked
            format={usdNumber}
          />
          <BarChart
            id="cost-clouds"
            title={`Cost per day by cloud, ${who} (USD)`}
            labels={data.days}
            series={cloudSeries}
            stacked
            format={usdNumber}
          />
        </div>
      </Suspense>
      <div className="panel">
        <h2>Cost per day</h2>
        <div className="table-scroll">
          <table className="data" data-testid="cost-days">
            <TableHead columns={['Day', num('Workloads'), num('Idle share'), num('Total')]} />
            <tbody>
              {data.days.map((d) => {
                const r = dayRows.get(d);
                return (
                  <tr key={d} data-day={d}>
                    <th scope="row">{d}</th>
                    <td className="num">{usd(r?.workloadMicros ?? 0)}</td>
                    <td className="num">{usd(r?.idleMicros ?? 0)}</td>
                    <td className="num">{usd(r?.totalMicros ?? 0)}</td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      </div>
      <Delivery data={data} who={who} />
    </>
  );
}

function Delivery({ data, who }: { data: Insights; who: string }) {
  const all = data.delivery?.all.groups[0];
  const nothing =
    all === undefined ||
    (all.deploymentFrequency.deployments === 0 && all.timeToRestore.incidents === 0);
  if (data.delivery === undefined || all === undefined || nothing)
    return (
      <div className="panel" data-testid="delivery">
        <h2>Delivery</h2>
        <p className="empty" data-testid="delivery-empty">
          {data.delivery === undefined
            ? 'No data: this server does not report delivery metrics.'
            : `No data: no deployments or incidents of ${who} in this window.`}
        </p>
      </div>
    );
  const perDay = (g: DeliveryGroup, f: (p: DeliveryPoint) => number) => {
    const points = new Map(g.series.map((p) => [p.start.slice(0, 10), f(p)]));
    return data.days.map((d) => points.get(d) ?? 0);
  };
  const ratio = all.changeFailureRate.ratio;
  return (
    <div className="panel" data-testid="delivery">
      <h2>Delivery</h2>
      <table className="data" data-testid="delivery-keys">
        <TableHead columns={['Metric', num('Value'), 'Band']} />
        <tbody>
          {(
            [
              [
                'Deployment frequency',
                `${all.deploymentFrequency.perDay.toFixed(2)} / day`,
                all.bands['deploymentFrequency'],
              ],
              [
                'Lead time for changes',
                duration(all.leadTimeForChanges.medianSeconds),
                all.bands['leadTimeForChanges'],
              ],
              [
                'Change failure rate',
                ratio === null ? 'no data' : `${(ratio * 100).toFixed(0)} %`,
                all.bands['changeFailureRate'],
              ],
              [
                'Time to restore',
                duration(all.timeToRestore.medianSeconds),
                all.bands['timeToRestore'],
              ],
            ] as const
          ).map(([label, value, band]) => (
            <tr key={label}>
              <th scope="row">{label}</th>
              <td className="num">{value}</td>
              <td>{band ?? '—'}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <Suspense fallback={<p role="status">Loading charts…</p>}>
        <div className="charts">
          <BarChart
            id="delivery-daily"
            title={`Deployments per day, ${who}`}
            labels={data.days}
            series={[
              { label: 'Deployments', data: perDay(all, (p) => p.deployments), color: DEPLOYS },
              { label: 'Failed', data: perDay(all, (p) => p.failures), color: FAILURES },
            ]}
            format={count}
          />
          <BarChart
            id="delivery-clouds"
            title={`Deployments per day by cloud, ${who}`}
            labels={data.days}
            series={data.delivery.byCloud.groups.slice(0, CLOUD_SERIES).map((g, i) => ({
              label: g.key,
              data: perDay(g, (p) => p.deployments),
              color: PALETTE[i % PALETTE.length]!,
            }))}
            stacked
            format={count}
          />
        </div>
      </Suspense>
    </div>
  );
}
