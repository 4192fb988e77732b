// A migrating application's traffic (`spec.migration`, written by the
// migration controller): DNS and the gateway both answer by weight,
// `targetWeight` percent to the target's endpoints and the rest to the
// others, whatever the app's own strategy. Weights go by site (by cloud for an
// endpoint without one), each shared by the endpoints there, so the split is
// exact however many endpoints each side has. A site holding both target and
// source clusters counts as the target's.
import type { ApplicationMigration } from '../model/schema.ts';
import type { TrafficEndpoint, TrafficSpec } from './routes.ts';

export function migrationTraffic(
  spec: TrafficSpec,
  migration: ApplicationMigration,
  endpoints: readonly TrafficEndpoint[],
): TrafficSpec {
  const t = migration.target;
  const onTarget = (e: TrafficEndpoint) =>
    t.clusters?.includes(e.cluster) === true ||
    t.clouds?.includes(e.cloud) === true ||
    (e.site !== undefined && t.sites?.includes(e.site) === true);
  const weights = new Map<string, { cloud?: string; site?: string; weight: number }>();
  for (const e of [...endpoints].sort((a, b) => Number(onTarget(b)) - Number(onTarget(a)))) {
    const key = e.site !== undefined ? `site/${e.site}` : `cloud/${e.cloud}`;
    if (weights.has(key)) continue;
    weights.set(key, {
      ...(e.site !== undefined ? { site: e.site } : { cloud: e.cloud }),
      weight: onTarget(e) ? migration.targetWeight : 100 - migration.targetWeight,
    });
  }
  return { ...spec, strategy: 'weighted', weights: [...weights.values()] };
}
