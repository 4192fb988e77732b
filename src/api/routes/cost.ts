// Cost: `GET /cost` (a report by app, component, team, cloud, site, cluster
// or day over a window), `GET /cost/export?format=focus` (FOCUS-shaped CSV),
// `GET /cost/savings` (one view over two windows, with the difference), and the
// month-to-date cost per team and per cloud as Prometheus gauges.
import type { FastifyInstance } from 'fastify';
import { Gauge, type Registry } from 'prom-client';
import { ValidationError } from '../../model/errors.ts';
import { allocate, compareReports, type CostRow } from '../../insights/cost/allocate.ts';
import { periodStartMs } from '../../insights/cost/budget.ts';
import { focusCsv, focusRows } from '../../insights/cost/focus.ts';
import {
  costReport,
  parseCostQuery,
  parseWindow,
  samplesIn,
  type CostQueryParams,
} from '../../insights/cost/query.ts';
import type { Store } from '../../store/types.ts';
import type { QueryParam, RouteDoc } from '../openapi.ts';
import type { ApiPlugin } from '../server.ts';
import { BASE } from './resources.ts';

const QUERY: readonly QueryParam[] = [
  {
    name: 'by',
    type: 'string',
    description:
      'app | component | team | cloud | site | cluster | day, or up to three comma-separated (cloud,day): a row per combination (app)',
  },
  {
    name: 'since',
    type: 'string',
    description: 'A duration back from now (30d, 12h, 90m) or an RFC 3339 time (30d)',
  },
  { name: 'until', type: 'string', description: 'As since (now)' },
  {
    name: 'idle',
    type: 'string',
    description:
      "none (idle is its own row) | uniform | proportional: each cluster's idle shared over its workloads",
  },
  { name: 'team', type: 'string', description: "Only this team's rows" },
  { name: 'cloud', type: 'string', description: "Only rows of this cloud's clusters" },
];

const amounts = {
  workloadMicros: { type: 'integer' },
  cpuMicros: { type: 'integer' },
  memoryMicros: { type: 'integer' },
  gpuMicros: { type: 'integer' },
  idleMicros: { type: 'integer' },
  totalMicros: { type: 'integer' },
};
const REPORT_SCHEMA = {
  type: 'object',
  description:
    'Amounts are integer micro-dollars (USD 1e-6); totals.totalMicros = totals.fleetMicros unless team filters',
  properties: {
    window: {
      type: 'object',
      properties: { since: { type: 'string' }, until: { type: 'string' } },
    },
    samples: { type: 'integer' },
    currency: { type: 'string' },
    by: { type: 'string' },
    idle: { type: 'string' },
    rows: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          key: { type: 'string', description: 'keys joined with |' },
          keys: { type: 'array', items: { type: 'string' }, description: 'one per dimension' },
          ...amounts,
        },
      },
    },
    totals: {
      type: 'object',
      properties: {
        workloadMicros: { type: 'integer' },
        idleMicros: { type: 'integer' },
        totalMicros: { type: 'integer' },
        fleetMicros: { type: 'integer' },
      },
    },
  },
};

const COST_DOC: RouteDoc = {
  tags: ['Cost'],
  summary:
    'Cost per app, component, team, cloud, site, cluster or day over a window, idle as its own row or shared',
  query: QUERY,
  response: { status: 200, description: 'The report', schema: REPORT_SCHEMA },
  errors: { '422': 'Invalid: a query parameter, named in details.causes' },
};

const EXPORT_DOC: RouteDoc = {
  tags: ['Cost'],
  summary:
    'The window as FinOps FOCUS rows (CSV): one per day, cluster and component, and per day and cluster for unshared idle',
  query: [
    { name: 'format', type: 'string', description: 'focus (the only format)' },
    ...QUERY.filter((q) => q.name !== 'by'),
  ],
  response: { status: 200, description: 'RFC 4180 CSV with a header row', contentType: 'text/csv' },
  errors: { '422': 'Invalid: a query parameter, named in details.causes' },
};

const SAVINGS_DOC: RouteDoc = {
  tags: ['Cost'],
  summary:
    'A savings report: one view over two windows (before and after a migration or colocation), row by row, with the difference',
  query: [
    QUERY[0]!,
    { name: 'beforeSince', type: 'string', description: 'Start of the window before' },
    { name: 'beforeUntil', type: 'string', description: 'End of the window before' },
    { name: 'afterSince', type: 'string', description: 'Start of the window after' },
    { name: 'afterUntil', type: 'string', description: 'End of the window after (now)' },
    ...QUERY.slice(3),
  ],
  response: {
    status: 200,
    description: 'Rows with beforeMicros, afterMicros and differenceMicros (after - before)',
  },
  errors: { '422': 'Invalid: a query parameter, named in details.causes' },
};

interface SavingsParams {
  by?: string;
  idle?: string;
  team?: string;
  cloud?: string;
  beforeSince?: string;
  beforeUntil?: string;
  afterSince?: string;
  afterUntil?: string;
}

