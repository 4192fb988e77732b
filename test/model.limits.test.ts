// Every upper bound of the schema, at the limit and one past it, and the
// values a black-box probe once got stored (issue 13). The numbers are written
// out rather than read from LIMITS: they are the documented contract
// (docs/api.md, "Limits").
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buildOpenApi } from '../src/api/openapi.ts';
import { ValidationError } from '../src/model/errors.ts';
import { validateResource } from '../src/model/validate.ts';

const API = 'yunjian.io/v1alpha1';
const KiB = 1024;
const TiB = 2 ** 40;

type Doc = Record<string, unknown>;
const web = () => ({ name: 'web', image: 'r/web:1', replicas: 2 });
const app = (spec: Doc = {}, metadata: Doc = {}): Doc => ({
  apiVersion: API,
  kind: 'Application',
  metadata: { name: 'shop', ...metadata },
  spec: { components: [web()], ...spec },
});
const withComponent = (fields: Doc): Doc => app({ components: [{ ...web(), ...fields }] });
const cluster = (pool: Doc = {}, sim: Doc = {}): Doc => ({
  apiVersion: API,
  kind: 'Cluster',
  metadata: { name: 'c1' },
  spec: {
    cloud: 'aws',
    site: 's',
    driver: {
      type: 'sim',
      sim: {
        nodePools: [{ name: 'p', count: 1, arch: 'amd64', cpu: 4, memory: '8Gi', ...pool }],
        ...sim,
      },
    },
  },
});
const cloud = (spec: Doc): Doc => ({
  apiVersion: API,
  kind: 'Cloud',
  metadata: { name: 'aws' },
  spec: { vendor: 'aws', type: 'public', ...spec },
});
const site = (city: string): Doc => ({
  apiVersion: API,
  kind: 'Site',
  metadata: { name: 's' },
  spec: { cloud: 'aws', kind: 'region', country: 'DE', city, latitude: 0, longitude: 0 },
});
const secret = (data: string): Doc => ({
  apiVersion: API,
  kind: 'Secret',
  metadata: { name: 'kc' },
  spec: { type: 'kubeconfig', data },
});

const tenant = (spec: Doc): Doc => ({
  apiVersion: API,
  kind: 'Tenant',
  metadata: { name: 'team-a' },
  spec: { namespaces: ['team-a'], ...spec },
});
const quota = (fields: Doc): Doc => tenant({ quota: fields });
const agentToken = (spec: Doc): Doc => ({
  apiVersion: API,
  kind: 'AgentToken',
  metadata: { name: 'join-1' },
  spec: { purpose: 'join', tokenHash: '0'.repeat(64), ...spec },
});
const consumed = (fields: Doc): Doc =>
  agentToken({
    consumed: { cluster: 'c1', at: '2030-01-31T12:00:00Z', from: '127.0.0.1', ...fields },
  });
const userToken = (expires: string): Doc => ({
  apiVersion: API,
  kind: 'UserToken',
  metadata: { name: 'alice-1' },
  spec: { subject: { kind: 'User', name: 'alice' }, tokenHash: '0'.repeat(64), expires },
});
/** An RFC 3339 time of `length` characters: the fraction of a second takes up the rest. */
const timeOfLength = (length: number) =>
  `2030-01-31T12:00:00.${'1'.repeat(length - '2030-01-31T12:00:00.Z'.length)}Z`;
const PiB = 2 ** 50;

const many = <T>(n: number, item: (i: number) => T): T[] =>
  Array.from({ length: n }, (_, i) => item(i));
const entries = (n: number, value = 'v'): Record<string, string> =>
  Object.fromEntries(many(n, (i) => [`k${i}`, value]));
const chars = (n: number, c = 'a') => c.repeat(n);

function causesOf(doc: unknown): Record<string, string> {
  try {
    validateResource(doc);
  } catch (err) {
    assert.ok(err instanceof ValidationError, `expected ValidationError, got ${String(err)}`);
    return Object.fromEntries(err.causes.map((c) => [c.field, c.message]));
  }
  assert.fail('document was accepted');
}

function assertAccepted(doc: unknown): void {
  try {
    validateResource(doc);
  } catch (err) {
    assert.fail(`expected the document to be accepted, got ${String(err)}`);
  }
}

interface LimitCase {
  name: string;
  /** The document with the value at its limit. */
  at: Doc;
  /** The same document one step past the limit. */
  above: Doc;
  field: string;
  message: RegExp;
}

