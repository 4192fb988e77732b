// Explanations: for the example shop on the demo fleet, why each cloud and
// cluster was chosen or rejected — from the function the API calls, the REST
// endpoint and `yunjian explain app`; and on real agents, that the
// explanation is the decision the controller made.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parse } from 'yaml';
import { run } from '../src/cli/program.ts';
import { describeExplanation } from '../src/cli/describe.ts';
import { explainApplication, settlingClusters } from '../src/controllers/snapshot.ts';
import { generateDemoFleet } from '../src/fleet/index.ts';
import type { Application, Cluster } from '../src/model/schema.ts';
import type { ApplicationExplanation } from '../src/model/explanation.ts';
import { AgentLab, ROOT, killGroup, until, type AgentSpec } from './agents.harness.ts';
import { inProcessServer } from './server.harness.ts';

const shopPath = join(import.meta.dirname, '..', 'examples', 'shop.yaml');
const shop = parse(readFileSync(shopPath, 'utf8')) as Application;
const AFFINITY = 'cloud not in affinity (aws, aliyun, azure, gcp)';

describe('explainApplication on the demo fleet', () => {
  const docs = generateDemoFleet({ alibabaMachineMetaPath: false });
  const now = Date.parse('2026-11-24T12:00:00Z');
  /** Ready for an hour, or for `seconds` when given (settling within the 60 s window). */
  const ready = (c: Cluster, seconds = 3600): Cluster => ({
    ...c,
    status: {
      conditions: [
        {
          type: 'Ready',
          status: 'True',
          lastTransitionTime: new Date(now - seconds * 1000).toISOString(),
        },
      ],
    },
  });
  const fleet = {
    clusters: docs.clusters.map((c) => ready(c)),
    sites: docs.sites,
    clouds: docs.clouds,
  };
  let x: ApplicationExplanation;
  before(async () => {
    x = await explainApplication(shop, fleet, now);
  });

  it('gives every component a verdict on every cluster and cloud', () => {
    assert.equal(x.kind, 'PlacementExplanation');
    assert.deepEqual(
      x.components.map((c) => c.component),
      ['web', 'api', 'cache'],
    );
    for (const c of x.components) {
      assert.equal(c.verdicts.length, docs.clusters.length);
      assert.equal(
        c.clouds.reduce((n, k) => n + k.clusters, 0),
        docs.clusters.length,
      );
      assert.equal(c.unplaced, 0);
      assert.equal(
        c.chosen.reduce((n, k) => n + k.replicas, 0),
        c.replicas,
      );
    }
  });

  it('chooses at least three of the four allowed clouds and says why the others are out', () => {
    for (const c of x.components) {
      const chosen = c.clouds.filter((k) => k.verdict === 'chosen').map((k) => k.cloud);
      assert.ok(chosen.length >= 3, `${c.component}: ${chosen.join(', ')}`);
      for (const k of c.clouds) {
        if (['aws', 'aliyun', 'azure', 'gcp'].includes(k.cloud)) {
          assert.notEqual(k.verdict, 'rejected', `${c.component}: ${k.cloud}`);
        } else {
          assert.equal(k.verdict, 'rejected');
          assert.deepEqual(k.rejected, [{ count: k.clusters, reason: AFFINITY }]);
        }
      }
      assert.ok(c.rejected.some((r) => r.reason === AFFINITY));
      for (const k of c.chosen) {
        assert.ok(k.score > 0 && k.score <= 1);
        assert.deepEqual(Object.keys(k.scores).sort(), ['balance', 'cost', 'packing']);
      }
    }
  });

  it('reads as text: chosen clusters with scores, each cloud with its reasons', () => {
    const text = describeExplanation(x);
    assert.match(text, /^Application: +default\/shop$/m);
    assert.match(
      text,
      /^Component web: 6 replicas, image for amd64\/arm64; \d+ clusters, \d+ feasible/m,
    );
    assert.match(text, /CLUSTER +CLOUD +REPLICAS +SCORE +COST +PACKING +BALANCE/);
    assert.match(
      text,
      new RegExp(`oracle +rejected +\\d+ +\\d+ clusters: ${AFFINITY.replace(/[()]/g, '\\$&')}`),
    );
  });

  it('without an architecture the image lacks, clusters are rejected for it', async () => {
    const armOnly: Application = structuredClone(shop);
    armOnly.spec.components = [{ ...shop.spec.components[1]!, platforms: ['linux/arm64'] }];
    armOnly.spec.placement = {};
    const y = await explainApplication(armOnly, fleet, now);
    assert.ok(y.components[0]!.rejected.some((r) => /image has no amd64 variant/.test(r.reason)));
  });

  it('shows a spread move only onto clusters that have settled', async () => {
    // The shop's web replicas all run on one aws cluster: two clouds short of its minimum.
    const web = shop.spec.components[0]!;
    const home = docs.clusters.find(
      (c) => c.spec.cloud === 'aws' && !/edge/.test(c.metadata.name),
    )!;
    const concentrated: Application = {
      ...structuredClone(shop),
      spec: { ...structuredClone(shop.spec), components: [web] },
      status: {
        placements: [
          {
            component: web.name,
            cluster: home.metadata.name,
            cloud: 'aws',
            desired: web.replicas,
            ready: web.replicas,
          },
        ],
      },
    };
    // Clusters of the other clouds Ready for an hour, or for 10 s (settling).
    const notesWith = async (othersReadySeconds: number) =>
      (
        await explainApplication(
          concentrated,
          {
            ...fleet,
            clusters: docs.clusters.map((c) =>
              ready(c, c.spec.cloud === 'aws' ? 3600 : othersReadySeconds),
            ),
          },
          now,
        )
      ).components[0]!.notes.filter((n) => n.startsWith('spread: a replica moves'));
    assert.equal((await notesWith(3600)).length, 2);
    assert.deepEqual(await notesWith(10), []);
  });
});