export function costRoutes(store: Store): ApiPlugin {
  return {
    name: 'cost',
    register(app: FastifyInstance) {
      app.get<{ Querystring: CostQueryParams }>(
        `${BASE}/cost`,
        { config: { doc: COST_DOC } },
        async (request) => costReport(store, parseCostQuery(request.query, Date.now())),
      );
      app.get<{ Querystring: CostQueryParams & { format?: string } }>(
        `${BASE}/cost/export`,
        { config: { doc: EXPORT_DOC } },
        async (request, reply) => {
          const { format, ...params } = request.query;
          if (format !== undefined && format !== 'focus')
            throw new ValidationError('cost export', [
              { field: 'format', message: `expected focus, got "${format}"` },
            ]);
          const q = parseCostQuery(params, Date.now());
          const samples = await samplesIn(store, q.window);
          return reply
            .type('text/csv; charset=utf-8')
            .header('content-disposition', 'attachment; filename="yunjian-cost-focus.csv"')
            .send(
              focusCsv(
                focusRows(samples, q.idle, {
                  ...(q.team !== undefined ? { team: q.team } : {}),
                  ...(q.cloud !== undefined ? { cloud: q.cloud } : {}),
                }),
              ),
            );
        },
      );
      app.get<{ Querystring: SavingsParams }>(
        `${BASE}/cost/savings`,
        { config: { doc: SAVINGS_DOC } },
        async (request) => {
          const now = Date.now();
          const p = request.query;
          const before = parseWindow({ since: p.beforeSince, until: p.beforeUntil }, now, {
            since: 'beforeSince',
            until: 'beforeUntil',
          });
          const after = parseWindow({ since: p.afterSince, until: p.afterUntil }, now, {
            since: 'afterSince',
            until: 'afterUntil',
          });
          // The view's own parameters, checked once over a window that is always valid.
          const q = parseCostQuery({ by: p.by, idle: p.idle, team: p.team, cloud: p.cloud }, now);
          const causes = [...before.causes, ...after.causes];
          if (p.beforeSince === undefined)
            causes.unshift({
              field: 'beforeSince',
              message: 'expected the start of the window before',
            });
          if (before.window === undefined || after.window === undefined || causes.length > 0)
            throw new ValidationError('savings query', causes);
          const options = {
            by: q.by,
            idle: q.idle,
            ...(q.team !== undefined ? { team: q.team } : {}),
            ...(q.cloud !== undefined ? { cloud: q.cloud } : {}),
          };
          const [b, a] = await Promise.all([
            samplesIn(store, before.window),
            samplesIn(store, after.window),
          ]);
          return {
            currency: 'USD',
            by: q.by.join(','),
            before: {
              since: new Date(before.window.sinceMs).toISOString(),
              until: new Date(before.window.untilMs).toISOString(),
            },
            after: {
              since: new Date(after.window.sinceMs).toISOString(),
              until: new Date(after.window.untilMs).toISOString(),
            },
            ...compareReports(allocate(b, options), allocate(a, options)),
          };
        },
      );
    },
  };
}

/** How long a scrape reuses the month-to-date figures (a month of samples is parsed once a minute at most). */
const METRICS_CACHE_MS = 60_000;

/** Month-to-date cost per team and per cloud, computed from the samples at scrape time. */
export function registerCostMetrics(registry: Registry, store: Store): void {
  let cached: { atMs: number; rows: Promise<Record<'team' | 'cloud', CostRow[]>> } | undefined;
  const monthToDate = (by: 'team' | 'cloud') => {
    const now = Date.now();
    if (cached === undefined || now - cached.atMs > METRICS_CACHE_MS) {
      const rows = samplesIn(store, { sinceMs: periodStartMs(now), untilMs: now + 1 }).then(
        (samples) => ({
          team: allocate(samples, { by: 'team', idle: 'none' }).rows,
          cloud: allocate(samples, { by: 'cloud', idle: 'none' }).rows,
        }),
      );
      // A failed read is not kept: the next scrape tries again.
      rows.catch(() => (cached = undefined));
      cached = { atMs: now, rows };
    }
    return cached.rows.then((r) => r[by]);
  };
  new Gauge({
    name: 'yunjian_cost_team_month_to_date_usd',
    help: "Each team's cost this UTC month (USD, requests or use at list prices; idle as team __idle__)",
    labelNames: ['team'],
    registers: [registry],
    async collect() {
      const rows = await monthToDate('team');
      this.reset();
      for (const r of rows) this.set({ team: r.key }, r.totalMicros / 1e6);
    },
  });
  new Gauge({
    name: 'yunjian_cost_cloud_month_to_date_usd',
    help: "Each cloud's cost this UTC month (USD at list prices, idle capacity included)",
    labelNames: ['cloud'],
    registers: [registry],
    async collect() {
      const rows = await monthToDate('cloud');
      this.reset();
      for (const r of rows) this.set({ cloud: r.key }, r.totalMicros / 1e6);
    },
  });
}