const limits: LimitCase[] = [
  {
    name: 'replicas per component',
    at: withComponent({ replicas: 10_000 }),
    above: withComponent({ replicas: 10_001 }),
    field: 'spec.components[0].replicas',
    message: /integer from 0 to 10000, got 10001/,
  },
  {
    name: "an override's replicas",
    at: app({ overrides: [{ target: {}, patches: { replicas: 10_000 } }] }),
    above: app({ overrides: [{ target: {}, patches: { replicas: 10_001 } }] }),
    field: 'spec.overrides[0].patches.replicas',
    message: /integer from 0 to 10000/,
  },
  {
    name: 'cpu as a number of cores',
    at: withComponent({ resources: { cpu: 1024 } }),
    above: withComponent({ resources: { cpu: 1024.001 } }),
    field: 'spec.components[0].resources.cpu',
    message: /at most 1024 cores/,
  },
  {
    name: 'cpu as a string of cores',
    at: withComponent({ resources: { cpu: '1024' } }),
    above: withComponent({ resources: { cpu: '1025' } }),
    field: 'spec.components[0].resources.cpu',
    message: /at most 1024 cores, got "1025"/,
  },
  {
    name: 'cpu in millicores',
    at: withComponent({ resources: { cpu: '1024000m' } }),
    above: withComponent({ resources: { cpu: '1024001m' } }),
    field: 'spec.components[0].resources.cpu',
    message: /at most 1024 cores, got "1024001m"/,
  },
  {
    name: "an override's cpu",
    at: app({ overrides: [{ target: {}, patches: { resources: { cpu: '1024' } } }] }),
    above: app({ overrides: [{ target: {}, patches: { resources: { cpu: '1025' } } }] }),
    field: 'spec.overrides[0].patches.resources.cpu',
    message: /at most 1024 cores/,
  },
  {
    name: 'memory as a string',
    at: withComponent({ resources: { memory: '16Ti' } }),
    above: withComponent({ resources: { memory: '16385Gi' } }),
    field: 'spec.components[0].resources.memory',
    message: /at most 16Ti, got "16385Gi"/,
  },
  {
    name: 'memory in bytes',
    at: withComponent({ resources: { memory: 16 * TiB } }),
    above: withComponent({ resources: { memory: 16 * TiB + 1 } }),
    field: 'spec.components[0].resources.memory',
    message: /at most 16Ti/,
  },
  {
    name: 'gpus per replica',
    at: withComponent({ resources: { gpu: 64 } }),
    above: withComponent({ resources: { gpu: 64.5 } }),
    field: 'spec.components[0].resources.gpu',
    message: /GPU count from 0 to 64/,
  },
  {
    name: 'labels',
    at: app({}, { labels: entries(64) }),
    above: app({}, { labels: entries(65) }),
    field: 'metadata.labels',
    message: /at most 64 entries, got 65/,
  },
  {
    name: 'a label value',
    at: app({}, { labels: { tier: chars(63) } }),
    above: app({}, { labels: { tier: chars(64) } }),
    field: 'metadata.labels.tier',
    message: /at most 63 characters, got 64/,
  },
  {
    name: "a label key's name",
    at: app({}, { labels: { [chars(63)]: 'v' } }),
    above: app({}, { labels: { [chars(64)]: 'v' } }),
    field: `metadata.labels.${chars(64)}`,
    message: /name of 1 to 63 characters, got the key "a{30}"\.\.\. \(64 characters\)/,
  },
  {
    name: "a label key's prefix",
    at: app({}, { labels: { [`${chars(253, 'p')}/n`]: 'v' } }),
    above: app({}, { labels: { [`${chars(254, 'p')}/n`]: 'v' } }),
    field: `metadata.labels["${chars(254, 'p')}/n"]`,
    message: /prefix of at most 253 characters/,
  },
  {
    name: 'annotations',
    at: app({}, { annotations: entries(256) }),
    above: app({}, { annotations: entries(257) }),
    field: 'metadata.annotations',
    message: /at most 256 entries, got 257/,
  },
  {
    name: "annotations' total size",
    at: app({}, { annotations: { a: chars(256 * KiB - 1) } }),
    above: app({}, { annotations: { a: chars(256 * KiB) } }),
    field: 'metadata.annotations',
    message: /at most 262144 bytes of keys and values together, got 262145/,
  },
  {
    name: 'image',
    at: withComponent({ image: chars(512) }),
    above: withComponent({ image: chars(513) }),
    field: 'spec.components[0].image',
    message: /at most 512 characters, got 513/,
  },
  {
    name: 'environment variables',
    at: withComponent({ env: entries(256) }),
    above: withComponent({ env: entries(257) }),
    field: 'spec.components[0].env',
    message: /at most 256 entries, got 257/,
  },
  {
    name: 'an environment variable value',
    at: withComponent({ env: { A: chars(32 * KiB) } }),
    above: withComponent({ env: { A: chars(32 * KiB + 1) } }),
    field: 'spec.components[0].env.A',
    message: /at most 32768 characters, got 32769/,
  },
  {
    name: 'an environment variable name',
    at: withComponent({ env: { [chars(256, 'A')]: '1' } }),
    above: withComponent({ env: { [chars(257, 'A')]: '1' } }),
    field: `spec.components[0].env.${chars(257, 'A')}`,
    message: /environment variable name of 1 to 256 characters, got the key/,
  },
  {
    name: 'command entries',
    at: withComponent({ command: many(256, () => 'x') }),
    above: withComponent({ command: many(257, () => 'x') }),
    field: 'spec.components[0].command',
    message: /at most 256 items, got 257/,
  },
  {
    name: 'an argument',
    at: withComponent({ args: [chars(4096)] }),
    above: withComponent({ args: [chars(4097)] }),
    field: 'spec.components[0].args[0]',
    message: /at most 4096 characters, got 4097/,
  },
  {
    name: 'components',
    at: app({ components: many(64, (i) => ({ ...web(), name: `c${i}` })) }),
    above: app({ components: many(65, (i) => ({ ...web(), name: `c${i}` })) }),
    field: 'spec.components',
    message: /at most 64 items, got 65/,
  },
  {
    name: 'ports',
    at: withComponent({ ports: many(64, (i) => ({ port: 1000 + i })) }),
    above: withComponent({ ports: many(65, (i) => ({ port: 1000 + i })) }),
    field: 'spec.components[0].ports',
    message: /at most 64 items, got 65/,
  },
  {
    name: 'a health-check path',
    at: withComponent({ healthCheck: { http: { path: `/${chars(2047)}` } } }),
    above: withComponent({ healthCheck: { http: { path: `/${chars(2048)}` } } }),
    field: 'spec.components[0].healthCheck.http.path',
    message: /at most 2048 characters, got 2049/,
  },
  {
    name: 'a failure threshold',
    at: withComponent({ healthCheck: { tcp: {}, failureThreshold: 10_000 } }),
    above: withComponent({ healthCheck: { tcp: {}, failureThreshold: 10_001 } }),
    field: 'spec.components[0].healthCheck.failureThreshold',
    message: /integer from 1 to 10000/,
  },
  {
    name: 'seconds',
    at: app({ failover: { gracePeriodSeconds: 86_400 } }),
    above: app({ failover: { gracePeriodSeconds: 86_400.5 } }),
    field: 'spec.failover.gracePeriodSeconds',
    message: /seconds from 0 to 86400/,
  },
  {
    name: 'the progress deadline',
    at: app({ progressDeadlineSeconds: 604_800 }),
    above: app({ progressDeadlineSeconds: 604_801 }),
    field: 'spec.progressDeadlineSeconds',
    message: /seconds from 1 to 604800/,
  },
  {
    name: 'a names list',
    at: app({ placement: { clusterAffinity: { clouds: many(256, (i) => `c${i}`) } } }),
    above: app({ placement: { clusterAffinity: { clouds: many(257, (i) => `c${i}`) } } }),
    field: 'spec.placement.clusterAffinity.clouds',
    message: /at most 256 items, got 257/,
  },
  {
    name: 'label selector expressions',
    at: app({
      placement: {
        clusterAffinity: {
          labelSelector: { matchExpressions: many(64, () => ({ key: 'k', operator: 'Exists' })) },
        },
      },
    }),
    above: app({
      placement: {
        clusterAffinity: {
          labelSelector: { matchExpressions: many(65, () => ({ key: 'k', operator: 'Exists' })) },
        },
      },
    }),
    field: 'spec.placement.clusterAffinity.labelSelector.matchExpressions',
    message: /at most 64 items, got 65/,
  },
  {
    name: 'spread terms',
    at: app({ placement: { spread: many(64, () => ({ by: 'cloud' })) } }),
    above: app({ placement: { spread: many(65, () => ({ by: 'cloud' })) } }),
    field: 'spec.placement.spread',
    message: /at most 64 items, got 65/,
  },
  {
    name: 'a score weight',
    at: app({ placement: { preferences: { cost: 1000 } } }),
    above: app({ placement: { preferences: { cost: 1000.5 } } }),
    field: 'spec.placement.preferences.cost',
    message: /score weight from 0 to 1000/,
  },
  {
    name: 'a static replica weight',
    at: app({
      placement: {
        replicaScheduling: {
          type: 'Divided',
          weighting: 'Static',
          staticWeights: [{ clusters: ['a'], weight: 10_000 }],
        },
      },
    }),
    above: app({
      placement: {
        replicaScheduling: {
          type: 'Divided',
          weighting: 'Static',
          staticWeights: [{ clusters: ['a'], weight: 10_001 }],
        },
      },
    }),
    field: 'spec.placement.replicaScheduling.staticWeights[0].weight',
    message: /weight from 0 to 10000/,
  },
  {
    name: 'nodes in a sim pool',
    at: cluster({ count: 100_000 }),
    above: cluster({ count: 100_001 }),
    field: 'spec.driver.sim.nodePools[0].count',
    message: /integer from 0 to 100000/,
  },
  {
    name: "a node's cpu",
    at: cluster({ cpu: '4096' }),
    above: cluster({ cpu: '4097' }),
    field: 'spec.driver.sim.nodePools[0].cpu',
    message: /at most 4096 cores/,
  },
  {
    name: "a node's memory",
    at: cluster({ memory: '64Ti' }),
    above: cluster({ memory: '65Ti' }),
    field: 'spec.driver.sim.nodePools[0].memory',
    message: /at most 64Ti/,
  },
  {
    name: 'node pools',
    at: cluster(
      {},
      {
        nodePools: many(64, (i) => ({
          name: `p${i}`,
          count: 1,
          arch: 'amd64',
          cpu: 4,
          memory: '8Gi',
        })),
      },
    ),
    above: cluster(
      {},
      {
        nodePools: many(65, (i) => ({
          name: `p${i}`,
          count: 1,
          arch: 'amd64',
          cpu: 4,
          memory: '8Gi',
        })),
      },
    ),
    field: 'spec.driver.sim.nodePools',
    message: /at most 64 items, got 65/,
  },
  {
    name: 'a price',
    at: cloud({ prices: { cpuCoreHour: 1_000_000 } }),
    above: cloud({ prices: { cpuCoreHour: 1_000_001 } }),
    field: 'spec.prices.cpuCoreHour',
    message: /price from 0 to 1000000/,
  },
  {
    name: 'a display name',
    at: cloud({ displayName: chars(1024) }),
    above: cloud({ displayName: chars(1025) }),
    field: 'spec.displayName',
    message: /at most 1024 characters, got 1025/,
  },
  {
    name: 'a city',
    at: site(chars(1024)),
    above: site(chars(1025)),
    field: 'spec.city',
    message: /at most 1024 characters/,
  },
  {
    name: "a secret's data",
    at: secret(chars(1024 * KiB)),
    above: secret(chars(1024 * KiB + 1)),
    field: 'spec.data',
    message: /at most 1048576 characters/,
  },
  {
    name: 'a condition message in status',
    at: {
      ...app(),
      status: { conditions: [{ type: 'Ready', status: 'True', message: chars(32 * KiB) }] },
    },
    above: {
      ...app(),
      status: { conditions: [{ type: 'Ready', status: 'True', message: chars(32 * KiB + 1) }] },
    },
    field: 'status.conditions[0].message',
    message: /at most 32768 characters/,
  },
  {
    name: 'a server-set integer',
    at: app({}, { generation: Number.MAX_SAFE_INTEGER }),
    above: app({}, { generation: 2 ** 53 }),
    field: 'metadata.generation',
    message: /safe integer/,
  },
  {
    name: "a tenant's cpu quota as a number of cores",
    at: quota({ cpu: 10_000_000 }),
    above: quota({ cpu: 10_000_000.001 }),
    field: 'spec.quota.cpu',
    message: /at most 10000000 cores per tenant/,
  },
  {
    name: "a tenant's cpu quota as a string",
    at: quota({ cpu: '10000000' }),
    above: quota({ cpu: '10000001' }),
    field: 'spec.quota.cpu',
    message: /at most 10000000 cores, got "10000001"/,
  },
  {
    name: "a tenant's memory quota as a string",
    at: quota({ memory: '4Pi' }),
    above: quota({ memory: '4097Ti' }),
    field: 'spec.quota.memory',
    message: /at most 4Pi, got "4097Ti"/,
  },
  {
    name: "a tenant's memory quota in bytes",
    at: quota({ memory: 4 * PiB }),
    above: quota({ memory: 4 * PiB + 1 }),
    field: 'spec.quota.memory',
    message: /at most 4096Ti per tenant/,
  },
  {
    name: "a tenant's gpu quota",
    at: quota({ gpu: 1_000_000 }),
    above: quota({ gpu: 1_000_000.5 }),
    field: 'spec.quota.gpu',
    message: /GPU count from 0 to 1000000/,
  },
  {
    name: "a tenant's applications quota",
    at: quota({ applications: 1_000_000 }),
    above: quota({ applications: 1_000_001 }),
    field: 'spec.quota.applications',
    message: /integer from 0 to 1000000, got 1000001/,
  },
  {
    name: "a tenant's replicas quota",
    at: quota({ replicas: 10_000_000 }),
    above: quota({ replicas: 10_000_001 }),
    field: 'spec.quota.replicas',
    message: /integer from 0 to 10000000, got 10000001/,
  },
  {
    name: "a tenant's namespaces",
    at: tenant({ namespaces: many(256, (i) => `ns${i}`) }),
    above: tenant({ namespaces: many(257, (i) => `ns${i}`) }),
    field: 'spec.namespaces',
    message: /at most 256 items, got 257/,
  },
  {
    name: "a tenant's allowed clusters",
    at: tenant({ allowed: { clusters: many(256, (i) => `c${i}`) } }),
    above: tenant({ allowed: { clusters: many(257, (i) => `c${i}`) } }),
    field: 'spec.allowed.clusters',
    message: /at most 256 items, got 257/,
  },
  {
    name: "a join token's description",
    at: agentToken({ description: chars(1024) }),
    above: agentToken({ description: chars(1025) }),
    field: 'spec.description',
    message: /at most 1024 characters, got 1025/,
  },
  {
    name: "a join token's expiry",
    at: agentToken({ expires: timeOfLength(64) }),
    above: agentToken({ expires: timeOfLength(65) }),
    field: 'spec.expires',
    message: /at most 64 characters, got 65/,
  },
  {
    name: 'when a join token was used',
    at: consumed({ at: timeOfLength(64) }),
    above: consumed({ at: timeOfLength(65) }),
    field: 'spec.consumed.at',
    message: /at most 64 characters, got 65/,
  },
  {
    name: 'where a join token was used from',
    at: consumed({ from: chars(256) }),
    above: consumed({ from: chars(257) }),
    field: 'spec.consumed.from',
    message: /at most 256 characters, got 257/,
  },
  {
    name: "a user token's expiry",
    at: userToken(timeOfLength(64)),
    above: userToken(timeOfLength(65)),
    field: 'spec.expires',
    message: /at most 64 characters, got 65/,
  },
];

