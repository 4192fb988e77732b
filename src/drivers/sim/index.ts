// The sim driver: a digital twin of a whole fleet, one ClusterDriver per cluster.
export {
  DEFAULT_API_BURST,
  DEFAULT_API_QPS,
  DEFAULT_STARTUP_SECONDS,
  FAULT_SCOPES,
  SimClusterDriver,
  SimFleet,
  type ActiveFault,
  type FaultScope,
  type FaultSummary,
  type SimFleetOptions,
  type SimTwinState,
} from './fleet.ts';
export { persistTwin, type PersistedTwin } from './persist.ts';
export { SIM_CPU_UTILIZATION_ENV, simIngressAddress, simReplicaCpuMillis } from './replica.ts';
export { DEFAULT_MAX_PODS, type SimNodeStatus } from './cluster.ts';
