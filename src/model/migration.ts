// What a Migration's schema cannot say on its own: traffic steps rise and end
// at 100, a data-sync hook is a command or an HTTP call (exactly one).
import type { FieldCause } from './errors.ts';
import { DEFAULT_MIGRATION_STEPS, type Migration } from './schema/migration.ts';

export function migrationRules(m: Migration): FieldCause[] {
  const causes: FieldCause[] = [];
  const steps = m.spec.steps;
  if (steps !== undefined) {
    steps.forEach((w, i) => {
      const before = steps[i - 1];
      if (before !== undefined && w <= before)
        causes.push({
          field: `spec.steps[${i}]`,
          message: `expected a percentage above the step before it (${before}), got ${w}`,
        });
    });
    if (steps.at(-1) !== 100)
      causes.push({
        field: `spec.steps[${steps.length - 1}]`,
        message: `expected the last step to be 100 (all traffic on the target), got ${String(steps.at(-1))}`,
      });
  }
  m.spec.dataSync?.forEach((h, i) => {
    if ((h.command === undefined) === (h.http === undefined))
      causes.push({
        field: `spec.dataSync[${i}]`,
        message: 'expected exactly one of command or http',
      });
  });
  return causes;
}

/** The traffic steps a migration takes. */
export function migrationSteps(m: Migration): readonly number[] {
  return m.spec.steps ?? DEFAULT_MIGRATION_STEPS;
}
