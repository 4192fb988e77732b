// The kubernetes driver: one member cluster reached through its real API, in
// push mode (the control plane writes Deployments and Services; nothing runs
// inside the cluster). Nodes, pods and our own Deployments and Services are
// watched into caches (reflector.ts), so inventory and status reads cost no
// API calls; only one probe per inventory() goes to the server, which is how
// an outage or revoked credentials are noticed and reported for failover.
import type { V1Deployment, V1Pod, V1Service } from '@kubernetes/client-node';
import { AlreadyExistsError, NotFoundError, UnavailableError } from '../../model/errors.ts';
import type {
  ClusterDriver,
  ClusterInventory,
  NodeStatus,
  ResourceTotals,
  WorkloadEndpoint,
  WorkloadKey,
  WorkloadSpec,
  WorkloadStatus,
} from '../types.ts';
import { call, toDriverError, type KubeconfigSource } from './client.ts';
import { openConnection, sourceKey, type Connection } from './connection.ts';
import {
  GPU_PRODUCT_LABEL,
  HASH_ANNOTATION,
  MANAGED_BY,
  MANAGED_BY_LABEL,
  ZONE_LABEL,
  deploymentManifest,
  keyOf,
  namespaceManifest,
  namespaceName,
  objectName,
  selectorLabels,
  serviceManifest,
} from './manifests.ts';
import {
  add,
  live,
  nodeArch,
  nodeReady,
  ownedBy,
  plural,
  podReady,
  podRequests,
  sameKey,
  totals,
  unschedulableReason,
  withResourceVersion,
  zero,
} from './objects.ts';

export interface KubernetesDriverOptions {
  /** Loads the kubeconfig (from a file or the store's Secret) on first use and after failures. */
  source: () => Promise<KubeconfigSource>;
  /** How long reads wait for the caches' first list before reporting the cluster unavailable. */
  syncTimeoutMs?: number;
}

export class KubernetesClusterDriver implements ClusterDriver {
  readonly type = 'kubernetes' as const;
  private readonly options: KubernetesDriverOptions;
  private conn: Connection | undefined;
  private connecting: Promise<Connection> | undefined;
  private readonly namespaces = new Set<string>();
  private lastContactMs: number | undefined;
  private lastInventory: ClusterInventory | undefined;
  private closed = false;

  constructor(options: KubernetesDriverOptions) {
    this.options = options;
  }

  private connection(): Promise<Connection> {
    if (this.conn) return Promise.resolve(this.conn);
    this.connecting ??= this.open().finally(() => {
      this.connecting = undefined;
    });
    return this.connecting;
  }

  private async open(): Promise<Connection> {
    const c = openConnection(await this.options.source());
    if (this.closed) throw new UnavailableError('driver closed');
    for (const r of [c.nodes, c.pods, c.deployments, c.services]) r.start();
    this.conn = c;
    return c;
  }

