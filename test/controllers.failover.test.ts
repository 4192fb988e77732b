// Failover policy, make-before-break moves and rebalance, end to end on the
// in-process control plane with the digital-twin fleet.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { generateDemoFleet } from '../src/fleet/index.ts';
import { parseCpuMillis } from '../src/model/quantity.ts';
import { inProcessServer } from './server.harness.ts';
import { until } from './wait.ts';

const cp = inProcessServer('failover', { clusterGraceSeconds: 1, simStartupSeconds: 2 });

// Two public-cloud clusters of different clouds, with amd64 nodes.
const fleet = generateDemoFleet({ scale: 1 });
const amd64Clusters = fleet.clusters.filter(
  (c) =>
    c.spec.driver.sim?.nodePools.some((p) => p.arch === 'amd64') === true &&
    !c.metadata.name.includes('edge'),
);
const first = amd64Clusters[0]!;
const second = amd64Clusters.find((c) => c.spec.cloud !== first.spec.cloud)!;
// A small cluster of one node pool, which one app can fill.
const small = amd64Clusters.find((c) => {
  const pools = c.spec.driver.sim!.nodePools;
  return pools.length === 1 && pools[0]!.count > 0 && pools[0]!.count <= 40 && !pools[0]!.gpu;
})!;

interface Placement {
  cluster: string;
  cloud: string;
  desired: number;
  ready: number;
  draining?: boolean;
}
interface AppView {
  metadata: { annotations?: Record<string, string> };
  status?: {
    placements?: Placement[];
    conditions?: { status: string; reason?: string }[];
    rebalanced?: string;
  };
}

