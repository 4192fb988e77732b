// The two places outside the migration controller that honour an app's
// `spec.migration`: the scheduler (surge adds a full copy on the target and
// keeps the source, restore and move place on one side only) and the traffic
// route table (weighted by site, exactly targetWeight percent on the target),
// and that an app without it is placed and routed as before.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Application, ApplicationMigration, Cluster, Site } from '../src/model/schema.ts';
import { placeApplication } from '../src/scheduler/index.ts';
import { buildRouteTable } from '../src/traffic/routes.ts';
import { select, StrategyState } from '../src/traffic/strategies.ts';
import { builtinGeoLocator } from '../src/traffic/geo.ts';
import { clusterInfo, fleet, node } from './scheduler.fixtures.ts';

const snapshot = () =>
  fleet([
    { info: clusterInfo('a-1', { cloud: 'a' }), nodes: [node(), node()] },
    { info: clusterInfo('b-1', { cloud: 'b' }), nodes: [node(), node()] },
  ]);

function app(
  migration?: ApplicationMigration,
  placements: Application['status'] = {},
): Application {
  return {
    apiVersion: 'yunjian.io/v1alpha1',
    kind: 'Application',
    metadata: { name: 'shop', namespace: 'default', generation: 1 },
    spec: {
      components: [
        { name: 'web', image: 'hello', replicas: 3, resources: { cpu: '1', memory: '1Gi' } },
      ],
      placement: { clusterAffinity: { clouds: ['a', 'b'] } },
      traffic: {
        host: 'shop.example.com',
        strategy: 'failover',
        failover: { order: [{ cloud: 'a' }] },
      },
      ...(migration ? { migration } : {}),
    },
    status: placements,
  };
}
const toB = (mode: ApplicationMigration['mode'], targetWeight: number): ApplicationMigration => ({
  name: 'move-shop',
  target: { clouds: ['b'] },
  mode,
  targetWeight,
});

describe('the scheduler honours spec.migration', () => {
  const running = { web: { 'a-1': 3 } };
  const table: [string, ApplicationMigration | undefined, Record<string, number>][] = [
    ['no migration: sticky on a', undefined, { 'a-1': 3 }],
    ['surge: a keeps its 3, b gets a full copy', toB('surge', 0), { 'a-1': 3, 'b-1': 3 }],
    ['restore: only a', toB('restore', 0), { 'a-1': 3 }],
    ['move: only b', toB('move', 100), { 'b-1': 3 }],
  ];
  for (const [name, migration, want] of table)
    it(name, () => {
      const plan = placeApplication(snapshot(), app(migration), running);
      const got: Record<string, number> = {};
      for (const a of plan.components[0]?.assignments ?? [])
        got[a.cluster] = (got[a.cluster] ?? 0) + a.replicas;
      assert.deepEqual(got, want);
      assert.equal(plan.components[0]?.unplaced, 0);
    });
});

describe('the route table honours spec.migration', () => {
  const cluster = (name: string, cloud: string): Cluster => ({
    apiVersion: 'yunjian.io/v1alpha1',
    kind: 'Cluster',
    metadata: { name },
    spec: { cloud, site: `s-${name}`, driver: { type: 'agent' } },
    status: { conditions: [{ type: 'Ready', status: 'True' }] },
  });
  const site = (name: string, cloud: string): Site => ({
    apiVersion: 'yunjian.io/v1alpha1',
    kind: 'Site',
    metadata: { name },
    spec: { cloud, kind: 'region', country: 'US', city: 'X', latitude: 0, longitude: 0 },
  });
  const status: Application['status'] = {
    placements: [
      {
        component: 'web',
        cluster: 'a-1',
        cloud: 'a',
        desired: 3,
        ready: 3,
        endpoints: [{ address: '127.0.0.2', port: 80 }],
      },
      {
        component: 'web',
        cluster: 'b-1',
        cloud: 'b',
        desired: 3,
        ready: 3,
        endpoints: [
          { address: '127.0.0.3', port: 80 },
          { address: '127.0.0.4', port: 80 },
        ],
      },
    ],
  };
  const share = (migration: ApplicationMigration | undefined) => {
    const table = buildRouteTable(
      [app(migration, status)],
      [site('s-a-1', 'a'), site('s-b-1', 'b')],
      [cluster('a-1', 'a'), cluster('b-1', 'b')],
    );
    const route = table.routes.get('shop.example.com');
    assert.ok(route);
    const state = new StrategyState();
    let onB = 0;
    for (let i = 0; i < 100; i++) {
      const s = select(route, () => true, {}, state, builtinGeoLocator);
      if (s.endpoints[0]?.cloud === 'b') onB++;
    }
    return { strategy: route.strategy, onB };
  };
  const table: [string, ApplicationMigration | undefined, { strategy: string; onB: number }][] = [
    ['no migration: the app strategy (failover to a)', undefined, { strategy: 'failover', onB: 0 }],
    ['surge at 0 %', toB('surge', 0), { strategy: 'weighted', onB: 0 }],
    ['surge at 25 %', toB('surge', 25), { strategy: 'weighted', onB: 25 }],
    ['surge at 50 %', toB('surge', 50), { strategy: 'weighted', onB: 50 }],
    ['surge at 100 %', toB('surge', 100), { strategy: 'weighted', onB: 100 }],
    ['restore at 0 %', toB('restore', 0), { strategy: 'weighted', onB: 0 }],
  ];
  for (const [name, migration, want] of table)
    it(name, () => assert.deepEqual(share(migration), want));
});