describe('settlingClusters', () => {
  const now = Date.parse('2026-11-24T12:00:00Z');
  const cluster = (name: string, status: string, agoSeconds: number, reason?: string): Cluster =>
    ({
      metadata: { name },
      spec: { cloud: 'aws', site: 's', driver: { sim: { nodePools: [] } } },
      status: {
        conditions: [
          {
            type: 'Ready',
            status,
            lastTransitionTime: new Date(now - agoSeconds * 1000).toISOString(),
            ...(reason !== undefined ? { reason } : {}),
          },
        ],
      },
    }) as unknown as Cluster;
  const app = (spread: { by: 'cloud'; min: number }[], stabilizationSeconds?: number) =>
    ({
      ...shop,
      spec: {
        ...shop.spec,
        placement: { spread },
        ...(stabilizationSeconds !== undefined
          ? { failover: { failback: { stabilizationSeconds } } }
          : {}),
      },
    }) as Application;
  const cases: {
    name: string;
    app: Application;
    cluster: Cluster;
    settling: boolean;
    settlesInSeconds?: number;
  }[] = [
    {
      name: 'Ready within the default 60 s window',
      app: app([{ by: 'cloud', min: 2 }]),
      cluster: cluster('a', 'True', 10),
      settling: true,
      settlesInSeconds: 50,
    },
    {
      name: 'Ready for longer than the window',
      app: app([{ by: 'cloud', min: 2 }]),
      cluster: cluster('a', 'True', 61),
      settling: false,
    },
    {
      name: "the app's own window",
      app: app([{ by: 'cloud', min: 2 }], 5),
      cluster: cluster('a', 'True', 10),
      settling: false,
    },
    {
      name: 'contact lost settles only when it turns NotReady or answers again',
      app: app([{ by: 'cloud', min: 2 }]),
      cluster: cluster('a', 'True', 600, 'ContactLost'),
      settling: true,
    },
    {
      name: 'a NotReady cluster is no target anyway',
      app: app([{ by: 'cloud', min: 2 }]),
      cluster: cluster('a', 'False', 10),
      settling: false,
    },
    {
      name: 'an app without a spread minimum above one does not look',
      app: app([{ by: 'cloud', min: 1 }]),
      cluster: cluster('a', 'True', 10),
      settling: false,
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const r = settlingClusters(c.app, [c.cluster], now);
      assert.equal(r.settling.has('a'), c.settling);
      assert.equal(
        r.settlesAtMs,
        c.settlesInSeconds === undefined ? Infinity : now + c.settlesInSeconds * 1000,
      );
    });
  }
});

