// Two real kube-apiservers as members of one control plane: joined through
// the CLI and the API, an application divided across both with per-cluster
// overrides and architecture selectors, status read back from the clusters,
// failover when one API server stops and failback after it returns. The
// harness plays kubelet, scheduler and controllers in both clusters throughout.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { V1Deployment } from '@kubernetes/client-node';
import { runServer, type RunningServer } from '../src/cmd/server.ts';
import type { KubeClients } from '../src/drivers/kubernetes/index.ts';
import {
  TestCluster,
  addNodes,
  freePort,
  missingComponents,
  playKubelet,
} from './kubernetes.harness.ts';

import { until } from './wait.ts';

const BIN = new URL('../bin/yunjian', import.meta.url).pathname;
const missing = missingComponents();
const NS = 'yj-default-shop';

let shown = (): string => '';
let shownEvents = (): Promise<string> => Promise.resolve('');

// On timeout: the last application status read and the recent events.
const waitFor = <T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 60_000) =>
  until(what, fn, {
    timeoutMs,
    stepMs: 300,
    context: async () => `${shown()}; events: ${await shownEvents()}`,
  });

/** The client's model classes as plain data, for deepEqual. */
function plain(v: unknown): unknown {
  return JSON.parse(JSON.stringify(v ?? null));
}

