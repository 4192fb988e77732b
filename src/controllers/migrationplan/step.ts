// One pass of a MigrationPlan, as a pure function of the plan, its status (the
// waves, computed once) and the Migrations it made. It returns the next status
// and what to do after writing it: Migrations to create (names assigned in the
// status first, so a crash between the status and the create is repaired by
// the next pass, which creates what is assigned and missing), Migrations to
// abort, and whether to pause the plan (a wave's gate failed).
import { fnv1a32 } from '../../lib/hash.ts';
import { FINISHED_MIGRATION_PHASES } from '../../model/migration.ts';
import { MAX_NAME_LENGTH } from '../../model/schema.ts';
import {
  DEFAULT_PLAN_CONCURRENCY,
  type Migration,
  type MigrationPhase,
  type MigrationPlan,
  type MigrationPlanStatus,
  type MigrationTarget,
} from '../../model/schema.ts';

const FAILED: ReadonlySet<MigrationPhase> = new Set(['RolledBack', 'Failed']);

export interface PlanStepInput {
  plan: MigrationPlan;
  status: MigrationPlanStatus;
  /** The plan's namespace's Migrations by name. */
  migrations: ReadonlyMap<string, Migration>;
  nowMs: number;
}

export interface PlanEvent {
  type: 'Normal' | 'Warning';
  reason: string;
  message: string;
}

export interface PlanStepResult {
  status: MigrationPlanStatus;
  create: { name: string; application: string; to: MigrationTarget }[];
  abort: string[];
  pause: boolean;
  events: PlanEvent[];
}

/** The Migration a plan makes for an application: `PLAN-APP`, shortened with a hash when too long. */
export function migrationName(plan: string, app: string): string {
  const name = `${plan}-${app}`;
  if (name.length <= MAX_NAME_LENGTH) return name;
  const hash = fnv1a32(name).toString(16).padStart(8, '0');
  return `${name.slice(0, MAX_NAME_LENGTH - 9).replace(/[-.]+$/, '')}-${hash}`;
}

export function stepPlan(input: PlanStepInput): PlanStepResult {
  const { plan, migrations } = input;
  const now = new Date(input.nowMs).toISOString();
  const events: PlanEvent[] = [];
  const create: PlanStepResult['create'] = [];
  const abort: string[] = [];
  let pause = false;
  const applications = input.status.applications.map((a) => {
    const phase =
      a.migration === undefined ? undefined : migrations.get(a.migration)?.status?.phase;
    return phase === undefined ? { ...a } : { ...a, phase };
  });
  const waves = input.status.waves.map((w) => ({ ...w }));
  const status: MigrationPlanStatus = {
    ...input.status,
    observedGeneration: plan.metadata.generation ?? 0,
    applications,
    waves,
  };
  const done = (phase: MigrationPhase | undefined) =>
    phase !== undefined && FINISHED_MIGRATION_PHASES.has(phase);
  const finish = (phase: MigrationPlanStatus['phase'], message: string) => {
    if (status.phase !== phase)
      events.push({
        type: phase === 'Succeeded' ? 'Normal' : 'Warning',
        reason: `Plan${phase}`,
        message,
      });
    status.phase = phase;
    status.message = message;
    status.finishedAt ??= now;
  };
  if (status.phase === 'Succeeded') return { status, create, abort, pause, events };

  if (plan.spec.abort === true || status.phase === 'Aborted') {
    for (const a of applications)
      if (a.migration !== undefined && !done(a.phase)) {
        const m = migrations.get(a.migration);
        if (m !== undefined && m.spec.abort !== true) abort.push(a.migration);
      }
    const wave = waves[status.currentWave];
    if (wave !== undefined && wave.phase === 'Running') {
      wave.phase = 'Aborted';
      wave.finishedAt = now;
    }
    finish('Aborted', 'aborted: migrations in flight roll back; no other starts');
    return { status, create, abort, pause, events };
  }

  const maxFailed = plan.spec.gate?.maxFailed ?? 0;
  const concurrency = plan.spec.concurrency ?? DEFAULT_PLAN_CONCURRENCY;
  for (;;) {
    const index = status.currentWave;
    const wave = waves[index];
    if (wave === undefined) {
      finish(
        'Succeeded',
        `${applications.length} applications moved in ${waves.length} waves; ${status.unmovable.length} unmovable`,
      );
      return { status, create, abort, pause, events };
    }
    const entries = applications.filter((a) => a.wave === index);
    const failed = entries.filter((a) => a.phase !== undefined && FAILED.has(a.phase));
    if (failed.length > maxFailed) {
      const message = `wave ${index + 1}: ${failed.length} migrations failed or rolled back (${failed
        .map((a) => a.name)
        .join(', ')}), more than the gate's maxFailed ${maxFailed}`;
      if (wave.phase !== 'Failed')
        events.push({ type: 'Warning', reason: 'PlanWaveFailed', message });
      wave.phase = 'Failed';
      status.phase = 'Paused';
      status.message = message;
      pause = plan.spec.paused !== true;
      return { status, create, abort, pause, events };
    }
    if (entries.every((a) => done(a.phase))) {
      wave.phase = 'Succeeded';
      wave.finishedAt ??= now;
      events.push({
        type: 'Normal',
        reason: 'PlanWaveSucceeded',
        message: `wave ${index + 1} of ${waves.length}: ${entries.length - failed.length} moved, ${failed.length} failed`,
      });
      status.currentWave = index + 1;
      continue;
    }
    if (plan.spec.paused === true) {
      status.phase = 'Paused';
      status.message = `paused in wave ${index + 1}: migrations in flight go on, none starts`;
      // Assigned Migrations are still created: the status already names them.
    } else {
      status.phase = 'Running';
      delete status.message;
      if (wave.phase !== 'Running') {
        wave.phase = 'Running';
        wave.startedAt ??= now;
        status.startedAt ??= now;
        events.push({
          type: 'Normal',
          reason: 'PlanWaveStarted',
          message: `wave ${index + 1} of ${waves.length}: ${entries.map((a) => a.name).join(', ')}`,
        });
      }
      let inFlight = entries.filter((a) => a.migration !== undefined && !done(a.phase)).length;
      for (const a of entries) {
        if (inFlight >= concurrency) break;
        if (a.migration !== undefined) continue;
        a.migration = migrationName(plan.metadata.name, a.name);
        inFlight++;
      }
    }
    for (const a of entries)
      if (a.migration !== undefined && !migrations.has(a.migration))
        create.push({ name: a.migration, application: a.name, to: a.to });
    return { status, create, abort, pause, events };
  }
}
