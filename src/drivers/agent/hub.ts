// The control plane's side of the agent protocol. Desired state is the set of
// Workload objects in the store (one per cluster and component), so it
// survives a control-plane crash; the hub keeps only what heartbeats bring
// (last contact, host inventory, the agent's API token) in memory, and writes
// reported workload statuses to the store when they change.
import {
  APP_LABEL,
  CLOUD_LABEL,
  CLUSTER_LABEL,
  COMPONENT_LABEL,
  NAMESPACE_LABEL,
  SITE_LABEL,
} from '../../model/wellknown.ts';
import { createHash } from 'node:crypto';
import {
  agentApiOrigin,
  hostAddressProblem,
  type HeartbeatRequest,
  type HeartbeatResponse,
  type JoinRequest,
  type JoinResponse,
  type ReplicaLogs,
} from '../../agent/protocol.ts';
import { applyDocuments } from '../../admission/apply.ts';
import { EventRecorder } from '../../events/recorder.ts';
import { canonical } from '../../model/canonical.ts';
import {
  AlreadyExistsError,
  ConflictError,
  ForbiddenError,
  NotFoundError,
  UnauthorizedError,
  ValidationError,
} from '../../model/errors.ts';
import {
  API_VERSION,
  type AgentToken,
  type Application,
  type Cluster,
  type Site,
  type Workload,
} from '../../model/schema.ts';
import type { Store } from '../../store/types.ts';
import type {
  ClusterDriver,
  ClusterInventory,
  NodeStatus,
  WorkloadKey,
  WorkloadSpec,
  WorkloadStatus,
} from '../types.ts';
import {
  consumeJoinToken,
  describeBinding,
  isJoinToken,
  issueCredential,
  loadCredential,
  tokenAllows,
  verifyCredential,
  verifyJoinToken,
  withdrawCredential,
} from './tokens.ts';

/**
 * The host an agent last joined with, kept on its Cluster so a restarted
 * control plane knows the host's size before the agent's next heartbeat.
 */
const HOST_ANNOTATION = 'yunjian.io/agent-host';

/** The reason of the Warning event a refused join records on the cluster it claimed. */
export const JOIN_REFUSED_REASON = 'AgentJoinRefused';

/** Missed heartbeats after which an agent counts as unreachable. */
const MISSED_HEARTBEATS = 3;

interface Contact {
  atMs: number;
  host: HeartbeatRequest['host'];
  heartbeatSeconds: number;
  apiToken?: string;
}

export interface AgentHubOptions {
  store: Store;
  now?: () => number;
}

export function workloadName(cluster: string, key: WorkloadKey): string {
  return `${cluster}.${key.namespace}.${key.app}.${key.component}`;
}

function bearerOf(authorization: string | undefined): string {
  const m = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '');
  if (m?.[1] === undefined)
    throw new UnauthorizedError('missing bearer token: send the join token or agent credential');
  return m[1];
}

function checkAddress(subject: string, host: HeartbeatRequest['host']): void {
  const problem = hostAddressProblem(host.address);
  if (problem !== undefined)
    throw new ValidationError(subject, [{ field: 'host.address', message: problem }]);
}

export class AgentHub {
  readonly #store: Store;
  readonly #now: () => number;
  readonly #contacts = new Map<string, Contact>();
  readonly #drivers = new Map<string, AgentDriver>();
  readonly #events: EventRecorder;
  /** Before the first heartbeat after a restart, silence counts from here. */
  readonly startedMs: number;

  constructor(options: AgentHubOptions) {
    this.#store = options.store;
    this.#now = options.now ?? Date.now;
    this.startedMs = this.#now();
    this.#events = new EventRecorder({ store: this.#store, source: 'agent-hub', now: this.#now });
  }

  get store(): Store {
    return this.#store;
  }

  now(): number {
    return this.#now();
  }

  contact(cluster: string): Contact | undefined {
    return this.#contacts.get(cluster);
  }

