// What a Migration's schema cannot say on its own: traffic steps rise and end
// at 100, a data-sync hook is a command or an HTTP call (exactly one).
import type { FieldCause } from './errors.ts';
import {
  DEFAULT_MIGRATION_STEPS,
  type Migration,
  type MigrationPhase,
} from './schema/migration.ts';

/** Phases a Migration never leaves: it changes nothing more. */
export const FINISHED_MIGRATION_PHASES: ReadonlySet<MigrationPhase> = new Set([
  'Succeeded',
  'RolledBack',
  'Failed',
]);

export function migrationRules(m: Migration): FieldCause[] {
  const causes: FieldCause[] = stepCauses(m.spec.steps, 'spec.steps');
  m.spec.dataSync?.forEach((h, i) => {
    if ((h.command === undefined) === (h.http === undefined))
      causes.push({
        field: `spec.dataSync[${i}]`,
        message: 'expected exactly one of command or http',
      });
  });
  return causes;
}

/** Traffic steps (at `path`) rise and end at 100; a MigrationPlan's defaults follow the same rule. */
export function stepCauses(steps: readonly number[] | undefined, path: string): FieldCause[] {
  if (steps === undefined) return [];
  const causes: FieldCause[] = [];
  steps.forEach((w, i) => {
    const before = steps[i - 1];
    if (before !== undefined && w <= before)
      causes.push({
        field: `${path}[${i}]`,
        message: `expected a percentage above the step before it (${before}), got ${w}`,
      });
  });
  if (steps.at(-1) !== 100)
    causes.push({
      field: `${path}[${steps.length - 1}]`,
      message: `expected the last step to be 100 (all traffic on the target), got ${String(steps.at(-1))}`,
    });
  return causes;
}

/** The traffic steps a migration takes. */
export function migrationSteps(m: Migration): readonly number[] {
  return m.spec.steps ?? DEFAULT_MIGRATION_STEPS;
}
