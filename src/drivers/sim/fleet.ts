// The digital twin: every simulated cluster of the fleet in memory, the faults
// injected into it, and a ClusterDriver per cluster.
//
// Faults are kept as names, apart from the clusters they hit, so they survive a
// cluster being rebuilt and compose: a cluster is down while it, its site or its
// cloud is failed, and comes back only when none is. Coming back from an outage
// restarts every replica of the cluster (ready again after start-up time), as
// after a power or network loss. A failed node is different: it leaves capacity
// at once and its replicas are re-placed on the other nodes (see cluster.ts).
//
// Time is the injected clock `now()`; nothing runs in the background. Start-up
// latency and throttling are computed from the clock when a driver is called.
import {
  BadRequestError,
  NotFoundError,
  TooManyRequestsError,
  UnavailableError,
} from '../../model/errors.ts';
import type { Cluster } from '../../model/schema.ts';
import type {
  ClusterDriver,
  ClusterInventory,
  NodeStatus,
  WorkloadKey,
  WorkloadSpec,
  WorkloadStatus,
} from '../types.ts';
import { SimCluster, type SimNodeStatus } from './cluster.ts';
import { TokenBucket } from './throttle.ts';

export const DEFAULT_STARTUP_SECONDS = 3;
export const DEFAULT_API_QPS = 50;
export const DEFAULT_API_BURST = 100;

export interface SimFleetOptions {
  /** Clock in milliseconds; Date.now by default. Tests pass a fake one. */
  now?: () => number;
  /** Overrides every cluster's startupSeconds. */
  startupSeconds?: number;
  /** Override every cluster's API rate limit; apiQps Infinity turns throttling off. */
  apiQps?: number;
  apiBurst?: number;
}

export type FaultScope = 'cloud' | 'site' | 'cluster' | 'node';
export const FAULT_SCOPES: readonly FaultScope[] = ['cloud', 'site', 'cluster', 'node'];

export interface FaultSummary {
  scope: FaultScope;
  name: string;
  /** Clusters the fault takes down (for a node: the node's cluster). */
  clusters: string[];
  /** Nodes out of service because of it. */
  nodes: number;
}

export interface ActiveFault extends FaultSummary {
  /** When the fault was injected (ISO 8601, from the fleet's clock). */
  since: string;
}

/** Faults that take whole clusters down, as opposed to single nodes. */
type OutageScope = Exclude<FaultScope, 'node'>;
const OUTAGE_SCOPES: readonly OutageScope[] = ['cloud', 'site', 'cluster'];

function isOutageScope(scope: FaultScope): scope is OutageScope {
  return (OUTAGE_SCOPES as readonly string[]).includes(scope);
}

function hitBy(cluster: SimCluster, scope: OutageScope, name: string): boolean {
  return (scope === 'cluster' ? cluster.name : cluster.spec[scope]) === name;
}

interface Member {
  cluster: SimCluster;
  bucket: TokenBucket;
}

/**
 * What the twin keeps across control-plane restarts, as a real fleet would:
 * the workloads running in each cluster (and how many replicas were ready)
 * and the faults in force, with their injection times.
 */
export interface SimTwinState {
  clusters: Record<string, { spec: WorkloadSpec; ready: number }[]>;
  outages: Record<OutageScope, Record<string, number>>;
  failedNodes: Record<string, Record<string, number>>;
}

/** What a driver needs from the fleet; handed over by closure so the fleet's state stays private. */
interface FleetAccess {
  now(): number;
  member(name: string): Member | undefined;
  outage(cluster: SimCluster): string | undefined;
}

export class SimFleet {
  readonly now: () => number;
  private readonly options: SimFleetOptions;
  private readonly members = new Map<string, Member>();
  /** Active outages by scope: name -> injection time (ms). */
  private readonly outages: Record<OutageScope, Map<string, number>> = {
    cloud: new Map(),
    site: new Map(),
    cluster: new Map(),
  };
  /** Failed nodes by cluster name: node name -> injection time (ms). */
  private readonly failedNodes = new Map<string, Map<string, number>>();
  /** Restored state of clusters not upserted yet: applied when each one is added. */
  private pending: Pick<SimTwinState, 'clusters' | 'failedNodes'> = {
    clusters: {},
    failedNodes: {},
  };

  constructor(options: SimFleetOptions = {}) {
    this.options = options;
    this.now = options.now ?? Date.now;
  }

