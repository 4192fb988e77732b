// Real kube-apiservers for tests (scripts/kube-apiserver.sh, each with its own
// etcd on free loopback ports) and a stand-in for the parts of Kubernetes that
// are not there: no kubelet, scheduler or controller-manager runs, so
// `playKubelet` does their jobs the way KWOK does, through the real API:
// pods for each Deployment (deployment controller), binding them to nodes that
// fit or marking them Unschedulable (scheduler), Ready (kubelet), Deployment
// status, and removing pods whose Deployment is gone (garbage collector).
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import type { V1Deployment, V1Node, V1Pod } from '@kubernetes/client-node';
import { connect, type KubeClients } from '../src/drivers/kubernetes/client.ts';
import { OWNED_SELECTOR } from '../src/drivers/kubernetes/manifests.ts';

const SCRIPT = new URL('../scripts/kube-apiserver.sh', import.meta.url).pathname;

/** Why the real API server cannot run here, or undefined when it can. */
export function missingComponents(): string | undefined {
  const which = spawnSync('sh', ['-c', 'command -v etcd && command -v openssl && command -v curl']);
  if (which.status !== 0) return 'etcd-server, openssl or curl is not installed';
  const bin = spawnSync('bash', [SCRIPT, 'path'], { encoding: 'utf8' });
  if (bin.status !== 0)
    return 'kube-apiserver is not built (run scripts/kube-apiserver.sh build; ~5 min)';
  return undefined;
}