  /**
   * The last contact, or after a control-plane restart the host recorded at
   * join with silence counted from the restart: an agent that heartbeats on
   * is not reported unreachable just because the control plane was away.
   */
  async #contactOf(cluster: string): Promise<Contact | undefined> {
    const known = this.#contacts.get(cluster);
    if (known !== undefined) return known;
    const recorded = (await this.#getCluster(cluster))?.metadata.annotations?.[HOST_ANNOTATION];
    if (recorded === undefined) return undefined;
    try {
      const { heartbeatSeconds, ...host } = JSON.parse(recorded) as HeartbeatRequest['host'] & {
        heartbeatSeconds: number;
      };
      const seeded: Contact = { atMs: this.startedMs, host, heartbeatSeconds };
      if (!this.#contacts.has(cluster)) this.#contacts.set(cluster, seeded);
      return this.#contacts.get(cluster);
    } catch {
      return undefined;
    }
  }

  /** Whether the cluster's agent heartbeated within ~3 of its intervals. */
  async reachable(
    cluster: string,
  ): Promise<{ reachable: boolean; message?: string; lastContactMs: number }> {
    const c = await this.#contactOf(cluster);
    if (c === undefined)
      return {
        reachable: false,
        message: 'no heartbeat from the agent since the control plane started',
        lastContactMs: this.startedMs,
      };
    const ageMs = this.#now() - c.atMs;
    const limitMs = MISSED_HEARTBEATS * c.heartbeatSeconds * 1000 + 500;
    return ageMs <= limitMs
      ? { reachable: true, lastContactMs: c.atMs }
      : {
          reachable: false,
          message: `agent silent for ${(ageMs / 1000).toFixed(1)} s (heartbeat every ${c.heartbeatSeconds} s)`,
          lastContactMs: c.atMs,
        };
  }

  driver(cluster: string): AgentDriver {
    let d = this.#drivers.get(cluster);
    if (d === undefined) {
      d = new AgentDriver(this, cluster);
      this.#drivers.set(cluster, d);
    }
    return d;
  }

  forget(cluster: string): void {
    this.#drivers.delete(cluster);
    this.#contacts.delete(cluster);
  }

  /**
   * Joins a host as cluster `req.cluster`. With the cluster's credential it
   * registers again (a restarted agent, or one whose address changed). With a
   * join token it claims the name: the token must be bound to it, and a
   * cluster that already has a credential is refused (409, recorded as a
   * Warning event) unless the token was made to replace that agent. Every check
   * runs before the token is consumed, the token is consumed before a
   * credential is issued, and the Cluster is written last, so a refused join
   * changes nothing and of two joins with one single-use token one fails.
   */
  async join(
    authorization: string | undefined,
    req: JoinRequest,
    from: string,
  ): Promise<JoinResponse> {
    const bearer = bearerOf(authorization);
    checkAddress('join request', req.host);
    const token = isJoinToken(bearer)
      ? await verifyJoinToken(this.#store, bearer, this.#now())
      : undefined;
    if (token === undefined) await verifyCredential(this.#store, req.cluster, bearer);

    const existing = await this.#getCluster(req.cluster);
    if (existing !== undefined && existing.spec.driver.type !== 'agent')
      throw new ConflictError(
        `cluster ${req.cluster} exists with driver ${existing.spec.driver.type}; an agent can only join as a new or agent cluster`,
        { kind: 'Cluster', name: req.cluster },
      );
    const replacing =
      token === undefined ? undefined : await this.#claim(token, req, existing, from);
    const cluster = this.#registration(req, existing, await this.#siteFor(req, existing));
    if (token === undefined) {
      await this.#register(req, cluster);
      return { cluster: req.cluster };
    }

    await consumeJoinToken(this.#store, token, { cluster: req.cluster, from, now: this.#now() });
    let issued: Awaited<ReturnType<typeof issueCredential>>;
    try {
      issued = await issueCredential(this.#store, req.cluster, replacing);
    } catch (err) {
      // Another join created (or replaced) the credential since #claim looked.
      if (!(err instanceof AlreadyExistsError) && !(err instanceof ConflictError)) throw err;
      throw await this.#refuse(token, req.cluster, from);
    }
    try {
      await this.#register(req, cluster);
    } catch (err) {
      await withdrawCredential(this.#store, issued.stored);
      throw err;
    }
    return { cluster: req.cluster, credential: issued.credential };
  }

  /**
   * Checks that `token` may claim the cluster's name; returns the credential
   * it replaces, if any. A token bound to nothing (made before binding) may
   * only create a cluster that does not exist.
   */
  async #claim(
    token: AgentToken,
    req: JoinRequest,
    existing: Cluster | undefined,
    from: string,
  ): Promise<AgentToken | undefined> {
    if (!tokenAllows(token, req.cluster)) {
      await this.#events.record(
        { kind: 'Cluster', name: req.cluster },
        'Warning',
        JOIN_REFUSED_REASON,
        `join token ${token.metadata.name} (for ${describeBinding(token)}) was presented from ${from} for cluster ${req.cluster}; refused`,
      );
      throw new ForbiddenError(
        `join token ${token.metadata.name} is for ${describeBinding(token)}, not cluster ${req.cluster}`,
        { kind: 'Cluster', name: req.cluster },
      );
    }
    const current = await loadCredential(this.#store, req.cluster);
    if (current !== undefined && token.spec.replace === true) return current;
    const unbound = token.spec.cluster === undefined && token.spec.clusterPrefix === undefined;
    if (current !== undefined || (unbound && existing !== undefined))
      throw await this.#refuse(token, req.cluster, from);
    return undefined;
  }

  /** Records a refused claim on a cluster that has an agent, and returns the error to throw. */
  async #refuse(token: AgentToken, cluster: string, from: string): Promise<AlreadyExistsError> {
    await this.#events.record(
      { kind: 'Cluster', name: cluster },
      'Warning',
      JOIN_REFUSED_REASON,
      `join token ${token.metadata.name} from ${from} claimed cluster ${cluster}, which already has an agent; refused, the cluster keeps its credential`,
    );
    return new AlreadyExistsError(
      `cluster ${cluster} already has an agent: a join token cannot take it over. Its agent joins again with the credential in its data directory; to move the cluster to a new host, create a token with "yunjian token create --cluster ${cluster} --replace"`,
      { kind: 'Cluster', name: cluster },
    );
  }

  async #siteFor(req: JoinRequest, existing: Cluster | undefined): Promise<Site> {
    const siteName = req.site ?? existing?.spec.site;
    if (siteName === undefined)
      throw new ValidationError('join request', [
        { field: 'site', message: `required on the first join of cluster ${req.cluster} (--site)` },
      ]);
    try {
      return (await this.#store.get({ kind: 'Site', name: siteName })) as Site;
    } catch (err) {
      if (!(err instanceof NotFoundError)) throw err;
      throw new ValidationError('join request', [
        {
          field: 'site',
          message: `Site "${siteName}" does not exist; create it first (see "yunjian get sites")`,
        },
      ]);
    }
  }

  #registration(req: JoinRequest, existing: Cluster | undefined, site: Site): Cluster {
    return {
      apiVersion: API_VERSION,
      kind: 'Cluster',
      metadata: {
        name: req.cluster,
        labels: {
          ...existing?.metadata.labels,
          [CLOUD_LABEL]: site.spec.cloud,
          [SITE_LABEL]: site.metadata.name,
        },
        annotations: {
          ...existing?.metadata.annotations,
          [HOST_ANNOTATION]: JSON.stringify({
            ...req.host,
            heartbeatSeconds: req.heartbeatSeconds,
          }),
        },
      },
      spec: {
        ...existing?.spec,
        cloud: site.spec.cloud,
        site: site.metadata.name,
        driver: { type: 'agent', agent: { address: req.host.address } },
      },
    };
  }

  async #register(req: JoinRequest, cluster: Cluster): Promise<void> {
    await applyDocuments(this.#store, [cluster], {});
    this.#contacts.set(req.cluster, {
      atMs: this.#now(),
      host: req.host,
      heartbeatSeconds: req.heartbeatSeconds,
    });
  }

