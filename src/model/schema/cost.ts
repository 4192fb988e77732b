// Cost kinds: CostSample (what every cluster offered and what every placed
// component asked for and used over one sampling interval, with the prices in
// force) and Budget (a team's monthly amount and the thresholds that warn).
import Type, { type Static } from 'typebox';
import {
  DateTime,
  Enum,
  Int,
  LIMITS,
  List,
  Name,
  Namespace,
  NoStatus,
  NonNegative,
  Obj,
  Price,
  ResourceSchema,
  SafeCount,
  Text,
} from './common.ts';

/** Amounts a sample counts in integers: millicores, bytes, GPU devices. */
export const CostQuantities = Obj({
  cpuMillis: SafeCount,
  memoryBytes: SafeCount,
  gpu: SafeCount,
});
export type CostQuantities = Static<typeof CostQuantities>;

export const CostSampleWorkload = Obj({
  namespace: Namespace,
  app: Name,
  component: Name,
  /** The app's `yunjian.io/team` label, else its namespace's tenant, else `unassigned`. */
  team: Text(LIMITS.labelValue, { minLength: 1 }),
  replicas: SafeCount,
  /** What one replica requests (a colocated replica: what it reserves). */
  request: CostQuantities,
  /** Cpu all its replicas on the cluster used, millicores, where the member measures it. */
  usedCpuMillis: Type.Optional(SafeCount),
});
export type CostSampleWorkload = Static<typeof CostSampleWorkload>;

export const CostSampleCluster = Obj({
  cluster: Name,
  cloud: Name,
  site: Name,
  /** The cluster's prices, else its cloud's, field by field; 0 where neither says (USD). */
  prices: Obj({ cpuCoreHour: Price, memoryGiBHour: Price, gpuHour: Price }),
  capacity: CostQuantities,
  workloads: List(CostSampleWorkload, LIMITS.statusItems),
});
export type CostSampleCluster = Static<typeof CostSampleCluster>;

export const CostSampleSpec = Obj(
  {
    /** The interval's start; the sample stands for [start, start + seconds). */
    start: DateTime,
    seconds: Int(1, LIMITS.seconds, `an integer number of seconds from 1 to ${LIMITS.seconds}`),
    clusters: List(CostSampleCluster, LIMITS.statusItems),
  },
  'One sampling interval of the fleet: each cluster with its prices and capacity, and the components placed there with what they requested and used. Written by the cost sampler (or backdated through the API); append-only, pruned after the retention period.',
);
export type CostSampleSpec = Static<typeof CostSampleSpec>;

/** What happens to a cluster's idle capacity: its own line, or shared over the workloads there. */
export const IdleSharing = Enum(['none', 'uniform', 'proportional']);
export type IdleSharing = Static<typeof IdleSharing>;

export const BudgetSpec = Obj(
  {
    team: Text(LIMITS.labelValue, { minLength: 1 }),
    /** USD per calendar month (UTC). */
    monthlyAmount: Type.Number({
      exclusiveMinimum: 0,
      maximum: 1e12,
      'x-expected': 'an amount > 0 and at most 1e12 (USD per month)',
    }),
    /** Percentages of the amount whose crossing records a Warning event (80 and 100). */
    thresholds: Type.Optional(
      List(
        Type.Number({
          exclusiveMinimum: 0,
          maximum: 1000,
          'x-expected': 'a percentage > 0 and at most 1000',
        }),
        LIMITS.terms,
        { minItems: 1 },
      ),
    ),
    /** How the cost counts its share of idle capacity (none). */
    idle: Type.Optional(IdleSharing),
  },
  "A team's monthly budget: a Warning event once per threshold per month when its month-to-date cost crosses it.",
);
export type BudgetSpec = Static<typeof BudgetSpec>;

export const BudgetStatus = Obj({
  /** The month (YYYY-MM, UTC) the fields below are about. */
  period: Type.Optional(Text(7)),
  /** Month-to-date cost, USD micro-dollars. */
  spentMicros: Type.Optional(NonNegative),
  /** Thresholds already crossed this period (each warns once). */
  crossed: Type.Optional(List(NonNegative, LIMITS.terms)),
});
export type BudgetStatus = Static<typeof BudgetStatus>;

export const CostSampleResource = ResourceSchema('CostSample', CostSampleSpec, NoStatus);
export type CostSample = Static<typeof CostSampleResource>;
export const BudgetResource = ResourceSchema('Budget', BudgetSpec, BudgetStatus);
export type Budget = Static<typeof BudgetResource>;
