// Delivery metrics (DORA's four keys plus build frequency and requirement lead
// time) as pure functions of DeliveryEvent records and a window: no store, no
// clock. docs/delivery-metrics.md gives each definition's start and end events.
//
// Ordering and invariants:
// - Which deployments failed is decided once over every record the caller
//   passes (an incident may name or follow a deployment of another group or
//   window), then each group counts the failed ones among its own deployments,
//   so a change failure rate is a share of distinct deployments and never
//   above 1.
// - Incidents of one app and environment whose open intervals overlap are one
//   outage (Yunjian opens one from the Ready condition and may see a failover
//   of the same outage; a webhook may report it again).
// - A commit's lead time ends at its first successful production deployment
//   within the group; later deployments of it (another environment, a
//   redeploy) add no sample.
import type { DeliveryEvent } from '../../model/schema.ts';

export const GROUP_BY = ['team', 'app', 'cloud', 'environment', 'namespace'] as const;
export type GroupBy = (typeof GROUP_BY)[number];
export const INTERVALS = ['day', 'week'] as const;
export type Interval = (typeof INTERVALS)[number];
export type Band = 'elite' | 'high' | 'medium' | 'low';

export interface DeliveryFilter {
  team?: string;
  namespace?: string;
  app?: string;
  cloud?: string;
  environment?: string;
}

export interface DeliveryQuery {
  startMs: number;
  endMs: number;
  by?: GroupBy;
  interval?: Interval;
  filter?: DeliveryFilter;
}

export interface SeriesPoint {
  start: string;
  deployments: number;
  failures: number;
  incidents: number;
  builds: number;
  leadTimeSeconds: number | null;
  timeToRestoreSeconds: number | null;
}

export interface DeliveryGroup {
  key: string;
  deploymentFrequency: { deployments: number; perDay: number };
  leadTimeForChanges: { medianSeconds: number | null; samples: number };
  changeFailureRate: { ratio: number | null; failed: number; deployments: number };
  timeToRestore: { medianSeconds: number | null; incidents: number };
  /** Null when grouped by cloud or environment: builds have neither. */
  buildFrequency: { builds: number; perWeek: number } | null;
  requirementLeadTime: { medianSeconds: number | null; samples: number } | null;
  bands: {
    deploymentFrequency: Band;
    leadTimeForChanges: Band | null;
    changeFailureRate: Band | null;
    timeToRestore: Band | null;
  };
  series: SeriesPoint[];
}

export interface DeliveryReport {
  window: { start: string; end: string; days: number };
  by: GroupBy | null;
  interval: Interval;
  groups: DeliveryGroup[];
}

const HOUR = 3600;
const DAY = 24 * HOUR;
const WEEK = 7 * DAY;
/** The key of the single group when the report is not grouped. */
export const ALL = 'all';
/** The key of records that lack the grouping dimension (an app-less incident by app). */
export const NONE = '(none)';

/** Production is `production`, `prod`, or either followed by `-`, `_` or `.` and more (prod-eu); absent counts as production. */
export function isProduction(environment: string | undefined): boolean {
  return environment === undefined || /^prod(uction)?([-_.].*)?$/i.test(environment);
}

export function median(values: readonly number[]): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

// DORA bands as the 2023 State of DevOps report publishes them (Apache DevLake's thresholds).

/** Successful production deployments per day: on demand (daily or more), weekly, monthly, less. */
export function deploymentFrequencyBand(perDay: number): Band {
  if (perDay >= 1) return 'elite';
  if (perDay >= 1 / 7) return 'high';
  if (perDay >= 1 / 30) return 'medium';
  return 'low';
}

/** Commit to production: under a day, a week, a month, longer. */
export function leadTimeBand(seconds: number): Band {
  if (seconds < DAY) return 'elite';
  if (seconds < WEEK) return 'high';
  if (seconds < 30 * DAY) return 'medium';
  return 'low';
}

/** Share of deployments that failed: at most 5 %, 10 %, 15 %, more. */
export function changeFailureRateBand(ratio: number): Band {
  if (ratio <= 0.05) return 'elite';
  if (ratio <= 0.1) return 'high';
  if (ratio <= 0.15) return 'medium';
  return 'low';
}