describe('explain through the API and the CLI', () => {
  const cp = inProcessServer('explain');

  const cli = async (...args: string[]) => {
    const out: string[] = [];
    const err: string[] = [];
    const code = await run(['--server', cp.url, '--token', cp.token, ...args], {
      stdout: (t) => out.push(t),
      stderr: (t) => err.push(t),
      readStdin: () => Promise.resolve(''),
      env: {},
      home: cp.dataDir,
      now: () => Date.now(),
      interrupted: () => new AbortController().signal,
    });
    return { code, out: out.join(''), err: err.join('') };
  };

  it('explains the running shop: the clusters it runs on, and why each cloud', async () => {
    assert.equal((await cli('apply', '-f', shopPath)).code, 0);
    let app: Application | undefined;
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline) {
      const got = await cli('get', 'app', 'shop', '-o', 'json');
      app = JSON.parse(got.out) as Application;
      if (app.status?.conditions?.[0]?.status === 'True') break;
      await new Promise((r) => setTimeout(r, 250));
    }
    assert.equal(app?.status?.conditions?.[0]?.status, 'True');
    assert.ok(
      app.status.reasons?.some((r) => r.reason === AFFINITY),
      `reasons in the status: ${JSON.stringify(app.status)}`,
    );

    const res = await fetch(`${cp.url}/api/v1alpha1/namespaces/default/applications/shop/explain`, {
      headers: cp.headers,
    });
    assert.equal(res.status, 200);
    const x = (await res.json()) as ApplicationExplanation;
    const placements = app.status.placements ?? [];
    for (const c of x.components) {
      const placed = new Set(
        placements.filter((p) => p.component === c.component).map((p) => p.cluster),
      );
      assert.deepEqual(
        new Set(c.chosen.map((k) => k.cluster)),
        placed,
        `${c.component}: the plan the controller keeps`,
      );
    }

    const text = await cli('explain', 'app', 'shop');
    assert.equal(text.code, 0, text.err);
    assert.match(text.out, /By cloud:/);
    for (const cloud of ['aws', 'aliyun', 'azure', 'gcp', 'oracle', 'edge'])
      assert.match(text.out, new RegExp(`^ +${cloud} +(chosen|feasible|rejected) `, 'm'));
    const json = await cli('explain', 'application', 'shop', '-n', 'default', '-o', 'json');
    assert.equal((JSON.parse(json.out) as { kind: string }).kind, 'PlacementExplanation');
  });

  it('answers 404 for an unknown application, and the CLI says so', async () => {
    const res = await fetch(`${cp.url}/api/v1alpha1/namespaces/default/applications/nope/explain`, {
      headers: cp.headers,
    });
    assert.equal(res.status, 404);
    const r = await cli('explain', 'app', 'nope');
    assert.equal(r.code, 1);
    assert.match(r.err, /nope/);
    assert.equal((await cli('explain', 'clusters', 'x')).code, 1);
  });
});

