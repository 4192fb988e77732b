// Budgets: which thresholds a team's month-to-date cost has newly crossed.
// Crossed thresholds are kept in the Budget's status per period (a UTC month),
// so each warns once per month, across restarts and control planes.
import type { Budget, BudgetStatus } from '../../model/schema.ts';

/** Thresholds (percent of the monthly amount) a budget leaves out. */
export const DEFAULT_THRESHOLDS: readonly number[] = [80, 100];

/** The UTC month a time falls in, as YYYY-MM. */
export function budgetPeriod(nowMs: number): string {
  return new Date(nowMs).toISOString().slice(0, 7);
}

/** The start of the UTC month a time falls in, ms since the epoch. */
export function periodStartMs(nowMs: number): number {
  const d = new Date(nowMs);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1);
}

export interface BudgetDecision {
  status: BudgetStatus;
  /** Thresholds crossed since the last decision this period, ascending. */
  crossed: number[];
}

export function decideBudget(budget: Budget, spentMicros: number, period: string): BudgetDecision {
  const before = budget.status?.period === period ? (budget.status.crossed ?? []) : [];
  const amountMicros = budget.spec.monthlyAmount * 1e6;
  const thresholds = [...new Set(budget.spec.thresholds ?? DEFAULT_THRESHOLDS)].sort(
    (a, b) => a - b,
  );
  const crossed = thresholds.filter(
    (t) => !before.includes(t) && spentMicros >= (amountMicros * t) / 100,
  );
  return {
    status: {
      period,
      spentMicros,
      crossed: [...before, ...crossed].sort((a, b) => a - b),
    },
    crossed,
  };
}
