// The one entry point for placing an Application: the application controller
// acts on its plan and the explain endpoint shows it with every cluster's
// verdict. Both build the snapshot the same way (controllers/snapshot.ts)
// and pass the replicas that run now, so an explanation is the decision:
// verdicts are added to the plan, never change it.
import { COLOCATION_DEFAULTS, type Application } from '../model/schema.ts';
import { placeMigrating } from './migration.ts';
import { appRequest } from './request.ts';
import { schedule } from './scheduler.ts';
import type { Snapshot } from './snapshot.ts';
import type { AppPlan } from './types.ts';

/** Seeds the scheduler's tie-breaks; with the app's name it makes every decision repeatable. */
const SCHEDULER_SEED = 1;

/** Replicas the app runs now as its status records them: component -> cluster -> replicas. */
export function currentFromStatus(app: Application): Record<string, Record<string, number>> {
  const current: Record<string, Record<string, number>> = {};
  for (const p of app.status?.placements ?? []) {
    const n = p.assigned ?? p.desired;
    if (n > 0) (current[p.component] ??= {})[p.cluster] = n;
  }
  return current;
}

/**
 * Places one app on the snapshot (allocating on it); `current` is what runs
 * now. With `explain`, every cluster's verdict is in the plan's explanation.
 */
export function placeApplication(
  snapshot: Snapshot,
  app: Application,
  current: Readonly<Record<string, Readonly<Record<string, number>>>>,
  explain = false,
): AppPlan {
  const migration = app.spec.migration;
  const once = (a: Application) => placeOnce(snapshot, a, current, explain);
  return migration === undefined ? once(app) : placeMigrating(app, migration, once);
}

function placeOnce(
  snapshot: Snapshot,
  app: Application,
  current: Readonly<Record<string, Readonly<Record<string, number>>>>,
  explain: boolean,
): AppPlan {
  const colocation = app.spec.placement?.colocation;
  const result = schedule(snapshot, [appRequest(app, current)], {
    seed: SCHEDULER_SEED,
    explain,
    inPlace: true,
    ...(colocation !== undefined
      ? {
          mode: 'colocation' as const,
          colocation: { cpuLimit: colocation.cpuLimit ?? COLOCATION_DEFAULTS.cpuLimit },
        }
      : {}),
  });
  return result.plans[0]!;
}