describe('explain on agent members is the decision the controller made', () => {
  const lab = new AgentLab();
  const AGENTS: AgentSpec[] = [
    { cluster: 'east', site: 'alpha-1', address: '127.0.31.1', arch: 'amd64', apiPort: 17790 },
    { cluster: 'north', site: 'beta-1', address: '127.0.32.1', arch: 'arm64', apiPort: 17791 },
    { cluster: 'west', site: 'gamma-1', address: '127.0.33.1', arch: 'amd64', apiPort: 17792 },
  ];
  const hello = join(ROOT, 'examples/apps/hello.mjs');
  // Two small amd64 replicas fit one agent: one amd64 cluster is chosen, the
  // other is feasible and not needed, the arm64 one is rejected. With
  // failover off, a NotReady cluster keeps (holds) its replicas.
  const APP = `
apiVersion: yunjian.io/v1alpha1
kind: Application
metadata: { name: hello }
spec:
  components:
    - name: web
      image: example/web:1
      platforms: [linux/amd64]
      replicas: 2
      resources: { cpu: 100m, memory: 32Mi }
      command: [${JSON.stringify(process.execPath)}, ${JSON.stringify(hello)}]
  failover: { enabled: false }
`;
  interface AppView {
    status?: {
      placements?: { component: string; cluster: string; desired: number; assigned?: number }[];
    };
  }
  const appPath = '/api/v1alpha1/namespaces/default/applications/hello';
  const explain = () => lab.api<ApplicationExplanation>(`${appPath}/explain`);
  const placed = (a: AppView) =>
    Object.fromEntries(
      (a.status?.placements ?? []).map((p) => [p.cluster, p.assigned ?? p.desired]),
    );
  const chosen = (x: ApplicationExplanation) =>
    Object.fromEntries(x.components[0]!.chosen.map((c) => [c.cluster, c.replicas]));
  const verdictOf = (x: ApplicationExplanation, cluster: string) =>
    x.components[0]!.verdicts.find((v) => v.cluster === cluster);

  before(async () => {
    await lab.startServer(0, ['--cluster-grace-seconds', '1']);
    await lab.join(join(ROOT, 'test/fixtures/agent/fleet.yaml'), AGENTS);
  });
  after(() => lab.stopAll());

  it('shows the clusters and replicas the controller placed, with the drivers’ nodes', async () => {
    await until('3 agent clusters Ready', async () => {
      const list = await lab.api<{ items: Cluster[] }>('/api/v1alpha1/clusters');
      const ready = list.items.filter((c) =>
        c.status?.conditions?.some((x) => x.type === 'Ready' && x.status === 'True'),
      );
      return ready.length === 3 ? true : undefined;
    });
    const manifest = join(lab.dir, 'hello.yaml');
    writeFileSync(manifest, APP);
    const applied = await lab.cli('apply', '-f', manifest);
    assert.equal(applied.code, 0, applied.stderr);
    const app = await until('the controller places both replicas', async () => {
      const a = await lab.api<AppView>(appPath);
      const total = Object.values(placed(a)).reduce((n, k) => n + k, 0);
      return total === 2 ? a : undefined;
    });
    const x = await explain();
    assert.deepEqual(chosen(x), placed(app), 'explain chooses what the controller placed');
    const home = Object.keys(placed(app))[0]!;
    const other = home === 'east' ? 'west' : 'east';
    // The unused amd64 agent is feasible on the nodes its driver lists (from
    // cluster status alone an agent cluster has no nodes and would be rejected).
    assert.equal(verdictOf(x, other)?.verdict, 'feasible', JSON.stringify(x.components[0]));
    assert.equal(verdictOf(x, 'north')?.reason, 'image has no arm64 variant');
    assert.equal(x.components[0]!.feasible, 2);
  });

  it('keeps showing a held NotReady cluster’s replicas, as the controller keeps them', async () => {
    const app = await lab.api<AppView>(appPath);
    const home = Object.keys(placed(app))[0]!;
    // Both replica processes run (so none starts after the kill and outlives the test).
    const pids = await until(`2 replicas running on ${home}`, async () => {
      const workloads = await lab.api<{
        items: { spec: { cluster: string }; status?: { replicas?: { pid?: number }[] } }[];
      }>('/api/v1alpha1/workloads');
      const running = workloads.items
        .filter((w) => w.spec.cluster === home)
        .flatMap((w) => (w.status?.replicas ?? []).map((r) => r.pid ?? 0))
        .filter((p) => p > 0);
      return running.length === 2 ? running : undefined;
    });
    killGroup(lab.agents.get(home)!, 'SIGKILL');
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone with its agent
      }
    }
    await until(`${home} NotReady`, async () => {
      const c = await lab.api<Cluster>(`/api/v1alpha1/clusters/${home}`);
      return c.status?.conditions?.some((x) => x.type === 'Ready' && x.status === 'False')
        ? true
        : undefined;
    });
    const x = await explain();
    const now = await lab.api<AppView>(appPath);
    assert.deepEqual(placed(now), placed(app), 'failover off: the controller keeps the replicas');
    assert.deepEqual(chosen(x), placed(now), 'explain shows them held where they are');
    assert.equal(verdictOf(x, home)?.verdict, 'chosen');
  });
});
