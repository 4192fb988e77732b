// The Migration kind: one application moved to another cloud, site or cluster
// without downtime. The spec says where to and how carefully (traffic steps, the
// pause before each step's analysis, the analysis thresholds, data-sync hooks,
// manual or automatic finalize) and carries the user's controls (paused, abort,
// finalizeApproved); the status is the state machine the migration controller
// drives, with everything needed to put the application back exactly as it was.
//
// The application side lives in `ApplicationSpec.migration` (application.ts):
// the migration controller writes it, the scheduler and the traffic manager
// honour it, and a rollback removes it with the rest of the captured spec.
import Type, { type Static } from 'typebox';
import { ApplicationSpec } from './application.ts';
import {
  CommandLine,
  Enum,
  Int,
  LIMITS,
  List,
  Name,
  Obj,
  ResourceSchema,
  SafeCount,
  Seconds,
  Text,
  Time,
} from './common.ts';

/** Traffic steps (percent of requests on the target) when the spec gives none. */
export const DEFAULT_MIGRATION_STEPS: readonly number[] = [5, 25, 50, 100];
/** Seconds each step serves before its analysis when the spec gives none. */
export const DEFAULT_MIGRATION_PAUSE_SECONDS = 60;
/** At most this many traffic steps. */
export const MAX_MIGRATION_STEPS = 20;

export const MIGRATION_ANALYSIS_DEFAULTS = {
  maxErrorRate: 0.01,
  maxP99LatencyMs: 1000,
  minHealthyFraction: 1,
  minRequests: 20,
} as const;

const Fraction = Type.Number({ minimum: 0, maximum: 1, 'x-expected': 'a fraction from 0 to 1' });

export const MigrationTarget = Type.Union(
  [Obj({ cloud: Name }), Obj({ site: Name }), Obj({ cluster: Name })],
  { 'x-expected': 'exactly one of {cloud: NAME}, {site: NAME} or {cluster: NAME}' },
);
export type MigrationTarget = Static<typeof MigrationTarget>;

export const DataSyncHook = Obj(
  {
    name: Name,
    command: Type.Optional(CommandLine),
    http: Type.Optional(
      Obj({
        url: Type.String({
          pattern: '^https?://',
          maxLength: LIMITS.path,
          'x-expected': 'an http:// or https:// URL',
        }),
        method: Type.Optional(Enum(['POST', 'PUT'])),
      }),
    ),
    timeoutSeconds: Type.Optional(Seconds),
  },
  'Run before the first traffic step and at cutover with YUNJIAN_MIGRATION_STAGE, _SOURCE and _TARGET (endpoints, host:port comma-separated) in the environment, or POSTed as JSON; the migration waits for it and rolls back when it fails.',
);
export type DataSyncHook = Static<typeof DataSyncHook>;

export const MigrationSpec = Obj({
  application: Name,
  to: MigrationTarget,
  steps: Type.Optional(
    List(Int(1, 100, 'a percentage from 1 to 100'), MAX_MIGRATION_STEPS, {
      minItems: 1,
      'x-expected': `1 to ${MAX_MIGRATION_STEPS} percentages, increasing, the last 100`,
    }),
  ),
  pauseSeconds: Type.Optional(Seconds),
  analysis: Type.Optional(
    Obj({
      maxErrorRate: Type.Optional(Fraction),
      maxP99LatencyMs: Type.Optional(
        Type.Number({
          minimum: 0,
          maximum: LIMITS.seconds * 1000,
          'x-expected': 'milliseconds >= 0',
        }),
      ),
      minHealthyFraction: Type.Optional(Fraction),
      minRequests: Type.Optional(Int(0, Number.MAX_SAFE_INTEGER, 'a safe integer >= 0')),
    }),
  ),
  finalize: Type.Optional(Enum(['manual', 'automatic'])),
  dataSync: Type.Optional(List(DataSyncHook, LIMITS.terms)),
  /** Holds the migration where it is (an inconclusive analysis sets it too). */
  paused: Type.Optional(Type.Boolean()),
  /** Restores the pre-migration state (any phase before Finalizing). */
  abort: Type.Optional(Type.Boolean()),
  /** With `finalize: manual`: the go-ahead to drain and remove the source. */
  finalizeApproved: Type.Optional(Type.Boolean()),
});
export type MigrationSpec = Static<typeof MigrationSpec>;

export const MIGRATION_PHASES = [
  'Pending',
  'PreScaling',
  'Shifting',
  'Cutover',
  'Finalizing',
  'Succeeded',
  'RollingBack',
  'RolledBack',
  'Paused',
  'Failed',
] as const;
export const MigrationPhase = Enum([...MIGRATION_PHASES]);
export type MigrationPhase = Static<typeof MigrationPhase>;

export const MigrationAnalysis = Obj({
  step: SafeCount,
  weight: Int(0, 100),
  result: Enum(['success', 'fail', 'inconclusive']),
  requests: SafeCount,
  errorRate: Type.Optional(Fraction),
  p99LatencyMs: Type.Optional(Type.Number({ minimum: 0 })),
  healthyFraction: Type.Optional(Fraction),
  message: Text(LIMITS.message),
  at: Time,
});
export type MigrationAnalysis = Static<typeof MigrationAnalysis>;

const CapturedPlacement = Obj({
  component: Name,
  cluster: Name,
  cloud: Name,
  replicas: SafeCount,
  endpoints: List(Text(LIMITS.text), LIMITS.statusItems),
});

export const MigrationStatus = Obj({
  observedGeneration: Type.Optional(SafeCount),
  phase: MigrationPhase,
  /** The phase a Paused migration returns to. */
  resumePhase: Type.Optional(MigrationPhase),
  /** Index into the steps; the target's share of traffic is `weight` percent. */
  step: Type.Optional(SafeCount),
  weight: Type.Optional(Int(0, 100)),
  /** Clusters the application ran on when the migration started, and the clusters it moves to. */
  source: Type.Optional(List(Name, LIMITS.list)),
  target: Type.Optional(List(Name, LIMITS.list)),
  /** The pre-migration state: a rollback puts the spec back and waits for these placements. */
  captured: Type.Optional(
    Obj({
      spec: ApplicationSpec,
      generation: SafeCount,
      placements: List(CapturedPlacement, LIMITS.statusItems),
      at: Time,
    }),
  ),
  analyses: Type.Optional(List(MigrationAnalysis, LIMITS.statusItems)),
  hooks: Type.Optional(
    List(
      Obj({
        name: Name,
        stage: Enum(['preShift', 'cutover']),
        result: Enum(['succeeded', 'failed']),
        message: Text(LIMITS.message),
        at: Time,
      }),
      LIMITS.statusItems,
    ),
  ),
  startedAt: Type.Optional(Time),
  /** When the current phase (or step) began: a step's pause counts from here. */
  phaseStartedAt: Type.Optional(Time),
  finishedAt: Type.Optional(Time),
  message: Type.Optional(Text(LIMITS.message)),
});
export type MigrationStatus = Static<typeof MigrationStatus>;

export const MigrationResource = ResourceSchema('Migration', MigrationSpec, MigrationStatus);
export type Migration = Static<typeof MigrationResource>;
