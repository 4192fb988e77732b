// The catalog controller on an in-process control plane with a small twin
// fleet: an Instance becomes an Application it owns, upgrades and rolls back
// with the previous version kept in status, a Binding puts connection details
// in a Secret and in the consuming application's env (and takes them back), a
// fleet-wide instance reaches a cluster that joins after it (kubevela #6765),
// and deleting an instance removes what it rendered. Rendering itself (pins as
// overrides, the agent's process form) is checked as a pure function.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BUILTIN_CATALOG } from '../src/model/catalog/builtin.ts';
import { INSTANCE_LABEL, renderApplication } from '../src/model/catalog/render.ts';
import { API_VERSION, type Application, type Instance } from '../src/model/schema.ts';
import { inProcessServer } from './server.harness.ts';
import { until } from './wait.ts';

const BASE = '/api/v1alpha1';
const NS = `${BASE}/namespaces/default`;

function cluster(name: string, cloud: string) {
  return {
    apiVersion: API_VERSION,
    kind: 'Cluster',
    metadata: { name },
    spec: {
      cloud,
      site: `${cloud}-1`,
      driver: {
        type: 'sim',
        sim: {
          startupSeconds: 0,
          nodePools: [{ name: 'p', count: 2, arch: 'amd64', cpu: '8', memory: '32Gi' }],
        },
      },
    },
  };
}

function fleet(clouds: string[]) {
  return clouds.flatMap((c) => [
    {
      apiVersion: API_VERSION,
      kind: 'Cloud',
      metadata: { name: c },
      spec: { vendor: 'aws', type: 'public' },
    },
    {
      apiVersion: API_VERSION,
      kind: 'Site',
      metadata: { name: `${c}-1` },
      spec: {
        cloud: c,
        kind: 'region',
        country: 'US',
        city: 'Ashburn',
        latitude: 39,
        longitude: -77,
      },
    },
  ]);
}

function instance(
  name: string,
  spec: Partial<Instance['spec']> & { item: string; version: string },
) {
  return {
    apiVersion: API_VERSION,
    kind: 'Instance',
    metadata: { name, namespace: 'default' },
    spec: { plan: 'small', memberKind: 'sim', ...spec },
  };
}

const item = (name: string) => {
  const i = BUILTIN_CATALOG.find((x) => x.metadata.name === name);
  assert.ok(i);
  return i;
};

describe('catalog rendering', () => {
  it('renders a per-cluster version pin as an override of image and env', () => {
    const redis = item('redis');
    const spec = renderApplication(
      redis,
      {
        apiVersion: API_VERSION,
        kind: 'Instance',
        metadata: { name: 'cache', namespace: 'default' },
        spec: {
          item: 'redis',
          version: '7.0.15',
          plan: 'small',
          pins: [{ clusters: ['edge-1'], version: '7.2.0' }],
        },
      },
      { password: 'pw' },
    );
    assert.deepEqual(spec.overrides, [
      {
        target: { clusters: ['edge-1'], components: ['redis'] },
        patches: {
          image: 'redis:7.2.0',
          env: { REDIS_VERSION_CONFIG: '--hz 20 --activedefrag no' },
        },
      },
    ]);
    const [c] = spec.components;
    assert.ok(c);
    assert.equal(c.command?.[0], '/bin/sh');
    assert.match(c.command?.[2] ?? '', /--requirepass "pw"/);
    assert.match(c.command?.[2] ?? '', /--port "\$\{PORT\}"/);
  });

  it('renders the Kubernetes form without the process command', () => {
    const spec = renderApplication(
      item('postgresql'),
      {
        apiVersion: API_VERSION,
        kind: 'Instance',
        metadata: { name: 'db', namespace: 'default' },
        spec: { item: 'postgresql', version: '15.18.0', plan: 'medium', memberKind: 'kubernetes' },
      },
      { password: 'pw' },
    );
    const [c] = spec.components;
    assert.equal(c?.image, 'postgres:15.18');
    assert.equal(c?.command, undefined);
    assert.deepEqual(c?.resources, { cpu: '1', memory: '1Gi' });
  });
});

