// The whole control plane in-process with the demo fleet: an application is
// placed across clouds, becomes Ready on the digital twin, and moves off a cloud
// that fails.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { runServer } from '../src/cmd/server.ts';
import { inProcessServer } from './server.harness.ts';
import { until } from './wait.ts';

const cp = inProcessServer('e2e', { clusterGraceSeconds: 2 });

async function get<T = any>(path: string): Promise<T> {
  const res = await fetch(`${cp.url}${path}`, { headers: cp.headers });
  assert.equal(res.status, 200, `${path}: ${res.status}`);
  return (await res.json()) as T;
}

const waitFor = <T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 30_000) =>
  until(what, fn, { timeoutMs, stepMs: 250 });

describe('control plane with the demo fleet', () => {
  it('serves at least 12 clouds, 170 sites, and cluster capacity by architecture', async () => {
    assert.ok((await get('/api/v1alpha1/clouds')).items.length >= 12);
    assert.ok((await get('/api/v1alpha1/sites')).items.length >= 170);
    const clusters = await waitFor('cluster status', async () => {
      const list = (await get('/api/v1alpha1/clusters')).items as any[];
      return list.every((c) => c.status?.nodesByArch) ? list : undefined;
    });
    const archs = { amd64: 0, arm64: 0, riscv64: 0 };
    for (const c of clusters)
      for (const a of Object.keys(archs) as (keyof typeof archs)[])
        archs[a] += c.status.nodesByArch[a];
    assert.ok(archs.amd64 > 0 && archs.arm64 > 0 && archs.riscv64 > 0, JSON.stringify(archs));
  });

  it('places the example app over three clouds, fails over off a failed cloud and back after recovery', async () => {
    // Failback after a short stabilisation window, so the test sees it.
    const body = readFileSync(join(import.meta.dirname, '..', 'examples', 'shop.yaml'), 'utf8')
      .replace(/gracePeriodSeconds: \d+/, 'gracePeriodSeconds: 1')
      .replace(/stabilizationSeconds: \d+/, 'stabilizationSeconds: 3');
    assert.match(body, /stabilizationSeconds: 3/);
    const applied = await fetch(`${cp.url}/api/v1alpha1/apply`, {
      method: 'POST',
      headers: { ...cp.headers, 'content-type': 'application/yaml' },
      body,
    });
    assert.equal(applied.status, 200);

    const ready = await waitFor('shop Ready', async () => {
      const app = await get('/api/v1alpha1/namespaces/default/applications/shop');
      return app.status?.conditions?.[0]?.status === 'True' ? app : undefined;
    });
    const clouds = new Set<string>(ready.status.placements.map((p: { cloud: string }) => p.cloud));
    assert.ok(clouds.size >= 3, `placed on ${[...clouds].join(', ')}`);
    for (const p of ready.status.placements)
      assert.ok(['aws', 'aliyun', 'azure', 'gcp'].includes(p.cloud));
    assert.equal(ready.status.replicas.desired, 13);
    assert.equal(ready.status.replicas.ready, 13);

    const victim = [...clouds][0]!;
    const chaos = await fetch(`${cp.url}/api/v1alpha1/chaos`, {
      method: 'POST',
      headers: { ...cp.headers, 'content-type': 'application/json' },
      body: JSON.stringify({ action: 'fail', scope: 'cloud', name: victim }),
    });
    assert.equal(chaos.status, 200);

    await waitFor(`${victim} clusters NotReady`, async () => {
      const list = ((await get('/api/v1alpha1/clusters')).items as any[]).filter(
        (c) => c.spec.cloud === victim,
      );
      assert.ok(list.length > 0, `no clusters in cloud ${victim}`);
      return list.every((c) => c.status?.conditions?.[0]?.status === 'False') ? true : undefined;
    });
    type P = { cloud: string; draining?: boolean; ready: number };
    const moved = await waitFor('shop Ready without the failed cloud', async () => {
      const app = await get('/api/v1alpha1/namespaces/default/applications/shop');
      const ok =
        app.status?.conditions?.[0]?.status === 'True' &&
        app.status.placements.every((p: P) => p.cloud !== victim || p.draining === true);
      return ok ? app : undefined;
    });
    assert.equal(moved.status.replicas.ready, 13);
    // The dead replicas are kept as draining (ready 0) until they can be deleted.
    for (const p of moved.status.placements as P[])
      if (p.cloud === victim) assert.equal(p.ready, 0);
    assert.ok(
      moved.status.displaced?.length > 0,
      `failover remembered for failback: ${JSON.stringify(moved.status)}`,
    );

    const recover = await fetch(`${cp.url}/api/v1alpha1/chaos`, {
      method: 'POST',
      headers: { ...cp.headers, 'content-type': 'application/json' },
      body: JSON.stringify({ action: 'recover', scope: 'cloud', name: victim }),
    });
    assert.equal(recover.status, 200);
    const back = await waitFor(
      'shop failed back onto the recovered cloud',
      async () => {
        const app = await get('/api/v1alpha1/namespaces/default/applications/shop');
        const ps = app.status?.placements as P[] | undefined;
        const ok =
          app.status?.conditions?.[0]?.status === 'True' &&
          app.status.displaced === undefined &&
          ps?.some((p) => p.cloud === victim) === true &&
          ps.every((p) => p.draining !== true);
        return ok ? app : undefined;
      },
      60_000,
    );
    assert.equal(back.status.replicas.ready, 13);
    const reasons = ((await get('/api/v1alpha1/events')).items as any[]).map((e) => e.spec.reason);
    for (const r of ['ClusterNotReady', 'ClusterReady', 'Failover', 'Failback'])
      assert.ok(reasons.includes(r), `event ${r} recorded (have ${reasons.join(', ')})`);
  });

  it('rejects chaos against an unknown target with 404', async () => {
    const res = await fetch(`${cp.url}/api/v1alpha1/chaos`, {
      method: 'POST',
      headers: { ...cp.headers, 'content-type': 'application/json' },
      body: JSON.stringify({ action: 'fail', scope: 'cloud', name: 'nope' }),
    });
    assert.equal(res.status, 404);
  });
});

describe('data directory', () => {
  it('refuses a second server on the same data directory, naming the owner', async () => {
    await assert.rejects(
      runServer({
        port: 0,
        host: '127.0.0.1',
        dataDir: cp.dataDir,
        fleet: 'none',
        fleetScale: 1,
        log: () => {},
      }),
      new RegExp(
        `in use by another Yunjian server \\(pid ${process.pid}\\)|in use by another Yunjian server`,
      ),
    );
  });
});
