// The wire protocol between `yunjian agent` and the control plane's agent hub
// (drivers/agent). Pull mode: the agent joins once, then heartbeats; every
// heartbeat answer carries the revision of the cluster's desired workloads and,
// when it differs from the one the agent sent, the full list. Level-based: the
// agent converges to whatever list it holds last, so a lost answer is harmless.
import Type, { type Static } from 'typebox';
import { Arch, Name, WorkloadResourceSpec, WorkloadResourceStatus } from '../model/schema.ts';

export const AGENT_API_PREFIX = '/api/v1alpha1/agent';

export const HostInfo = Type.Object(
  {
    hostname: Type.String(),
    address: Type.String({ minLength: 1 }),
    /** Port of the agent's own HTTP API (logs). */
    apiPort: Type.Integer({ minimum: 1, maximum: 65535 }),
    arch: Arch,
    /** Cores the agent offers. */
    cpu: Type.Number({ exclusiveMinimum: 0 }),
    /** Bytes the agent offers. */
    memory: Type.Number({ exclusiveMinimum: 0 }),
    pods: Type.Integer({ minimum: 1 }),
  },
  { additionalProperties: false },
);
export type HostInfo = Static<typeof HostInfo>;

export const JoinRequest = Type.Object(
  {
    cluster: Name,
    site: Type.Optional(Name),
    host: HostInfo,
    heartbeatSeconds: Type.Number({ exclusiveMinimum: 0 }),
  },
  { additionalProperties: false },
);
export type JoinRequest = Static<typeof JoinRequest>;

export interface JoinResponse {
  cluster: string;
  /** Present when a join token was used: the per-cluster credential, shown only here. */
  credential?: string;
}

export const DesiredWorkload = Type.Object(
  { name: Name, spec: WorkloadResourceSpec },
  { additionalProperties: false },
);
export type DesiredWorkload = Static<typeof DesiredWorkload>;

export const HeartbeatRequest = Type.Object(
  {
    cluster: Name,
    host: HostInfo,
    /** The desired-state revision the agent holds; absent on its first heartbeat. */
    revision: Type.Optional(Type.String()),
    /** The agent's heartbeat interval: silence for ~3 of them means unreachable. */
    heartbeatSeconds: Type.Number({ exclusiveMinimum: 0 }),
    /** Secret the control plane presents to the agent's API (logs). */
    apiToken: Type.String({ minLength: 16 }),
    workloads: Type.Array(
      Type.Object({ name: Name, status: WorkloadResourceStatus }, { additionalProperties: false }),
    ),
  },
  { additionalProperties: false },
);
export type HeartbeatRequest = Static<typeof HeartbeatRequest>;

export interface HeartbeatResponse {
  revision: string;
  /** Present when `revision` differs from the request's. */
  workloads?: DesiredWorkload[];
}

export interface ReplicaLogs {
  workload: string;
  replica: string;
  lines: string[];
}
