// The migration gate's inputs: the gateway's per-backend attempt windows
// (BackendStats) and gatewayMetrics, which sums the target clusters' windows
// from every gateway that answers (over real loopback HTTP) and takes the
// target's health from the app's status.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { gatewayMetrics, targetHealth } from '../src/controllers/migration/metrics.ts';
import type { Application, Migration } from '../src/model/schema.ts';
import { BACKEND_RING, BackendStats } from '../src/traffic/backendstats.ts';

describe('BackendStats', () => {
  it('counts attempts and failures since a time, with the p99', () => {
    const s = new BackendStats();
    for (let i = 0; i < 100; i++) s.record('b1', i % 10 === 0, i + 1, 1000 + i);
    s.record('a1', false, 5, 500);
    assert.deepEqual(s.since(0), {
      b1: { requests: 100, errors: 10, p99LatencyMs: 99 },
      a1: { requests: 1, errors: 0, p99LatencyMs: 5 },
    });
    assert.deepEqual(s.since(1050), { b1: { requests: 50, errors: 5, p99LatencyMs: 100 } });
    assert.deepEqual(s.since(5000), {});
  });
  it('keeps at most BACKEND_RING attempts per cluster', () => {
    const s = new BackendStats();
    for (let i = 0; i < BACKEND_RING + 10; i++) s.record('b1', false, 1, i);
    assert.equal(s.since(0).b1?.requests, BACKEND_RING);
  });
});

const app: Application = {
  apiVersion: 'yunjian.io/v1alpha1',
  kind: 'Application',
  metadata: { name: 'shop', namespace: 'default' },
  spec: { components: [{ name: 'web', image: 'hello', replicas: 2 }] },
  status: {
    placements: [
      { component: 'web', cluster: 'a1', cloud: 'a', desired: 2, ready: 2 },
      { component: 'web', cluster: 'b1', cloud: 'b', desired: 2, ready: 1 },
      { component: 'web', cluster: 'b2', cloud: 'b', desired: 2, ready: 2 },
    ],
  },
};
const migration = {} as Migration;

describe('gatewayMetrics', () => {
  const servers: Server[] = [];
  const urls: string[] = [];
  const asked: string[] = [];
  before(async () => {
    const answers = [
      {
        clusters: {
          a1: { requests: 90, errors: 0, p99LatencyMs: 3 },
          b1: { requests: 10, errors: 1, p99LatencyMs: 40 },
        },
      },
      { clusters: { b2: { requests: 5, errors: 0, p99LatencyMs: 70 } } },
    ];
    for (const body of answers) {
      const s = createServer((req, res) => {
        asked.push(req.url ?? '');
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify(body));
      });
      await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
      servers.push(s);
      urls.push(
        `http://127.0.0.1:${(s.address() as AddressInfo).port}/.well-known/yunjian/backends`,
      );
    }
  });
  after(async () => {
    for (const s of servers) await new Promise((r) => s.close(r));
  });

  it('sums the target clusters over gateways, worst p99, health from status', async () => {
    const m = await gatewayMetrics(urls)({ migration, app, target: ['b1', 'b2'], sinceMs: 1234 });
    assert.deepEqual(m, { requests: 15, errors: 1, p99LatencyMs: 70, healthyFraction: 0.75 });
    assert.ok(
      asked.every((u) => u.endsWith('?since=1234')),
      asked.join(' '),
    );
  });
  it('leaves out a gateway that does not answer', async () => {
    const m = await gatewayMetrics([...urls, 'http://127.0.0.1:9/x'])({
      migration,
      app,
      target: ['b1'],
      sinceMs: 0,
    });
    assert.deepEqual(m, { requests: 10, errors: 1, p99LatencyMs: 40, healthyFraction: 0.5 });
  });
  it('without gateways: health only', async () => {
    const m = await gatewayMetrics([])({ migration, app, target: ['a1'], sinceMs: 0 });
    assert.deepEqual(m, { requests: 0, errors: 0, healthyFraction: 1 });
    assert.equal(targetHealth(app, ['zz']), 0);
  });
});
