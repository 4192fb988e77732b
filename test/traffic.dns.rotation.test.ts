// Rotating answers (roundRobin, weighted) from the packet cache: the engine
// encodes a rotation's whole period once, and the period holds exactly the
// strategy's distribution; answers served from the cache continue the same
// sequence, position for position, as answers computed afresh.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import dnsPacket from 'dns-packet';
import { Authority } from '../src/traffic/answer.ts';
import { DnsEngine } from '../src/traffic/dns-engine.ts';
import { builtinGeoLocator } from '../src/traffic/geo.ts';
import type { TrafficEndpoint, TrafficRoute, TrafficSpec } from '../src/traffic/routes.ts';
import { sharedCounters } from '../src/traffic/strategies.ts';

const HOST = 'shop.example.com';

function ep(cloud: string, site: string, n: number): TrafficEndpoint {
  const address = `127.0.${n}.1`;
  return {
    key: `c-${cloud}-${n}/${address}:80`,
    cluster: `c-${cloud}-${n}`,
    cloud,
    site,
    address,
    port: 80,
    family: 4,
    ready: true,
    draining: false,
    probe: 'network',
    clusterReady: true,
  };
}

const AWS = ep('aws', 'us-east', 1);
const ALI = ep('aliyun', 'singapore', 2);
const AZ = ep('azure', 'frankfurt', 3);
const AWS2 = ep('aws', 'us-west', 4);

function engineFor(
  spec: Partial<TrafficSpec> & Pick<TrafficSpec, 'strategy'>,
  endpoints: TrafficEndpoint[],
  down: TrafficEndpoint[] = [],
  counters: Int32Array | undefined = sharedCounters(),
): DnsEngine {
  const route: TrafficRoute = {
    namespace: 'default',
    app: 'shop',
    host: HOST,
    strategy: spec.strategy,
    ttl: 5,
    spec: { host: HOST, ...spec },
    endpoints,
  };
  const authority = new Authority({
    geo: builtinGeoLocator,
    nameServers: ['127.0.0.1'],
    ...(counters !== undefined ? { counters } : {}),
  });
  authority.table = { routes: new Map([[HOST, route]]), zones: ['example.com'], conflicts: [] };
  authority.healthy = (e) => !down.includes(e);
  return new DnsEngine(authority);
}

function query(id: number, type: 'A' | 'AAAA' | 'ANY' = 'A'): Buffer {
  const bytes = dnsPacket.encode({
    type: 'query',
    id,
    questions: [{ type: type === 'ANY' ? 'A' : type, name: HOST }],
  });
  // The codec's types have no ANY: set QTYPE (before QCLASS, the last 4 bytes) to 255.
  if (type === 'ANY') bytes.writeUInt16BE(255, bytes.length - 4);
  return bytes;
}

function addresses(response: Buffer): string[] {
  return (dnsPacket.decode(response).answers ?? []).map((a) => (a.type === 'A' ? a.data : ''));
}

