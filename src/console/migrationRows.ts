// Which migrations the Migrations page lists: a plan of thousands leaves
// thousands of finished Migrations, so the table shows every one in flight
// and only the most recently finished, with a count per phase for the rest.
import { FINISHED_MIGRATION_PHASES } from '../model/migration.ts';
import type { Migration } from '../model/schema/migration.ts';

/** Finished migrations listed by default, newest first. */
export const FINISHED_SHOWN = 50;

export const isFinished = (m: Migration): boolean =>
  FINISHED_MIGRATION_PHASES.has(m.status?.phase ?? 'Pending');

export interface MigrationRows {
  rows: Migration[];
  /** Finished migrations not listed. */
  hidden: number;
  /** How many migrations are in each phase, most common first (ties by name). */
  phases: [string, number][];
}

const time = (iso: string | undefined) => (iso === undefined ? 0 : Date.parse(iso));

export function migrationRows(
  all: readonly Migration[],
  finishedShown = FINISHED_SHOWN,
): MigrationRows {
  const inFlight = all.filter((m) => !isFinished(m));
  const finished = all
    .filter(isFinished)
    .sort(
      (a, b) =>
        time(b.status?.finishedAt) - time(a.status?.finishedAt) ||
        a.metadata.name.localeCompare(b.metadata.name),
    );
  const counts = new Map<string, number>();
  for (const m of all) {
    const phase = m.status?.phase ?? 'Pending';
    counts.set(phase, (counts.get(phase) ?? 0) + 1);
  }
  return {
    rows: [...inFlight, ...finished.slice(0, finishedShown)],
    hidden: Math.max(0, finished.length - finishedShown),
    phases: [...counts].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])),
  };
}
