// `GET /api/v1alpha1/clusters/{name}/nodes`: a cluster's nodes as its driver
// lists them, sorted by name; 404 for no such cluster, 503 when its driver
// cannot list them now; readable by whoever may read the cluster.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { stringify } from 'yaml';
import { TokenAuthenticator } from '../src/api/auth.ts';
import { createApiServer } from '../src/api/server.ts';
import type { NodeStatus } from '../src/drivers/types.ts';
import { openSqliteStore } from '../src/store/index.ts';
import type { Store } from '../src/store/types.ts';
import { inProcessServer } from './server.harness.ts';

const API = '/api/v1alpha1';
const TOKEN = 'nodes-token-0123456789abcdef';

async function get(base: string, token: string, path: string) {
  const res = await fetch(`${base}${path}`, { headers: { authorization: `Bearer ${token}` } });
  return { status: res.status, body: (await res.json()) as Record<string, any> };
}

const node = (name: string): NodeStatus => ({
  name,
  arch: 'amd64',
  healthy: true,
  zone: 'z1',
  capacity: { cpu: 16, memory: 64 * 2 ** 30, gpu: 0, pods: 110 },
  allocated: { cpu: 2, memory: 2 ** 30, gpu: 0, pods: 3 },
});

describe('the nodes route, with drivers stood in for', () => {
  let store: Store;
  const servers: { base: string; close: () => Promise<void> }[] = [];
  const listed: Record<string, NodeStatus[] | undefined> = {
    listed: [node('n-b'), node('n-a')],
    silent: undefined,
  };
  before(async () => {
    store = openSqliteStore({ path: ':memory:' });
    for (const name of Object.keys(listed))
      await store.create({
        apiVersion: 'yunjian.io/v1alpha1',
        kind: 'Cluster',
        metadata: { name },
        spec: { cloud: 'lab', site: 'lab-1', driver: { type: 'sim' } },
      });
    const auth = new TokenAuthenticator();
    auth.addToken(TOKEN, { name: 'admin' });
    for (const nodes of [
      async (cluster: { metadata: { name: string } }) => listed[cluster.metadata.name],
      undefined,
    ]) {
      const server = createApiServer({
        store,
        auth,
        version: 'test',
        // The 503s are logged as every 5xx is; not this test's subject.
        log: () => {},
        ...(nodes ? { nodes } : {}),
      });
      await server.listen({ port: 0, host: '127.0.0.1' });
      servers.push({
        base: `http://127.0.0.1:${(server.server.address() as AddressInfo).port}`,
        close: () => server.close(),
      });
    }
  });
  after(async () => {
    for (const s of servers) await s.close();
    await store.close();
  });

  it('answers a NodeList sorted by name, 404 and 503 as the table says', async () => {
    const cases: [string, number, string, string[] | undefined][] = [
      ['drivers, a cluster that lists', 200, 'listed', ['n-a', 'n-b']],
      ['drivers, a cluster that does not answer', 503, 'silent', undefined],
      ['drivers, no such cluster', 404, 'missing', undefined],
      ['no drivers at all', 503, 'listed', undefined],
    ];
    for (const [what, status, cluster, names] of cases) {
      const base = (what.startsWith('no drivers') ? servers[1] : servers[0])?.base ?? '';
      const r = await get(base, TOKEN, `${API}/clusters/${cluster}/nodes`);
      assert.equal(r.status, status, `${what}: ${JSON.stringify(r.body)}`);
      if (names === undefined) {
        assert.equal(r.body['kind'], 'Status', what);
        continue;
      }
      assert.equal(r.body['apiVersion'], 'yunjian.io/v1alpha1');
      assert.equal(r.body['kind'], 'NodeList');
      assert.deepEqual(
        r.body['items'].map((n: NodeStatus) => n.name),
        names,
      );
      assert.deepEqual(r.body['items'][0], node('n-a'));
    }
  });
});

describe('the nodes route on a control plane with a simulated cluster', () => {
  const cluster = {
    apiVersion: 'yunjian.io/v1alpha1',
    kind: 'Cluster',
    metadata: { name: 'lab-1-a' },
    spec: {
      cloud: 'lab',
      site: 'lab-1',
      zone: 'z1',
      driver: {
        type: 'sim',
        sim: { nodePools: [{ name: 'x86', count: 3, arch: 'amd64', cpu: '16', memory: '64Gi' }] },
      },
    },
  };
  const fleet = [
    {
      apiVersion: 'yunjian.io/v1alpha1',
      kind: 'Cloud',
      metadata: { name: 'lab' },
      spec: { vendor: 'baremetal', type: 'private' },
    },
    {
      apiVersion: 'yunjian.io/v1alpha1',
      kind: 'Site',
      metadata: { name: 'lab-1' },
      spec: {
        cloud: 'lab',
        kind: 'datacenter',
        country: 'DE',
        city: 'Berlin',
        latitude: 52.5,
        longitude: 13.4,
        zones: ['z1'],
      },
    },
    cluster,
  ];
  const fleetDir = mkdtempSync(join(tmpdir(), 'yunjian-nodes-fleet-'));
  after(() => rmSync(fleetDir, { recursive: true, force: true }));
  const fleetPath = join(fleetDir, 'fleet.yaml');
  writeFileSync(fleetPath, fleet.map((d) => stringify(d)).join('---\n'));
  const cp = inProcessServer('nodes', { fleet: fleetPath });
  const tokens = new Map<string, string>();

  before(async () => {
    for (const [who, grant] of [
      ['cluster viewer', { role: 'viewer' }],
      ['namespace editor', { role: 'editor', namespace: 'default' }],
    ] as const) {
      const res = await fetch(`${cp.url}${API}/tokens`, {
        method: 'POST',
        headers: { ...cp.headers, 'content-type': 'application/json' },
        body: JSON.stringify({ user: who.replace(' ', '-'), ttl: '1h', ...grant }),
      });
      assert.equal(res.status, 201);
      tokens.set(who, ((await res.json()) as { token: string }).token);
    }
  });

  it("lists the simulated cluster's nodes with capacity and allocation", async () => {
    const r = await get(cp.url, cp.token, `${API}/clusters/lab-1-a/nodes`);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body['kind'], 'NodeList');
    assert.equal(r.body['items'].length, 3);
    for (const n of r.body['items'] as NodeStatus[]) {
      assert.equal(n.arch, 'amd64');
      assert.equal(n.capacity.cpu, 16);
      assert.equal(typeof n.allocated.cpu, 'number');
      assert.equal(typeof n.healthy, 'boolean');
    }
    const names = (r.body['items'] as NodeStatus[]).map((n) => n.name);
    assert.deepEqual(names, [...names].sort());
    assert.equal((await get(cp.url, cp.token, `${API}/clusters/nowhere/nodes`)).status, 404);
  });

  it('is read as the cluster is: a cluster-wide viewer may, a namespace editor may not', async () => {
    const viewer = await get(
      cp.url,
      tokens.get('cluster viewer') ?? '',
      `${API}/clusters/lab-1-a/nodes`,
    );
    assert.equal(viewer.status, 200, JSON.stringify(viewer.body));
    const editor = await get(
      cp.url,
      tokens.get('namespace editor') ?? '',
      `${API}/clusters/lab-1-a/nodes`,
    );
    assert.equal(editor.status, 403);
    assert.match(editor.body['message'], /forbidden: .* may not get clusters/);
  });
});
