// One agent cluster as the control plane's drivers see it. Desired state is
// written as Workload objects (the agent pulls them with its heartbeats);
// inventory, nodes and statuses are read from what the hub last heard from the
// agent, so every call works while the agent is away and says so.
import { NotFoundError } from '../../model/errors.ts';
import { API_VERSION, type Workload } from '../../model/schema.ts';
import {
  APP_LABEL,
  CLUSTER_LABEL,
  COMPONENT_LABEL,
  NAMESPACE_LABEL,
} from '../../model/wellknown.ts';
import type { Store } from '../../store/types.ts';
import type { HeartbeatRequest } from '../../agent/protocol.ts';
import type {
  ClusterDriver,
  ClusterInventory,
  NodeStatus,
  WorkloadKey,
  WorkloadSpec,
  WorkloadStatus,
} from '../types.ts';

/** Whether an agent answers, as the hub judges it from its heartbeats. */
export interface Reachability {
  reachable: boolean;
  message?: string;
  lastContactMs: number;
}

/** What a driver reads from the hub about its cluster's agent. */
export interface AgentView {
  readonly store: Store;
  reachable(cluster: string): Promise<Reachability>;
  /** The agent's last contact: the host it reported. */
  contact(cluster: string): { host: HeartbeatRequest['host'] } | undefined;
  workloads(cluster: string): Promise<Workload[]>;
}

export function workloadName(cluster: string, key: WorkloadKey): string {
  return `${cluster}.${key.namespace}.${key.app}.${key.component}`;
}

function toStatus(w: Workload, reach: Reachability): WorkloadStatus {
  const spec = w.spec;
  const st = w.status;
  const messages: string[] = [];
  if (!reach.reachable) messages.push(`agent unreachable: ${reach.message ?? ''}`);
  if (st === undefined || st.hash !== spec.hash)
    messages.push(`the agent has not run revision ${spec.hash} yet`);
  if (st?.message !== undefined) messages.push(st.message);
  return {
    key: { ...spec.key },
    hash: spec.hash,
    desired: spec.replicas,
    scheduled: Math.min(spec.replicas, st?.scheduled ?? 0),
    ready: Math.min(spec.replicas, st?.ready ?? 0),
    ...(messages.length > 0 ? { message: messages.join('; ') } : {}),
    ...(st?.endpoints !== undefined && st.endpoints.length > 0
      ? { endpoints: st.endpoints.map((e) => ({ ...e })) }
      : {}),
    // A silent agent's last measurement is no longer its replicas' use.
    ...(reach.reachable && st?.cpuUsageMillis !== undefined
      ? { cpuUsageMillis: st.cpuUsageMillis }
      : {}),
  };
}

export class AgentDriver implements ClusterDriver {
  readonly type = 'agent';
  readonly #hub: AgentView;
  readonly #cluster: string;

  constructor(hub: AgentView, cluster: string) {
    this.#hub = hub;
    this.#cluster = cluster;
  }

  async inventory(): Promise<ClusterInventory> {
    const reach = await this.#hub.reachable(this.#cluster);
    const host = this.#hub.contact(this.#cluster)?.host;
    const zero = { cpu: 0, memory: 0, gpu: 0, pods: 0 };
    const capacity = host ? { cpu: host.cpu, memory: host.memory, gpu: 0, pods: host.pods } : zero;
    const allocated = { ...zero };
    for (const w of await this.#hub.workloads(this.#cluster)) {
      const n = Math.min(w.spec.replicas, w.status?.scheduled ?? 0);
      allocated.cpu += (n * w.spec.cpuMillis) / 1000;
      allocated.memory += n * w.spec.memoryBytes;
      allocated.pods += n;
    }
    return {
      reachable: reach.reachable,
      ...(reach.message !== undefined ? { message: reach.message } : {}),
      lastContactMs: reach.lastContactMs,
      capacity,
      allocatable: { ...capacity },
      allocated,
      nodeCount: host ? 1 : 0,
      readyNodeCount: host && reach.reachable ? 1 : 0,
      nodesByArch: {
        amd64: host?.arch === 'amd64' ? 1 : 0,
        arm64: host?.arch === 'arm64' ? 1 : 0,
        riscv64: host?.arch === 'riscv64' ? 1 : 0,
      },
      gpuModels: {},
    };
  }

  async nodes(): Promise<NodeStatus[]> {
    const inv = await this.inventory();
    const host = this.#hub.contact(this.#cluster)?.host;
    if (host === undefined) return [];
    return [
      {
        name: `${this.#cluster}-${host.hostname}`.toLowerCase().replace(/[^a-z0-9.-]/g, '-'),
        arch: host.arch,
        healthy: inv.reachable,
        capacity: inv.capacity,
        allocated: inv.allocated,
      },
    ];
  }

  async applyWorkload(spec: WorkloadSpec): Promise<void> {
    const store = this.#hub.store;
    const name = workloadName(this.#cluster, spec.key);
    const doc: Workload = {
      apiVersion: API_VERSION,
      kind: 'Workload',
      metadata: {
        name,
        labels: {
          [CLUSTER_LABEL]: this.#cluster,
          [NAMESPACE_LABEL]: spec.key.namespace,
          [APP_LABEL]: spec.key.app,
          [COMPONENT_LABEL]: spec.key.component,
        },
      },
      spec: { cluster: this.#cluster, ...structuredClone(spec) },
    };
    let existing: Workload | undefined;
    try {
      existing = (await store.get({ kind: 'Workload', name })) as Workload;
    } catch (err) {
      if (!(err instanceof NotFoundError)) throw err;
    }
    if (existing === undefined) {
      await store.create(doc);
      return;
    }
    if (existing.spec.hash === spec.hash) return; // no write when nothing changed
    await store.update(doc, { expectedResourceVersion: null });
  }

  async deleteWorkload(key: WorkloadKey): Promise<void> {
    try {
      await this.#hub.store.delete({ kind: 'Workload', name: workloadName(this.#cluster, key) });
    } catch (err) {
      if (!(err instanceof NotFoundError)) throw err;
    }
  }

  async listWorkloads(): Promise<WorkloadStatus[]> {
    const reach = await this.#hub.reachable(this.#cluster);
    return (await this.#hub.workloads(this.#cluster)).map((w) => toStatus(w, reach));
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
