import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parseAllDocuments } from 'yaml';
import { ValidationError } from '../src/model/errors.ts';
import { toFieldPath, validateResource } from '../src/model/validate.ts';

const app = (spec: unknown, metadata: unknown = { name: 'shop' }) => ({
  apiVersion: 'yunjian.io/v1alpha1',
  kind: 'Application',
  metadata,
  spec,
});
const web = { name: 'web', image: 'r/web:1', replicas: 2 };

function causesOf(doc: unknown): Record<string, string> {
  try {
    validateResource(doc);
  } catch (err) {
    assert.ok(err instanceof ValidationError, `expected ValidationError, got ${String(err)}`);
    return Object.fromEntries(err.causes.map((c) => [c.field, c.message]));
  }
  assert.fail('document was accepted');
}

describe('validateResource rejects with field paths', () => {
  const cases: { name: string; doc: unknown; expect: Record<string, RegExp> }[] = [
    {
      name: 'unknown kind',
      doc: { apiVersion: 'yunjian.io/v1alpha1', kind: 'Applicaton', metadata: { name: 'x' } },
      expect: { kind: /expected one of Cloud, Site, Cluster, Application/ },
    },
    {
      name: 'wrong apiVersion',
      doc: { ...app({ components: [web] }), apiVersion: 'v1' },
      expect: { apiVersion: /yunjian\.io\/v1alpha1/ },
    },
    {
      name: 'missing replicas',
      doc: app({ components: [{ name: 'web', image: 'x' }] }),
      expect: { 'spec.components[0].replicas': /required/ },
    },
    {
      name: 'cpu abc',
      doc: app({ components: [{ ...web, resources: { cpu: 'abc' } }] }),
      expect: { 'spec.components[0].resources.cpu': /CPU quantity.*"abc"/ },
    },
    {
      name: 'memory 12XB',
      doc: app({ components: [{ ...web, resources: { memory: '12XB' } }] }),
      expect: { 'spec.components[0].resources.memory': /memory quantity/ },
    },
    {
      name: 'colocation percentile 40, cpuLimit 1.5, minSamples 0',
      doc: app({
        components: [web],
        placement: { colocation: { percentile: 40, cpuLimit: 1.5, minSamples: 0 } },
      }),
      expect: {
        'spec.placement.colocation.percentile': /percentile from 50 to 100/,
        'spec.placement.colocation.cpuLimit': /fraction of node cpu in \(0, 1\]/,
        'spec.placement.colocation.minSamples': /integer from 1 to 10000, got 0/,
      },
    },
    {
      name: 'restartThreshold 0',
      doc: app({ components: [{ ...web, healthCheck: { tcp: {}, restartThreshold: 0 } }] }),
      expect: { 'spec.components[0].healthCheck.restartThreshold': /integer from 1 to 10000/ },
    },
    {
      name: 'progress deadline 0',
      doc: app({ components: [web], progressDeadlineSeconds: 0 }),
      expect: { 'spec.progressDeadlineSeconds': /number of seconds from 1 to 604800/ },
    },
    {
      name: 'unknown field',
      doc: app({ components: [{ ...web, colour: 'blue' }] }),
      expect: { 'spec.components[0].colour': /unknown field/ },
    },
    {
      name: 'negative port',
      doc: app({ components: [{ ...web, ports: [{ port: -1 }] }] }),
      expect: { 'spec.components[0].ports[0].port': /1 to 65535.*-1/ },
    },
    {
      name: 'bad platform',
      doc: app({ components: [{ ...web, platforms: ['linux/sparc'] }] }),
      expect: { 'spec.components[0].platforms[0]': /linux\/amd64/ },
    },
    {
      name: 'no components',
      doc: app({ components: [] }),
      expect: { 'spec.components': /1 to 64 components/ },
    },
    {
      name: 'bad name',
      doc: app({ components: [web] }, { name: 'Shop_1' }),
      expect: { 'metadata.name': /DNS name/ },
    },
    {
      name: 'duplicate component',
      doc: app({ components: [web, web] }),
      expect: { 'spec.components[1].name': /duplicate/ },
    },
    {
      name: 'unknown dependency',
      doc: app({ components: [{ ...web, dependsOn: ['db'] }] }),
      expect: { 'spec.components[0].dependsOn[0]': /another component/ },
    },
    {
      name: 'dependency cycle',
      doc: app({
        components: [
          { ...web, dependsOn: ['api'] },
          { name: 'api', image: 'a', replicas: 1, dependsOn: ['web'] },
        ],
      }),
      expect: { 'spec.components': /cycle: (web -> api -> web|api -> web -> api)/ },
    },
    {
      name: 'spread min > max',
      doc: app({ components: [web], placement: { spread: [{ by: 'cloud', min: 3, max: 2 }] } }),
      expect: { 'spec.placement.spread[0]': /min \(3\) must not exceed max \(2\)/ },
    },
    {
      name: 'bad strategy',
      doc: app({ components: [web], traffic: { host: 'a.example.com', strategy: 'random' } }),
      expect: { 'spec.traffic.strategy': /failover, weighted, geo, roundRobin, unit/ },
    },
    {
      name: 'failover without order',
      doc: app({ components: [web], traffic: { host: 'a.example.com', strategy: 'failover' } }),
      expect: { 'spec.traffic.failover': /required when strategy is failover/ },
    },
    {
      name: 'cluster-scoped kind with namespace',
      doc: {
        apiVersion: 'yunjian.io/v1alpha1',
        kind: 'Cloud',
        metadata: { name: 'aws', namespace: 'x' },
        spec: { vendor: 'aws', type: 'public' },
      },
      expect: { 'metadata.namespace': /cluster-scoped/ },
    },
    {
      name: 'sim cluster without pools',
      doc: {
        apiVersion: 'yunjian.io/v1alpha1',
        kind: 'Cluster',
        metadata: { name: 'c1' },
        spec: { cloud: 'aws', site: 's', driver: { type: 'sim' } },
      },
      expect: { 'spec.driver.sim': /required when driver type is sim/ },
    },
    {
      name: 'site latitude out of range',
      doc: {
        apiVersion: 'yunjian.io/v1alpha1',
        kind: 'Site',
        metadata: { name: 's' },
        spec: {
          cloud: 'aws',
          kind: 'region',
          country: 'us',
          city: 'X',
          latitude: 91,
          longitude: 0,
        },
      },
      expect: { 'spec.latitude': /-90 to 90/, 'spec.country': /ISO 3166/ },
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const causes = causesOf(c.doc);
      for (const [field, re] of Object.entries(c.expect)) {
        assert.ok(
          causes[field] !== undefined,
          `no cause for ${field}; got ${JSON.stringify(causes)}`,
        );
        assert.match(causes[field], re);
      }
    });
  }

  it('reports every error of a document at once', () => {
    const causes = causesOf(
      app({
        components: [
          { name: 'web', image: 'x', resources: { cpu: 'abc' }, ports: [{ port: -1 }], colour: 1 },
        ],
      }),
    );
    assert.deepEqual(Object.keys(causes).sort(), [
      'spec.components[0].colour',
      'spec.components[0].ports[0].port',
      'spec.components[0].replicas',
      'spec.components[0].resources.cpu',
    ]);
  });
});