  /**
   * A heartbeat from the cluster's agent. Its address must be the one the
   * cluster joined with (what the control plane connects to): an agent that
   * moved joins again with its credential (409 here tells it to).
   */
  async heartbeat(
    authorization: string | undefined,
    req: HeartbeatRequest,
  ): Promise<HeartbeatResponse> {
    await verifyCredential(this.#store, req.cluster, bearerOf(authorization));
    checkAddress('heartbeat', req.host);
    const registered = (await this.#getCluster(req.cluster))?.spec.driver.agent?.address;
    if (registered !== undefined && registered !== req.host.address)
      throw new ConflictError(
        `cluster ${req.cluster} joined with address ${registered}, not ${req.host.address}: join again to change it`,
        { kind: 'Cluster', name: req.cluster },
      );
    this.#contacts.set(req.cluster, {
      atMs: this.#now(),
      host: req.host,
      heartbeatSeconds: req.heartbeatSeconds,
      apiToken: req.apiToken,
    });
    const workloads = await this.workloads(req.cluster);
    const reported = new Map(req.workloads.map((w) => [w.name, w.status]));
    for (const w of workloads) {
      const status = reported.get(w.metadata.name);
      if (status === undefined || canonical(status) === canonical(w.status ?? null)) continue;
      try {
        await this.#store.updateStatus({ ...w, status });
      } catch (err) {
        // Changed or deleted meanwhile: the next heartbeat reports again.
        if (!(err instanceof ConflictError) && !(err instanceof NotFoundError)) throw err;
      }
    }
    const desired = workloads
      .map((w) => ({ name: w.metadata.name, spec: w.spec }))
      .sort((a, b) => (a.name < b.name ? -1 : 1));
    const revision = createHash('sha256')
      .update(desired.map((d) => `${d.name}@${d.spec.hash}`).join('\n'))
      .digest('hex')
      .slice(0, 16);
    return req.revision === revision ? { revision } : { revision, workloads: desired };
  }