/** Outage to restored: under an hour, a day, a week, longer. */
export function timeToRestoreBand(seconds: number): Band {
  if (seconds < HOUR) return 'elite';
  if (seconds < DAY) return 'high';
  if (seconds < WEEK) return 'medium';
  return 'low';
}

const ms = (time: string | undefined) => (time === undefined ? Number.NaN : Date.parse(time));
const within = (t: number, q: { startMs: number; endMs: number }) => t >= q.startMs && t < q.endMs;

function matches(r: DeliveryEvent, f: DeliveryFilter): boolean {
  const s = r.spec;
  if (f.team !== undefined && s.team !== f.team) return false;
  if (f.namespace !== undefined && r.metadata.namespace !== f.namespace) return false;
  if (f.app !== undefined && s.app !== f.app) return false;
  // Cloud and environment describe where something ran: only deployments and incidents have them.
  if (s.type !== 'deployment' && s.type !== 'incident') return true;
  if (f.cloud !== undefined && !(s.clouds ?? []).includes(f.cloud)) return false;
  if (f.environment !== undefined && s.environment !== f.environment) return false;
  return true;
}

/** The groups a record counts in; none when it lacks the dimension and is no deployment or incident. */
function keysOf(r: DeliveryEvent, by: GroupBy | undefined): string[] {
  const s = r.spec;
  switch (by) {
    case undefined:
      return [ALL];
    case 'team':
      return [s.team];
    case 'namespace':
      return [r.metadata.namespace ?? NONE];
    case 'app':
      return [s.app ?? NONE];
    case 'environment':
      if (s.type !== 'deployment' && s.type !== 'incident') return [];
      return [s.environment ?? NONE];
    case 'cloud':
      if (s.type !== 'deployment' && s.type !== 'incident') return [];
      return s.clouds?.length ? [...new Set(s.clouds)] : [NONE];
  }
}

const finishedProductionDeployment = (r: DeliveryEvent) =>
  r.spec.type === 'deployment' &&
  isProduction(r.spec.environment) &&
  (r.spec.outcome === 'Succeeded' || r.spec.outcome === 'Failed') &&
  Number.isFinite(ms(r.spec.finish));

/**
 * Names of deployments that failed: outcome Failed, rolled back, or linked to
 * an incident (the one it names, else the last production deployment of its
 * app, in its environment when it has one, finished at or before it opened).
 */
export function failedDeployments(records: readonly DeliveryEvent[]): Set<string> {
  const deployments = records.filter(finishedProductionDeployment);
  const failed = new Set<string>();
  for (const d of deployments)
    if (d.spec.outcome === 'Failed' || d.spec.rolledBack === true) failed.add(keyOf(d));
  const byName = new Map(deployments.map((d) => [keyOf(d), d]));
  for (const incident of records) {
    if (incident.spec.type !== 'incident') continue;
    const named = incident.spec.deployment;
    if (named !== undefined) {
      const ns = incident.metadata.namespace ?? '';
      if (byName.has(`${ns}/${named}`)) failed.add(`${ns}/${named}`);
      continue;
    }
    const opened = ms(incident.spec.start);
    let cause: DeliveryEvent | undefined;
    for (const d of deployments) {
      if (incident.spec.app === undefined || d.spec.app !== incident.spec.app) continue;
      if (d.metadata.namespace !== incident.metadata.namespace) continue;
      if (
        incident.spec.environment !== undefined &&
        d.spec.environment !== incident.spec.environment
      )
        continue;
      const finished = ms(d.spec.finish);
      if (finished <= opened && (cause === undefined || finished > ms(cause.spec.finish)))
        cause = d;
    }
    if (cause) failed.add(keyOf(cause));
  }
  return failed;
}

const keyOf = (r: DeliveryEvent) => `${r.metadata.namespace ?? ''}/${r.metadata.name}`;

interface Outage {
  startMs: number;
  /** Infinity while open. */
  endMs: number;
}

