// The REST API against a real SQLite store and a real HTTP listener.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { AddressInfo } from 'node:net';
import { createApiServer } from '../src/api/server.ts';
import { TokenAuthenticator } from '../src/api/auth.ts';
import { openSqliteStore } from '../src/store/index.ts';
import type { Store } from '../src/store/types.ts';

const TOKEN = 'test-token-0123456789abcdef';
let base = '';
let store: Store;
let close: () => Promise<void>;

const cloud = (name: string, labels: Record<string, string> = {}) => ({
  apiVersion: 'yunjian.io/v1alpha1',
  kind: 'Cloud',
  metadata: { name, labels },
  spec: { vendor: 'aws', type: 'public' },
});
const app = (name: string, replicas: unknown = 2) => ({
  apiVersion: 'yunjian.io/v1alpha1',
  kind: 'Application',
  metadata: { name },
  spec: { components: [{ name: 'web', image: 'r/web:1', replicas }] },
});

async function call(
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
) {
  const init: RequestInit = {
    method,
    headers: {
      authorization: `Bearer ${TOKEN}`,
      ...(body !== undefined && typeof body !== 'string'
        ? { 'content-type': 'application/json' }
        : {}),
      ...headers,
    },
  };
  if (body !== undefined) init.body = typeof body === 'string' ? body : JSON.stringify(body);
  const res = await fetch(`${base}${path}`, init);
  const text = await res.text();
  return {
    status: res.status,
    body: (text && res.headers.get('content-type')?.includes('json')
      ? JSON.parse(text)
      : text) as Record<string, any>,
  };
}

before(async () => {
  store = openSqliteStore({ path: ':memory:' });
  const auth = new TokenAuthenticator();
  auth.addToken(TOKEN, { name: 'admin' });
  const server = createApiServer({ store, auth, version: 'test', watchBookmarkSeconds: 3600 });
  await server.listen({ port: 0, host: '127.0.0.1' });
  base = `http://127.0.0.1:${(server.server.address() as AddressInfo).port}`;
  close = async () => {
    await server.close();
    await store.close();
  };
});
after(() => close());

describe('authentication', () => {
  const cases = [
    { name: 'no token', headers: { authorization: '' }, status: 401 },
    { name: 'wrong token', headers: { authorization: 'Bearer nope' }, status: 401 },
    { name: 'malformed header', headers: { authorization: 'Basic abc' }, status: 401 },
  ];
  for (const c of cases) {
    it(`${c.name} -> ${c.status} Unauthorized`, async () => {
      const r = await call('GET', '/api/v1alpha1/clouds', undefined, c.headers);
      assert.equal(r.status, c.status);
      assert.equal(r.body['reason'], 'Unauthorized');
    });
  }
  for (const path of ['/healthz', '/readyz', '/openapi.json']) {
    it(`${path} needs no token`, async () => {
      const res = await fetch(`${base}${path}`);
      assert.equal(res.status, 200);
    });
  }
});