describe('every limit: accepted at the limit, rejected one past it with the field path', () => {
  for (const c of limits) {
    it(c.name, () => {
      assertAccepted(c.at);
      const causes = causesOf(c.above);
      const message = causes[c.field];
      assert.ok(
        message !== undefined,
        `no cause for ${c.field}; got ${Object.keys(causes).join(', ')}`,
      );
      assert.match(message, c.message);
    });
  }
});

describe("the probe's values are rejected", () => {
  const MB15 = 15 * 1024 * KiB;
  const cases: { name: string; doc: Doc; field: string; message: RegExp }[] = [
    {
      name: 'replicas 1e9',
      doc: withComponent({ replicas: 1e9 }),
      field: 'spec.components[0].replicas',
      message: /0 to 10000, got 1000000000/,
    },
    {
      name: 'replicas 2^53+1',
      doc: withComponent({ replicas: 2 ** 53 + 2 }),
      field: 'spec.components[0].replicas',
      message: /0 to 10000/,
    },
    {
      name: 'replicas 1e308',
      doc: withComponent({ replicas: 1e308 }),
      field: 'spec.components[0].replicas',
      message: /0 to 10000, got 1e\+308/,
    },
    {
      name: 'cpu 1e308',
      doc: withComponent({ resources: { cpu: 1e308 } }),
      field: 'spec.components[0].resources.cpu',
      message: /at most 1024 cores/,
    },
    {
      name: 'cpu "1e308"',
      doc: withComponent({ resources: { cpu: '1e308' } }),
      field: 'spec.components[0].resources.cpu',
      message: /CPU quantity/,
    },
    {
      name: 'cpu as 31 digits (Infinity-sized once parsed)',
      doc: withComponent({ resources: { cpu: `1${'0'.repeat(30)}` } }),
      field: 'spec.components[0].resources.cpu',
      message: /at most 1024 cores/,
    },
    {
      name: 'memory as 400 digits',
      doc: withComponent({ resources: { memory: `1${'0'.repeat(400)}` } }),
      field: 'spec.components[0].resources.memory',
      message: /memory quantity of at most 16Ti/,
    },
    {
      name: 'a 15 MB label value',
      doc: app({}, { labels: { big: chars(MB15) } }),
      field: 'metadata.labels.big',
      message: /at most 63 characters, got 15728640/,
    },
    {
      name: 'a 15 MB image',
      doc: withComponent({ image: chars(MB15) }),
      field: 'spec.components[0].image',
      message: /at most 512 characters, got 15728640/,
    },
    {
      name: '100,000 labels',
      doc: app({}, { labels: entries(100_000) }),
      field: 'metadata.labels',
      message: /at most 64 entries, got 100000/,
    },
    {
      name: 'a tenant cpu quota of 31 digits',
      doc: quota({ cpu: `1${'0'.repeat(30)}` }),
      field: 'spec.quota.cpu',
      message: /at most 10000000 cores/,
    },
    {
      name: 'a tenant memory quota of 1e308 bytes',
      doc: quota({ memory: 1e308 }),
      field: 'spec.quota.memory',
      message: /memory quantity of at most 4096Ti per tenant/,
    },
    {
      name: 'a join token that expires "never"',
      doc: agentToken({ expires: 'never' }),
      field: 'spec.expires',
      message: /RFC 3339 date-time/,
    },
    {
      name: 'a join token used at "yesterday"',
      doc: consumed({ at: 'yesterday' }),
      field: 'spec.consumed.at',
      message: /RFC 3339 date-time/,
    },
    {
      name: 'a user token that expires on 30 February',
      doc: userToken('2030-02-30T00:00:00Z'),
      field: 'spec.expires',
      message: /RFC 3339 date-time/,
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const causes = causesOf(c.doc);
      const message = causes[c.field];
      assert.ok(
        message !== undefined,
        `no cause for ${c.field}; got ${Object.keys(causes).join(', ')}`,
      );
      assert.match(message, c.message);
    });
  }
});

