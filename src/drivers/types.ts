// The one interface through which the control plane makes a cluster real. Every
// driver (sim, agent, kubernetes) implements it and passes the shared driver
// conformance suite. Calls may fail with the typed errors of model/errors.ts:
// TooManyRequestsError (throttled, retry after the given delay) and
// UnavailableError (cluster unreachable) are retryable; the rest are not.
import type { Arch } from '../model/schema.ts';

/** Identifies one component of one application inside a cluster. */
export interface WorkloadKey {
  namespace: string;
  app: string;
  component: string;
}

export interface WorkloadPort {
  name?: string;
  port: number;
  protocol: 'TCP' | 'UDP';
}

/** A component as it should run in one cluster, after overrides are applied. */
export interface WorkloadSpec {
  key: WorkloadKey;
  /** Changes whenever anything below changes; drivers use it to skip no-op updates. */
  hash: string;
  image: string;
  replicas: number;
  /** Architectures the image exists for; the driver only uses nodes of these. */
  architectures: Arch[];
  /** Cpu each replica reserves on its node (what node placement counts), millicores. */
  cpuMillis: number;
  /**
   * Colocated workloads (placement.colocation): what each replica may use,
   * its request, while `cpuMillis` reserves only its predicted use. Drivers
   * that enforce limits set this one (a Kubernetes cpu limit).
   */
  cpuLimitMillis?: number;
  memoryBytes: number;
  gpu: number;
  gpuModel?: string;
  /** At most this many replicas on one node. */
  maxReplicasPerNode?: number;
  /** Components of the same app whose replicas this one's must not share a node with. */
  antiAffinity?: string[];
  ports: WorkloadPort[];
  env: Record<string, string>;
  command: string[];
  args: string[];
  healthCheck?: {
    http?: { path: string; port?: number; scheme?: 'HTTP' | 'HTTPS' };
    tcp?: { port?: number };
    intervalSeconds: number;
    timeoutSeconds: number;
    failureThreshold: number;
    /** Failed checks in a row, once ready, that restart the replica; absent: never. */
    restartThreshold?: number;
  };
}

/**
 * Where a workload's port is reachable from outside the cluster: the agent's
 * ingress address, a Kubernetes Service or Ingress address, a sim member's
 * stable simulated address. Traffic management points DNS answers and the
 * gateway here.
 */
export interface WorkloadEndpoint {
  /** The component port's name, when it has one. */
  name?: string;
  address: string;
  port: number;
}

export interface WorkloadStatus {
  key: WorkloadKey;
  hash: string;
  desired: number;
  /** Replicas placed on a node (running or starting). */
  scheduled: number;
  ready: number;
  /** Why replicas are not ready, e.g. "3 replicas unschedulable: insufficient cpu". */
  message?: string;
  /** Present once the workload can be reached; one entry per served port. */
  endpoints?: WorkloadEndpoint[];
  /**
   * Cpu the running replicas use now, together (millicores), for drivers that
   * measure it (sim: the twin's model, agent: the processes' cpu time);
   * colocation learns each component's use from it.
   */
  cpuUsageMillis?: number;
}

export interface ResourceTotals {
  /** Cores. */
  cpu: number;
  /** Bytes. */
  memory: number;
  gpu: number;
  pods: number;
}

export interface ClusterInventory {
  /** False when the cluster cannot be reached or reports itself failed. */
  reachable: boolean;
  /** Why it is unreachable or degraded. */
  message?: string;
  /**
   * When the driver last heard from the cluster (ms since the epoch), for
   * drivers that learn of an outage only by silence (agent heartbeats); the
   * failover grace period counts from here instead of from first detection.
   */
  lastContactMs?: number;
  capacity: ResourceTotals;
  allocatable: ResourceTotals;
  allocated: ResourceTotals;
  nodeCount: number;
  readyNodeCount: number;
  nodesByArch: Record<Arch, number>;
  gpuModels: Record<string, number>;
}

/** One node and what is allocated on it: cpu in cores, memory in bytes. */
export interface NodeStatus {
  name: string;
  arch: Arch;
  healthy: boolean;
  gpuModel?: string;
  /** The node's zone (topology.kubernetes.io/zone), for drivers that know it. */
  zone?: string;
  /** The node's labels, for drivers that read them from the cluster. */
  labels?: Record<string, string>;
  capacity: ResourceTotals;
  allocated: ResourceTotals;
  /** Milli-GPUs in use on each GPU of the node. */
  gpuUsedMilli?: number[];
}

export interface ClusterDriver {
  readonly type: 'sim' | 'agent' | 'kubernetes';
  /** Capacity, allocation and health as the cluster reports them now. */
  inventory(): Promise<ClusterInventory>;
  /** Creates or updates the workload to match `spec`; idempotent. */
  applyWorkload(spec: WorkloadSpec): Promise<void>;
  /** Removes the workload and its replicas; succeeds if it is already gone. */
  deleteWorkload(key: WorkloadKey): Promise<void>;
  /** Every workload this control plane created in the cluster, with status. */
  listWorkloads(): Promise<WorkloadStatus[]>;
  /** Every node with its allocation, for node-aware scheduling; drivers that cannot list nodes leave it out. */
  nodes?(): Promise<NodeStatus[]>;
  /** Releases connections and timers. */
  close(): Promise<void>;
}