describe('resources', () => {
  it('creates, reads and lists a cluster-scoped kind as a Kubernetes list', async () => {
    const created = await call('POST', '/api/v1alpha1/clouds', cloud('aws', { tier: 'prod' }));
    assert.equal(created.status, 201);
    assert.match(created.body['metadata'].resourceVersion, /^[0-9]+$/);
    assert.equal(created.body['metadata'].generation, 1);
    assert.ok(created.body['metadata'].uid);
    const got = await call('GET', '/api/v1alpha1/clouds/aws');
    assert.equal(got.body['spec'].vendor, 'aws');
    const list = await call('GET', '/api/v1alpha1/clouds');
    assert.equal(list.body['kind'], 'CloudList');
    assert.equal(list.body['apiVersion'], 'yunjian.io/v1alpha1');
    assert.match(list.body['metadata'].resourceVersion, /^[0-9]+$/);
    assert.equal(list.body['items'].length, 1);
  });

  it('rejects a duplicate create with 409 AlreadyExists', async () => {
    const r = await call('POST', '/api/v1alpha1/clouds', cloud('aws'));
    assert.equal(r.status, 409);
    assert.equal(r.body['reason'], 'AlreadyExists');
  });

  it('rejects a stale update with 409 Conflict and keeps the newer write', async () => {
    const first = (await call('GET', '/api/v1alpha1/clouds/aws')).body;
    const fresh = await call('PUT', '/api/v1alpha1/clouds/aws', {
      ...first,
      spec: { vendor: 'aws', type: 'public', displayName: 'one' },
    });
    assert.equal(fresh.status, 200);
    assert.equal(fresh.body['metadata'].generation, 2);
    const stale = await call('PUT', '/api/v1alpha1/clouds/aws', {
      ...first,
      spec: { vendor: 'aws', type: 'public', displayName: 'two' },
    });
    assert.equal(stale.status, 409);
    assert.equal(stale.body['reason'], 'Conflict');
    assert.match(stale.body['message'], /stale|resourceVersion/);
    assert.equal((await call('GET', '/api/v1alpha1/clouds/aws')).body['spec'].displayName, 'one');
  });

  it('serves namespaced kinds under /namespaces/{ns} and across namespaces', async () => {
    assert.equal(
      (await call('POST', '/api/v1alpha1/namespaces/team-a/applications', app('shop'))).status,
      201,
    );
    assert.equal(
      (await call('POST', '/api/v1alpha1/namespaces/team-b/applications', app('shop'))).status,
      201,
    );
    const a = await call('GET', '/api/v1alpha1/namespaces/team-a/applications');
    assert.equal(a.body['kind'], 'ApplicationList');
    assert.equal(a.body['items'].length, 1);
    const all = await call('GET', '/api/v1alpha1/applications');
    assert.equal(all.body['items'].length, 2);
    assert.equal(
      (await call('GET', '/api/v1alpha1/namespaces/team-a/applications/shop')).body['metadata']
        .namespace,
      'team-a',
    );
  });

  it('rejects a body whose namespace or name disagrees with the URL', async () => {
    const r = await call('POST', '/api/v1alpha1/namespaces/team-a/applications', {
      ...app('x'),
      metadata: { name: 'x', namespace: 'team-b' },
    });
    assert.equal(r.status, 422);
    assert.equal(r.body['details'].causes[0].field, 'metadata.namespace');
    const p = await call('PUT', '/api/v1alpha1/namespaces/team-a/applications/shop', app('other'));
    assert.equal(p.status, 422);
    assert.equal(p.body['details'].causes[0].field, 'metadata.name');
  });

  it('returns 404 NotFound for a missing object and an unknown route', async () => {
    const r = await call('GET', '/api/v1alpha1/clouds/nope');
    assert.equal(r.status, 404);
    assert.equal(r.body['reason'], 'NotFound');
    const u = await call('GET', '/api/v1alpha1/bogus');
    assert.equal(u.status, 404);
    assert.equal(u.body['kind'], 'Status');
  });

  it('keeps status on PUT and spec on PUT /status', async () => {
    const cur = (await call('GET', '/api/v1alpha1/namespaces/team-a/applications/shop')).body;
    const st = await call('PUT', '/api/v1alpha1/namespaces/team-a/applications/shop/status', {
      ...cur,
      spec: { components: [{ name: 'web', image: 'changed', replicas: 9 }] },
      status: { replicas: { desired: 2, ready: 1 } },
    });
    assert.equal(st.status, 200);
    assert.equal(st.body['spec'].components[0].image, 'r/web:1');
    assert.equal(st.body['metadata'].generation, cur['metadata'].generation);
    const up = await call('PUT', '/api/v1alpha1/namespaces/team-a/applications/shop', {
      ...st.body,
      status: undefined,
      spec: { components: [{ name: 'web', image: 'r/web:2', replicas: 2 }] },
    });
    assert.equal(up.body['status'].replicas.ready, 1);
    assert.equal(up.body['metadata'].generation, cur['metadata'].generation + 1);
  });

  it('deletes and returns the deleted object', async () => {
    const d = await call('DELETE', '/api/v1alpha1/namespaces/team-b/applications/shop');
    assert.equal(d.status, 200);
    assert.equal(d.body['metadata'].name, 'shop');
    assert.equal(
      (await call('GET', '/api/v1alpha1/namespaces/team-b/applications/shop')).status,
      404,
    );
  });
});