describe('validateResource accepts', () => {
  it('the DESIGN example application', () => {
    const r = validateResource(
      app({
        components: [
          {
            ...web,
            platforms: ['linux/amd64', 'linux/arm64'],
            resources: { cpu: '500m', memory: '512Mi', gpu: 0 },
            ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
            healthCheck: { http: { path: '/healthz' }, intervalSeconds: 2, failureThreshold: 2 },
          },
        ],
        placement: {
          clusterAffinity: { clouds: ['aws'], exclude: { clusters: ['legacy'] } },
          residency: { countries: ['CN', 'SG'] },
          spread: [{ by: 'cloud', min: 2, max: 3 }],
          replicaScheduling: { type: 'Divided', weighting: 'AvailableCapacity' },
        },
        traffic: {
          host: 'shop.example.com',
          strategy: 'failover',
          ttl: 5,
          failover: { order: [{ cloud: 'aws' }] },
          whenAllDown: 'failOpen',
        },
        failover: {
          enabled: true,
          gracePeriodSeconds: 5,
          failback: { enabled: true, stabilizationSeconds: 60 },
        },
      }),
    );
    assert.equal(r.kind, 'Application');
  });
  it('every example application', () => {
    for (const file of ['shop.yaml', 'batch-colocated.yaml', 'agents/shop.yaml']) {
      const text = readFileSync(join(import.meta.dirname, '..', 'examples', file), 'utf8');
      for (const doc of parseAllDocuments(text)) validateResource(doc.toJS(), file);
    }
  });
});

describe('toFieldPath', () => {
  for (const [pointer, path] of [
    ['', '(document)'],
    ['/spec/components/0/resources/cpu', 'spec.components[0].resources.cpu'],
    ['/metadata/labels/a.b~1c', 'metadata.labels["a.b/c"]'],
  ] as const) {
    it(`${pointer || '(root)'} -> ${path}`, () => assert.equal(toFieldPath(pointer), path));
  }
});
