// How a migrating application is placed (`spec.migration`, written by the
// migration controller): `surge` places it as usual with the target excluded
// plus a full copy on the target, `restore` excludes the target, `move` places
// it on the target only. The two placements of a surge are disjoint (one
// excludes exactly what the other requires) and run on the same snapshot one
// after the other, so the copy sees the capacity the first one took.
import type { Application, ApplicationMigration } from '../model/schema.ts';
import type { AppPlan } from './types.ts';

export function placeMigrating(
  app: Application,
  migration: ApplicationMigration,
  place: (app: Application) => AppPlan,
): AppPlan {
  if (migration.mode === 'move') return place(onTarget(app, migration));
  const excluded = place(withoutTarget(app, migration));
  if (migration.mode === 'restore') return excluded;
  const copy = place(onTarget(app, migration));
  return {
    ...excluded,
    components: excluded.components.map((cp) => {
      const extra = copy.components.find((c) => c.component === cp.component);
      return extra === undefined
        ? cp
        : {
            ...cp,
            assignments: [...cp.assignments, ...extra.assignments],
            unplaced: cp.unplaced + extra.unplaced,
          };
    }),
    reasons: [...excluded.reasons, ...copy.reasons],
  };
}

function withoutTarget(app: Application, m: ApplicationMigration): Application {
  const affinity = app.spec.placement?.clusterAffinity;
  const join = (a: string[] | undefined, b: string[] | undefined) =>
    a === undefined && b === undefined ? undefined : [...(a ?? []), ...(b ?? [])];
  const clouds = join(affinity?.exclude?.clouds, m.target.clouds);
  const sites = join(affinity?.exclude?.sites, m.target.sites);
  const clusters = join(affinity?.exclude?.clusters, m.target.clusters);
  return withAffinity(app, {
    ...affinity,
    exclude: {
      ...(clouds !== undefined ? { clouds } : {}),
      ...(sites !== undefined ? { sites } : {}),
      ...(clusters !== undefined ? { clusters } : {}),
    },
  });
}

function onTarget(app: Application, m: ApplicationMigration): Application {
  return withAffinity(app, m.target);
}

type Affinity = NonNullable<NonNullable<Application['spec']['placement']>['clusterAffinity']>;

function withAffinity(app: Application, clusterAffinity: Affinity): Application {
  return {
    ...app,
    spec: { ...app.spec, placement: { ...app.spec.placement, clusterAffinity } },
  };
}