describe('apply', () => {
  const yaml = `apiVersion: yunjian.io/v1alpha1
kind: Cloud
metadata: {name: gcp}
spec: {vendor: gcp, type: public}
---
apiVersion: yunjian.io/v1alpha1
kind: Application
metadata: {name: blog}
spec:
  components: [{name: web, image: "r/blog:1", replicas: 1}]
`;
  it('creates every document of a multi-document YAML, then reports them unchanged', async () => {
    const first = await call('POST', '/api/v1alpha1/apply', yaml, {
      'content-type': 'application/yaml',
    });
    assert.equal(first.status, 200);
    assert.deepEqual(
      first.body['items'].map((i: { action: string }) => i.action),
      ['created', 'created'],
    );
    assert.equal(first.body['items'][1].namespace, 'default');
    const again = await call('POST', '/api/v1alpha1/apply', yaml, {
      'content-type': 'application/yaml',
    });
    assert.deepEqual(
      again.body['items'].map((i: { action: string }) => i.action),
      ['unchanged', 'unchanged'],
    );
    const changed = await call(
      'POST',
      '/api/v1alpha1/apply',
      yaml.replace('r/blog:1', 'r/blog:2'),
      { 'content-type': 'application/yaml' },
    );
    assert.deepEqual(
      changed.body['items'].map((i: { action: string }) => i.action),
      ['unchanged', 'configured'],
    );
  });

  it('rejects a batch with any invalid document, lists every error and stores nothing', async () => {
    const before = (await call('GET', '/api/v1alpha1/applications')).body['items'].length;
    const bad = `${yaml.replace('blog', 'blog2')}---
apiVersion: yunjian.io/v1alpha1
kind: Application
metadata: {name: broken}
spec:
  components:
    - {name: web, image: x, resources: {cpu: abc}, ports: [{port: -1}], colour: blue}
---
apiVersion: yunjian.io/v1alpha1
kind: Applicaton
metadata: {name: typo}
`;
    const r = await call('POST', '/api/v1alpha1/apply', bad, {
      'content-type': 'application/yaml',
    });
    assert.equal(r.status, 422);
    assert.equal(r.body['reason'], 'Invalid');
    const fields = r.body['details'].causes.map((c: { field: string }) => c.field);
    assert.deepEqual(fields.sort(), [
      '[2].spec.components[0].colour',
      '[2].spec.components[0].ports[0].port',
      '[2].spec.components[0].replicas',
      '[2].spec.components[0].resources.cpu',
      '[3].kind',
    ]);
    assert.match(r.body['message'], /document 3 Application "broken"/);
    const afterCount = (await call('GET', '/api/v1alpha1/applications')).body['items'].length;
    assert.equal(afterCount, before);
    assert.equal(
      (await call('GET', '/api/v1alpha1/namespaces/default/applications/blog2')).status,
      404,
    );
  });

  it('reports a YAML syntax error with its line', async () => {
    const r = await call('POST', '/api/v1alpha1/apply', 'kind: [unclosed', {
      'content-type': 'application/yaml',
    });
    assert.equal(r.status, 400);
    assert.match(r.body['message'], /line 1/);
  });
});