async function call(method: string, path: string, body?: unknown): Promise<Response> {
  return fetch(`${cp.url}${path}`, {
    method,
    headers: {
      ...cp.headers,
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
    },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
}

async function apply(doc: object): Promise<void> {
  const res = await fetch(`${cp.url}/api/v1alpha1/apply`, {
    method: 'POST',
    headers: { ...cp.headers, 'content-type': 'application/json' },
    body: JSON.stringify(doc),
  });
  assert.equal(res.status, 200, await res.text());
}

const appPath = (name: string) => `/api/v1alpha1/namespaces/default/applications/${name}`;

async function getApp(name: string): Promise<AppView> {
  const res = await call('GET', appPath(name));
  assert.equal(res.status, 200);
  return (await res.json()) as AppView;
}

const waitFor = <T>(what: string, fn: () => Promise<T | undefined>) =>
  until(what, fn, { timeoutMs: 60_000, stepMs: 100 });

function app(name: string, clusters: string[], failover?: object) {
  return {
    apiVersion: 'yunjian.io/v1alpha1',
    kind: 'Application',
    metadata: { name, namespace: 'default' },
    spec: {
      components: [
        {
          name: 'web',
          image: 'registry.example.com/web:1',
          replicas: 2,
          resources: { cpu: '250m', memory: '256Mi' },
        },
      ],
      placement: { clusterAffinity: { clusters } },
      ...(failover ? { failover } : {}),
    },
  };
}

const isReady = (a: AppView) => a.status?.conditions?.[0]?.status === 'True';

describe('failover policy and moves', () => {
  it('moves replicas make-before-break: the old cluster keeps them until the new one is ready', async () => {
    await apply(app('mover', [first.metadata.name]));
    await waitFor('mover Ready on the first cluster', async () => {
      const a = await getApp('mover');
      return isReady(a) ? a : undefined;
    });
    await apply(app('mover', [second.metadata.name]));
    // Every status written during the move, in order.
    const seen: Placement[][] = [];
    const done = await waitFor('mover Ready on the second cluster only', async () => {
      const a = await getApp('mover');
      const ps = a.status?.placements ?? [];
      seen.push(ps);
      return isReady(a) && ps.length === 1 && ps[0]!.cluster === second.metadata.name
        ? a
        : undefined;
    });
    assert.equal(done.status?.placements?.[0]?.ready, 2);
    for (const ps of seen) {
      const target = ps.find((p) => p.cluster === second.metadata.name && !p.draining);
      const old = ps.find((p) => p.cluster === first.metadata.name);
      // Whenever the old placement is gone, the new one is fully ready.
      if (!old && target) assert.equal(target.ready, 2, JSON.stringify(ps));
    }
    assert.ok(
      seen.some((ps) => ps.some((p) => p.cluster === first.metadata.name && p.draining === true)),
      'the old placement was seen draining',
    );
  });

  it('keeps replicas on a failed cloud when the app turns failover off', async () => {
    await apply(
      app('pinned', [first.metadata.name, second.metadata.name], {
        enabled: false,
      }),
    );
    const placed = await waitFor('pinned Ready', async () => {
      const a = await getApp('pinned');
      return isReady(a) ? a : undefined;
    });
    const victim = placed.status!.placements![0]!;
    assert.equal(
      (
        await call('POST', '/api/v1alpha1/chaos', {
          action: 'fail',
          scope: 'cluster',
          name: victim.cluster,
        })
      ).status,
      200,
    );
    await waitFor('victim NotReady', async () => {
      const res = await call('GET', `/api/v1alpha1/clusters/${victim.cluster}`);
      const c = (await res.json()) as { status?: { conditions?: { status: string }[] } };
      return c.status?.conditions?.[0]?.status === 'False' ? true : undefined;
    });
    // Several reconciles later the replicas are still where they were.
    await new Promise((r) => setTimeout(r, 3000));
    const after = await getApp('pinned');
    const still = after.status?.placements?.find((p) => p.cluster === victim.cluster);
    assert.ok(still && still.draining !== true, JSON.stringify(after.status?.placements));
    assert.equal(
      (after.status?.placements ?? []).filter((p) => p.cluster !== victim.cluster).length,
      (placed.status!.placements ?? []).length - 1,
      'no replacement placed',
    );
    await call('POST', '/api/v1alpha1/chaos', {
      action: 'recover',
      scope: 'cluster',
      name: victim.cluster,
    });
  });

  it('rebalances on request and records it', async () => {
    await apply(app('balancer', [first.metadata.name, second.metadata.name]));
    await waitFor('balancer Ready', async () => {
      const a = await getApp('balancer');
      return isReady(a) ? a : undefined;
    });
    const res = await call('POST', `${appPath('balancer')}/rebalance`);
    assert.equal(res.status, 200);
    const requested = ((await res.json()) as AppView).metadata.annotations?.[
      'yunjian.io/rebalance'
    ];
    assert.ok(requested);
    await waitFor('rebalance acted on', async () => {
      const a = await getApp('balancer');
      return a.status?.rebalanced === requested && isReady(a) ? a : undefined;
    });
    const events = (await (await call('GET', '/api/v1alpha1/events')).json()) as {
      items: { spec: { reason: string; involvedObject: { name: string } } }[];
    };
    assert.ok(
      events.items.some(
        (e) => e.spec.reason === 'Rebalance' && e.spec.involvedObject.name === 'balancer',
      ),
    );
    const missing = await call('POST', `${appPath('nope')}/rebalance`);
    assert.equal(missing.status, 404);
  });

  it('restores a spread minimum once a returning cluster has settled, make-before-break', async () => {
    const back = second.metadata.name;
    const chaos = async (action: 'fail' | 'recover') =>
      assert.equal(
        (await call('POST', '/api/v1alpha1/chaos', { action, scope: 'cluster', name: back }))
          .status,
        200,
      );
    const readyOf = async () => {
      const c = (await (await call('GET', `/api/v1alpha1/clusters/${back}`)).json()) as {
        status?: { conditions?: { status: string; lastTransitionTime?: string }[] };
      };
      return c.status?.conditions?.[0];
    };
    await waitFor('the second cloud Ready before its failure', async () =>
      (await call('GET', `/api/v1alpha1/clusters/${back}`)).ok &&
      (await readyOf())?.status === 'True'
        ? true
        : undefined,
    );
    await chaos('fail');
    await waitFor('the second cloud NotReady', async () =>
      (await readyOf())?.status === 'False' ? true : undefined,
    );
    // Applied while only one cloud is Ready: the minimum of two clouds cannot be met.
    const doc = app('respread', [first.metadata.name, back], {
      failback: { stabilizationSeconds: 3 },
    });
    doc.spec.components[0]!.replicas = 4;
    Object.assign(doc.spec.placement, { spread: [{ by: 'cloud', min: 2 }] });
    await apply(doc);
    const placed = await waitFor('respread Ready on one cloud', async () => {
      const a = await getApp('respread');
      return isReady(a) ? a : undefined;
    });
    assert.deepEqual(
      placed.status?.placements?.map((p) => [p.cluster, p.desired]),
      [[first.metadata.name, 4]],
    );

    await chaos('recover');
    const readySince = await waitFor('the second cloud Ready again', async () => {
      const r = await readyOf();
      return r?.status === 'True' ? Date.parse(r.lastTransitionTime ?? '') : undefined;
    });
    const seen: Placement[][] = [];
    const done = await waitFor('a replica moved to the second cloud', async () => {
      const a = await getApp('respread');
      const ps = a.status?.placements ?? [];
      seen.push(ps);
      const on = (c: string) => ps.find((p) => p.cluster === c && p.draining !== true);
      return isReady(a) && on(back)?.ready === 1 && on(first.metadata.name)?.desired === 3
        ? a
        : undefined;
    });
    assert.equal(done.status?.placements?.length, 2);
    // Make before break: the first cluster runs all four until the moved one is ready.
    for (const ps of seen) {
      const old = ps.find((p) => p.cluster === first.metadata.name);
      const moved = ps.find((p) => p.cluster === back);
      if (old && old.desired < 4) assert.equal(moved?.ready, 1, JSON.stringify(ps));
    }
    const events = (await (await call('GET', '/api/v1alpha1/events')).json()) as {
      items: {
        spec: {
          reason: string;
          message: string;
          firstTimestamp: string;
          involvedObject: { name: string };
        };
      }[];
    };
    const respread = events.items.filter(
      (e) => e.spec.reason === 'Respread' && e.spec.involvedObject.name === 'respread',
    );
    assert.equal(respread.length, 1, JSON.stringify(respread));
    assert.match(respread[0]!.spec.message, new RegExp(`1 replica of web move from .* to ${back}`));
    // Not before the returning cluster had been Ready for the stabilisation window.
    assert.ok(
      Date.parse(respread[0]!.spec.firstTimestamp) >= readySince + 3000,
      `moved at ${respread[0]!.spec.firstTimestamp}, Ready since ${new Date(readySince).toISOString()}`,
    );
  });

  it('places an unschedulable app by itself when capacity appears', async () => {
    const pool = small.spec.driver.sim!.nodePools[0]!;
    // Each replica takes a whole node's CPU: the hog fills the cluster.
    const wholeNode = `${Math.floor(parseCpuMillis(pool.cpu) * 0.9)}m`;
    const filler = (name: string, replicas: number) => ({
      apiVersion: 'yunjian.io/v1alpha1',
      kind: 'Application',
      metadata: { name, namespace: 'default' },
      spec: {
        components: [
          {
            name: 'big',
            image: 'registry.example.com/big:1',
            replicas,
            resources: { cpu: wholeNode, memory: '64Mi' },
          },
        ],
        placement: { clusterAffinity: { clusters: [small.metadata.name] } },
      },
    });
    await apply(filler('hog', pool.count));
    await waitFor('hog Ready', async () => {
      const a = await getApp('hog');
      return isReady(a) ? a : undefined;
    });
    await apply(filler('waiter', 1));
    await waitFor('waiter Unschedulable', async () => {
      const a = await getApp('waiter');
      return a.status?.conditions?.[0]?.reason === 'Unschedulable' ? a : undefined;
    });
    assert.equal((await call('DELETE', appPath('hog'))).status, 200);
    const placed = await waitFor('waiter placed once the hog is gone', async () => {
      const a = await getApp('waiter');
      return isReady(a) ? a : undefined;
    });
    assert.equal(placed.status?.placements?.[0]?.cluster, small.metadata.name);
  });
});
