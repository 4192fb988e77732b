// The strategies as pure functions: table-driven, deterministic.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { greatCircleKm } from '../src/lib/geo.ts';
import { builtinGeoLocator, TableGeoLocator } from '../src/traffic/geo.ts';
import type { TrafficEndpoint, TrafficRoute, TrafficSpec } from '../src/traffic/routes.ts';
import { buildRouteTable, zoneOf } from '../src/traffic/routes.ts';
import { select, StrategyState, unitCells } from '../src/traffic/strategies.ts';

const SITES = {
  'us-east': { region: 'us-east', latitude: 38.9, longitude: -77 },
  frankfurt: { region: 'frankfurt', latitude: 50.1, longitude: 8.7 },
  singapore: { region: 'singapore', latitude: 1.35, longitude: 103.8 },
};

function ep(
  cloud: string,
  site: keyof typeof SITES,
  n: number,
  extra: Partial<TrafficEndpoint> = {},
): TrafficEndpoint {
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
    location: SITES[site],
    ...extra,
  };
}

const AWS = ep('aws', 'us-east', 1);
const ALI = ep('aliyun', 'singapore', 2);
const AZ = ep('azure', 'frankfurt', 3);

function route(
  spec: Partial<TrafficSpec> & Pick<TrafficSpec, 'strategy'>,
  endpoints = [AWS, ALI, AZ],
): TrafficRoute {
  const full = { host: 'shop.example.com', ...spec };
  return {
    namespace: 'default',
    app: 'shop',
    host: full.host,
    strategy: full.strategy,
    ttl: 5,
    spec: full,
    endpoints,
  };
}

const up =
  (...down: TrafficEndpoint[]) =>
  (e: TrafficEndpoint) =>
    !down.includes(e);
const addrs = (es: TrafficEndpoint[]) => es.map((e) => e.address);

describe('failover', () => {
  const r = route({
    strategy: 'failover',
    failover: { order: [{ cloud: 'aws' }, { site: 'frankfurt' }] },
  });
  const cases = [
    { name: 'first in order', down: [], want: [AWS.address] },
    { name: 'second by site', down: [AWS], want: [AZ.address] },
    { name: 'unlisted last', down: [AWS, AZ], want: [ALI.address] },
    { name: 'all down fails open', down: [AWS, AZ, ALI], want: [AWS.address] },
  ];
  for (const c of cases)
    test(c.name, () => {
      const s = select(r, up(...c.down), {}, new StrategyState(), builtinGeoLocator);
      assert.deepEqual(addrs(s.endpoints), c.want);
      assert.equal(s.allDown, c.down.length === 3);
    });
  test('failClosed answers nothing when all are down', () => {
    const closed = route({
      strategy: 'failover',
      whenAllDown: 'failClosed',
      failover: { order: [] },
    });
    assert.deepEqual(
      select(closed, () => false, {}, new StrategyState(), builtinGeoLocator).endpoints,
      [],
    );
  });
  test('draining endpoints serve only when nothing else is healthy', () => {
    const drainingAws = { ...AWS, draining: true };
    const r2 = route({ strategy: 'failover', failover: { order: [{ cloud: 'aws' }] } }, [
      drainingAws,
      ALI,
    ]);
    assert.deepEqual(
      addrs(select(r2, () => true, {}, new StrategyState(), builtinGeoLocator).endpoints),
      [ALI.address],
    );
    assert.deepEqual(
      addrs(select(r2, (e) => e !== ALI, {}, new StrategyState(), builtinGeoLocator).endpoints),
      [AWS.address],
    );
  });
});

describe('weighted (smooth weighted round robin)', () => {
  const cases = [
    {
      weights: [
        { cloud: 'aws', weight: 5 },
        { cloud: 'aliyun', weight: 1 },
        { cloud: 'azure', weight: 1 },
      ],
      n: 7,
      want: { aws: 5, aliyun: 1, azure: 1 },
    },
    {
      weights: [
        { cloud: 'aws', weight: 1 },
        { cloud: 'aliyun', weight: 1 },
      ],
      n: 4,
      want: { aws: 2, aliyun: 2, azure: 0 },
    },
    { weights: [{ cloud: 'aws', weight: 0 }], n: 3, want: { aws: 1, aliyun: 1, azure: 1 } },
  ];
  for (const c of cases)
    test(JSON.stringify(c.weights), () => {
      const r = route({ strategy: 'weighted', weights: c.weights });
      const state = new StrategyState();
      const got: Record<string, number> = { aws: 0, aliyun: 0, azure: 0 };
      for (let i = 0; i < c.n; i++) {
        const [e] = select(r, () => true, {}, state, builtinGeoLocator).endpoints;
        if (e) got[e.cloud] = (got[e.cloud] ?? 0) + 1;
      }
      assert.deepEqual(got, c.want);
    });
});