describe('list pagination and label selectors', () => {
  before(async () => {
    for (let i = 0; i < 25; i++) {
      const r = await call(
        'POST',
        '/api/v1alpha1/clouds',
        cloud(`c${String(i).padStart(2, '0')}`, { parity: i % 2 ? 'odd' : 'even' }),
      );
      assert.equal(r.status, 201);
    }
  });
  it('visits every item once over several pages', async () => {
    const names: string[] = [];
    let cont: string | undefined;
    let pages = 0;
    do {
      const r = await call(
        'GET',
        `/api/v1alpha1/clouds?limit=7${cont ? `&continue=${encodeURIComponent(cont)}` : ''}`,
      );
      names.push(...r.body['items'].map((i: { metadata: { name: string } }) => i.metadata.name));
      cont = r.body['metadata'].continue;
      pages++;
    } while (cont);
    assert.ok(pages >= 4);
    assert.equal(new Set(names).size, names.length);
    assert.equal(names.filter((n) => n.startsWith('c')).length, 25);
  });
  it('filters by label selector', async () => {
    const r = await call(
      'GET',
      `/api/v1alpha1/clouds?labelSelector=${encodeURIComponent('parity=odd')}`,
    );
    assert.equal(r.body['items'].length, 12);
    const bad = await call(
      'GET',
      `/api/v1alpha1/clouds?labelSelector=${encodeURIComponent('a in (')}`,
    );
    assert.equal(bad.status, 400);
  });
  it('rejects a bad limit', async () => {
    assert.equal((await call('GET', '/api/v1alpha1/clouds?limit=abc')).status, 400);
  });
});

describe('watch', () => {
  async function readEvents(url: string, count: number, during: () => Promise<void>) {
    const ctl = new AbortController();
    const res = await fetch(`${base}${url}`, {
      headers: { authorization: `Bearer ${TOKEN}` },
      signal: ctl.signal,
    });
    assert.equal(res.status, 200);
    const events: { type: string; object: Record<string, any> }[] = [];
    const reader = res.body!.getReader();
    const dec = new TextDecoder();
    let buf = '';
    const work = during();
    while (events.length < count) {
      const { value, done } = await reader.read();
      if (done) break;
      buf += dec.decode(value, { stream: true });
      let nl;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (line) events.push(JSON.parse(line));
      }
    }
    await work;
    ctl.abort();
    return events;
  }

  it('resumes from a resourceVersion without missing or duplicating an event', async () => {
    const first = await call('POST', '/api/v1alpha1/clouds', cloud('w0'));
    const from = first.body['metadata'].resourceVersion as string;
    const made: string[] = [];
    for (let i = 1; i <= 3; i++)
      made.push(
        (await call('POST', '/api/v1alpha1/clouds', cloud(`w${i}`))).body['metadata']
          .resourceVersion,
      );
    const events = await readEvents(
      `/api/v1alpha1/clouds?watch=true&resourceVersion=${from}`,
      5,
      async () => {
        made.push(
          (await call('POST', '/api/v1alpha1/clouds', cloud('w4'))).body['metadata']
            .resourceVersion,
        );
        made.push(
          (await call('DELETE', '/api/v1alpha1/clouds/w1')).body['metadata'].resourceVersion,
        );
      },
    );
    assert.deepEqual(
      events.map((e) => e.object['metadata'].resourceVersion),
      made,
    );
    assert.deepEqual(
      events.map((e) => `${e.type}:${e.object['metadata'].name}`),
      ['ADDED:w1', 'ADDED:w2', 'ADDED:w3', 'ADDED:w4', 'DELETED:w1'],
    );
  });
});

describe('openapi and metrics', () => {
  it('describes every kind from the same schemas', async () => {
    const doc = (await call('GET', '/openapi.json')).body;
    assert.equal(doc['openapi'], '3.1.0');
    for (const p of [
      '/api/v1alpha1/clouds',
      '/api/v1alpha1/sites/{name}',
      '/api/v1alpha1/namespaces/{namespace}/applications',
      '/api/v1alpha1/apply',
    ]) {
      assert.ok(doc['paths'][p], `missing ${p}`);
    }
    assert.equal(
      doc['components'].schemas.Application.properties.spec.properties.components.items
        .additionalProperties,
      false,
    );
  });
  it('exposes Prometheus metrics', async () => {
    const r = await call('GET', '/metrics');
    assert.equal(r.status, 200);
    assert.match(r.body as unknown as string, /yunjian_api_requests_total\{method="GET"/);
    assert.match(r.body as unknown as string, /yunjian_store_revision \d+/);
  });
});
