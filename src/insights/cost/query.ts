// Cost queries: a window (since/until as durations back from now or RFC 3339
// times), the samples that start inside it, and the report over them.
import { ValidationError, type FieldCause } from '../../model/errors.ts';
import type { CostSample, CostSampleSpec, IdleSharing } from '../../model/schema.ts';
import type { Store } from '../../store/types.ts';
import { COST_DIMENSIONS, allocate, type CostDimension, type CostReport } from './allocate.ts';

export interface CostWindow {
  sinceMs: number;
  untilMs: number;
}

export interface CostQuery {
  by: CostDimension[];
  idle: IdleSharing;
  window: CostWindow;
  team?: string;
  cloud?: string;
}

const IDLE_MODES: readonly IdleSharing[] = ['none', 'uniform', 'proportional'];
/** Dimensions one query may combine. */
const MAX_DIMENSIONS = 3;
const UNIT_SECONDS = { m: 60, h: 3600, d: 86_400 } as const;
export const DEFAULT_SINCE = '30d';

/** `30d`, `12h`, `90m` back from now, or an RFC 3339 time; undefined when it is neither. */
export function parseInstant(raw: string, nowMs: number): number | undefined {
  const m = /^([0-9]{1,6})([mhd])$/.exec(raw);
  if (m?.[1] !== undefined && m[2] !== undefined)
    return nowMs - Number(m[1]) * UNIT_SECONDS[m[2] as keyof typeof UNIT_SECONDS] * 1000;
  if (!/^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2}))?$/.test(raw))
    return undefined;
  const ms = Date.parse(raw.length === 10 ? `${raw}T00:00:00Z` : raw);
  return Number.isNaN(ms) ? undefined : ms;
}

const INSTANT = 'a duration back from now such as 30d, 12h or 90m, or an RFC 3339 time';

/** A window from query parameters; every bad one is named in one ValidationError. */
export function parseWindow(
  params: { since?: string | undefined; until?: string | undefined },
  nowMs: number,
  /** The parameters' names, for the causes. */
  names = { since: 'since', until: 'until' },
): { window?: CostWindow; causes: FieldCause[] } {
  const causes: FieldCause[] = [];
  const since = parseInstant(params.since ?? DEFAULT_SINCE, nowMs);
  const until = params.until === undefined ? nowMs : parseInstant(params.until, nowMs);
  if (since === undefined)
    causes.push({ field: names.since, message: `expected ${INSTANT}, got "${params.since}"` });
  if (until === undefined)
    causes.push({ field: names.until, message: `expected ${INSTANT}, got "${params.until}"` });
  if (since !== undefined && until !== undefined && since >= until)
    causes.push({
      field: names.until,
      message: `expected a time after ${names.since} (${new Date(since).toISOString()}), got ${new Date(until).toISOString()}`,
    });
  return since !== undefined && until !== undefined && causes.length === 0
    ? { window: { sinceMs: since, untilMs: until }, causes }
    : { causes };
}

export interface CostQueryParams {
  by?: string | undefined;
  idle?: string | undefined;
  since?: string | undefined;
  until?: string | undefined;
  team?: string | undefined;
  cloud?: string | undefined;
}

/** Validates a cost query's parameters (by defaults to app, idle to none, since to 30d). */
export function parseCostQuery(params: CostQueryParams, nowMs: number): CostQuery {
  const causes: FieldCause[] = [];
  const by = (params.by ?? 'app').split(',') as CostDimension[];
  if (
    by.length > MAX_DIMENSIONS ||
    new Set(by).size !== by.length ||
    !by.every((d) => COST_DIMENSIONS.includes(d))
  )
    causes.push({
      field: 'by',
      message: `expected one of ${COST_DIMENSIONS.join(', ')}, or up to ${MAX_DIMENSIONS} of them comma-separated (cloud,day), got "${params.by}"`,
    });
  const idle = (params.idle ?? 'none') as IdleSharing;
  if (!IDLE_MODES.includes(idle))
    causes.push({
      field: 'idle',
      message: `expected one of ${IDLE_MODES.join(', ')}, got "${params.idle}"`,
    });
  for (const field of ['team', 'cloud'] as const)
    if (params[field] === '')
      causes.push({ field, message: `expected a ${field} name, got an empty string` });
  const { window, causes: windowCauses } = parseWindow(params, nowMs);
  causes.push(...windowCauses);
  if (window === undefined || causes.length > 0) throw new ValidationError('cost query', causes);
  return {
    by,
    idle,
    window,
    ...(params.team !== undefined ? { team: params.team } : {}),
    ...(params.cloud !== undefined ? { cloud: params.cloud } : {}),
  };
}

/** Samples whose interval starts inside the window, oldest first. */
export async function samplesIn(store: Store, window: CostWindow): Promise<CostSampleSpec[]> {
  const { items } = await store.list('CostSample');
  return (items as CostSample[])
    .map((s) => s.spec)
    .filter((s) => {
      const start = Date.parse(s.start);
      return start >= window.sinceMs && start < window.untilMs;
    })
    .sort((a, b) => Date.parse(a.start) - Date.parse(b.start));
}

export interface CostResult extends CostReport {
  window: { since: string; until: string };
  samples: number;
  currency: 'USD';
}

export async function costReport(store: Store, q: CostQuery): Promise<CostResult> {
  const samples = await samplesIn(store, q.window);
  return {
    window: {
      since: new Date(q.window.sinceMs).toISOString(),
      until: new Date(q.window.untilMs).toISOString(),
    },
    samples: samples.length,
    currency: 'USD',
    ...allocate(samples, {
      by: q.by,
      idle: q.idle,
      ...(q.team !== undefined ? { team: q.team } : {}),
      ...(q.cloud !== undefined ? { cloud: q.cloud } : {}),
    }),
  };
}
