// The traffic split of one Migration over time, from what its status records:
// it starts with no traffic on the target, each analysed step held its weight
// until its analysis, and after the last analysis the target holds the
// current weight (in flight or Failed), everything (Succeeded) or nothing
// (RolledBack: the rollback withdraws the target's share before removing it).
import { FINISHED_MIGRATION_PHASES } from '../model/migration.ts';
import type { Migration } from '../model/schema/migration.ts';

export interface SplitPoint {
  /** Seconds since the migration started. */
  seconds: number;
  /** The target's share of traffic, percent, held from the previous point up to this one. */
  weight: number;
  /** What ends here: "start", "step 2 success", "now", "Succeeded". */
  label: string;
}

export function splitTimeline(m: Migration, nowMs: number): SplitPoint[] {
  const st = m.status;
  if (st?.startedAt === undefined) return [];
  const t0 = Date.parse(st.startedAt);
  const at = (iso: string) => Math.max(0, Math.round((Date.parse(iso) - t0) / 100) / 10);
  const points: SplitPoint[] = [{ seconds: 0, weight: 0, label: 'start' }];
  for (const a of st.analyses ?? [])
    points.push({ seconds: at(a.at), weight: a.weight, label: `step ${a.step + 1} ${a.result}` });
  if (FINISHED_MIGRATION_PHASES.has(st.phase)) {
    const end = st.finishedAt ?? st.phaseStartedAt;
    if (end !== undefined)
      points.push({
        seconds: at(end),
        weight: st.phase === 'Succeeded' ? 100 : st.phase === 'RolledBack' ? 0 : (st.weight ?? 0),
        label: st.phase,
      });
  } else {
    // The step in flight began at phaseStartedAt; until then the target held
    // what the last analysed step (or nothing, while pre-scaling) gave it.
    const last = points.at(-1)!;
    if (st.phase === 'Shifting' && st.phaseStartedAt !== undefined) {
      const began = at(st.phaseStartedAt);
      if (began > last.seconds)
        points.push({
          seconds: began,
          weight: last.weight,
          label: `step ${(st.step ?? 0) + 1} began`,
        });
    }
    points.push({
      seconds: at(new Date(nowMs).toISOString()),
      weight: st.weight ?? 0,
      label: 'now',
    });
  }
  return points;
}
