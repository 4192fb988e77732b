// The Karmada-style baseline of the throughput benchmark: cluster filtering,
// spread selection and replica division on small fixtures, then the whole
// path (estimator, division, one default scheduler per member cluster).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  divideByAvailableReplicas,
  duplicate,
  filterClusters,
  KarmadaBaseline,
  selectClusters,
  type KarmadaApp,
  type KarmadaPlacement,
  type KarmadaSpreadConstraint,
} from '../src/bench/karmada-baseline.ts';
import { overCapacityIn } from '../src/bench/throughput.ts';
import type { ClusterInfo } from '../src/scheduler/index.ts';
import { clusterInfo, fleet, node } from './scheduler.fixtures.ts';

const edgeTaint = { key: 'edge', value: 'true', effect: 'NoSchedule' as const };

/** aws in US (two zones of one site), gcp in DE, an edge cluster in US with a taint, one not ready. */
const clusters: ClusterInfo[] = [
  clusterInfo('aws-a', { cloud: 'aws', country: 'US', site: 'us-east', zone: 'a' }),
  clusterInfo('aws-b', { cloud: 'aws', country: 'US', site: 'us-east', zone: 'b' }),
  clusterInfo('gcp-a', { cloud: 'gcp', country: 'DE', site: 'eu-west', zone: 'a' }),
  clusterInfo('edge-a', { cloud: 'edge', country: 'US', site: 'edge-1', taints: [edgeTaint] }),
  clusterInfo('azure-a', { cloud: 'azure', country: 'US', site: 'us-west', ready: false }),
  clusterInfo('ovh-x', { cloud: 'ovh', country: 'FR', site: 'fr-1', zone: '' }),
];

describe('filterClusters (ClusterAffinity, TaintToleration, SpreadConstraint)', () => {
  const cases: {
    name: string;
    placement: Omit<KarmadaPlacement, 'replicaScheduling'>;
    want: string[];
  }[] = [
    {
      name: 'no constraints: every ready cluster without an untolerated taint',
      placement: {},
      want: ['aws-a', 'aws-b', 'gcp-a', 'ovh-x'],
    },
    {
      name: 'providers',
      placement: { providers: ['gcp', 'aws'] },
      want: ['aws-a', 'aws-b', 'gcp-a'],
    },
    {
      name: 'countries',
      placement: { countries: ['DE', 'FR'] },
      want: ['gcp-a', 'ovh-x'],
    },
    {
      name: 'a toleration of the edge taint admits the edge cluster',
      placement: { clusterTolerations: [{ key: 'edge', operator: 'Exists' }] },
      want: ['aws-a', 'aws-b', 'gcp-a', 'edge-a', 'ovh-x'],
    },
    {
      name: 'a toleration with another value does not',
      placement: { clusterTolerations: [{ key: 'edge', operator: 'Equal', value: 'false' }] },
      want: ['aws-a', 'aws-b', 'gcp-a', 'ovh-x'],
    },
    {
      name: 'tolerating everything admits the not-ready cluster too',
      placement: { clusterTolerations: [{ operator: 'Exists' }] },
      want: ['aws-a', 'aws-b', 'gcp-a', 'edge-a', 'azure-a', 'ovh-x'],
    },
    {
      name: 'a zone spread drops the cluster without a zone',
      placement: { spreadConstraint: { field: 'zone', minGroups: 1 } },
      want: ['aws-a', 'aws-b', 'gcp-a'],
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const got = filterClusters(clusters, { replicaScheduling: 'Divided', ...c.placement });
      assert.deepEqual(
        got.map((i) => clusters[i]!.name),
        c.want,
      );
    });
  }
});

describe('selectClusters (spread constraints, most available replicas first)', () => {
  // Candidates: aws-a, aws-b, gcp-a, ovh-x.
  const candidates = [0, 1, 2, 5];
  const cases: {
    name: string;
    available: number[];
    spread?: KarmadaSpreadConstraint;
    want: string[] | undefined;
  }[] = [
    {
      name: 'no spread constraint: every candidate',
      available: [1, 2, 3, 4],
      want: ['aws-a', 'aws-b', 'gcp-a', 'ovh-x'],
    },
    {
      name: 'two providers at most: the two with the most available replicas (aws sums its clusters)',
      available: [3, 3, 5, 4],
      spread: { field: 'provider', minGroups: 2, maxGroups: 2 },
      want: ['aws-a', 'aws-b', 'gcp-a'],
    },
    {
      name: 'one cluster at most: the one with the most',
      available: [3, 3, 5, 4],
      spread: { field: 'cluster', minGroups: 1, maxGroups: 1 },
      want: ['gcp-a'],
    },
    {
      name: 'groups tied on available replicas go by name',
      available: [1, 1, 2, 2],
      spread: { field: 'provider', minGroups: 1, maxGroups: 2 },
      want: ['aws-a', 'aws-b', 'gcp-a'],
    },
    {
      name: 'fewer groups than minGroups: the binding fails',
      available: [3, 3, 5, 4],
      spread: { field: 'provider', minGroups: 4 },
      want: undefined,
    },
    {
      name: 'no maxGroups: every group',
      available: [3, 3, 5, 4],
      spread: { field: 'region', minGroups: 2 },
      want: ['aws-a', 'aws-b', 'gcp-a', 'ovh-x'],
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const got = selectClusters(clusters, candidates, c.available, c.spread);
      assert.deepEqual(
        got?.map((i) => clusters[i]!.name),
        c.want,
      );
    });
  }
});

