// What a MigrationPlan's schema cannot say on its own: an application belongs
// to at most one group, and the default traffic steps follow a Migration's rule.
import type { FieldCause } from './errors.ts';
import { stepCauses } from './migration.ts';
import type { MigrationTarget } from './schema/migration.ts';
import type { MigrationPlan } from './schema/migrationplan.ts';

/** `cloud=X`, `site=Y` or `cluster=Z`: how a target is written on the command line and in messages. */
export function targetLabel(to: MigrationTarget): string {
  if ('cloud' in to) return `cloud=${to.cloud}`;
  if ('site' in to) return `site=${to.site}`;
  return `cluster=${to.cluster}`;
}

export function migrationPlanRules(p: MigrationPlan): FieldCause[] {
  const causes = stepCauses(p.spec.migration?.steps, 'spec.migration.steps');
  const groupOf = new Map<string, string>();
  p.spec.groups?.forEach((g, i) => {
    g.applications.forEach((app, j) => {
      const other = groupOf.get(app);
      if (other !== undefined)
        causes.push({
          field: `spec.groups[${i}].applications[${j}]`,
          message: `expected an application in one group only; "${app}" is also in group "${other}"`,
        });
      else groupOf.set(app, g.name);
    });
  });
  return causes;
}
