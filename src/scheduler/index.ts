// The global scheduler: placement across clouds, clusters and nodes as a pure
// function of (snapshot, requests, seed). See scheduler.ts for the algorithm,
// plugins.ts for the filters and scores, placer.ts for node placement.
export {
  GPU_MILLI,
  MAX_GPUS_PER_NODE,
  NodeState,
  archMaskOf,
  type Allocation,
  type CompiledRequest,
  type NodeInput,
  type NodeUsage,
  type PodRequest,
} from './nodestate.ts';
export { NodePlacer } from './placer.ts';
export {
  DEFAULT_WEIGHTS,
  PluginRegistry,
  defaultRegistry,
  type FilterPlugin,
  type FleetView,
  type ScorePlugin,
} from './plugins.ts';
export { USER_REGIONS, distanceKm, resolveUserRegion } from './regions.ts';
export {
  appRequest,
  componentArchitectures,
  componentRequest,
  gpuDemand,
  podRequest,
} from './request.ts';
export {
  Scheduler,
  divide,
  schedule,
  seededRandom,
  type AppPlan,
  type AppRequest,
  type AppRisk,
  type Assignment,
  type ChosenCluster,
  type ClusterVerdict,
  type ColocationOptions,
  type ColocationReport,
  type ComponentExplanation,
  type ComponentPlan,
  type ComponentRequest,
  type NodeRisk,
  type PredictedUsage,
  type Reason,
  type ScheduleOptions,
  type ScheduleResult,
} from './scheduler.ts';
export {
  DEFAULT_MAX_PODS,
  clusterInfo,
  nodeFromReport,
  nodesFromPools,
  snapshotFromFleet,
  snapshotFromResources,
  type ClusterInfo,
  type ClusterPrices,
  type ReportedNode,
  type ResourceSnapshotInput,
  type Snapshot,
} from './snapshot.ts';
