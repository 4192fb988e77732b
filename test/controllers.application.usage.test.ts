// Colocation usage, table-driven: the per-replica sample a pass takes from
// what ready replicas use, and the colocation status and reservation events
// that follow from each component's window.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decideColocation, perReplicaUsage } from '../src/controllers/application/usage.ts';
import type { Application } from '../src/model/schema.ts';
import type { AppPlan } from '../src/scheduler/index.ts';
import {
  app,
  component,
  observations,
  placement,
  workload,
} from './controllers.application.fixtures.ts';

const colocated = (status?: Application['status']) =>
  app(
    [
      component('web', 2, { resources: { cpu: '1' } }),
      component('api', 1, { resources: { cpu: '500m' } }),
    ],
    {
      spec: { placement: { colocation: { minSamples: 2, percentile: 90 } } },
      ...(status ? { status } : {}),
    },
  );
const plan = (risk?: AppPlan['risk']): AppPlan => ({
  app: 'shop',
  components: [],
  reasons: [],
  explanation: [],
  ...(risk ? { risk } : {}),
});

describe('perReplicaUsage', () => {
  it('sums use over ready replicas of active placements; no ready replica, no sample', () => {
    const got = perReplicaUsage(
      colocated(),
      [placement('web', 'a', 2), placement('web', 'b', 2), placement('api', 'a', 1)],
      observations([
        ['web', 'a', workload('web', { ready: 2, cpuUsageMillis: 300 })],
        ['web', 'b', workload('web', { ready: 1, cpuUsageMillis: 101 })],
        ['api', 'a', workload('api', { ready: 0, cpuUsageMillis: 50 })],
      ]),
    );
    assert.deepEqual([...got], [['web', 134]]);
  });

  it('a driver that measures nothing gives no sample', () => {
    const got = perReplicaUsage(
      colocated(),
      [placement('web', 'a', 2)],
      observations([['web', 'a', workload('web', { ready: 2 })]]),
    );
    assert.equal(got.size, 0);
  });
});

describe('decideColocation', () => {
  it('is undefined for an app that is not colocated', () => {
    assert.equal(decideColocation(app([component('web', 1)]), new Map(), plan()), undefined);
  });

  const cases: {
    name: string;
    samples: number[];
    reserved?: number;
    risk?: AppPlan['risk'];
    lastRisk?: number;
    want: { reserved: number; observed?: number; predicted?: number; risk?: number };
    changes: string[];
  }[] = [
    {
      name: 'too few samples: the request is reserved, no event',
      samples: [200],
      want: { reserved: 1000, observed: 200, predicted: 200 },
      changes: [],
    },
    {
      name: 'enough samples: the percentile, rounded up, with an event',
      samples: [200, 301],
      want: { reserved: 310, observed: 301, predicted: 301 },
      changes: [
        'web reserves 310m per replica (was 1000m, request 1000m): p90 of 2 samples is 301m',
      ],
    },
    {
      name: 'a reservation in force that still fits: kept, no event',
      samples: [200, 280],
      reserved: 300,
      want: { reserved: 300, observed: 280, predicted: 280 },
      changes: [],
    },
    {
      name: 'a plan that placed replicas gives the risk',
      samples: [],
      risk: { maxOverloadProbability: 0.02, nodes: 3 },
      lastRisk: 0.5,
      want: { reserved: 1000, risk: 0.02 },
      changes: [],
    },
    {
      name: 'a plan from the status keeps the last risk',
      samples: [],
      risk: { maxOverloadProbability: 0.02, nodes: 0 },
      lastRisk: 0.5,
      want: { reserved: 1000, risk: 0.5 },
      changes: [],
    },
  ];
  for (const c of cases)
    it(c.name, () => {
      const a = colocated(
        c.reserved !== undefined || c.lastRisk !== undefined
          ? {
              colocation: {
                components:
                  c.reserved !== undefined
                    ? [
                        {
                          component: 'web',
                          samples: 2,
                          reservedCpuMillis: c.reserved,
                          requestCpuMillis: 1000,
                        },
                      ]
                    : [],
                ...(c.lastRisk !== undefined ? { maxOverloadProbability: c.lastRisk } : {}),
              },
            }
          : undefined,
      );
      const got = decideColocation(a, new Map([['web', c.samples]]), plan(c.risk));
      assert.ok(got);
      const web = got.status.components.find((x) => x.component === 'web');
      assert.deepEqual(
        {
          reserved: web?.reservedCpuMillis,
          ...(web?.observedCpuMillis !== undefined ? { observed: web.observedCpuMillis } : {}),
          ...(web?.predictedCpuMillis !== undefined ? { predicted: web.predictedCpuMillis } : {}),
          ...(got.status.maxOverloadProbability !== undefined
            ? { risk: got.status.maxOverloadProbability }
            : {}),
        },
        c.want,
      );
      assert.equal(web?.samples, c.samples.length);
      assert.deepEqual(got.changes, c.changes);
      const api = got.status.components.find((x) => x.component === 'api');
      assert.deepEqual(api, {
        component: 'api',
        samples: 0,
        reservedCpuMillis: 500,
        requestCpuMillis: 500,
      });
    });
});
