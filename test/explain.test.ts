// Explanations: for the example shop on the demo fleet, why each cloud and
// cluster was chosen or rejected — from the pure function, the REST endpoint
// and `yunjian explain app`.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { run } from '../src/cli/program.ts';
import { describeExplanation } from '../src/cli/describe.ts';
import { generateDemoFleet } from '../src/fleet/index.ts';
import type { Application, Cluster } from '../src/model/schema.ts';
import { explainApplication, settlingClusters } from '../src/scheduler/explain.ts';
import { inProcessServer } from './server.harness.ts';

const shopPath = join(import.meta.dirname, '..', 'examples', 'shop.yaml');
const shop = parse(readFileSync(shopPath, 'utf8')) as Application;
const AFFINITY = 'cloud not in affinity (aws, aliyun, azure, gcp)';

describe('explainApplication on the demo fleet', () => {
  const docs = generateDemoFleet({ alibabaMachineMetaPath: false });
  const ready = (c: Cluster): Cluster => ({
    ...c,
    status: { conditions: [{ type: 'Ready', status: 'True' }] },
  });
  const x = explainApplication(shop, {
    clusters: docs.clusters.map(ready),
    sites: docs.sites,
    clouds: docs.clouds,
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

  it('without an architecture the image lacks, clusters are rejected for it', () => {
    const armOnly: Application = structuredClone(shop);
    armOnly.spec.components = [{ ...shop.spec.components[1]!, platforms: ['linux/arm64'] }];
    armOnly.spec.placement = {};
    const y = explainApplication(armOnly, {
      clusters: docs.clusters.map(ready),
      sites: docs.sites,
      clouds: docs.clouds,
    });
    assert.ok(y.components[0]!.rejected.some((r) => /image has no amd64 variant/.test(r.reason)));
  });

  it('shows a spread move only onto clusters that have settled', () => {
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
    const notesWith = (settling: Set<string>) =>
      explainApplication(concentrated, {
        clusters: docs.clusters.map(ready),
        sites: docs.sites,
        clouds: docs.clouds,
        settling,
      }).components[0]!.notes.filter((n) => n.startsWith('spread: a replica moves'));
    const others = docs.clusters.filter((c) => c.spec.cloud !== 'aws').map((c) => c.metadata.name);
    assert.equal(notesWith(new Set()).length, 2);
    assert.deepEqual(notesWith(new Set(others)), []);
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
    const x = (await res.json()) as ReturnType<typeof explainApplication>;
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
