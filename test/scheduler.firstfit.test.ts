import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  placeFirstFit,
  type ClusterSnapshot,
  type ComponentRequest,
} from '../src/scheduler/firstfit.ts';

const GiB = 2 ** 30;
function cluster(name: string, over: Partial<ClusterSnapshot> = {}): ClusterSnapshot {
  return {
    name,
    cloud: name.split('-')[0] ?? name,
    site: `${name}-site`,
    zone: 'a',
    country: 'US',
    labels: {},
    taints: [],
    ready: true,
    archs: ['amd64'],
    free: { cpu: 16, memory: 64 * GiB, gpu: 0, pods: 100 },
    ...over,
  };
}
const comp = (over: Partial<ComponentRequest> = {}): ComponentRequest => ({
  name: 'web',
  replicas: 4,
  architectures: ['amd64'],
  cpuMillis: 1000,
  memoryBytes: GiB,
  gpu: 0,
  ...over,
});

describe('placeFirstFit', () => {
  it('skips clusters that fail a filter and counts each reason', () => {
    const plan = placeFirstFit(
      [
        cluster('aws-1', { archs: ['arm64'] }),
        cluster('aws-2', { archs: ['arm64'] }),
        cluster('azure-1', { ready: false }),
        cluster('gcp-1', { taints: [{ key: 'edge', effect: 'NoSchedule' }] }),
        cluster('ibm-1', { country: 'DE' }),
        cluster('oracle-1'),
      ],
      { components: [comp()], placement: { residency: { countries: ['US'] } }, current: {} },
    );
    assert.deepEqual(plan.components[0]?.assignments, [{ cluster: 'oracle-1', replicas: 4 }]);
    const reasons = Object.fromEntries(plan.reasons.map((r) => [r.reason, r.count]));
    assert.equal(reasons['image has no arm64 variant'], 2);
    assert.equal(reasons['cluster not Ready'], 1);
    assert.equal(reasons['untolerated taint edge:NoSchedule'], 1);
    assert.equal(reasons['data residency: country DE not allowed'], 1);
  });

  const spreadCases = [
    { min: 1, want: 1 },
    { min: 2, want: 2 },
    { min: 3, want: 3 },
  ];
  for (const c of spreadCases) {
    it(`spreads over at least ${c.min} clouds`, () => {
      const plan = placeFirstFit(
        [cluster('aws-1'), cluster('aws-2'), cluster('azure-1'), cluster('gcp-1')],
        {
          components: [comp({ replicas: 6 })],
          placement: { spread: [{ by: 'cloud', min: c.min }] },
          current: {},
        },
      );
      const clouds = new Set(plan.components[0]?.assignments.map((a) => a.cluster.split('-')[0]));
      assert.equal(clouds.size, c.want);
      assert.equal(
        plan.components[0]?.assignments.reduce((n, a) => n + a.replicas, 0),
        6,
      );
    });
  }

  it('keeps replicas on the clusters they already run on', () => {
    const plan = placeFirstFit([cluster('aws-1'), cluster('gcp-1')], {
      components: [comp()],
      placement: undefined,
      current: { web: ['gcp-1'] },
    });
    assert.deepEqual(plan.components[0]?.assignments, [{ cluster: 'gcp-1', replicas: 4 }]);
  });

  it('adds clusters until capacity covers the replicas and reports what is left', () => {
    const small = { cpu: 2, memory: 64 * GiB, gpu: 0, pods: 100 };
    const plan = placeFirstFit([cluster('a-1', { free: small }), cluster('b-1', { free: small })], {
      components: [comp({ replicas: 5 })],
      placement: undefined,
      current: {},
    });
    assert.deepEqual(plan.components[0]?.assignments, [
      { cluster: 'a-1', replicas: 2 },
      { cluster: 'b-1', replicas: 2 },
    ]);
    assert.equal(plan.components[0]?.unplaced, 1);
  });

  it('duplicates the full replica count on every chosen cluster', () => {
    const plan = placeFirstFit([cluster('aws-1'), cluster('gcp-1')], {
      components: [comp({ replicas: 3 })],
      placement: { replicaScheduling: { type: 'Duplicated' }, spread: [{ by: 'cloud', min: 2 }] },
      current: {},
    });
    assert.deepEqual(plan.components[0]?.assignments, [
      { cluster: 'aws-1', replicas: 3 },
      { cluster: 'gcp-1', replicas: 3 },
    ]);
  });

  it('divides by static weights', () => {
    const plan = placeFirstFit([cluster('aws-1'), cluster('gcp-1')], {
      components: [comp({ replicas: 9 })],
      placement: {
        spread: [{ by: 'cloud', min: 2 }],
        replicaScheduling: {
          type: 'Divided',
          weighting: 'Static',
          staticWeights: [
            { clusters: ['aws-1'], weight: 2 },
            { clusters: ['gcp-1'], weight: 1 },
          ],
        },
      },
      current: {},
    });
    assert.deepEqual(plan.components[0]?.assignments, [
      { cluster: 'aws-1', replicas: 6 },
      { cluster: 'gcp-1', replicas: 3 },
    ]);
  });

  it('does not count the same free capacity twice for two components', () => {
    const plan = placeFirstFit(
      [cluster('a-1', { free: { cpu: 4, memory: 64 * GiB, gpu: 0, pods: 100 } }), cluster('b-1')],
      {
        components: [comp({ name: 'one', replicas: 4 }), comp({ name: 'two', replicas: 2 })],
        placement: undefined,
        current: {},
      },
    );
    assert.deepEqual(plan.components[1]?.assignments, [{ cluster: 'b-1', replicas: 2 }]);
  });
});
