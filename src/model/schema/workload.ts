// The Workload kind: one component of one application as an agent cluster runs it.
import Type, { type Static } from 'typebox';
import { MAX_CPU_CORES, MAX_MEMORY_BYTES } from '../quantity.ts';
import {
  Arch,
  CommandLine,
  Endpoint,
  EnvMap,
  Enum,
  Gpus,
  Int,
  LIMITS,
  List,
  Name,
  NonNegative,
  Obj,
  Port,
  Replicas,
  ResourceSchema,
  SafeCount,
  Seconds,
  Text,
  Threshold,
  Time,
} from './common.ts';

/**
 * One component of one application as it should run on one agent cluster
 * (the driver's WorkloadSpec), kept in the store so desired state survives a
 * control-plane crash; the agent pulls it and reports `status`.
 */
export const WorkloadResourceSpec = Obj(
  {
    cluster: Name,
    key: Obj({ namespace: Name, app: Name, component: Name }),
    hash: Text(LIMITS.text, { minLength: 1 }),
    image: Text(LIMITS.image),
    replicas: Replicas,
    architectures: List(Arch, 3),
    cpuMillis: Type.Number({ minimum: 0, maximum: MAX_CPU_CORES * 1000 }),
    /** Colocated workloads: replicas may use up to this; cpuMillis is what they reserve. */
    cpuLimitMillis: Type.Optional(Type.Number({ minimum: 0, maximum: MAX_CPU_CORES * 1000 })),
    memoryBytes: Type.Number({ minimum: 0, maximum: MAX_MEMORY_BYTES }),
    gpu: Gpus,
    gpuModel: Type.Optional(Text()),
    maxReplicasPerNode: Type.Optional(Int(0, LIMITS.replicas)),
    antiAffinity: Type.Optional(List(Name, LIMITS.components)),
    ports: List(
      Obj({ name: Type.Optional(Name), port: Port, protocol: Enum(['TCP', 'UDP']) }),
      LIMITS.ports,
    ),
    env: EnvMap,
    command: CommandLine,
    args: CommandLine,
    healthCheck: Type.Optional(
      Obj({
        http: Type.Optional(
          Obj({
            path: Text(LIMITS.path),
            port: Type.Optional(Port),
            scheme: Type.Optional(Enum(['HTTP', 'HTTPS'])),
          }),
        ),
        tcp: Type.Optional(Obj({ port: Type.Optional(Port) })),
        intervalSeconds: Seconds,
        timeoutSeconds: Seconds,
        failureThreshold: Threshold,
        restartThreshold: Type.Optional(Threshold),
      }),
    ),
  },
  'A component placed on an agent cluster: what the agent runs there.',
);
export type WorkloadResourceSpec = Static<typeof WorkloadResourceSpec>;

export const ReplicaStatus = Obj({
  id: Text(),
  hash: Text(),
  state: Enum(['starting', 'running', 'backoff', 'stopping']),
  ready: Type.Boolean(),
  pid: Type.Optional(SafeCount),
  port: Type.Optional(Port),
  restarts: SafeCount,
  /** Cpu the replica's process used over the agent's last sampling interval, millicores. */
  cpuMillis: Type.Optional(NonNegative),
  lastExit: Type.Optional(Text(LIMITS.message)),
  startedAt: Type.Optional(Time),
});
export type ReplicaStatus = Static<typeof ReplicaStatus>;

export const WorkloadResourceStatus = Obj({
  /** The spec hash the agent last converged to. */
  hash: Type.Optional(Text()),
  desired: SafeCount,
  scheduled: SafeCount,
  ready: SafeCount,
  message: Type.Optional(Text(LIMITS.message)),
  endpoints: Type.Optional(List(Endpoint, LIMITS.statusItems)),
  replicas: Type.Optional(List(ReplicaStatus, LIMITS.statusItems)),
  /** Cpu the running replicas use together, millicores (summed per-replica samples). */
  cpuUsageMillis: Type.Optional(NonNegative),
});
export type WorkloadResourceStatus = Static<typeof WorkloadResourceStatus>;

export const WorkloadResource = ResourceSchema(
  'Workload',
  WorkloadResourceSpec,
  WorkloadResourceStatus,
);
export type Workload = Static<typeof WorkloadResource>;