describe('divideByAvailableReplicas (Divided, dynamic weight) and duplicate', () => {
  const names = ['a', 'b', 'c'];
  const cases: {
    name: string;
    replicas: number;
    available: number[];
    want: number[] | undefined;
  }[] = [
    {
      name: 'in proportion to available replicas',
      replicas: 6,
      available: [10, 20, 30],
      want: [1, 2, 3],
    },
    {
      name: 'the remainder goes to the largest weights first',
      replicas: 7,
      available: [10, 20, 30],
      want: [1, 2, 4],
    },
    {
      name: 'remainders on equal weights go by name',
      replicas: 2,
      available: [5, 5, 5],
      want: [1, 1, 0],
    },
    {
      name: 'a cluster with nothing available gets nothing',
      replicas: 4,
      available: [0, 4, 4],
      want: [0, 2, 2],
    },
    {
      name: 'exactly the replicas available: every cluster full',
      replicas: 9,
      available: [2, 3, 4],
      want: [2, 3, 4],
    },
    {
      name: 'fewer available than replicas: the binding fails',
      replicas: 10,
      available: [2, 3, 4],
      want: undefined,
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const got = divideByAvailableReplicas(c.replicas, c.available, names);
      assert.deepEqual(got, c.want);
      if (got !== undefined)
        assert.equal(
          got.reduce((s, n) => s + n, 0),
          c.replicas,
        );
    });
  }
  it('Duplicated: all replicas on each cluster that can take them all', () => {
    assert.deepEqual(duplicate(3, [2, 3, 10]), [0, 3, 3]);
  });
});

describe('KarmadaBaseline: estimator, division and one default scheduler per member', () => {
  // aws-a: 2 amd64 nodes of 4 cores; aws-b: 1 amd64 + 1 arm64; gcp-a: 4 amd64.
  const snapshot = fleet([
    { info: clusters[0]!, nodes: [node(), node()] },
    { info: clusters[1]!, nodes: [node(), node({ arch: 'arm64' })] },
    { info: clusters[2]!, nodes: [node(), node(), node(), node()] },
  ]);
  const pod = { cpuMilli: 1000, memoryMiB: 1024, gpus: 0 };
  const armPod = {
    ...pod,
    nodeAffinity: [{ key: 'kubernetes.io/arch', operator: 'In' as const, values: ['arm64'] }],
  };
  const cases: {
    name: string;
    app: KarmadaApp;
    /** Replicas assigned per cluster (aws-a, aws-b, gcp-a), undefined when the binding fails. */
    assigned: number[] | undefined;
    placed: number;
  }[] = [
    {
      name: 'divided by what each member still fits (8, 8 and 16 replicas of 1 core)',
      app: { replicas: 8, pod, placement: { replicaScheduling: 'Divided' } },
      assigned: [2, 2, 4],
      placed: 8,
    },
    {
      name: 'the estimator counts only nodes the pod may run on (arm64: aws-b alone)',
      app: { replicas: 3, pod: armPod, placement: { replicaScheduling: 'Divided' } },
      assigned: [0, 3, 0],
      placed: 3,
    },
    {
      name: 'more replicas than the clusters fit: nothing is placed',
      app: { replicas: 5, pod: armPod, placement: { replicaScheduling: 'Divided' } },
      assigned: undefined,
      placed: 0,
    },
    {
      name: 'Duplicated: every cluster that fits them all gets all replicas',
      app: { replicas: 9, pod, placement: { replicaScheduling: 'Duplicated' } },
      assigned: [0, 0, 9],
      placed: 9,
    },
    {
      name: 'a cluster spread of at most one group: the cluster with the most room',
      app: {
        replicas: 4,
        pod,
        placement: {
          replicaScheduling: 'Divided',
          spreadConstraint: { field: 'cluster', minGroups: 1, maxGroups: 1 },
        },
      },
      assigned: [0, 0, 4],
      placed: 4,
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const k = new KarmadaBaseline(snapshot.nodes, snapshot.clusters);
      assert.deepEqual(k.assign(c.app), c.assigned);
      assert.equal(k.schedule(c.app), c.placed);
      // Each member holds exactly its share, on its own nodes, within capacity.
      c.assigned?.forEach((n, cluster) => {
        const s = k.members[cluster]!.state;
        assert.equal(
          Array.from(s.podsUsed).reduce((t, x) => t + x, 0),
          n,
        );
        assert.equal(overCapacityIn(s), 0);
      });
    });
  }

  it('the estimator counts per node and sees what the member placed', () => {
    const k = new KarmadaBaseline(snapshot.nodes, snapshot.clusters);
    // aws-b's one arm64 node has 4 cores: 4 replicas of 1 core, 1 of 3 cores (not 4 / 3).
    assert.equal(k.availableReplicas(1, armPod), 4);
    const big = { ...armPod, cpuMilli: 3000 };
    assert.equal(k.availableReplicas(1, big), 1);
    assert.equal(
      k.schedule({ replicas: 1, pod: big, placement: { replicaScheduling: 'Divided' } }),
      1,
    );
    assert.equal(k.availableReplicas(1, big), 0);
  });
});
