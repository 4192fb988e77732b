// The scheduler's public input and output: what callers hand in (requests,
// options) and what they get back (plans, explanations, reasons, colocation
// risk). Every stage module works on these; none of them is exported beyond
// index.ts.
import type { ChosenCluster } from '../model/explanation.ts';
import type { Placement } from '../model/schema.ts';

export type { ChosenCluster };
import type { PodRequest } from './nodestate.ts';
import type { PluginRegistry } from './plugins.ts';

// ------------------------------------------------------------------ input

/** Predicted real use of one replica, for colocation mode. */
export interface PredictedUsage {
  /** A high percentile (e.g. p95) of cpu use, millicores. */
  cpuMilli: number;
  /** Mean cpu use; p95 / 2 when absent. Only the overload risk uses it. */
  cpuMeanMilli?: number;
  /** Memory use (MiB); the request when absent. */
  memoryMiB?: number;
  /**
   * Predicted cpu use per time slot (millicores), colocation mode only. Slot t
   * means the same period (e.g. hour t of the coming week) in every profile one
   * Scheduler is given, so a node's profile is the slot-by-slot sum of its
   * replicas' profiles; every profile has the same length (RangeError
   * otherwise). With a profile, cpu admission and node choice use it and not
   * `cpuMilli` (which still feeds the report).
   */
  cpuProfileMilli?: readonly number[];
}

export interface ComponentRequest {
  name: string;
  replicas: number;
  pod: PodRequest;
  usage?: PredictedUsage;
  /** Overrides placement.maxReplicasPerNode for this component. */
  maxReplicasPerNode?: number;
}

export interface AppRequest {
  /** Unique in the batch, e.g. "namespace/name"; seeds the tie-breaks. */
  name: string;
  components: ComponentRequest[];
  placement?: Placement;
  /** Replicas running now: component -> cluster -> count. They are sticky. */
  current?: Readonly<Record<string, Readonly<Record<string, number>>>>;
}

export interface ColocationOptions {
  /** Predicted cpu per node at most this fraction of capacity. Default 0.8. */
  cpuLimit?: number;
  /** Predicted memory per node at most this fraction of capacity. Default 0.9. */
  memoryLimit?: number;
  /** A node is overloaded above this fraction of its cpu. Default 0.9. */
  overloadThreshold?: number;
  /**
   * Profiles only: the share of slots in which a node's summed profile may
   * pass cpuLimit x capacity (never capacity itself). Default 0.01.
   */
  profileOverloadBudget?: number;
}

export interface ScheduleOptions {
  seed: number;
  mode?: 'requests' | 'colocation';
  /** Per-cluster verdicts in the explanations (costs a little more). */
  explain?: boolean;
  /** Allocate on the snapshot's own NodeState instead of a copy. */
  inPlace?: boolean;
  colocation?: ColocationOptions;
  registry?: PluginRegistry;
}

// ------------------------------------------------------------------ output

export interface Reason {
  component?: string;
  count: number;
  reason: string;
}

export interface Assignment {
  cluster: string;
  clusterIndex: number;
  /** Replicas the cluster runs under this plan. */
  replicas: number;
  /** Of those, replicas that already ran there (not placed again). */
  kept: number;
  /** Snapshot node of each newly placed replica (replicas - kept of them). */
  nodes: Int32Array;
}

export interface ComponentPlan {
  component: string;
  assignments: Assignment[];
  /** Replicas no cluster could take. */
  unplaced: number;
  /** Running replicas moved between clusters to restore a spread minimum, one entry each. */
  spreadMoves?: { from: string; to: string }[];
}

export interface ClusterVerdict {
  cluster: string;
  cloud: string;
  site: string;
  verdict: 'chosen' | 'feasible' | 'rejected';
  reason?: string;
  score?: number;
  replicas?: number;
}

export interface ComponentExplanation {
  component: string;
  /** Clusters considered, feasible after every filter, chosen. */
  clusters: number;
  feasible: number;
  chosen: ChosenCluster[];
  rejected: readonly { count: number; reason: string }[];
  /** Feasible clusters left unused (others scored higher or were enough). */
  notChosen: number;
  unplaced: number;
  notes: string[];
  /** Every cluster's verdict (only with options.explain). */
  verdicts?: ClusterVerdict[];
}

export interface AppRisk {
  /** Highest overload probability among the nodes the app's new replicas landed on. */
  maxOverloadProbability: number;
  nodes: number;
}

export interface AppPlan {
  app: string;
  components: ComponentPlan[];
  /** In the app status format: per component, reasons with counts. */
  reasons: Reason[];
  explanation: ComponentExplanation[];
  /** Colocation mode only. */
  risk?: AppRisk;
}

export interface NodeRisk {
  node: number;
  cluster: string;
  cpuCapMilli: number;
  /** Sum of predicted (p95) use on the node. */
  predictedMilli: number;
  /** Sum of mean use on the node. */
  meanMilli: number;
  overloadProbability: number;
  /** Profiled nodes: share of predicted slots above the overload threshold. */
  profileOverloadShare?: number;
}

export interface ColocationReport {
  overloadThreshold: number;
  cpuLimit: number;
  memoryLimit: number;
  /** Nodes with at least one replica placed by this scheduler. */
  nodes: number;
  /** Sum of the nodes' overload probabilities: the expected count of overloaded nodes. */
  expectedOverloadedNodes: number;
  maxOverloadProbability: number;
  /** Slots per profile (0 when no replica had one) and the highest node's share of them above the overload threshold. */
  profileSlots: number;
  maxProfileOverloadShare: number;
  /** The riskiest nodes, most at risk first (at most 20). */
  top: NodeRisk[];
}

export interface ScheduleResult {
  plans: AppPlan[];
  /** Totals over every app, by reason. */
  reasons: Reason[];
  placed: number;
  unplaced: number;
  colocation?: ColocationReport;
}