describe('OpenAPI states the limits', () => {
  const schemas = () =>
    (buildOpenApi('test') as { components: { schemas: Record<string, unknown> } }).components
      .schemas;
  const cases: { kind: string; what: string; fragments: string[] }[] = [
    {
      kind: 'Application',
      what: 'replicas, image, labels and components carry their maxima',
      fragments: [
        '"replicas":{"type":"integer","minimum":0,"maximum":10000',
        '"image":{"type":"string","minLength":1,"maxLength":512',
        '"maxProperties":64',
        '"maxItems":64',
      ],
    },
    {
      kind: 'Tenant',
      what: "a tenant's quota and lists carry their maxima",
      fragments: [
        '{"type":"number","minimum":0,"maximum":10000000}',
        `{"type":"integer","minimum":0,"maximum":${4 * PiB}}`,
        '"replicas":{"type":"integer","minimum":0,"maximum":10000000',
        '"maxItems":256',
      ],
    },
    {
      kind: 'AgentToken',
      what: "a join token's times and description are bounded",
      fragments: [
        '"expires":{"type":"string","format":"date-time","maxLength":64',
        '"at":{"type":"string","format":"date-time","maxLength":64',
        '"description":{"type":"string","maxLength":1024}',
      ],
    },
  ];
  for (const c of cases) {
    it(c.what, () => {
      const schema = JSON.stringify(schemas()[c.kind]);
      for (const fragment of c.fragments)
        assert.ok(schema.includes(fragment), `no ${fragment} in the ${c.kind} schema`);
    });
  }
});