/** Incidents merged into outages: overlapping ones of the same app and environment are one. */
export function outages(incidents: readonly DeliveryEvent[]): Outage[] {
  const byTarget = new Map<string, Outage[]>();
  for (const [i, r] of incidents.entries()) {
    const target =
      r.spec.app === undefined
        ? `#${i}`
        : `${r.metadata.namespace ?? ''}/${r.spec.app}/${r.spec.environment ?? ''}`;
    const finish = ms(r.spec.finish);
    const list = byTarget.get(target) ?? [];
    list.push({ startMs: ms(r.spec.start), endMs: Number.isFinite(finish) ? finish : Infinity });
    byTarget.set(target, list);
  }
  const out: Outage[] = [];
  for (const list of byTarget.values()) {
    list.sort((a, b) => a.startMs - b.startMs);
    let current: Outage | undefined;
    for (const o of list) {
      if (current !== undefined && o.startMs <= current.endMs)
        current.endMs = Math.max(current.endMs, o.endMs);
      else {
        current = { ...o };
        out.push(current);
      }
    }
  }
  return out;
}

interface LeadSample {
  atMs: number;
  seconds: number;
}

/** Commit-to-production samples of a group's successful production deployments. */
function leadTimes(
  deployments: readonly DeliveryEvent[],
  commits: readonly DeliveryEvent[],
): LeadSample[] {
  const commitTime = new Map<string, number>();
  const commitsOfApp = new Map<string, { sha: string; atMs: number }[]>();
  for (const c of commits) {
    const sha = c.spec.commits?.[0] ?? c.spec.id;
    const at = ms(c.spec.start);
    commitTime.set(sha, at);
    if (c.spec.app === undefined) continue;
    const list = commitsOfApp.get(c.spec.app) ?? [];
    list.push({ sha, atMs: at });
    commitsOfApp.set(c.spec.app, list);
  }
  const shipped = new Set<string>();
  const samples: LeadSample[] = [];
  const ordered = deployments
    .filter((d) => d.spec.outcome === 'Succeeded')
    .sort((a, b) => ms(a.spec.finish) - ms(b.spec.finish));
  for (const d of ordered) {
    const times = (d.spec.commits ?? [])
      .map((sha) => commitTime.get(sha))
      .filter((t) => t !== undefined);
    if (times.length === 0) continue;
    const head = Math.max(...times);
    const finished = ms(d.spec.finish);
    const candidates = [
      ...(d.spec.app === undefined ? [] : (commitsOfApp.get(d.spec.app) ?? [])),
      ...(d.spec.commits ?? []).flatMap((sha) => {
        const at = commitTime.get(sha);
        return at === undefined ? [] : [{ sha, atMs: at }];
      }),
    ];
    for (const c of candidates) {
      if (c.atMs > head || shipped.has(c.sha)) continue;
      shipped.add(c.sha);
      samples.push({ atMs: finished, seconds: (finished - c.atMs) / 1000 });
    }
  }
  return samples;
}

function bucketStarts(q: DeliveryQuery, interval: Interval): number[] {
  const step = (interval === 'day' ? DAY : WEEK) * 1000;
  const first = new Date(q.startMs);
  first.setUTCHours(0, 0, 0, 0);
  // Weeks start on Monday (ISO 8601).
  if (interval === 'week') first.setUTCDate(first.getUTCDate() - ((first.getUTCDay() + 6) % 7));
  const starts: number[] = [];
  for (let t = first.getTime(); t < q.endMs; t += step) starts.push(t);
  return starts;
}

