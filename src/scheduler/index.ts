// The scheduler's public surface: everything outside src/scheduler imports
// from here. Placement across clouds, clusters and nodes as a pure function
// of (snapshot, requests, seed); scheduler.ts lists the stages and the
// modules that hold them.
export {
  GPU_MILLI,
  MAX_GPUS_PER_NODE,
  NodeState,
  type Allocation,
  type CompiledRequest,
  type NodeInput,
  type PodRequest,
} from './nodestate.ts';
export { NodePlacer } from './placer.ts';
export {
  PluginRegistry,
  defaultRegistry,
  tolerates,
  type FilterPlugin,
  type FleetView,
  type ScorePlugin,
} from './plugins.ts';
export {
  appRequest,
  colocationReservation,
  componentArchitectures,
  podRequest,
  requestedCpuMillis,
} from './request.ts';
export { divide } from './division.ts';
export { Scheduler, schedule } from './scheduler.ts';
export {
  DEFAULT_MAX_PODS,
  nodesFromPools,
  snapshotFromFleet,
  snapshotFromResources,
  type ClusterInfo,
  type ReportedNode,
  type Snapshot,
} from './snapshot.ts';
export type {
  AppPlan,
  AppRequest,
  AppRisk,
  Assignment,
  ChosenCluster,
  ClusterVerdict,
  ColocationOptions,
  ColocationReport,
  ComponentExplanation,
  ComponentPlan,
  ComponentRequest,
  NodeRisk,
  PredictedUsage,
  Reason,
  ScheduleOptions,
  ScheduleResult,
} from './types.ts';
export { currentFromStatus, placeApplication } from './place.ts';
export { explainPlan } from './explain.ts';
