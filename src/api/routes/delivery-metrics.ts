// `GET /api/v1alpha1/metrics/delivery`: the delivery report (DORA's four keys,
// build frequency, requirement lead time, bands and a series) over a window,
// filtered and grouped as the query asks. Authorized like listing
// applications: a principal sees the records of the namespaces whose
// applications it may list, and the report is computed over those only.
import type { FastifyInstance } from 'fastify';
import {
  GROUP_BY,
  INTERVALS,
  deliveryReport,
  type DeliveryFilter,
  type GroupBy,
  type Interval,
} from '../../insights/delivery/metrics.ts';
import { BadRequestError, type FieldCause } from '../../model/errors.ts';
import type { DeliveryEvent } from '../../model/schema.ts';
import type { Store } from '../../store/types.ts';
import { visibleTo } from '../authz.ts';
import type { RouteDoc } from '../openapi.ts';
import type { ApiPlugin } from '../server.ts';
import { BASE } from './resources.ts';

export const DELIVERY_METRICS_PATH = `${BASE}/metrics/delivery`;
/** The longest window: bounded so a daily series stays a few hundred points. */
export const MAX_WINDOW_DAYS = 400;
const DEFAULT_SINCE = '30d';

const DOC: RouteDoc = {
  tags: ['Delivery'],
  summary:
    'Delivery metrics (deployment frequency, lead time for changes, change failure rate, time to restore, build frequency, requirement lead time) with DORA bands and a series, per group; docs/api.md gives the shape',
  query: [
    { name: 'team', type: 'string' },
    { name: 'namespace', type: 'string' },
    { name: 'app', type: 'string' },
    { name: 'cloud', type: 'string' },
    { name: 'environment', type: 'string' },
    {
      name: 'since',
      type: 'string',
      description: 'a duration back from now (30d, 12h) or an RFC 3339 time; 30d',
    },
    { name: 'until', type: 'string', description: 'the same; now' },
    { name: 'by', type: 'string', description: GROUP_BY.join(' | ') },
    { name: 'interval', type: 'string', description: `${INTERVALS.join(' | ')} (week)` },
  ],
  response: { status: 200, description: 'DeliveryReport (insights/delivery/metrics.ts)' },
};

type Query = Partial<Record<'since' | 'until' | 'by' | 'interval' | keyof DeliveryFilter, string>>;

const DURATION = /^([0-9]{1,6})(m|h|d|w)$/;
const UNIT_MS = { m: 60_000, h: 3_600_000, d: 86_400_000, w: 7 * 86_400_000 } as const;

function timeOf(raw: string, field: string, now: number, causes: FieldCause[]): number {
  const m = DURATION.exec(raw);
  if (m?.[1] !== undefined && m[2] !== undefined)
    return now - Number(m[1]) * UNIT_MS[m[2] as keyof typeof UNIT_MS];
  const t = Date.parse(raw);
  if (/^[0-9]{4}-/.test(raw) && Number.isFinite(t)) return t;
  causes.push({
    field,
    message: `expected a duration such as 30d, 12h or 2w, or an RFC 3339 time, got "${raw}"`,
  });
  return now;
}

export function parseDeliveryQuery(q: Query, now: number) {
  const causes: FieldCause[] = [];
  const endMs = q.until === undefined ? now : timeOf(q.until, 'until', now, causes);
  const startMs = timeOf(q.since ?? DEFAULT_SINCE, 'since', now, causes);
  if (causes.length === 0 && !(startMs < endMs))
    causes.push({ field: 'since', message: 'expected a time before until' });
  if (causes.length === 0 && endMs - startMs > MAX_WINDOW_DAYS * 86_400_000)
    causes.push({
      field: 'since',
      message: `expected a window of at most ${MAX_WINDOW_DAYS} days`,
    });
  if (q.by !== undefined && !(GROUP_BY as readonly string[]).includes(q.by))
    causes.push({ field: 'by', message: `expected one of ${GROUP_BY.join(', ')}` });
  if (q.interval !== undefined && !(INTERVALS as readonly string[]).includes(q.interval))
    causes.push({ field: 'interval', message: `expected one of ${INTERVALS.join(', ')}` });
  if (causes.length > 0)
    throw new BadRequestError(
      `invalid query: ${causes.map((c) => `${c.field}: ${c.message}`).join('; ')}`,
      { causes },
    );
  const filter: DeliveryFilter = {};
  for (const key of ['team', 'namespace', 'app', 'cloud', 'environment'] as const) {
    const v = q[key];
    if (v !== undefined) filter[key] = v;
  }
  return {
    startMs,
    endMs,
    filter,
    ...(q.by !== undefined ? { by: q.by as GroupBy } : {}),
    ...(q.interval !== undefined ? { interval: q.interval as Interval } : {}),
  };
}

export function deliveryMetricsRoutes(store: Store): ApiPlugin {
  return {
    name: 'delivery-metrics',
    register(app: FastifyInstance) {
      app.get<{ Querystring: Query }>(
        DELIVERY_METRICS_PATH,
        { config: { doc: DOC } },
        async (request) => {
          const query = parseDeliveryQuery(request.query, Date.now());
          const visible = visibleTo(request);
          const { items } = await store.list('DeliveryEvent', {
            ...(query.filter.namespace !== undefined ? { namespace: query.filter.namespace } : {}),
          });
          return deliveryReport(items.filter(visible) as unknown as DeliveryEvent[], query);
        },
      );
    },
  };
}
