// Tenants: two tenants each see only their own applications, events and audit
// entries, lists and watches alike; quota breaches and placements outside a
// tenant's allowed clusters are refused with the quota or field named.
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { inProcessServer } from './server.harness.ts';

const h = inProcessServer('authz-tenants', { fleet: 'none' });
const BASE = '/api/v1alpha1';
const V = 'yunjian.io/v1alpha1';

async function call(method: string, path: string, token: string, body?: unknown) {
  const res = await fetch(`${h.url}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
    },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  return { status: res.status, json: (await res.json()) as any };
}

const app = (name: string, namespace: string, extra: Record<string, unknown> = {}) => ({
  apiVersion: V,
  kind: 'Application',
  metadata: { name, namespace },
  spec: {
    components: [{ name: 'web', image: 'nginx', replicas: 2, resources: { cpu: '500m' } }],
    ...extra,
  },
});

describe('tenants', () => {
  const admins: Record<string, string> = {};
  before(async () => {
    const tenants = [
      { name: 'blue', spec: { namespaces: ['blue'] } },
      { name: 'red', spec: { namespaces: ['red'], quota: { applications: 1, cpu: '1' } } },
      { name: 'green', spec: { namespaces: ['green'], allowed: { clouds: ['aws'] } } },
    ];
    for (const t of tenants) {
      const r = await call('POST', `${BASE}/tenants`, h.token, {
        apiVersion: V,
        kind: 'Tenant',
        metadata: { name: t.name },
        spec: t.spec,
      });
      assert.equal(r.status, 201, JSON.stringify(r.json));
      const tok = await call('POST', `${BASE}/tokens`, h.token, {
        user: `${t.name}-admin`,
        role: 'tenant-admin',
        namespace: t.name,
        ttl: '1h',
      });
      admins[t.name] = tok.json.token;
    }
  });

  it('each tenant lists, watches and reads events and audit of its own namespaces only', async () => {
    const watch = new AbortController();
    const stream = await fetch(`${h.url}${BASE}/applications?watch=true`, {
      headers: { authorization: `Bearer ${admins['blue']}` },
      signal: watch.signal,
    });
    assert.equal(stream.status, 200);
    for (const t of ['red', 'blue'])
      assert.equal(
        (await call('POST', `${BASE}/namespaces/${t}/applications`, admins[t]!, app(`${t}-app`, t)))
          .status,
        201,
      );
    for (const t of ['red', 'blue'])
      await call('POST', `${BASE}/events`, h.token, {
        apiVersion: V,
        kind: 'Event',
        metadata: { name: `${t}-event` },
        spec: {
          involvedObject: { kind: 'Application', namespace: t, name: `${t}-app` },
          type: 'Normal',
          reason: 'Test',
          message: t,
          count: 1,
          firstTimestamp: new Date().toISOString(),
          lastTimestamp: new Date().toISOString(),
        },
      });
    // The first event on blue's watch is blue's, although red's app came first.
    const reader = stream.body!.getReader();
    const first = JSON.parse(new TextDecoder().decode((await reader.read()).value).split('\n')[0]!);
    assert.equal(first.object.metadata.name, 'blue-app');
    watch.abort();
    for (const t of ['red', 'blue']) {
      const apps = await call('GET', `${BASE}/applications`, admins[t]!);
      assert.deepEqual(
        apps.json.items.map((a: any) => a.metadata.name),
        [`${t}-app`],
      );
      const events = await call('GET', `${BASE}/events`, admins[t]!);
      assert.deepEqual(
        events.json.items.map((e: any) => e.metadata.name),
        [`${t}-event`],
      );
      const audit = await call('GET', `${BASE}/audit`, admins[t]!);
      assert.ok(audit.json.items.length > 0);
      assert.ok(
        audit.json.items.every((e: any) => e.namespace === t),
        JSON.stringify(audit.json.items),
      );
      const tenants = await call('GET', `${BASE}/tenants`, admins[t]!);
      assert.deepEqual(
        tenants.json.items.map((x: any) => x.metadata.name),
        [t],
      );
    }
    assert.equal(
      (await call('GET', `${BASE}/namespaces/red/applications/red-app`, admins['blue']!)).status,
      403,
    );
  });

  it("the console's merged watch carries only the tenant's own applications", async () => {
    const watch = new AbortController();
    const stream = await fetch(`${h.url}/console/watch?applications=&events=`, {
      headers: { authorization: `Bearer ${admins['blue']}` },
      signal: watch.signal,
    });
    assert.equal(stream.status, 200);
    // A namespace of no tenant first (red's quota is full), then blue's own.
    for (const t of ['outside', 'blue']) {
      const r = await call(
        'POST',
        `${BASE}/namespaces/${t}/applications`,
        h.token,
        app(`${t}-console`, t),
      );
      assert.equal(r.status, 201);
    }
    const reader = stream.body!.getReader();
    const first = JSON.parse(new TextDecoder().decode((await reader.read()).value).split('\n')[0]!);
    assert.equal(first.object.metadata.name, 'blue-console');
    watch.abort();
  });

  it('a quota breach is a 403 QuotaExceeded naming the quota', async () => {
    const small = app('second', 'red');
    small.spec.components[0]!.replicas = 0;
    const second = await call('POST', `${BASE}/namespaces/red/applications`, admins['red']!, small);
    assert.equal(second.status, 403);
    assert.equal(second.json.reason, 'QuotaExceeded');
    assert.deepEqual(
      second.json.details.causes.map((c: any) => c.field),
      ['spec.quota.applications'],
    );
    // Growing the one app past the cpu quota (3 x 500m > 1) through apply.
    const big = app('red-app', 'red');
    big.spec.components[0]!.replicas = 3;
    const grown = await call('POST', `${BASE}/apply`, admins['red']!, big);
    assert.equal(grown.status, 403);
    assert.deepEqual(
      grown.json.details.causes.map((c: any) => c.field),
      ['spec.quota.cpu'],
    );
  });

  it("an app that could be placed outside the tenant's allowed clusters is refused, naming the field", async () => {
    const loose = await call(
      'POST',
      `${BASE}/namespaces/green/applications`,
      admins['green']!,
      app('a', 'green'),
    );
    assert.equal(loose.status, 422);
    assert.deepEqual(
      loose.json.details.causes.map((c: any) => c.field),
      ['spec.placement.clusterAffinity.clouds'],
    );
    const elsewhere = app('a', 'green', {
      placement: { clusterAffinity: { clouds: ['aws', 'gcp'] } },
    });
    assert.equal(
      (await call('POST', `${BASE}/namespaces/green/applications`, admins['green']!, elsewhere))
        .status,
      422,
    );
    const inside = app('a', 'green', { placement: { clusterAffinity: { clouds: ['aws'] } } });
    assert.equal(
      (await call('POST', `${BASE}/namespaces/green/applications`, admins['green']!, inside))
        .status,
      201,
    );
  });
});