test('round robin rotates the healthy set', () => {
  const r = route({ strategy: 'roundRobin' });
  const state = new StrategyState();
  const firsts = [0, 1, 2, 3].map(
    () => select(r, up(ALI), {}, state, builtinGeoLocator).endpoints[0]?.address,
  );
  assert.deepEqual(firsts, [AWS.address, AZ.address, AWS.address, AZ.address]);
});

describe('geo', () => {
  const r = route({ strategy: 'geo' });
  const cases = [
    { client: { subnet: '198.51.100.7' }, down: [], want: AZ.address, stable: true },
    { client: { subnet: '203.0.113.9' }, down: [], want: ALI.address, stable: true },
    { client: { address: '192.0.2.1' }, down: [], want: AWS.address, stable: false },
    { client: { subnet: '198.51.100.7' }, down: [AZ], want: AWS.address, stable: true },
  ];
  for (const c of cases)
    test(`${JSON.stringify(c.client)} with ${c.down.length} down`, () => {
      const s = select(r, up(...c.down), c.client, new StrategyState(), builtinGeoLocator);
      assert.deepEqual(addrs(s.endpoints), [c.want]);
      assert.equal(s.stable, c.stable);
    });
  test('an unknown client gets every healthy site', () => {
    assert.equal(
      select(r, () => true, { address: '10.1.2.3' }, new StrategyState(), builtinGeoLocator)
        .endpoints.length,
      3,
    );
  });
  test('a pluggable locator and great-circle distances', () => {
    const geo = new TableGeoLocator([
      { cidr: '10.0.0.0/8', point: SITES.singapore },
      { cidr: '2001:db8::/32', point: SITES.frankfurt },
    ]);
    assert.equal(geo.locate('10.9.9.9')?.region, 'singapore');
    assert.equal(geo.locate('2001:db8::1')?.region, 'frankfurt');
    assert.equal(geo.locate('11.0.0.1'), undefined);
    const km = greatCircleKm(SITES['us-east'], SITES.frankfurt);
    assert.ok(km > 6400 && km < 6700, `${km}`);
  });
});

describe('unit', () => {
  const cells = [
    { name: 'u1', cloud: 'aws' },
    { name: 'u2', cloud: 'aliyun' },
    { name: 'u3', cloud: 'azure' },
  ];
  const r = route({ strategy: 'unit', units: { key: 'header:X-User', cells } });
  test('a key maps to one cell, case-insensitively, with the other cells as fall-backs', () => {
    const order = unitCells(r.host, cells, 'Alice');
    assert.equal(order.length, 3);
    assert.deepEqual(unitCells(r.host, cells, 'alice'), order);
    const s = select(r, () => true, { unitKey: 'alice' }, new StrategyState(), builtinGeoLocator);
    assert.equal(s.detail, order[0]?.name);
    const downCell = [AWS, ALI, AZ].find((e) => e.cloud === order[0]?.cloud);
    assert.ok(downCell);
    const moved = select(
      r,
      up(downCell),
      { unitKey: 'alice' },
      new StrategyState(),
      builtinGeoLocator,
    );
    assert.equal(moved.detail, order[1]?.name);
  });
  test('consistent hashing: removing a cell moves only its keys', () => {
    const keys = Array.from({ length: 2000 }, (_, i) => `user-${i}`);
    const before = keys.map((k) => unitCells('h', cells, k)[0]?.name);
    const after = keys.map((k) => unitCells('h', cells.slice(0, 2), k)[0]?.name);
    // Keys of the remaining cells stay put; only u3's keys move.
    keys.forEach((k, i) => {
      if (before[i] !== 'u3') assert.equal(after[i], before[i], k);
    });
    const share = before.filter((c) => c === 'u3').length / keys.length;
    assert.ok(share > 0.2 && share < 0.47, `u3 holds ${share}`);
  });
});

test('zones are the parent domain of each host', () => {
  assert.equal(zoneOf('shop.example.com'), 'example.com');
  assert.equal(zoneOf('a.b.example.co'), 'b.example.co');
  assert.equal(zoneOf('example.com'), 'example.com');
  const t = buildRouteTable([], [], []);
  assert.deepEqual(t.zones, []);
});