  /**
   * Adds the cluster or brings it in line with `cluster`. Unchanged node pools
   * leave nodes and replicas alone; changed ones rebuild the nodes and keep
   * each replica whose node still exists and still fits.
   */
  upsertCluster(cluster: Cluster): void {
    const name = cluster.metadata.name;
    const { type, sim } = cluster.spec.driver;
    if (type !== 'sim' || sim === undefined) {
      throw new BadRequestError(
        `cluster "${name}" uses the ${type} driver without sim settings; the sim fleet runs only sim clusters`,
      );
    }
    const startupMs =
      1000 * (this.options.startupSeconds ?? sim.startupSeconds ?? DEFAULT_STARTUP_SECONDS);
    const qps = this.options.apiQps ?? sim.apiQps ?? DEFAULT_API_QPS;
    const burst = this.options.apiBurst ?? sim.apiBurst ?? DEFAULT_API_BURST;
    const existing = this.members.get(name);
    if (existing === undefined) {
      const simCluster = new SimCluster(name, cluster.spec, sim.nodePools, startupMs);
      this.members.set(name, {
        cluster: simCluster,
        bucket: new TokenBucket(qps, burst, this.now()),
      });
      this.restorePending(simCluster);
      return;
    }
    existing.cluster.spec = cluster.spec;
    existing.cluster.startupMs = startupMs;
    existing.bucket.configure(qps, burst);
    const failed = this.failedNodes.get(name);
    const gone = existing.cluster.setPools(sim.nodePools, new Set(failed?.keys()));
    for (const node of gone) failed?.delete(node);
    if (failed?.size === 0) this.failedNodes.delete(name);
  }

  /** Removes the cluster, its workloads and its node and cluster faults. Returns whether it existed. */
  removeCluster(name: string): boolean {
    this.failedNodes.delete(name);
    this.outages.cluster.delete(name);
    return this.members.delete(name);
  }

  /** The state to hand to `restore` after a control-plane restart. */
  runningState(): SimTwinState {
    const now = this.now();
    const state: SimTwinState = {
      clusters: { ...this.pending.clusters },
      outages: { cloud: {}, site: {}, cluster: {} },
      failedNodes: { ...this.pending.failedNodes },
    };
    for (const [name, { cluster }] of this.members)
      state.clusters[name] = cluster.runningWorkloads(now);
    for (const scope of OUTAGE_SCOPES)
      state.outages[scope] = Object.fromEntries(this.outages[scope]);
    for (const [name, nodes] of this.failedNodes)
      state.failedNodes[name] = Object.fromEntries(nodes);
    return state;
  }

  /**
   * Takes back what `runningState` recorded, before any cluster is added:
   * faults at once, each cluster's nodes and workloads when it is upserted.
   */
  restore(state: SimTwinState): void {
    if (this.members.size > 0)
      throw new Error('restore the sim fleet before adding clusters to it');
    for (const scope of OUTAGE_SCOPES)
      this.outages[scope] = new Map(Object.entries(state.outages[scope]));
    this.pending = { clusters: { ...state.clusters }, failedNodes: { ...state.failedNodes } };
  }

  private restorePending(cluster: SimCluster): void {
    const now = this.now();
    const failed = new Map<string, number>();
    for (const [node, since] of Object.entries(this.pending.failedNodes[cluster.name] ?? {})) {
      const i = cluster.nodeIndex(node);
      if (i === undefined) continue; // its pool changed while the control plane was down
      cluster.failNode(i);
      failed.set(node, since);
    }
    if (failed.size > 0) this.failedNodes.set(cluster.name, failed);
    for (const { spec, ready } of this.pending.clusters[cluster.name] ?? []) {
      try {
        cluster.restoreWorkload(spec, ready, now);
      } catch (err) {
        // A spec this release no longer accepts: the controller applies it afresh.
        if (!(err instanceof BadRequestError)) throw err;
      }
    }
    delete this.pending.clusters[cluster.name];
    delete this.pending.failedNodes[cluster.name];
  }

  clusterNames(): string[] {
    return [...this.members.keys()].sort();
  }

  /**
   * Every node of the cluster with its allocation, for utilisation views and
   * tests: the operator's view of the twin, so neither throttled nor blocked
   * by faults.
   */
  nodes(clusterName: string): SimNodeStatus[] {
    const member = this.members.get(clusterName);
    if (member === undefined) throw this.unknown('cluster', clusterName);
    return member.cluster.nodes(this.now());
  }

  driverFor(name: string): SimClusterDriver {
    if (!this.members.has(name)) throw this.unknown('cluster', name);
    return new SimClusterDriver(name, {
      now: this.now,
      member: (n) => this.members.get(n),
      outage: (c) => this.outage(c),
    });
  }