  async #getCluster(name: string): Promise<Cluster | undefined> {
    try {
      return (await this.#store.get({ kind: 'Cluster', name })) as Cluster;
    } catch (err) {
      if (err instanceof NotFoundError) return undefined;
      throw err;
    }
  }

  async workloads(cluster: string): Promise<Workload[]> {
    const list = await this.#store.list('Workload', {
      labelSelector: `${CLUSTER_LABEL}=${cluster}`,
    });
    return list.items as Workload[];
  }

  /** Replica logs of an application, asked from each agent running it. */
  async logs(query: {
    namespace: string;
    app: string;
    component?: string;
    cluster?: string;
    tail: number;
  }): Promise<{
    items: (ReplicaLogs & { cluster: string; component: string })[];
    errors: { cluster: string; message: string }[];
  }> {
    try {
      (await this.#store.get({
        kind: 'Application',
        namespace: query.namespace,
        name: query.app,
      })) as Application;
    } catch (err) {
      if (err instanceof NotFoundError)
        throw new NotFoundError(`application ${query.namespace}/${query.app} not found`, {
          kind: 'Application',
          name: query.app,
        });
      throw err;
    }
    const selector = [
      `${APP_LABEL}=${query.app}`,
      `${NAMESPACE_LABEL}=${query.namespace}`,
      ...(query.component !== undefined ? [`${COMPONENT_LABEL}=${query.component}`] : []),
      ...(query.cluster !== undefined ? [`${CLUSTER_LABEL}=${query.cluster}`] : []),
    ].join(',');
    const workloads = (await this.#store.list('Workload', { labelSelector: selector }))
      .items as Workload[];
    const byCluster = new Map<string, Workload[]>();
    for (const w of workloads)
      byCluster.set(w.spec.cluster, [...(byCluster.get(w.spec.cluster) ?? []), w]);
    const items: (ReplicaLogs & { cluster: string; component: string })[] = [];
    const errors: { cluster: string; message: string }[] = [];
    await Promise.all(
      [...byCluster].map(async ([cluster, list]) => {
        const c = this.#contacts.get(cluster);
        if (c?.apiToken === undefined) {
          errors.push({
            cluster,
            message: 'no heartbeat from its agent since the control plane started',
          });
          return;
        }
        // Only the address the cluster is registered with (heartbeats must match it), on a fixed path.
        const address = (await this.#getCluster(cluster))?.spec.driver.agent?.address;
        if (address === undefined) {
          errors.push({ cluster, message: 'the cluster records no agent address' });
          return;
        }
        const problem = hostAddressProblem(address);
        if (problem !== undefined) {
          errors.push({ cluster, message: `its registered agent address is unusable: ${problem}` });
          return;
        }
        const url = new URL('/logs', agentApiOrigin(address, c.host.apiPort));
        for (const w of list) url.searchParams.append('workload', w.metadata.name);
        url.searchParams.set('tail', String(query.tail));
        try {
          const res = await fetch(url, {
            headers: { authorization: `Bearer ${c.apiToken}` },
            redirect: 'error',
            signal: AbortSignal.timeout(5000),
          });
          if (!res.ok) throw new Error(`agent answered HTTP ${res.status}`);
          const body = (await res.json()) as { items: ReplicaLogs[] };
          for (const item of body.items) {
            const component =
              list.find((w) => w.metadata.name === item.workload)?.spec.key.component ?? '';
            items.push({ cluster, component, ...item });
          }
        } catch (err) {
          errors.push({ cluster, message: err instanceof Error ? err.message : String(err) });
        }
      }),
    );
    items.sort((a, b) => (a.cluster + a.replica < b.cluster + b.replica ? -1 : 1));
    return { items, errors };
  }
}

function toStatus(w: Workload, reach: { reachable: boolean; message?: string }): WorkloadStatus {
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

/** One agent cluster as the control plane's drivers see it. */
export class AgentDriver implements ClusterDriver {
  readonly type = 'agent';
  readonly #hub: AgentHub;
  readonly #cluster: string;

  constructor(hub: AgentHub, cluster: string) {
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