  /** Waits (bounded) for every cache's first list; an unreachable cluster never gets there. */
  private async synced(c: Connection): Promise<void> {
    const all = [c.nodes, c.pods, c.deployments, c.services];
    if (all.every((r) => r.isSynced)) {
      if (c.watchError instanceof UnavailableError) throw c.watchError;
      return;
    }
    const timeout = this.options.syncTimeoutMs ?? 15_000;
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), timeout);
    });
    const outcome = await Promise.race([Promise.all(all.map((r) => r.synced())), expired]);
    clearTimeout(timer);
    if (outcome === 'timeout') {
      throw (
        c.watchError ??
        new UnavailableError(`cluster ${c.clients.server} did not answer within ${timeout} ms`)
      );
    }
  }

  async inventory(): Promise<ClusterInventory> {
    const empty: ClusterInventory = {
      reachable: false,
      capacity: zero(),
      allocatable: zero(),
      allocated: zero(),
      nodeCount: 0,
      readyNodeCount: 0,
      nodesByArch: { amd64: 0, arm64: 0, riscv64: 0 },
      gpuModels: {},
    };
    const lastContact = () =>
      this.lastContactMs !== undefined ? { lastContactMs: this.lastContactMs } : {};
    let c: Connection;
    try {
      await this.followSource();
      c = await this.connection();
      // The probe needs both a valid credential and the right to list nodes, so
      // a revoked token or a lost role shows up here, not only a dead server.
      await call(c.clients, 'list Nodes', () => c.clients.core.listNode({ limit: 1 }), {
        attempts: 1,
      });
      this.lastContactMs = Date.now();
      await this.synced(c);
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      // The last inventory seen, not zeros: during the failover grace period the
      // cluster still counts as Ready, and zero capacity would make the
      // scheduler move replicas off it as a plain re-placement, one failback
      // would never return.
      const known = this.lastInventory ?? empty;
      return { ...known, reachable: false, message, ...lastContact() };
    }
    const inv: ClusterInventory = { ...empty, reachable: true, ...lastContact() };
    for (const n of this.nodeStatuses(c)) {
      inv.nodeCount++;
      add(inv.capacity, n.raw.capacity);
      add(inv.allocatable, n.status.capacity);
      add(inv.allocated, n.status.allocated);
      if (!n.status.healthy) continue;
      inv.readyNodeCount++;
      inv.nodesByArch[n.status.arch]++;
      if (n.status.gpuModel !== undefined && n.raw.capacity.gpu > 0)
        inv.gpuModels[n.status.gpuModel] =
          (inv.gpuModels[n.status.gpuModel] ?? 0) + n.raw.capacity.gpu;
    }
    this.lastInventory = inv;
    return inv;
  }

  /**
   * The nodes as last seen: while the cluster is unreachable this is the last
   * known view (as inventory() keeps the last known capacity), so the
   * scheduler holds replicas there through the failover grace period instead
   * of seeing an empty cluster.
   */
  async nodes(): Promise<NodeStatus[]> {
    let c: Connection;
    try {
      c = await this.connection();
    } catch (err) {
      throw toDriverError(err, { server: '(not connected)', origin: 'unknown' }, 'connect');
    }
    if (!c.nodes.isSynced || !c.pods.isSynced) await this.synced(c);
    return this.nodeStatuses(c).map((n) => n.status);
  }

  /** Nodes of a known architecture; capacity is what is allocatable, as the scheduler sees it. */
  private nodeStatuses(c: Connection): { status: NodeStatus; raw: { capacity: ResourceTotals } }[] {
    const byNode = new Map<string, ResourceTotals>();
    for (const pod of c.pods.list()) {
      const node = pod.spec?.nodeName;
      if (node === undefined || !live(pod)) continue;
      const sum = byNode.get(node) ?? zero();
      add(sum, podRequests(pod));
      byNode.set(node, sum);
    }
    const out = [];
    for (const node of c.nodes.list()) {
      const arch = nodeArch(node);
      if (arch === undefined) continue;
      const name = node.metadata?.name ?? '';
      const gpuModel = node.metadata?.labels?.[GPU_PRODUCT_LABEL];
      const zone = node.metadata?.labels?.[ZONE_LABEL];
      out.push({
        raw: { capacity: totals(node.status?.capacity) },
        status: {
          name,
          arch,
          healthy: nodeReady(node),
          ...(gpuModel !== undefined ? { gpuModel } : {}),
          ...(zone !== undefined ? { zone } : {}),
          labels: { ...(node.metadata?.labels ?? {}) },
          capacity: totals(node.status?.allocatable ?? node.status?.capacity),
          allocated: byNode.get(name) ?? zero(),
        },
      });
    }
    return out;
  }

  /** The connection with synced caches, or the typed reason why not. */
  private async ready(): Promise<Connection> {
    let c: Connection;
    try {
      c = await this.connection();
    } catch (err) {
      throw toDriverError(err, { server: '(not connected)', origin: 'unknown' }, 'connect');
    }
    await this.synced(c);
    return c;
  }

  private async ensureNamespace(c: Connection, key: WorkloadKey): Promise<void> {
    const name = namespaceName(key);
    if (this.namespaces.has(name)) return;
    try {
      await call(c.clients, `create Namespace ${name}`, () =>
        c.clients.core.createNamespace({ body: namespaceManifest(key) }),
      );
    } catch (err) {
      if (!(err instanceof AlreadyExistsError)) throw err;
    }
    this.namespaces.add(name);
  }

  async applyWorkload(spec: WorkloadSpec): Promise<void> {
    const c = await this.ready();
    const namespace = namespaceName(spec.key);
    const name = objectName(spec.key);
    const desired = deploymentManifest(spec);
    const cached = c.deployments
      .list()
      .find((d) => d.metadata?.namespace === namespace && d.metadata.name === name);
    if (cached?.metadata?.annotations?.[HASH_ANNOTATION] !== spec.hash) {
      await this.ensureNamespace(c, spec.key);
      const written = await this.writeDeployment(c, desired, cached);
      c.deployments.observe(written);
    }
    await this.applyService(c, spec);
  }

  private async writeDeployment(
    c: Connection,
    desired: V1Deployment,
    cached: V1Deployment | undefined,
  ): Promise<V1Deployment> {
    const namespace = desired.metadata?.namespace ?? '';
    const name = desired.metadata?.name ?? '';
    return this.writeOwned(c, 'Deployment', namespace, name, cached, {
      create: () => c.clients.apps.createNamespacedDeployment({ namespace, body: desired }),
      replace: (current) =>
        c.clients.apps.replaceNamespacedDeployment({
          namespace,
          name,
          body: withResourceVersion(desired, current),
        }),
      read: () => c.clients.apps.readNamespacedDeployment({ namespace, name }),
    });
  }

  /**
   * Creates the object when the cache has none, else replaces the cached one.
   * When the cache was stale (created elsewhere, or changed since) it reads the
   * object and decides again, a bounded number of times.
   */
  private async writeOwned<T extends { metadata?: { labels?: Record<string, string> } }>(
    c: Connection,
    kind: string,
    namespace: string,
    name: string,
    cached: T | undefined,
    ops: { create: () => Promise<T>; replace: (current: T) => Promise<T>; read: () => Promise<T> },
  ): Promise<T> {
    const what = `write ${kind} ${namespace}/${name}`;
    let current = cached;
    for (let attempt = 0; attempt < 3; attempt++) {
      const seen = current;
      try {
        return await call(c.clients, what, () =>
          seen === undefined ? ops.create() : ops.replace(seen),
        );
      } catch (err) {
        const y = toDriverError(err, c.clients, what);
        if (
          !(y instanceof AlreadyExistsError) &&
          y.reason !== 'Conflict' &&
          y.reason !== 'NotFound'
        )
          throw y;
        current = await this.readOwned(c, kind, namespace, name, ops.read);
      }
    }
    throw new UnavailableError(`${what}: kept changing under us; will retry`);
  }

  /** Reads an object; undefined when absent; refuses (non-retryable) one that is not ours. */
  private async readOwned<T extends { metadata?: { labels?: Record<string, string> } }>(
    c: Connection,
    kind: string,
    namespace: string,
    name: string,
    read: () => Promise<T>,
  ): Promise<T | undefined> {
    let obj: T;
    try {
      obj = await call(c.clients, `read ${kind} ${namespace}/${name}`, read);
    } catch (err) {
      if (err instanceof NotFoundError) return undefined;
      throw err;
    }
    if (!ownedBy(obj.metadata)) {
      throw new AlreadyExistsError(
        `${kind} ${namespace}/${name} in ${c.clients.server} was not created by Yunjian (no ${MANAGED_BY_LABEL}=${MANAGED_BY} label); refusing to change it`,
      );
    }
    return obj;
  }

  private async applyService(c: Connection, spec: WorkloadSpec): Promise<void> {
    const namespace = namespaceName(spec.key);
    const name = objectName(spec.key);
    const desired = serviceManifest(spec);
    const cached = c.services
      .list()
      .find((s) => s.metadata?.namespace === namespace && s.metadata.name === name);
    if (desired === undefined) {
      if (cached) await this.deleteService(c, namespace, name);
      return;
    }
    if (cached?.metadata?.annotations?.[HASH_ANNOTATION] === spec.hash) return;
    await this.ensureNamespace(c, spec.key);
    const written = await this.writeOwned(c, 'Service', namespace, name, cached, {
      create: () => c.clients.core.createNamespacedService({ namespace, body: desired }),
      replace: (current) => {
        // clusterIP is immutable once allocated: carry it over.
        const body: V1Service = {
          ...withResourceVersion(desired, current),
          spec: {
            ...desired.spec,
            ...(current.spec?.clusterIP !== undefined ? { clusterIP: current.spec.clusterIP } : {}),
          },
        };
        return c.clients.core.replaceNamespacedService({ namespace, name, body });
      },
      read: () => c.clients.core.readNamespacedService({ namespace, name }),
    });
    c.services.observe(written);
  }

  private async deleteService(c: Connection, namespace: string, name: string): Promise<void> {
    const svc = await this.readOwnedOrSkip(c, 'Service', namespace, name, () =>
      c.clients.core.readNamespacedService({ namespace, name }),
    );
    if (!svc) return;
    try {
      await call(c.clients, `delete Service ${namespace}/${name}`, () =>
        c.clients.core.deleteNamespacedService({ namespace, name }),
      );
    } catch (err) {
      if (!(err instanceof NotFoundError)) throw err;
    }
    c.services.forget(svc);
  }

  /** Like readOwned, but a foreign object is simply left alone (deletes never touch what is not ours). */
  private async readOwnedOrSkip<T extends { metadata?: { labels?: Record<string, string> } }>(
    c: Connection,
    kind: string,
    namespace: string,
    name: string,
    read: () => Promise<T>,
  ): Promise<T | undefined> {
    try {
      return await this.readOwned(c, kind, namespace, name, read);
    } catch (err) {
      if (err instanceof AlreadyExistsError) return undefined;
      throw err;
    }
  }

  async deleteWorkload(key: WorkloadKey): Promise<void> {
    const c = await this.ready();
    const namespace = namespaceName(key);
    const name = objectName(key);
    const dep = await this.readOwnedOrSkip(c, 'Deployment', namespace, name, () =>
      c.clients.apps.readNamespacedDeployment({ namespace, name }),
    );
    if (dep && sameKey(keyOf(dep.metadata ?? {}) ?? key, key)) {
      try {
        // Background: the API server removes the Deployment now and the garbage
        // collector its ReplicaSets and pods after.
        await call(c.clients, `delete Deployment ${namespace}/${name}`, () =>
          c.clients.apps.deleteNamespacedDeployment({
            namespace,
            name,
            propagationPolicy: 'Background',
          }),
        );
      } catch (err) {
        if (!(err instanceof NotFoundError)) throw err;
      }
      c.deployments.forget(dep);
      // The workload's pods are released at once, not when the garbage
      // collector gets to them: they stop counting as allocated now, and a
      // ReplicaSet racing the collector cannot keep them.
      const selector = Object.entries(selectorLabels(key))
        .map(([k, v]) => `${k}=${v}`)
        .join(',');
      await call(c.clients, `delete pods of ${namespace}/${name}`, () =>
        c.clients.core.deleteCollectionNamespacedPod({ namespace, labelSelector: selector }),
      );
      const labels = selectorLabels(key);
      for (const p of c.pods.list()) {
        if (
          p.metadata?.namespace === namespace &&
          Object.entries(labels).every(([k, v]) => p.metadata?.labels?.[k] === v)
        )
          c.pods.forget(p);
      }
    }
    await this.deleteService(c, namespace, name);
  }

  async listWorkloads(): Promise<WorkloadStatus[]> {
    const c = await this.ready();
    const pods = c.pods.list().filter((p) => ownedBy(p.metadata) && live(p));
    const out: WorkloadStatus[] = [];
    for (const d of c.deployments.list()) {
      const key = keyOf(d.metadata ?? {});
      if (!key) continue;
      out.push(this.workloadStatus(c, d, key, pods));
    }
    return out;
  }

  private workloadStatus(
    c: Connection,
    d: V1Deployment,
    key: WorkloadKey,
    owned: V1Pod[],
  ): WorkloadStatus {
    const hash = d.metadata?.annotations?.[HASH_ANNOTATION] ?? '';
    const desired = d.spec?.replicas ?? 1;
    const labels = selectorLabels(key);
    const mine = owned.filter(
      (p) =>
        p.metadata?.namespace === d.metadata?.namespace &&
        Object.entries(labels).every(([k, v]) => p.metadata?.labels?.[k] === v),
    );
    // Only pods of the current template count: during a rollout the old ones are on their way out.
    const current = mine.filter((p) => p.metadata?.annotations?.[HASH_ANNOTATION] === hash);
    const scheduled = current.filter((p) => p.spec?.nodeName !== undefined).length;
    const ready = current.filter((p) => p.spec?.nodeName !== undefined && podReady(p)).length;
    const status: WorkloadStatus = { key, hash, desired, scheduled, ready };
    const message = this.why(d, current, desired, scheduled, ready);
    if (message !== undefined) status.message = message;
    const endpoints = ready > 0 ? this.endpoints(c, d) : [];
    if (endpoints.length > 0) status.endpoints = endpoints;
    return status;
  }

  private why(
    d: V1Deployment,
    current: V1Pod[],
    desired: number,
    scheduled: number,
    ready: number,
  ): string | undefined {
    if (scheduled === desired && ready === desired) return undefined;
    const parts: string[] = [];
    const reasons = new Map<string, number>();
    for (const p of current) {
      const r = p.spec?.nodeName === undefined ? unschedulableReason(p) : undefined;
      if (r !== undefined) reasons.set(r, (reasons.get(r) ?? 0) + 1);
    }
    for (const [r, n] of reasons) parts.push(`${plural(n, 'replica')} unschedulable: ${r}`);
    for (const cond of d.status?.conditions ?? []) {
      const failing =
        (cond.type === 'ReplicaFailure' && cond.status === 'True') ||
        (cond.type === 'Progressing' && cond.status === 'False');
      if (failing) parts.push(cond.message ?? cond.reason ?? cond.type);
    }
    if (parts.length > 0) return parts.join('; ');
    if (scheduled < desired) return `${plural(desired - scheduled, 'replica')} pending`;
    if (ready < scheduled) return `${plural(scheduled - ready, 'replica')} starting`;
    if (scheduled > desired) return `scaling down to ${desired}`;
    return undefined;
  }

  private endpoints(c: Connection, d: V1Deployment): WorkloadEndpoint[] {
    const svc = c.services
      .list()
      .find(
        (s) =>
          s.metadata?.namespace === d.metadata?.namespace && s.metadata?.name === d.metadata?.name,
      );
    if (!svc) return [];
    const ingress = svc.status?.loadBalancer?.ingress?.[0];
    const ingressAddress = ingress?.ip ?? ingress?.hostname;
    const nodeAddress =
      svc.spec?.type === 'NodePort'
        ? c.nodes
            .list()
            .filter(nodeReady)
            .flatMap((n) => n.status?.addresses ?? [])
            .find((a) => a.type === 'ExternalIP' || a.type === 'InternalIP')?.address
        : undefined;
    const out: WorkloadEndpoint[] = [];
    for (const p of svc.spec?.ports ?? []) {
      const name = p.name !== undefined && !/^port-\d+-\d+$/.test(p.name) ? { name: p.name } : {};
      if (ingressAddress !== undefined)
        out.push({ ...name, address: ingressAddress, port: p.port });
      else if (nodeAddress !== undefined && p.nodePort !== undefined)
        out.push({ ...name, address: nodeAddress, port: p.nodePort });
      else if (svc.spec?.clusterIP !== undefined && svc.spec.clusterIP !== 'None')
        out.push({ ...name, address: svc.spec.clusterIP, port: p.port });
    }
    return out;
  }

  close(): Promise<void> {
    this.closed = true;
    this.disconnect();
    return Promise.resolve();
  }

  private disconnect(): void {
    const c = this.conn;
    this.conn = undefined;
    this.namespaces.clear();
    if (c) for (const r of [c.nodes, c.pods, c.deployments, c.services]) r.stop();
  }

  /**
   * Credentials rotate and clusters move: when the kubeconfig (the Secret's
   * content or the file) is no longer the one the connection was opened
   * with, the connection is dropped and the next call opens one from the new
   * source. A source that cannot be read is the caller's error to report.
   */
  private async followSource(): Promise<void> {
    const c = this.conn;
    if (!c) return;
    const now = sourceKey(await this.options.source());
    if (this.conn === c && now !== c.source) this.disconnect();
  }
}