  // ------------------------------------------------------------ faults

  /** Fails a cloud, site, cluster or node (`<cluster>-<pool>-<index>`). Failing it again changes nothing. */
  fail(scope: FaultScope, name: string): ActiveFault {
    const { summary, since } = this.setFault(scope, name, true);
    return { ...summary, since: new Date(since ?? this.now()).toISOString() };
  }

  /** Ends the fault. Clusters that are then up again restart their replicas. */
  recover(scope: FaultScope, name: string): FaultSummary {
    return this.setFault(scope, name, false).summary;
  }

  /** Active faults: clouds, then sites, clusters and nodes, each by name. */
  faults(): ActiveFault[] {
    const out: ActiveFault[] = [];
    const since = (t: number) => new Date(t).toISOString();
    for (const scope of OUTAGE_SCOPES) {
      for (const [name, t] of [...this.outages[scope]].sort(byName)) {
        out.push({ ...this.outageSummary(scope, name), since: since(t) });
      }
    }
    for (const [cluster, nodes] of [...this.failedNodes].sort(byName)) {
      for (const [node, t] of [...nodes].sort(byName)) {
        out.push({ scope: 'node', name: node, clusters: [cluster], nodes: 1, since: since(t) });
      }
    }
    return out;
  }

  /** Returns the summary and, while the fault is active, when it was injected. */
  private setFault(
    scope: FaultScope,
    name: string,
    failed: boolean,
  ): { summary: FaultSummary; since: number | undefined } {
    if (scope === 'node') return this.setNodeFault(name, failed);
    if (!isOutageScope(scope)) {
      throw new BadRequestError(
        `unknown fault scope ${JSON.stringify(scope)}: expected one of ${FAULT_SCOPES.join(', ')}`,
      );
    }
    const active = this.outages[scope];
    const summary = this.outageSummary(scope, name);
    if (summary.clusters.length === 0) throw this.unknown(scope, name);
    if (failed) {
      if (!active.has(name)) active.set(name, this.now());
    } else if (active.delete(name)) {
      const now = this.now();
      for (const c of summary.clusters) {
        const cluster = this.members.get(c)?.cluster;
        if (cluster && this.outage(cluster) === undefined) cluster.restartAll(now);
      }
    }
    return { summary, since: active.get(name) };
  }

  private outageSummary(scope: OutageScope, name: string): FaultSummary {
    const clusters: string[] = [];
    let nodes = 0;
    for (const { cluster } of this.members.values()) {
      if (!hitBy(cluster, scope, name)) continue;
      clusters.push(cluster.name);
      nodes += cluster.nodeCount;
    }
    return { scope, name, clusters: clusters.sort(), nodes };
  }

  private setNodeFault(
    name: string,
    failed: boolean,
  ): { summary: FaultSummary; since: number | undefined } {
    // Cluster names may share prefixes ("edge-a" and "edge-a-1"): the longest one that owns the node wins.
    const owners = [...this.members.values()]
      .filter(({ cluster }) => name.startsWith(`${cluster.name}-`))
      .sort((a, b) => b.cluster.name.length - a.cluster.name.length);
    for (const { cluster } of owners) {
      const i = cluster.nodeIndex(name);
      if (i === undefined) continue;
      let active = this.failedNodes.get(cluster.name);
      if (failed) {
        if (active === undefined) {
          active = new Map<string, number>();
          this.failedNodes.set(cluster.name, active);
        }
        if (!active.has(name)) active.set(name, this.now());
        cluster.failNode(i);
      } else {
        active?.delete(name);
        if (active?.size === 0) this.failedNodes.delete(cluster.name);
        cluster.recoverNode(i);
      }
      const summary: FaultSummary = { scope: 'node', name, clusters: [cluster.name], nodes: 1 };
      return { summary, since: active?.get(name) };
    }
    const owner = owners[0]?.cluster;
    const hint = owner
      ? `cluster "${owner.name}" has node pools ${owner.describePools()}`
      : `node names are <cluster>-<pool>-<index>, and no sim cluster's name is a prefix of "${name}"`;
    throw new NotFoundError(`no sim node "${name}": ${hint}`, { kind: 'Node', name });
  }