/** The delivery report for one window, grouped and bucketed as the query asks. */
export function deliveryReport(
  records: readonly DeliveryEvent[],
  q: DeliveryQuery,
): DeliveryReport {
  const interval = q.interval ?? 'week';
  const by = q.by;
  const days = (q.endMs - q.startMs) / (DAY * 1000);
  const filtered = records.filter((r) => matches(r, q.filter ?? {}));
  const failed = failedDeployments(filtered);
  const commits = filtered.filter((r) => r.spec.type === 'commit');

  const grouped = new Map<string, DeliveryEvent[]>();
  for (const r of filtered)
    for (const key of keysOf(r, by)) {
      const list = grouped.get(key) ?? [];
      list.push(r);
      grouped.set(key, list);
    }
  if (by === undefined && !grouped.has(ALL)) grouped.set(ALL, []);

  const starts = bucketStarts(q, interval);
  const step = (interval === 'day' ? DAY : WEEK) * 1000;
  const bucketOf = (t: number) => {
    const i = Math.floor((t - (starts[0] ?? q.startMs)) / step);
    return i >= 0 && i < starts.length ? i : -1;
  };

  const groups: DeliveryGroup[] = [];
  for (const [key, list] of [...grouped].sort(([a], [b]) => a.localeCompare(b))) {
    const deployments = list.filter(finishedProductionDeployment);
    const inWindow = deployments.filter((d) => within(ms(d.spec.finish), q));
    const succeeded = inWindow.filter((d) => d.spec.outcome === 'Succeeded');
    const failedHere = inWindow.filter((d) => failed.has(keyOf(d)));
    const leads = leadTimes(deployments, commits).filter((s) => within(s.atMs, q));
    const restored = outages(list.filter((r) => r.spec.type === 'incident')).filter(
      (o) => within(o.startMs, q) && Number.isFinite(o.endMs),
    );
    const builds = list.filter(
      (r) => r.spec.type === 'build' && within(ms(r.spec.finish ?? r.spec.start), q),
    );
    const requirements = list
      .filter((r) => r.spec.type === 'requirement' && within(ms(r.spec.finish), q))
      .map((r) => (ms(r.spec.finish) - ms(r.spec.start)) / 1000);

    const perDay = days > 0 ? succeeded.length / days : 0;
    const leadMedian = median(leads.map((s) => s.seconds));
    const ratio = inWindow.length > 0 ? failedHere.length / inWindow.length : null;
    const restoreMedian = median(restored.map((o) => (o.endMs - o.startMs) / 1000));
    const attributable = by !== 'cloud' && by !== 'environment';

    const series: SeriesPoint[] = starts.map((start) => ({
      start: new Date(start).toISOString(),
      deployments: 0,
      failures: 0,
      incidents: 0,
      builds: 0,
      leadTimeSeconds: null,
      timeToRestoreSeconds: null,
    }));
    const count = (t: number, field: 'deployments' | 'failures' | 'incidents' | 'builds') => {
      const point = series[bucketOf(t)];
      if (point) point[field]++;
    };
    for (const d of succeeded) count(ms(d.spec.finish), 'deployments');
    for (const d of failedHere) count(ms(d.spec.finish), 'failures');
    for (const o of restored) count(o.startMs, 'incidents');
    if (attributable) for (const b of builds) count(ms(b.spec.finish ?? b.spec.start), 'builds');
    for (const [i, point] of series.entries()) {
      point.leadTimeSeconds = median(
        leads.filter((s) => bucketOf(s.atMs) === i).map((s) => s.seconds),
      );
      point.timeToRestoreSeconds = median(
        restored.filter((o) => bucketOf(o.startMs) === i).map((o) => (o.endMs - o.startMs) / 1000),
      );
    }

    groups.push({
      key,
      deploymentFrequency: { deployments: succeeded.length, perDay },
      leadTimeForChanges: { medianSeconds: leadMedian, samples: leads.length },
      changeFailureRate: { ratio, failed: failedHere.length, deployments: inWindow.length },
      timeToRestore: { medianSeconds: restoreMedian, incidents: restored.length },
      buildFrequency: attributable
        ? { builds: builds.length, perWeek: days > 0 ? builds.length / (days / 7) : 0 }
        : null,
      requirementLeadTime: attributable
        ? { medianSeconds: median(requirements), samples: requirements.length }
        : null,
      bands: {
        deploymentFrequency: deploymentFrequencyBand(perDay),
        leadTimeForChanges: leadMedian === null ? null : leadTimeBand(leadMedian),
        changeFailureRate: ratio === null ? null : changeFailureRateBand(ratio),
        timeToRestore: restoreMedian === null ? null : timeToRestoreBand(restoreMedian),
      },
      series,
    });
  }
  return {
    window: {
      start: new Date(q.startMs).toISOString(),
      end: new Date(q.endMs).toISOString(),
      days,
    },
    by: by ?? null,
    interval,
    groups,
  };
}
