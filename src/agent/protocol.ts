// The wire protocol between `yunjian agent` and the control plane's agent hub
// (drivers/agent). Pull mode: the agent joins once, then heartbeats; every
// heartbeat answer carries the revision of the cluster's desired workloads and,
// when it differs from the one the agent sent, the full list. Level-based: the
// agent converges to whatever list it holds last, so a lost answer is harmless.
import { isIPv4, isIPv6 } from 'node:net';
import Type, { type Static } from 'typebox';
import { Arch, Name, WorkloadResourceSpec, WorkloadResourceStatus } from '../model/schema.ts';

export const AGENT_API_PREFIX = '/api/v1alpha1/agent';

const HOSTNAME_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/i;

/**
 * Why `address` cannot be an agent's address, or undefined when it can. The
 * control plane connects to it (logs), so it must be one host and nothing
 * else: an IP literal or a DNS hostname, no port, path or credentials; not an
 * unspecified, link-local (cloud metadata) or multicast address; and not a
 * name that URL parsing would read as an IPv4 number (`2130706433`, `0x7f.1`).
 */
export function hostAddressProblem(address: string): string | undefined {
  const expected = 'an IP address or DNS hostname, such as 10.0.0.5 or node1.example.com';
  if (isIPv4(address)) {
    const [a = 0, b = 0] = address.split('.').map(Number);
    if (a === 0) return `${address} is an unspecified address; expected ${expected}`;
    if (a === 169 && b === 254) return `${address} is link-local; expected ${expected}`;
    if (a >= 224) return `${address} is multicast or reserved; expected ${expected}`;
    return undefined;
  }
  if (isIPv6(address)) {
    const v6 = address.toLowerCase();
    if (/^[0:]+$/.test(v6)) return `${address} is an unspecified address; expected ${expected}`;
    if (/^fe[89ab]/.test(v6)) return `${address} is link-local; expected ${expected}`;
    if (v6.startsWith('ff')) return `${address} is multicast; expected ${expected}`;
    if (v6.includes('.')) return `${address} embeds an IPv4 address; give that one instead`;
    return undefined;
  }
  const labels = address.split('.');
  const last = labels[labels.length - 1] ?? '';
  if (
    address.length > 253 ||
    !labels.every((l) => HOSTNAME_LABEL.test(l)) ||
    !/[a-z]/i.test(last) ||
    /^0x[0-9a-f]*$/i.test(last)
  )
    return `expected ${expected}, got ${JSON.stringify(address.slice(0, 80))}`;
  return undefined;
}

/** The origin of an agent's own API at `address` (checked by hostAddressProblem). */
export function agentApiOrigin(address: string, port: number): string {
  return `http://${isIPv6(address) ? `[${address}]` : address}:${port}`;
}

export const HostInfo = Type.Object(
  {
    hostname: Type.String(),
    /** Where replicas, the ingress and the agent's API listen; see hostAddressProblem. */
    address: Type.String({ minLength: 1, maxLength: 253 }),
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