/** Skips the test with the reason, or fails it under CI=true, when the API server cannot run. */
export function requireApiServer(t: TestContext): boolean {
  const missing = missingComponents();
  if (missing === undefined) return true;
  if (process.env['CI'] === 'true') throw new Error(`CI needs a real kube-apiserver: ${missing}`);
  t.skip(missing);
  return false;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

const running = new Set<TestCluster>();
process.on('exit', () => {
  for (const c of running) c.stopSync();
});

export class TestCluster {
  readonly name: string;
  readonly dir: string;
  readonly kubeconfigPath: string;
  private readonly env: NodeJS.ProcessEnv;

  private constructor(name: string, dir: string, env: NodeJS.ProcessEnv) {
    this.name = name;
    this.dir = dir;
    this.env = env;
    this.kubeconfigPath = join(dir, 'kubeconfig');
  }

  static async start(name: string): Promise<TestCluster> {
    const dir = join(mkdtempSync(join(tmpdir(), 'yunjian-k8s-')), name);
    const env = {
      ...process.env,
      ETCD_PORT: String(await freePort()),
      ETCD_PEER_PORT: String(await freePort()),
      KUBE_PORT: String(await freePort()),
    };
    const c = new TestCluster(name, dir, env);
    running.add(c);
    try {
      c.script('start', 'all');
    } catch (err) {
      c.stopSync();
      throw err;
    }
    return c;
  }

  private script(...args: string[]): void {
    const r = spawnSync('bash', [SCRIPT, args[0] ?? '', this.dir, ...args.slice(1)], {
      env: this.env,
      encoding: 'utf8',
      timeout: 90_000,
    });
    if (r.status !== 0)
      throw new Error(
        `kube-apiserver.sh ${args.join(' ')} failed: ${r.stderr || r.error?.message}`,
      );
  }

  get kubeconfig(): string {
    return readFileSync(this.kubeconfigPath, 'utf8');
  }

  clients(): KubeClients {
    return connect({ kubeconfig: this.kubeconfig, origin: `file ${this.kubeconfigPath}` });
  }

  stopApiServer(): void {
    this.script('stop', 'apiserver');
  }

  startApiServer(): void {
    this.script('start', 'apiserver');
  }

  stopSync(): void {
    spawnSync('bash', [SCRIPT, 'stop', this.dir, 'all'], { env: this.env });
    running.delete(this);
    rmSync(join(this.dir, '..'), { recursive: true, force: true });
  }
}

export interface NodeShape {
  name: string;
  arch: 'amd64' | 'arm64' | 'riscv64';
  cpu: string;
  memory: string;
  pods?: number;
  zone?: string;
}

/** Registers nodes as a kubelet would: the Node object, then its Ready status. */
export async function addNodes(c: KubeClients, shapes: NodeShape[]): Promise<void> {
  for (const s of shapes) {
    const labels: Record<string, string> = {
      'kubernetes.io/arch': s.arch,
      'kubernetes.io/os': 'linux',
      'kubernetes.io/hostname': s.name,
      ...(s.zone !== undefined ? { 'topology.kubernetes.io/zone': s.zone } : {}),
    };
    const created = await c.core.createNode({
      body: { apiVersion: 'v1', kind: 'Node', metadata: { name: s.name, labels } },
    });
    const resources = { cpu: s.cpu, memory: s.memory, pods: String(s.pods ?? 110) };
    await c.core.replaceNodeStatus({
      name: s.name,
      body: {
        ...created,
        status: {
          capacity: resources,
          allocatable: resources,
          nodeInfo: {
            architecture: s.arch,
            operatingSystem: 'linux',
            bootID: '',
            containerRuntimeVersion: 'fake://1',
            kernelVersion: '',
            kubeProxyVersion: '',
            kubeletVersion: 'v1.20.2',
            machineID: '',
            osImage: 'fake',
            systemUUID: '',
          },
          addresses: [{ type: 'InternalIP', address: '127.0.0.1' }],
          conditions: [
            {
              type: 'Ready',
              status: 'True',
              reason: 'KubeletReady',
              lastHeartbeatTime: new Date(),
              lastTransitionTime: new Date(),
            },
          ],
        },
      },
    });
  }
}

function templateHash(d: V1Deployment): string {
  return createHash('sha256')
    .update(JSON.stringify(d.spec?.template ?? {}))
    .digest('hex')
    .slice(0, 10);
}

const TEMPLATE = 'test.yunjian.io/template';
const CPU = (q: string | undefined) =>
  q === undefined ? 0 : q.endsWith('m') ? Number(q.slice(0, -1)) / 1000 : Number(q);
const MEM = (q: string | undefined) => {
  if (q === undefined) return 0;
  const m = /^(\d+)(Ki|Mi|Gi)?$/.exec(q);
  const f = { Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30 } as Record<string, number>;
  return m ? Number(m[1]) * (f[m[2] ?? ''] ?? 1) : 0;
};

function requests(p: V1Pod): { cpu: number; memory: number } {
  let cpu = 0;
  let memory = 0;
  for (const c of p.spec?.containers ?? []) {
    const r = c.resources?.requests as Record<string, string> | undefined;
    cpu += CPU(r?.['cpu']);
    memory += MEM(r?.['memory']);
  }
  return { cpu, memory };
}

function archAllowed(p: V1Pod, node: V1Node): boolean {
  const arch = node.metadata?.labels?.['kubernetes.io/arch'] ?? '';
  for (const [k, v] of Object.entries(p.spec?.nodeSelector ?? {}))
    if (node.metadata?.labels?.[k] !== v) return false;
  const terms =
    p.spec?.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution
      ?.nodeSelectorTerms;
  if (!terms) return true;
  return terms.some((t) =>
    (t.matchExpressions ?? []).every(
      (e) => e.key !== 'kubernetes.io/arch' || (e.values ?? []).includes(arch),
    ),
  );
}

/** Deletes a pod at once, as a kubelet confirming termination does (grace period 0). */
async function removePod(c: KubeClients, p: V1Pod): Promise<void> {
  await c.core
    .deleteNamespacedPod({
      name: p.metadata?.name ?? '',
      namespace: p.metadata?.namespace ?? '',
      gracePeriodSeconds: 0,
    })
    .catch(() => undefined);
}

/** One pass of deployment controller + scheduler + kubelet + garbage collector over the whole cluster. */
export async function playKubelet(c: KubeClients): Promise<void> {
  const [nodes, pods, deps] = await Promise.all([
    c.core.listNode(),
    c.core.listPodForAllNamespaces(),
    c.apps.listDeploymentForAllNamespaces(),
  ]);
  const depByUid = new Map(deps.items.map((d) => [d.metadata?.uid ?? '', d]));
  let live: V1Pod[] = [];
  for (const p of pods.items) {
    const owner = p.metadata?.ownerReferences?.find((o) => o.kind === 'Deployment');
    if (p.metadata?.deletionTimestamp !== undefined || (owner && !depByUid.has(owner.uid)))
      await removePod(c, p);
    else live.push(p);
  }
  // Deployment controller: the current template's pods up to `replicas`; old ones go.
  for (const d of deps.items) {
    const uid = d.metadata?.uid ?? '';
    const hash = templateHash(d);
    const own = live.filter((p) => p.metadata?.ownerReferences?.some((o) => o.uid === uid));
    const current = own.filter((p) => p.metadata?.annotations?.[TEMPLATE] === hash);
    const stale = own.filter((p) => p.metadata?.annotations?.[TEMPLATE] !== hash);
    const want = d.spec?.replicas ?? 1;
    // Unscheduled pods go first when scaling down.
    current.sort(
      (a, b) => Number(a.spec?.nodeName === undefined) - Number(b.spec?.nodeName === undefined),
    );
    for (const p of [...stale, ...current.slice(want)]) await removePod(c, p);
    const removed = new Set([...stale, ...current.slice(want)]);
    live = live.filter((p) => !removed.has(p));
    const namespace = d.metadata?.namespace ?? '';
    for (let i = current.length; i < want; i++) {
      const tmpl = d.spec?.template;
      const pod = await c.core.createNamespacedPod({
        namespace,
        body: {
          apiVersion: 'v1',
          kind: 'Pod',
          metadata: {
            generateName: `${d.metadata?.name ?? 'pod'}-`,
            namespace,
            labels: tmpl?.metadata?.labels ?? {},
            annotations: { ...(tmpl?.metadata?.annotations ?? {}), [TEMPLATE]: hash },
            ownerReferences: [
              { apiVersion: 'apps/v1', kind: 'Deployment', name: d.metadata?.name ?? '', uid },
            ],
          },
          spec: tmpl?.spec ?? { containers: [] },
        },
      });
      live.push(pod);
    }
  }
  // Scheduler: first fit by cpu, memory, pod count and node selection.
  const used = new Map<string, { cpu: number; memory: number; pods: number }>();
  for (const p of live) {
    const n = p.spec?.nodeName;
    if (n === undefined) continue;
    const u = used.get(n) ?? { cpu: 0, memory: 0, pods: 0 };
    const r = requests(p);
    used.set(n, { cpu: u.cpu + r.cpu, memory: u.memory + r.memory, pods: u.pods + 1 });
  }
  const ready = nodes.items.filter((n) =>
    (n.status?.conditions ?? []).some((x) => x.type === 'Ready' && x.status === 'True'),
  );
  for (const p of live) {
    const name = p.metadata?.name ?? '';
    const namespace = p.metadata?.namespace ?? '';
    if (p.spec?.nodeName === undefined) {
      const r = requests(p);
      let unmatched = 0;
      let full = 0;
      const fit = ready.find((n) => {
        if (!archAllowed(p, n)) {
          unmatched++;
          return false;
        }
        const u = used.get(n.metadata?.name ?? '') ?? { cpu: 0, memory: 0, pods: 0 };
        const a = n.status?.allocatable ?? {};
        const fits =
          u.cpu + r.cpu <= CPU(a['cpu']) + 1e-9 &&
          u.memory + r.memory <= MEM(a['memory']) &&
          u.pods + 1 <= Number(a['pods'] ?? 110);
        if (!fits) full++;
        return fits;
      });
      if (fit) {
        const node = fit.metadata?.name ?? '';
        await c.core.createNamespacedPodBinding({
          name,
          namespace,
          body: { metadata: { name }, target: { kind: 'Node', name: node } },
        });
        const u = used.get(node) ?? { cpu: 0, memory: 0, pods: 0 };
        used.set(node, { cpu: u.cpu + r.cpu, memory: u.memory + r.memory, pods: u.pods + 1 });
        p.spec = { ...p.spec, containers: p.spec?.containers ?? [], nodeName: node };
      } else {
        const parts = [];
        if (full > 0) parts.push(`${full} Insufficient cpu or memory`);
        if (unmatched > 0)
          parts.push(`${unmatched} node(s) didn't match Pod's node affinity/selector`);
        const message = `0/${ready.length} nodes are available: ${parts.join(', ')}.`;
        const fresh = await c.core.readNamespacedPod({ name, namespace });
        const cond = fresh.status?.conditions?.find((x) => x.type === 'PodScheduled');
        if (cond?.message !== message) {
          await c.core.replaceNamespacedPodStatus({
            name,
            namespace,
            body: {
              ...fresh,
              status: {
                phase: 'Pending',
                conditions: [
                  { type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message },
                ],
              },
            },
          });
        }
        continue;
      }
    }
    // Kubelet: a bound pod starts and becomes Ready.
    if (
      p.status?.phase !== 'Running' ||
      !p.status.conditions?.some((x) => x.type === 'Ready' && x.status === 'True')
    ) {
      const fresh = await c.core.readNamespacedPod({ name, namespace });
      await c.core.replaceNamespacedPodStatus({
        name,
        namespace,
        body: {
          ...fresh,
          status: {
            phase: 'Running',
            podIP: '10.244.0.1',
            conditions: [
              { type: 'PodScheduled', status: 'True' },
              { type: 'Ready', status: 'True' },
              { type: 'ContainersReady', status: 'True' },
            ],
          },
        },
      });
    }
  }
  // Deployment status, as the deployment controller reports it.
  const after = await c.core.listPodForAllNamespaces();
  for (const d of deps.items) {
    const uid = d.metadata?.uid ?? '';
    const own = after.items.filter(
      (p) =>
        p.metadata?.deletionTimestamp === undefined &&
        p.metadata?.ownerReferences?.some((o) => o.uid === uid),
    );
    const isReady = (p: V1Pod) =>
      p.status?.conditions?.some((x) => x.type === 'Ready' && x.status === 'True') === true;
    const status = {
      observedGeneration: d.metadata?.generation ?? 1,
      replicas: own.length,
      updatedReplicas: own.filter((p) => p.metadata?.annotations?.[TEMPLATE] === templateHash(d))
        .length,
      readyReplicas: own.filter(isReady).length,
      availableReplicas: own.filter(isReady).length,
    };
    const s = d.status ?? {};
    if (
      s.replicas === status.replicas &&
      s.readyReplicas === status.readyReplicas &&
      s.updatedReplicas === status.updatedReplicas &&
      s.observedGeneration === status.observedGeneration
    )
      continue;
    await c.apps
      .replaceNamespacedDeploymentStatus({
        name: d.metadata?.name ?? '',
        namespace: d.metadata?.namespace ?? '',
        body: { ...d, status },
      })
      .catch(() => undefined); // changed meanwhile: the next pass catches up
  }
}

/** Removes everything this control plane created (tests start each case from an empty cluster). */
export async function removeOwned(c: KubeClients): Promise<void> {
  const deps = await c.apps.listDeploymentForAllNamespaces({ labelSelector: OWNED_SELECTOR });
  for (const d of deps.items)
    await c.apps
      .deleteNamespacedDeployment({
        name: d.metadata?.name ?? '',
        namespace: d.metadata?.namespace ?? '',
      })
      .catch(() => undefined);
  const svcs = await c.core.listServiceForAllNamespaces({ labelSelector: OWNED_SELECTOR });
  for (const s of svcs.items)
    await c.core
      .deleteNamespacedService({
        name: s.metadata?.name ?? '',
        namespace: s.metadata?.namespace ?? '',
      })
      .catch(() => undefined);
  const pods = await c.core.listPodForAllNamespaces({ labelSelector: OWNED_SELECTOR });
  for (const p of pods.items) await removePod(c, p);
}