describe('a rotation encoded whole has exactly the strategy distribution over its period', () => {
  const cases = [
    {
      name: 'weighted 5:1:1 by cloud',
      spec: {
        strategy: 'weighted' as const,
        weights: [
          { cloud: 'aws', weight: 5 },
          { cloud: 'aliyun', weight: 1 },
          { cloud: 'azure', weight: 1 },
        ],
      },
      endpoints: [AWS, ALI, AZ],
      down: [],
      period: 7,
      firsts: { [AWS.address]: 5, [ALI.address]: 1, [AZ.address]: 1 },
    },
    {
      name: 'weighted 3:1, a cloud weight shared by its two sites',
      spec: {
        strategy: 'weighted' as const,
        weights: [
          { cloud: 'aws', weight: 6 },
          { cloud: 'aliyun', weight: 2 },
        ],
      },
      endpoints: [AWS, AWS2, ALI],
      down: [],
      period: 8,
      firsts: { [AWS.address]: 3, [AWS2.address]: 3, [ALI.address]: 2 },
    },
    {
      name: 'weighted without the down endpoint',
      spec: {
        strategy: 'weighted' as const,
        weights: [
          { cloud: 'aws', weight: 3 },
          { cloud: 'aliyun', weight: 1 },
          { cloud: 'azure', weight: 2 },
        ],
      },
      endpoints: [AWS, ALI, AZ],
      down: [AZ],
      period: 4,
      firsts: { [AWS.address]: 3, [ALI.address]: 1 },
    },
    {
      name: 'round robin over three',
      spec: { strategy: 'roundRobin' as const },
      endpoints: [AWS, ALI, AZ],
      down: [],
      period: 3,
      firsts: { [AWS.address]: 1, [ALI.address]: 1, [AZ.address]: 1 },
    },
    {
      name: 'round robin without the down endpoint',
      spec: { strategy: 'roundRobin' as const },
      endpoints: [AWS, ALI, AZ],
      down: [ALI],
      period: 2,
      firsts: { [AWS.address]: 1, [AZ.address]: 1 },
    },
  ];
  for (const c of cases)
    test(c.name, () => {
      const engine = engineFor(c.spec, c.endpoints, c.down);
      const res = engine.answerUdp(query(1), '127.0.0.1');
      assert.ok(res?.rotation, 'a rotation');
      assert.equal(res.cacheable, false);
      const { responses, sequence } = res.rotation;
      assert.equal(sequence.length, c.period);
      const firsts: Record<string, number> = {};
      for (let n = 0; n < c.period; n++) {
        const response = responses[sequence[n] ?? -1];
        assert.ok(response);
        const got = addresses(response);
        // Round robin answers every candidate, rotated; weighted one.
        assert.equal(
          got.length,
          c.spec.strategy === 'roundRobin' ? c.endpoints.length - c.down.length : 1,
        );
        const first = got[0] ?? '';
        firsts[first] = (firsts[first] ?? 0) + 1;
      }
      assert.deepEqual(firsts, c.firsts);
      // Each distinct answer is encoded once.
      assert.equal(
        new Set(responses.map((r) => r.toString('latin1'))).size,
        responses.length,
        'distinct',
      );
    });
});

describe('cached rotating answers continue the sequence of uncached ones', () => {
  const cases = [
    {
      name: 'weighted 5:1:1',
      spec: {
        strategy: 'weighted' as const,
        weights: [
          { cloud: 'aws', weight: 5 },
          { cloud: 'aliyun', weight: 1 },
          { cloud: 'azure', weight: 1 },
        ],
      },
    },
    { name: 'round robin', spec: { strategy: 'roundRobin' as const } },
  ];
  for (const c of cases)
    for (const shared of [true, false])
      test(`${c.name}, ${shared ? 'shared' : 'per-engine'} counters`, () => {
        const cached = engineFor(c.spec, [AWS, ALI, AZ], [], shared ? sharedCounters() : undefined);
        const fresh = engineFor(c.spec, [AWS, ALI, AZ], [], shared ? sharedCounters() : undefined);
        const viaCache: string[] = [];
        const computed: string[] = [];
        for (let i = 0; i < 20; i++) {
          const out = cached.udp(query(i + 1), '127.0.0.1');
          assert.ok(out);
          assert.equal(out.readUInt16BE(0), i + 1, 'the query ID');
          viaCache.push(addresses(out).join());
          // answerUdp never caches: every answer is computed.
          const res = fresh.answerUdp(query(i + 1), '127.0.0.1');
          assert.ok(res);
          computed.push(addresses(res.bytes).join());
        }
        assert.deepEqual(viaCache, computed);
        // Counted like any answer: 20 under the strategy's key.
        assert.equal(cached.counts().get(`udp|${c.spec.strategy}|NOERROR`), 20);
      });
});

describe('answers that are not one rotation are not cached as one', () => {
  const rr = { strategy: 'roundRobin' as const };
  const cases = [
    { name: 'failover is stable', spec: { strategy: 'failover' as const }, type: 'A' as const },
    { name: 'geo without ECS depends on the sender', spec: { strategy: 'geo' as const } },
    { name: 'ANY rotates once per family', spec: rr, type: 'ANY' as const, v6: true },
    { name: 'AAAA with no IPv6 endpoint is NODATA', spec: rr, type: 'AAAA' as const },
  ];
  for (const c of cases)
    test(c.name, () => {
      const v6: TrafficEndpoint = { ...AZ, key: 'v6', address: '::1', family: 6 };
      const engine = engineFor(c.spec, c.v6 === true ? [AWS, ALI, v6] : [AWS, ALI]);
      const res = engine.answerUdp(query(1, c.type ?? 'A'), '127.0.0.1');
      assert.ok(res);
      assert.equal((dnsPacket.decode(res.bytes).flags ?? -1) & 0xf, 0, 'NOERROR');
      assert.equal(res.rotation, undefined);
    });
});