function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(BIN, args, { env: { ...process.env, HOME: tmpdir() } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

const SHOP = `
apiVersion: yunjian.io/v1alpha1
kind: Application
metadata: { name: shop, namespace: default }
spec:
  components:
    - name: web
      image: registry.example.com/shop/web:1
      platforms: [linux/amd64, linux/arm64]
      replicas: 4
      resources: { cpu: 250m, memory: 256Mi }
      ports: [{ name: http, port: 8080 }]
      env: { LOG_LEVEL: info }
    - name: api
      image: registry.example.com/shop/api:1
      platforms: [linux/amd64]
      replicas: 2
      resources: { cpu: 500m, memory: 512Mi }
      ports: [{ name: grpc, port: 9090 }]
      command: [/bin/api]
      args: [--listen, ':9090']
  placement:
    clusterAffinity: { clusters: [k8s-east, k8s-west] }
    spread: [{ by: cluster, min: 2 }]
    replicaScheduling: { type: Divided, weighting: Static, staticWeights: [{ clusters: [k8s-east], weight: 1 }, { clusters: [k8s-west], weight: 1 }] }
  overrides:
    - target: { clusters: [k8s-west], components: [web] }
      patches: { image: registry.example.com/shop/web:1-west, env: { REGION: west } }
  failover:
    { enabled: true, gracePeriodSeconds: 1, failback: { enabled: true, stabilizationSeconds: 5 } }
`;

const FLEET = `
apiVersion: yunjian.io/v1alpha1
kind: Cloud
metadata: { name: lab }
spec: { vendor: other, type: private }
---
apiVersion: yunjian.io/v1alpha1
kind: Site
metadata: { name: lab-east }
spec: { cloud: lab, kind: datacenter, country: DE, city: Berlin, latitude: 52.5, longitude: 13.4 }
---
apiVersion: yunjian.io/v1alpha1
kind: Site
metadata: { name: lab-west }
spec: { cloud: lab, kind: datacenter, country: FR, city: Paris, latitude: 48.9, longitude: 2.35 }
`;

if (missing !== undefined && process.env['CI'] !== 'true') {
  it('two real Kubernetes clusters as members', (t) => t.skip(missing));
} else {
  describe('two real Kubernetes clusters as members', () => {
    let east: TestCluster;
    let west: TestCluster;
    let eastApi: KubeClients;
    let westApi: KubeClients;
    let server: RunningServer;
    let token: string;
    let dataDir: string;
    let eastDown = false;
    let kubeletStop = false;
    let kubelet: Promise<void> = Promise.resolve();

    const api = async (method: string, path: string, body?: string, type = 'application/json') => {
      const res = await fetch(`${server.url}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${token}`,
          ...(body !== undefined ? { 'content-type': type } : {}),
        },
        ...(body !== undefined ? { body } : {}),
      });
      return { status: res.status, body: (await res.json()) as any };
    };
    /** The last status read, shown when a wait times out. */
    let lastShop: unknown;
    const shop = async () => {
      lastShop = (await api('GET', '/api/v1alpha1/namespaces/default/applications/shop')).body;
      return lastShop as any;
    };
    const deployment = (c: KubeClients, name: string): Promise<V1Deployment> =>
      c.apps.readNamespacedDeployment({ namespace: NS, name });

    before(async () => {
      shown = () => `; application status: ${JSON.stringify((lastShop as any)?.status)}`;
      if (missing !== undefined) throw new Error(`CI needs a real kube-apiserver: ${missing}`);
      east = await TestCluster.start('east');
      west = await TestCluster.start('west');
      eastApi = east.clients();
      westApi = west.clients();
      await addNodes(eastApi, [
        { name: 'east-x86-1', arch: 'amd64', cpu: '4', memory: '8Gi', zone: 'east-a' },
        { name: 'east-x86-2', arch: 'amd64', cpu: '4', memory: '8Gi', zone: 'east-b' },
      ]);
      await addNodes(westApi, [
        { name: 'west-x86-1', arch: 'amd64', cpu: '4', memory: '8Gi' },
        { name: 'west-arm-1', arch: 'arm64', cpu: '8', memory: '16Gi' },
      ]);
      // Things that are not ours: a namespace-mate and a same-named Deployment elsewhere.
      await eastApi.core.createNamespace({ body: { metadata: { name: NS } } });
      for (const namespace of [NS, 'default']) {
        await eastApi.apps.createNamespacedDeployment({
          namespace,
          body: {
            metadata: { name: namespace === NS ? 'legacy' : 'web', labels: { team: 'other' } },
            spec: {
              replicas: 1,
              selector: { matchLabels: { app: 'legacy' } },
              template: {
                metadata: { labels: { app: 'legacy' } },
                spec: { containers: [{ name: 'legacy', image: 'legacy:1' }] },
              },
            },
          },
        });
      }
      dataDir = mkdtempSync(join(tmpdir(), 'yunjian-k8s-e2e-'));
      server = await runServer({
        port: 0,
        host: '127.0.0.1',
        dataDir,
        fleet: 'none',
        fleetScale: 1,
        log: () => {},
        heartbeatSeconds: 1,
        clusterGraceSeconds: 2,
      });
      token = readFileSync(server.adminTokenPath, 'utf8').trim();
      const applied = await api('POST', '/api/v1alpha1/apply', FLEET, 'application/yaml');
      assert.equal(applied.status, 200, JSON.stringify(applied.body));
      // Both clusters' kubelets, schedulers and controllers, until the end.
      kubelet = (async () => {
        while (!kubeletStop) {
          await playKubelet(westApi).catch(() => undefined);
          if (!eastDown) await playKubelet(eastApi).catch(() => undefined);
          await new Promise((r) => setTimeout(r, 250));
        }
      })();
    });

    after(async () => {
      kubeletStop = true;
      await kubelet;
      await server?.close();
      east?.stopSync();
      west?.stopSync();
      if (dataDir) rmSync(dataDir, { recursive: true, force: true });
    });

    it('refuses to join an unreachable cluster or rejected credentials, storing nothing', async () => {
      const bad = join(dataDir, 'bad-token.kubeconfig');
      writeFileSync(bad, east.kubeconfig.replace(/token: \S+/, 'token: not-the-token'));
      const rejected = await cli([
        '--server',
        server.url,
        '--token',
        token,
        'cluster',
        'join',
        'k8s-bad',
        '--kubeconfig',
        bad,
        '--site',
        'lab-east',
      ]);
      assert.notEqual(rejected.code, 0);
      assert.match(rejected.stderr, /kubeconfig: Unauthorized: the credentials .* were rejected/);
      const down = join(dataDir, 'down.kubeconfig');
      writeFileSync(
        down,
        east.kubeconfig.replace(/server: \S+/, `server: https://127.0.0.1:${await freePort()}`),
      );
      const refused = await api(
        'POST',
        '/api/v1alpha1/kubernetes/join',
        JSON.stringify({
          name: 'k8s-down',
          site: 'lab-east',
          kubeconfig: readFileSync(down, 'utf8'),
        }),
      );
      assert.equal(refused.status, 503);
      assert.match(refused.body.message, /unreachable \(ECONNREFUSED\)/);
      const noSite = await api(
        'POST',
        '/api/v1alpha1/kubernetes/join',
        JSON.stringify({ name: 'k8s-x', site: 'nowhere', kubeconfig: east.kubeconfig }),
      );
      assert.equal(noSite.status, 422);
      assert.match(noSite.body.message, /site: .*"nowhere" does not exist/);
      const clusters = (await api('GET', '/api/v1alpha1/clusters')).body.items;
      assert.deepEqual(clusters, []);
      assert.deepEqual((await api('GET', '/api/v1alpha1/secrets')).body.items, []);
    });

    it('joins both clusters (CLI and API), keeping the kubeconfig out of every response', async () => {
      const joined = await cli([
        '--server',
        server.url,
        '--token',
        token,
        'cluster',
        'join',
        'k8s-east',
        '--kubeconfig',
        east.kubeconfigPath,
        '--context',
        'east',
        '--site',
        'lab-east',
      ]);
      assert.equal(joined.code, 0, joined.stderr);
      assert.match(joined.stdout, /cluster\/k8s-east joined: 2 nodes, site lab-east \(cloud lab\)/);
      const viaApi = await api(
        'POST',
        '/api/v1alpha1/kubernetes/join',
        JSON.stringify({ name: 'k8s-west', site: 'lab-west', kubeconfig: west.kubeconfig }),
      );
      assert.equal(viaApi.status, 201, JSON.stringify(viaApi.body));
      assert.equal(viaApi.body.cluster.spec.driver.type, 'kubernetes');

      const secrets = await api('GET', '/api/v1alpha1/secrets');
      assert.equal(secrets.body.items.length, 2);
      const secret = await api('GET', '/api/v1alpha1/secrets/k8s-east-kubeconfig');
      assert.deepEqual(secret.body.spec, { type: 'kubeconfig' });
      const yaml = await cli([
        '--server',
        server.url,
        '--token',
        token,
        'get',
        'secrets',
        '-o',
        'yaml',
      ]);
      assert.equal(yaml.code, 0, yaml.stderr);
      assert.doesNotMatch(yaml.stdout, /token|BEGIN CERTIFICATE|certificate-authority/);

      const ready = await waitFor('both clusters Ready with inventory', async () => {
        const items = (await api('GET', '/api/v1alpha1/clusters')).body.items as any[];
        return items.length === 2 &&
          items.every((c) => c.status?.conditions?.[0]?.status === 'True')
          ? items
          : undefined;
      });
      const member = ready.find((c) => c.metadata.name === 'k8s-west');
      assert.deepEqual(member.status.nodesByArch, { amd64: 1, arm64: 1, riscv64: 0 });
      assert.equal(member.status.capacity.cpu, 12);
    });

    it('divides the app across both clusters with overrides and architecture selectors', async () => {
      const applied = await api('POST', '/api/v1alpha1/apply', SHOP, 'application/yaml');
      assert.equal(applied.status, 200, JSON.stringify(applied.body));
      const app = await waitFor('shop Ready', async () => {
        const a = await shop();
        return a.status?.conditions?.[0]?.status === 'True' && a.status.replicas.ready === 6
          ? a
          : undefined;
      });
      const clusters = new Set(app.status.placements.map((p: any) => p.cluster));
      assert.deepEqual([...clusters].sort(), ['k8s-east', 'k8s-west']);

      const webWest = await deployment(westApi, 'web');
      const webEast = await deployment(eastApi, 'web');
      const containerWest = webWest.spec?.template.spec?.containers[0];
      const containerEast = webEast.spec?.template.spec?.containers[0];
      assert.equal(containerWest?.image, 'registry.example.com/shop/web:1-west');
      assert.equal(containerEast?.image, 'registry.example.com/shop/web:1');
      assert.deepEqual(
        containerWest?.env?.map((e) => `${e.name}=${e.value}`),
        ['LOG_LEVEL=info', 'REGION=west'],
      );
      assert.deepEqual(containerEast?.resources?.requests, { cpu: '250m', memory: '268435456' });
      // Two architectures: node affinity; one: a nodeSelector.
      assert.deepEqual(
        plain(
          webWest.spec?.template.spec?.affinity?.nodeAffinity
            ?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms,
        ),
        [
          {
            matchExpressions: [
              { key: 'kubernetes.io/arch', operator: 'In', values: ['amd64', 'arm64'] },
            ],
          },
        ],
      );
      const apiEast = await deployment(eastApi, 'api');
      assert.deepEqual(apiEast.spec?.template.spec?.nodeSelector, {
        'kubernetes.io/arch': 'amd64',
      });
      assert.deepEqual(apiEast.spec?.template.spec?.containers[0]?.command, ['/bin/api']);
      const placed = (c: string, comp: string) =>
        app.status.placements.find((p: any) => p.cluster === c && p.component === comp);
      assert.equal(
        (webWest.spec?.replicas ?? 0) + (webEast.spec?.replicas ?? 0),
        4,
        'the web replicas are divided, not duplicated',
      );
      assert.equal(webWest.spec?.replicas, placed('k8s-west', 'web').desired);

      // A Service per component; its ClusterIP is the placement's endpoint.
      const svc = await westApi.core.readNamespacedService({ namespace: NS, name: 'web' });
      assert.deepEqual(
        svc.spec?.ports?.map((p) => [p.name, p.port]),
        [['http', 8080]],
      );
      assert.deepEqual(placed('k8s-west', 'web').endpoints, [
        { name: 'http', address: svc.spec?.clusterIP, port: 8080 },
      ]);
    });

    it('fails over when an API server stops and fails back after the stabilisation window', async () => {
      east.stopApiServer();
      eastDown = true;
      try {
        await failoverAndBack();
      } finally {
        if (eastDown) {
          east.startApiServer();
          eastDown = false;
        }
      }
    });

    async function failoverAndBack(): Promise<void> {
      const notReady = await waitFor('k8s-east NotReady', async () => {
        const c = (await api('GET', '/api/v1alpha1/clusters/k8s-east')).body;
        return c.status?.conditions?.[0]?.status === 'False' ? c : undefined;
      });
      assert.match(notReady.status.conditions[0].message, /unreachable \(ECONNREFUSED\)/);
      shownEvents = async () =>
        JSON.stringify(
          ((await api('GET', '/api/v1alpha1/events')).body.items as any[]).map(
            (e) => `${e.spec.lastTimestamp} ${e.spec.reason}: ${e.spec.message}`,
          ),
        );
      await waitFor(
        'shop Ready on k8s-west alone',
        async () => {
          const a = await shop();
          const ok =
            a.status?.conditions?.[0]?.status === 'True' &&
            a.status.replicas.ready === 6 &&
            a.status.displaced?.length > 0 &&
            a.status.placements.every((p: any) => p.cluster === 'k8s-west' || p.draining === true);
          return ok ? a : undefined;
        },
        20_000,
      );
      assert.equal((await deployment(westApi, 'web')).spec?.replicas, 4);
      assert.equal((await deployment(westApi, 'api')).spec?.replicas, 2);

      east.startApiServer();
      eastDown = false;
      const back = await waitFor(
        'shop failed back onto k8s-east',
        async () => {
          const a = await shop();
          const ps = a.status?.placements as any[] | undefined;
          const ok =
            a.status?.conditions?.[0]?.status === 'True' &&
            a.status.replicas.ready === 6 &&
            a.status.displaced === undefined &&
            ps?.some((p) => p.cluster === 'k8s-east' && p.ready > 0) === true &&
            ps.every((p) => p.draining !== true);
          return ok ? a : undefined;
        },
        90_000,
      );
      assert.ok(back.status.placements.some((p: any) => p.cluster === 'k8s-west'));
    }

    it('deleting the app removes only what Yunjian created', async () => {
      const res = await api('DELETE', '/api/v1alpha1/namespaces/default/applications/shop');
      assert.equal(res.status, 200);
      for (const c of [eastApi, westApi]) {
        await waitFor('our Deployments and Services gone', async () => {
          const deps = await c.apps.listDeploymentForAllNamespaces({
            labelSelector: 'app.kubernetes.io/managed-by=yunjian',
          });
          const svcs = await c.core.listServiceForAllNamespaces({
            labelSelector: 'app.kubernetes.io/managed-by=yunjian',
          });
          return deps.items.length === 0 && svcs.items.length === 0 ? true : undefined;
        });
      }
      assert.equal((await deployment(eastApi, 'legacy')).metadata?.labels?.['team'], 'other');
      const foreign = await eastApi.apps.readNamespacedDeployment({
        namespace: 'default',
        name: 'web',
      });
      assert.equal(foreign.spec?.template.spec?.containers[0]?.image, 'legacy:1');
    });

    it('follows a kubeconfig Secret that changes, without a restart (credential rotation)', async () => {
      const secret = (data: string) =>
        JSON.stringify({
          apiVersion: 'yunjian.io/v1alpha1',
          kind: 'Secret',
          metadata: { name: 'k8s-west-kubeconfig', labels: { 'yunjian.io/cluster': 'k8s-west' } },
          spec: { type: 'kubeconfig', data },
        });
      const readyOf = async () =>
        (await api('GET', '/api/v1alpha1/clusters/k8s-west')).body.status?.conditions?.[0] as
          { status: string; message?: string } | undefined;
      // A revoked credential: the driver reads the new Secret and the cluster says why it is down.
      const revoked = west.kubeconfig.replace(/token: \S+/, 'token: revoked');
      assert.equal((await api('POST', '/api/v1alpha1/apply', secret(revoked))).status, 200);
      const down = await waitFor('k8s-west NotReady with the credentials rejected', async () => {
        const r = await readyOf();
        return r?.status === 'False' && /Unauthorized/.test(r.message ?? '') ? r : undefined;
      });
      assert.match(down.message ?? '', /secret k8s-west-kubeconfig/);
      // The rotated credential: Ready again from the same running control plane.
      assert.equal((await api('POST', '/api/v1alpha1/apply', secret(west.kubeconfig))).status, 200);
      await waitFor('k8s-west Ready again', async () =>
        (await readyOf())?.status === 'True' ? true : undefined,
      );
    });
  });
}
