// The control plane's side of the agent protocol. Desired state is the set of
// Workload objects in the store (one per cluster and component), so it
// survives a control-plane crash; the hub keeps only what heartbeats bring
// (last contact, host inventory, the agent's API token) in memory, and writes
// reported workload statuses to the store when they change.
import { createHash } from 'node:crypto';
import {
  agentApiOrigin,
  hostAddressProblem,
  type HeartbeatRequest,
  type HeartbeatResponse,
  type JoinRequest,
  type JoinResponse,
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
  type Cluster,
  type Site,
  type Workload,
} from '../../model/schema.ts';
import { CLOUD_LABEL, CLUSTER_LABEL, SITE_LABEL } from '../../model/wellknown.ts';
import type { Store } from '../../store/types.ts';
import { AgentDriver, type AgentView, type Reachability } from './driver.ts';
import {
  gatherApplicationLogs,
  type AgentApi,
  type ApplicationLogs,
  type LogsQuery,
} from './logs.ts';
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

export class AgentHub implements AgentView {
  readonly #store: Store;
  readonly #now: () => number;
  readonly #contacts = new Map<string, Contact>();
  readonly #drivers = new Map<string, AgentDriver>();
  readonly #events: EventRecorder;
  /** Before the first heartbeat after a restart or a new leader term, silence counts from here. */
  startedMs: number;

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

  /**
   * This control plane starts driving agents again after a spell as a standby,
   * when it answered no heartbeat (api/routes/agent.ts): silence counts from
   * now, and contacts from an earlier term are forgotten.
   */
  listen(): void {
    this.startedMs = this.#now();
    this.#contacts.clear();
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
  async reachable(cluster: string): Promise<Reachability> {
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
  logs(query: LogsQuery): Promise<ApplicationLogs> {
    return gatherApplicationLogs(this.#store, query, (cluster) => this.#agentApi(cluster));
  }

  /** Only the address the cluster is registered with (heartbeats must match it) is asked. */
  async #agentApi(cluster: string): Promise<AgentApi> {
    const c = this.#contacts.get(cluster);
    if (c?.apiToken === undefined)
      return { problem: 'no heartbeat from its agent since the control plane started' };
    const address = (await this.#getCluster(cluster))?.spec.driver.agent?.address;
    if (address === undefined) return { problem: 'the cluster records no agent address' };
    const problem = hostAddressProblem(address);
    if (problem !== undefined)
      return { problem: `its registered agent address is unusable: ${problem}` };
    return { origin: agentApiOrigin(address, c.host.apiPort), token: c.apiToken };
  }
}
