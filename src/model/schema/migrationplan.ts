// The MigrationPlan kind: many applications moved in waves. The spec selects
// applications in the plan's namespace (labels, the clouds they run on), maps
// each to a target, adds groups that must move together (applications' own
// `spec.dependsOn` orders the rest), and bounds each wave (size, capacity
// headroom at the target, failed migrations tolerated). The status holds the
// waves, computed once before anything moves and kept, and each application's
// Migration: the plan moves nothing itself, it creates and watches Migrations.
import Type, { type Static } from 'typebox';
import {
  Enum,
  Int,
  LIMITS,
  LabelMap,
  List,
  Name,
  Obj,
  ResourceSchema,
  SafeCount,
  Text,
  Time,
} from './common.ts';
import { MigrationPhase, MigrationSpec, MigrationTarget } from './migration.ts';

/** Applications in one wave when the spec does not say. */
export const DEFAULT_WAVE_SIZE = 10;
/** Migrations in flight at once when the spec does not say. */
export const DEFAULT_PLAN_CONCURRENCY = 5;
/** Percent of each target's allocatable cpu and memory kept free when the spec does not say. */
export const DEFAULT_CAPACITY_HEADROOM_PERCENT = 20;
/** Applications in one plan, and in one wave. */
export const MAX_PLAN_APPLICATIONS = 20_000;

export const MigrationPlanTargetRule = Obj(
  {
    fromCloud: Type.Optional(Name),
    to: MigrationTarget,
  },
  'Applications running on fromCloud (any, without it) move to `to`; the first rule that matches an application applies.',
);
export type MigrationPlanTargetRule = Static<typeof MigrationPlanTargetRule>;

export const MigrationPlanSpec = Obj({
  selector: Type.Optional(
    Obj({
      matchLabels: Type.Optional(LabelMap),
      /** Only applications with replicas on one of these clouds. */
      clouds: Type.Optional(List(Name)),
    }),
  ),
  targets: List(MigrationPlanTargetRule, LIMITS.terms, {
    minItems: 1,
    'x-expected': `1 to ${LIMITS.terms} target rules`,
  }),
  /** Applications that move in the same wave, as one unit. */
  groups: Type.Optional(
    List(Obj({ name: Name, applications: List(Name, LIMITS.list, { minItems: 1 }) }), LIMITS.list),
  ),
  waveSize: Type.Optional(Int(1, MAX_PLAN_APPLICATIONS)),
  concurrency: Type.Optional(Int(1, MAX_PLAN_APPLICATIONS)),
  capacityHeadroomPercent: Type.Optional(Int(0, 99, 'a percentage from 0 to 99')),
  gate: Type.Optional(
    Obj({
      /** Migrations of one wave that may roll back or fail before the plan stops (0). */
      maxFailed: Type.Optional(Int(0, MAX_PLAN_APPLICATIONS)),
    }),
  ),
  /** What each Migration the plan creates is given (its finalize is automatic unless this says manual). */
  migration: Type.Optional(
    Obj({
      steps: MigrationSpec.properties.steps,
      pauseSeconds: MigrationSpec.properties.pauseSeconds,
      analysis: MigrationSpec.properties.analysis,
      finalize: MigrationSpec.properties.finalize,
    }),
  ),
  /** Starts no new migration; those in flight go on. */
  paused: Type.Optional(Type.Boolean()),
  /** Aborts every migration in flight and starts no other. */
  abort: Type.Optional(Type.Boolean()),
});
export type MigrationPlanSpec = Static<typeof MigrationPlanSpec>;

export const MIGRATION_PLAN_PHASES = [
  'Running',
  'Paused',
  'Succeeded',
  'Aborted',
  'Failed',
] as const;
export const MigrationPlanPhase = Enum([...MIGRATION_PLAN_PHASES]);
export type MigrationPlanPhase = Static<typeof MigrationPlanPhase>;

export const WAVE_PHASES = ['Pending', 'Running', 'Succeeded', 'Failed', 'Aborted'] as const;
export const WavePhase = Enum([...WAVE_PHASES]);
export type WavePhase = Static<typeof WavePhase>;

export const MigrationPlanStatus = Obj({
  observedGeneration: Type.Optional(SafeCount),
  phase: MigrationPlanPhase,
  waves: List(
    Obj({
      /** Application names, in the order their migrations start. */
      applications: List(Name, MAX_PLAN_APPLICATIONS),
      phase: WavePhase,
      startedAt: Type.Optional(Time),
      finishedAt: Type.Optional(Time),
    }),
    MAX_PLAN_APPLICATIONS,
  ),
  /** Index of the wave moving now (the number of waves once all are done). */
  currentWave: SafeCount,
  applications: List(
    Obj({
      name: Name,
      wave: SafeCount,
      to: MigrationTarget,
      /** Present once the Migration was created. */
      migration: Type.Optional(Name),
      phase: Type.Optional(MigrationPhase),
    }),
    MAX_PLAN_APPLICATIONS,
  ),
  unmovable: List(Obj({ name: Name, reason: Text(LIMITS.message) }), MAX_PLAN_APPLICATIONS),
  /** The planner's estimate of the whole plan, in seconds. */
  predictedSeconds: Type.Optional(Type.Number({ minimum: 0 })),
  startedAt: Type.Optional(Time),
  finishedAt: Type.Optional(Time),
  message: Type.Optional(Text(LIMITS.message)),
});
export type MigrationPlanStatus = Static<typeof MigrationPlanStatus>;

export const MigrationPlanResource = ResourceSchema(
  'MigrationPlan',
  MigrationPlanSpec,
  MigrationPlanStatus,
);
export type MigrationPlan = Static<typeof MigrationPlanResource>;
