// Reasons: how every decision is put into words and counted. Each rejection
// is counted under its reason; an app's reasons are built in the status
// format (per component: rejections, unused feasible clusters, notes,
// unplaced replicas), lazily, since most callers of a large batch never read
// them.
import type { AppPlan, AppRisk, ComponentExplanation, ComponentPlan, Reason } from './types.ts';

export function formatCpu(milli: number): string {
  return milli % 1000 === 0 ? `${milli / 1000}` : `${milli}m`;
}

export function formatMiB(mib: number): string {
  return mib >= 1024 && mib % 1024 === 0 ? `${mib / 1024}Gi` : `${Math.round(mib)}Mi`;
}

export function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

export function round3(x: number): number {
  return Math.round(x * 1000) / 1000;
}

export function increment(map: Map<string, number>, key: string, by = 1): void {
  map.set(key, (map.get(key) ?? 0) + by);
}

export const NOT_CHOSEN = 'feasible, not chosen: other clusters scored higher or were enough';
export const UNPLACED = 'replicas could not be placed on any feasible cluster';

/** An app's reasons in the status format: per component, rejections, unused clusters, notes, unplaced replicas. */
function appReasons(
  components: readonly ComponentPlan[],
  explanation: readonly ComponentExplanation[],
): Reason[] {
  const out: Reason[] = [];
  explanation.forEach((e, i) => {
    const component = e.component;
    for (const r of e.rejected) out.push({ component, count: r.count, reason: r.reason });
    if (e.notChosen > 0) out.push({ component, count: e.notChosen, reason: NOT_CHOSEN });
    for (const note of e.notes) out.push({ component, count: 1, reason: note });
    const unplaced = components[i]?.unplaced ?? 0;
    if (unplaced > 0) out.push({ component, count: unplaced, reason: UNPLACED });
  });
  return out;
}

/** The static rejections with the dynamic ones added, most first. */
export function mergeReasons(
  base: readonly { count: number; reason: string }[],
  more: ReadonlyMap<string, number>,
): { count: number; reason: string }[] {
  const out = base.slice();
  for (const [reason, count] of more) {
    const i = out.findIndex((x) => x.reason === reason);
    if (i >= 0) out[i] = { count: out[i]!.count + count, reason };
    else out.push({ count, reason });
  }
  return out.sort((a, b) => b.count - a.count || (a.reason < b.reason ? -1 : 1));
}

export function sortedReasons(m: ReadonlyMap<string, number>): { count: number; reason: string }[] {
  return [...m]
    .map(([reason, count]) => ({ count, reason }))
    .sort((a, b) => b.count - a.count || (a.reason < b.reason ? -1 : 1));
}

/**
 * An AppPlan whose reasons (the status format) are built when first read:
 * most callers of a large batch never look at them.
 */
export class Plan implements AppPlan {
  readonly app: string;
  readonly components: ComponentPlan[];
  readonly explanation: ComponentExplanation[];
  risk?: AppRisk;
  private built: Reason[] | undefined;

  constructor(app: string, components: ComponentPlan[], explanation: ComponentExplanation[]) {
    this.app = app;
    this.components = components;
    this.explanation = explanation;
  }

  get reasons(): Reason[] {
    return (this.built ??= appReasons(this.components, this.explanation));
  }

  toJSON(): AppPlan {
    const out: AppPlan = {
      app: this.app,
      components: this.components,
      reasons: this.reasons,
      explanation: this.explanation,
    };
    if (this.risk) out.risk = this.risk;
    return out;
  }
}
