// The gateway end to end: it follows the API's watch stream, routes by Host,
// and retries idempotent requests on another cloud so a load run sees no
// failed request while the primary cloud's ingress dies.
import assert from 'node:assert/strict';
import { Agent, createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { createApiServer } from '../src/api/server.ts';
import { TokenAuthenticator } from '../src/api/auth.ts';
import { apiFeedSource } from '../src/cli/traffic.ts';
import { YunjianClient } from '../src/cli/client.ts';
import type { Store } from '../src/store/types.ts';
import { Gateway } from '../src/traffic/gateway.ts';
import { addClouds, memoryStore, putApp, startBackend, until } from './traffic.helpers.ts';

const TOKEN = 'gateway-test-token';
const ADDR = { aws: '127.0.1.1', aliyun: '127.0.2.1', azure: '127.0.3.1' } as const;
const FAST = {
  http: { path: '/healthz' },
  intervalSeconds: 0.2,
  timeoutSeconds: 0.5,
  unhealthyThreshold: 2,
  healthyThreshold: 1,
};

describe('gateway', () => {
  let store: Store;
  let gw: Gateway;
  let closeApi: () => Promise<void>;
  const cleanups: (() => Promise<void>)[] = [];
  const ports: Record<string, number> = {};
  const stops: Record<string, () => Promise<void>> = {};

  const agent = new Agent({ keepAlive: true });
  // fetch() cannot set Host; node:http can.
  const call = (host: string, method = 'GET', headers: Record<string, string> = {}) =>
    new Promise<{ status: number; endpoint: string | undefined; body: string }>(
      (resolve, reject) => {
        const req = request(
          {
            host: '127.0.0.1',
            port: gw.port,
            path: '/x',
            method,
            agent,
            headers: { host, ...headers },
          },
          (res) => {
            let body = '';
            res.setEncoding('utf8');
            res.on('data', (c: string) => (body += c));
            res.on('end', () => {
              const ep = res.headers['x-yunjian-endpoint'];
              resolve({
                status: res.statusCode ?? 0,
                endpoint: typeof ep === 'string' ? ep : undefined,
                body,
              });
            });
          },
        );
        req.on('error', reject);
        req.end(method === 'POST' ? 'payload' : undefined);
      },
    );

  before(async () => {
    store = memoryStore();
    await addClouds(store, [
      { cloud: 'aws', site: 'us-east', latitude: 38.9, longitude: -77 },
      { cloud: 'aliyun', site: 'singapore', latitude: 1.35, longitude: 103.8 },
      { cloud: 'azure', site: 'frankfurt', latitude: 50.1, longitude: 8.7 },
    ]);
    for (const [cloud, address] of Object.entries(ADDR)) {
      const b = await startBackend((fn) => cleanups.push(fn), address);
      ports[cloud] = b.port;
      stops[cloud] = b.stop;
    }
    const placed = (['aws', 'aliyun', 'azure'] as const).map((c) => ({
      cloud: c,
      address: ADDR[c],
      port: ports[c] ?? 0,
    }));
    await putApp(
      store,
      'shop',
      {
        host: 'shop.example.com',
        strategy: 'failover',
        failover: { order: [{ cloud: 'aws' }, { cloud: 'aliyun' }] },
        healthCheck: FAST,
      },
      placed,
    );
    const auth = new TokenAuthenticator();
    auth.addToken(TOKEN, { name: 'admin' });
    const api = createApiServer({ store, auth, version: 'test', watchBookmarkSeconds: 1 });
    await api.listen({ port: 0, host: '127.0.0.1' });
    closeApi = () => api.close();
    const client = new YunjianClient({
      server: `http://127.0.0.1:${(api.server.address() as AddressInfo).port}`,
      token: TOKEN,
    });
    gw = new Gateway({
      source: apiFeedSource(client),
      host: '127.0.0.1',
      port: 0,
      attemptTimeoutMs: 1000,
    });
    await gw.start();
    await until('gateway routes', () => (gw.manager.table.routes.size === 1 ? true : undefined));
  });
  after(async () => {
    agent.destroy();
    await gw?.stop();
    await closeApi?.();
    for (const fn of cleanups) await fn();
    await store?.close();
  });

  test('routes by Host to the first cloud in failover order; unknown hosts get 404', async () => {
    const r = await call('shop.example.com');
    assert.equal(r.status, 200);
    assert.equal(r.endpoint, 'c-aws');
    assert.equal(r.body, ADDR.aws);
    const unknown = await call('nope.example.com');
    assert.equal(unknown.status, 404);
    assert.match(unknown.body, /UnknownHost/);
  });

  test('follows application changes through the watch API', async () => {
    await putApp(
      store,
      'blog',
      {
        host: 'blog.example.com',
        strategy: 'failover',
        failover: { order: [{ cloud: 'azure' }] },
        healthCheck: FAST,
      },
      [{ cloud: 'azure', address: ADDR.azure, port: ports.azure ?? 0 }],
    );
    const r = await until('new host routed', async () => {
      const x = await call('blog.example.com');
      return x.status === 200 ? x : undefined;
    });
    assert.equal(r.endpoint, 'c-azure');
  });

  test('a 5xx from one cloud is retried on the next', async (t) => {
    const bad = createServer((_req, res) => {
      res.writeHead(503);
      res.end('overloaded');
    });
    await new Promise<void>((r) => bad.listen(0, '127.0.4.1', () => r()));
    t.after(() => new Promise<void>((r) => bad.close(() => r())));
    await putApp(
      store,
      'flaky',
      {
        host: 'flaky.example.com',
        strategy: 'failover',
        failover: { order: [{ cloud: 'aws' }, { cloud: 'aliyun' }] },
        healthCheck: { tcp: {}, intervalSeconds: 60 },
      },
      [
        { cloud: 'aws', address: '127.0.4.1', port: (bad.address() as AddressInfo).port },
        { cloud: 'aliyun', address: ADDR.aliyun, port: ports.aliyun ?? 0 },
      ],
    );
    await until('flaky routed', () =>
      gw.manager.table.routes.has('flaky.example.com') ? true : undefined,
    );
    const r = await call('flaky.example.com');
    assert.equal(r.status, 200);
    assert.equal(r.endpoint, 'c-aliyun');
  });

  test('no failed request while the primary cloud dies under load', async () => {
    const before = gw.stats.retries;
    const results: { status: number; endpoint: string | undefined }[] = [];
    let killed = false;
    const deadline = Date.now() + 20_000;
    const worker = async () => {
      while (results.length < 600 && Date.now() < deadline) {
        if (!killed && results.length >= 200) {
          killed = true;
          await stops.aws?.();
        }
        results.push(await call('shop.example.com', results.length % 3 === 0 ? 'PUT' : 'GET'));
      }
    };
    await Promise.all(Array.from({ length: 8 }, worker));
    assert.ok(killed);
    const failed = results.filter((r) => r.status !== 200);
    assert.deepEqual(failed, [], 'every request succeeded');
    assert.equal(results.at(-1)?.endpoint, 'c-aliyun');
    assert.ok(results.some((r) => r.endpoint === 'c-aws'));
    // The active probes take the dead endpoint out, so later requests need no retry.
    await until('aws marked down', () =>
      gw.manager.table.routes
        .get('shop.example.com')
        ?.endpoints.some((e) => e.cloud === 'aws' && !gw.manager.isHealthy(e))
        ? true
        : undefined,
    );
    assert.ok(gw.stats.retries >= before);
  });

  test('a POST without an idempotency key is not retried; with one it is', async (t) => {
    const bad = createServer((req, res) => {
      req.resume();
      res.writeHead(503);
      res.end('overloaded');
    });
    await new Promise<void>((r) => bad.listen(0, '127.0.4.2', () => r()));
    t.after(() => new Promise<void>((r) => bad.close(() => r())));
    await putApp(
      store,
      'orders',
      {
        host: 'orders.example.com',
        strategy: 'failover',
        failover: { order: [{ cloud: 'aws' }, { cloud: 'aliyun' }] },
        healthCheck: { tcp: {}, intervalSeconds: 60 },
      },
      [
        { cloud: 'aws', address: '127.0.4.2', port: (bad.address() as AddressInfo).port },
        { cloud: 'aliyun', address: ADDR.aliyun, port: ports.aliyun ?? 0 },
      ],
    );
    await until('orders routed', () =>
      gw.manager.table.routes.has('orders.example.com') ? true : undefined,
    );
    const plain = await call('orders.example.com', 'POST');
    assert.equal(plain.status, 503);
    assert.equal(plain.endpoint, 'c-aws');
    const keyed = await call('orders.example.com', 'POST', { 'idempotency-key': 'k1' });
    assert.equal(keyed.status, 200);
    assert.equal(keyed.endpoint, 'c-aliyun');
  });
});