  private unknown(scope: FaultScope, name: string): NotFoundError {
    if (scope === 'cluster') {
      return new NotFoundError(
        `no sim cluster "${name}" (the fleet has ${this.members.size} clusters)`,
        { kind: 'Cluster', name },
      );
    }
    const field = scope === 'cloud' ? 'cloud' : 'site';
    const known = new Set([...this.members.values()].map(({ cluster }) => cluster.spec[field]));
    const list = [...known].sort();
    const shown =
      list.length > 12
        ? `${list.slice(0, 12).join(', ')}, ... (${list.length} in all)`
        : list.join(', ');
    return new NotFoundError(
      `no sim cluster belongs to ${scope} "${name}"; known ${scope}s: ${shown || 'none'}`,
      {
        kind: scope === 'cloud' ? 'Cloud' : 'Site',
        name,
      },
    );
  }

  /** Why the cluster is down, or undefined when it is up. */
  private outage(cluster: SimCluster): string | undefined {
    const why = OUTAGE_SCOPES.flatMap((scope) => {
      const name = scope === 'cluster' ? cluster.name : cluster.spec[scope];
      return this.outages[scope].has(name) ? [`${scope} "${name}" is failed`] : [];
    });
    return why.length === 0 ? undefined : why.join(' and ');
  }
}

/**
 * The ClusterDriver of one simulated cluster. It looks the cluster up on every
 * call, so it keeps working across upserts and reports a removed cluster as
 * unreachable. Every call but close() costs one API token.
 */
export class SimClusterDriver implements ClusterDriver {
  readonly type = 'sim';
  readonly clusterName: string;
  private readonly access: FleetAccess;

  constructor(clusterName: string, access: FleetAccess) {
    this.clusterName = clusterName;
    this.access = access;
  }

  inventory(): Promise<ClusterInventory> {
    return attempt(() => {
      const member = this.access.member(this.clusterName);
      const down =
        member === undefined
          ? 'it was removed from the sim fleet'
          : this.access.outage(member.cluster);
      if (member === undefined || down !== undefined)
        return unreachable(`cluster "${this.clusterName}" is unreachable: ${down}`);
      this.admit(member);
      return member.cluster.inventory(this.access.now());
    });
  }

  applyWorkload(spec: WorkloadSpec): Promise<void> {
    return attempt(() => this.open().apply(spec, this.access.now()));
  }

  deleteWorkload(key: WorkloadKey): Promise<void> {
    return attempt(() => {
      this.open().delete(key);
    });
  }

  listWorkloads(): Promise<WorkloadStatus[]> {
    return attempt(() => this.open().list(this.access.now()));
  }

  /** Every node with its allocation (one API call, like listing Kubernetes Nodes). */
  nodes(): Promise<NodeStatus[]> {
    return attempt(() => this.open().nodes(this.access.now()));
  }

  /** The twin keeps running without the driver; there is nothing to release. */
  close(): Promise<void> {
    return Promise.resolve();
  }

  private open(): SimCluster {
    const member = this.access.member(this.clusterName);
    if (member === undefined) {
      throw new UnavailableError(
        `cluster "${this.clusterName}" is unavailable: it was removed from the sim fleet`,
        { kind: 'Cluster', name: this.clusterName },
      );
    }
    const down = this.access.outage(member.cluster);
    if (down !== undefined) {
      throw new UnavailableError(`cluster "${this.clusterName}" is unavailable: ${down}`, {
        kind: 'Cluster',
        name: this.clusterName,
      });
    }
    this.admit(member);
    return member.cluster;
  }

  private admit(member: Member): void {
    const wait = member.bucket.take(this.access.now());
    if (wait > 0) {
      const seconds = Math.ceil(wait * 1000) / 1000;
      throw new TooManyRequestsError(
        `cluster "${this.clusterName}" API rate limit exceeded (${member.bucket.describe()}); retry after ${seconds}s`,
        seconds,
        { kind: 'Cluster', name: this.clusterName },
      );
    }
  }
}

function byName<T>(a: [string, T], b: [string, T]): number {
  return a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0;
}

/** Runs `fn` and settles the promise with its result or its error. */
function attempt<T>(fn: () => T): Promise<T> {
  return new Promise<T>((resolve) => resolve(fn()));
}

function unreachable(message: string): ClusterInventory {
  const zero = { cpu: 0, memory: 0, gpu: 0, pods: 0 };
  return {
    reachable: false,
    message,
    capacity: { ...zero },
    allocatable: { ...zero },
    allocated: { ...zero },
    nodeCount: 0,
    readyNodeCount: 0,
    nodesByArch: { amd64: 0, arm64: 0, riscv64: 0 },
    gpuModels: {},
  };
}