describe('catalog controller', () => {
  const cp = inProcessServer('catalog-controller', { fleet: 'none', clusterGraceSeconds: 2 });
  const call = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${cp.url}${path}`, {
      method,
      headers:
        body === undefined ? cp.headers : { ...cp.headers, 'content-type': 'application/json' },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const text = await res.text();
    return { status: res.status, body: text === '' ? undefined : JSON.parse(text) };
  };
  const get = async (path: string) => {
    const r = await call('GET', path);
    return r.status === 200 ? r.body : undefined;
  };
  const wait = <T>(what: string, fn: () => Promise<T | undefined>) =>
    until(what, fn, { timeoutMs: 30_000, stepMs: 200 });

  it('turns an instance into an application it owns, and upgrades and rolls back', async () => {
    const applied = await call('POST', `${BASE}/apply`, [
      ...fleet(['east', 'west']),
      cluster('east-a', 'east'),
      cluster('west-a', 'west'),
    ]);
    assert.equal(applied.status, 200, JSON.stringify(applied.body));
    const created = await call(
      'POST',
      `${NS}/instances`,
      instance('cache', { item: 'redis', version: '7.0.15' }),
    );
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const app = await wait('application cache', async () => {
      const a = (await get(`${NS}/applications/cache`)) as Application | undefined;
      return a?.status?.conditions?.find((c) => c.type === 'Ready')?.status === 'True'
        ? a
        : undefined;
    });
    assert.equal(app.metadata.labels?.[INSTANCE_LABEL], 'cache');
    assert.equal(app.spec.components[0]?.image, 'redis:7.0.15');
    const ready = await wait('instance Ready', async () => {
      const i = (await get(`${NS}/instances/cache`)) as Instance | undefined;
      return i?.status?.conditions?.[0]?.status === 'True' ? i : undefined;
    });
    assert.equal(ready.status?.version, '7.0.15');
    assert.equal(ready.status?.previousVersion, undefined);

    // Upgrade: the application follows, the old version is kept for a rollback.
    const upgraded = await call('PUT', `${NS}/instances/cache`, {
      ...ready,
      spec: { ...ready.spec, version: '7.2.0' },
    });
    assert.equal(upgraded.status, 200, JSON.stringify(upgraded.body));
    const after = await wait('upgraded', async () => {
      const i = (await get(`${NS}/instances/cache`)) as Instance | undefined;
      return i?.status?.version === '7.2.0' ? i : undefined;
    });
    assert.equal(after.status?.previousVersion, '7.0.15');
    await wait('application on 7.2.0', async () => {
      const a = (await get(`${NS}/applications/cache`)) as Application | undefined;
      return a?.spec.components[0]?.image === 'redis:7.2.0' ? a : undefined;
    });
    const rolledBack = await call('PUT', `${NS}/instances/cache`, {
      ...after,
      spec: { ...after.spec, version: after.status?.previousVersion },
    });
    assert.equal(rolledBack.status, 200);
    await wait('rolled back', async () => {
      const a = (await get(`${NS}/applications/cache`)) as Application | undefined;
      return a?.spec.components[0]?.image === 'redis:7.0.15' ? a : undefined;
    });
  });

  it('binds an instance to an application through a Secret and env, and unbinds', async () => {
    const web = {
      apiVersion: API_VERSION,
      kind: 'Application',
      metadata: { name: 'web', namespace: 'default' },
      spec: {
        components: [{ name: 'web', image: 'example/web:1', replicas: 1, env: { MODE: 'x' } }],
      },
    };
    assert.equal((await call('POST', `${NS}/applications`, web)).status, 201);
    const binding = {
      apiVersion: API_VERSION,
      kind: 'Binding',
      metadata: { name: 'web-cache', namespace: 'default' },
      spec: { instance: 'cache', application: 'web' },
    };
    assert.equal((await call('POST', `${NS}/bindings`, binding)).status, 201);
    const bound = await wait('env injected', async () => {
      const a = (await get(`${NS}/applications/web`)) as Application | undefined;
      return a?.spec.components[0]?.env?.['CACHE_URL'] !== undefined ? a : undefined;
    });
    const env = bound.spec.components[0]?.env ?? {};
    assert.equal(env['MODE'], 'x');
    assert.match(env['CACHE_URL'] ?? '', /^redis:\/\/:[^@]+@.+:\d+$/);
    assert.ok(env['CACHE_PASSWORD'] && env['CACHE_PASSWORD'].length >= 16);
    const secret = await get(`${BASE}/secrets/catalog-binding.default.web-cache`);
    assert.equal(secret?.spec?.type, 'connection');
    assert.equal(secret?.spec?.data, undefined, 'the API never returns secret data');
    const status = await wait('binding Ready', async () => {
      const b = await get(`${NS}/bindings/web-cache`);
      return b?.status?.conditions?.[0]?.status === 'True' ? b : undefined;
    });
    assert.deepEqual(status.status.env, [
      'CACHE_HOST',
      'CACHE_PASSWORD',
      'CACHE_PORT',
      'CACHE_URL',
    ]);

    assert.equal((await call('DELETE', `${NS}/bindings/web-cache`)).status, 200);
    const unbound = await wait('env removed', async () => {
      const a = (await get(`${NS}/applications/web`)) as Application | undefined;
      return a && a.spec.components[0]?.env?.['CACHE_URL'] === undefined ? a : undefined;
    });
    assert.deepEqual(unbound.spec.components[0]?.env, { MODE: 'x' });
    assert.equal(unbound.metadata.annotations, undefined);
    await wait('binding secret deleted', async () =>
      (await call('GET', `${BASE}/secrets/catalog-binding.default.web-cache`)).status === 404
        ? true
        : undefined,
    );
  });

  it('installs a fleet-wide instance on a cluster that joins later (kubevela #6765)', async () => {
    const created = await call(
      'POST',
      `${NS}/instances`,
      instance('bus', { item: 'nats', version: '2.9.10', fleetWide: true }),
    );
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const clustersOf = (a: Application | undefined) =>
      new Set((a?.status?.placements ?? []).filter((p) => p.ready > 0).map((p) => p.cluster));
    await wait('bus on both clusters', async () => {
      const a = (await get(`${NS}/applications/bus`)) as Application | undefined;
      return clustersOf(a).size === 2 ? a : undefined;
    });
    const joined = await call('POST', `${BASE}/apply`, [
      ...fleet(['north']),
      cluster('north-a', 'north'),
    ]);
    assert.equal(joined.status, 200);
    const after = await wait('bus on the new cluster', async () => {
      const a = (await get(`${NS}/applications/bus`)) as Application | undefined;
      return clustersOf(a).has('north-a') ? a : undefined;
    });
    assert.equal(clustersOf(after).size, 3);
  });

  it('deletes what an instance rendered when it is deleted', async () => {
    assert.equal((await call('DELETE', `${NS}/instances/bus`)).status, 200);
    await wait('application bus deleted', async () =>
      (await call('GET', `${NS}/applications/bus`)).status === 404 ? true : undefined,
    );
    await wait('credentials deleted', async () =>
      (await call('GET', `${BASE}/secrets/catalog-instance.default.bus`)).status === 404
        ? true
        : undefined,
    );
  });

  it('reports an instance whose dependency is missing', async () => {
    const created = await call(
      'POST',
      `${NS}/instances`,
      instance('dash', { item: 'grafana', version: '11.2.0' }),
    );
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const i = await wait('DependencyMissing', async () => {
      const x = (await get(`${NS}/instances/dash`)) as Instance | undefined;
      return x?.status?.conditions?.[0]?.reason === 'DependencyMissing' ? x : undefined;
    });
    assert.match(i.status?.conditions?.[0]?.message ?? '', /prometheus \^2\.40\.0/);
    assert.equal((await call('GET', `${NS}/applications/dash`)).status, 404);
  });
});
