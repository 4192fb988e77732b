// Delivery metrics over a hand-worked week of records: the answers below were
// worked out by hand from the records (see each case's comment), including the
// anchors' pitfalls: duplicate incidents, an incident with no deployment,
// several production environments, a rollback counted once.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  changeFailureRateBand,
  deliveryReport,
  deploymentFrequencyBand,
  isProduction,
  leadTimeBand,
  median,
  timeToRestoreBand,
  type DeliveryGroup,
  type DeliveryQuery,
} from '../src/insights/delivery/metrics.ts';
import { API_VERSION, type DeliveryEvent, type DeliveryEventSpec } from '../src/model/schema.ts';

const H = 3600;
const record = (
  name: string,
  spec: Omit<DeliveryEventSpec, 'source' | 'id' | 'team'> & { team?: string },
  namespace = 'shop',
): DeliveryEvent => ({
  apiVersion: API_VERSION,
  kind: 'DeliveryEvent',
  metadata: { name, namespace },
  spec: { source: 'cloudevents', id: name, team: 'pay', ...spec },
});
const at = (day: number, hour = 0, minute = 0) =>
  new Date(Date.UTC(2026, 2, day, hour, minute)).toISOString();
const commit = (sha: string, day: number, hour: number) =>
  record(`commit-${sha}`, { type: 'commit', app: 'api', commits: [sha], start: at(day, hour) });
const deploy = (
  name: string,
  environment: string,
  sha: string,
  finish: string,
  clouds: string[],
  extra: Partial<DeliveryEventSpec> = {},
) =>
  record(name, {
    type: 'deployment',
    app: 'api',
    environment,
    commits: [sha],
    clouds,
    start: finish,
    finish,
    outcome: 'Succeeded',
    ...extra,
  });

// The week of 2026-03-01 (a Sunday) to 2026-03-08.
const RECORDS: DeliveryEvent[] = [
  commit('c1', 1, 0),
  commit('c2', 1, 6),
  commit('c3', 2, 0),
  commit('c4', 3, 0),
  // d1 ships c1 and c2 to production; d2 ships c2 again to a second production environment.
  deploy('d1', 'production', 'c2', at(1, 12), ['aws']),
  deploy('d2', 'prod-eu', 'c2', at(1, 18), ['gcp']),
  // d3 ships c3 and is rolled back by d4 (c2 again); two incidents report the same outage.
  deploy('d3', 'production', 'c3', at(2, 12), ['aws', 'gcp'], { rolledBack: true }),
  deploy('d4', 'production', 'c2', at(2, 13), ['aws', 'gcp']),
  record('i1', {
    type: 'incident',
    app: 'api',
    environment: 'production',
    clouds: ['aws'],
    start: at(2, 12, 30),
    finish: at(2, 13),
  }),
  record('i2', {
    type: 'incident',
    app: 'api',
    environment: 'production',
    clouds: ['aws'],
    start: at(2, 12, 40),
    finish: at(2, 13, 10),
  }),
  // Staging is not production; d6 fails in production.
  deploy('d5', 'staging', 'c4', at(3, 6), ['aws']),
  deploy('d6', 'production', 'c4', at(4, 0), ['aws'], { outcome: 'Failed' }),
  // An incident of an app that was never deployed: restore time, no failed deployment.
  record('i3', { type: 'incident', app: 'web', start: at(5, 0), finish: at(5, 2) }),
  record('b1', { type: 'build', app: 'api', start: at(1, 1), finish: at(1, 2) }),
  record('b2', { type: 'build', app: 'api', start: at(2, 1), finish: at(2, 2) }),
  record('b3', { type: 'build', app: 'api', start: at(9, 1) }),
  record('r1', { type: 'requirement', start: '2026-02-20T00:00:00.000Z', finish: at(2) }),
  record('r2', { type: 'requirement', start: at(1), finish: at(4) }),
  // Another namespace's deployment, for the filters.
  deploy('o1', 'production', 'c9', at(3), ['aws'], { team: 'ops' }),
];

const WEEK: DeliveryQuery = { startMs: Date.parse(at(1)), endMs: Date.parse(at(8)) };
const group = (q: Partial<DeliveryQuery>, key: string): DeliveryGroup => {
  const g = deliveryReport(RECORDS, { ...WEEK, ...q }).groups.find((x) => x.key === key);
  assert.ok(g, `group ${key}`);
  return g;
};

describe('delivery metrics', () => {
  const cases: {
    name: string;
    query: Partial<DeliveryQuery>;
    key: string;
    want: Partial<Omit<DeliveryGroup, 'series' | 'key'>>;
  }[] = [
    {
      // Deployments: d1 d2 d3 d4 d6 (+o1 of team ops filtered out); succeeded d1-d4 = 4/7 per day.
      // Failed: d3 (rolled back, and both incidents follow it: once) and d6: 2 of 5.
      // Lead: d1 ships c1 (12 h) and c2 (6 h); d2 nothing new; d3 ships c3 (12 h): median 12 h.
      // Restore: i1+i2 merge into 12:30-13:10 (40 min), i3 2 h: median 80 min.
      // Builds b1 b2; requirements 10 d and 3 d: median 6.5 d.
      name: 'team pay, not grouped',
      query: { filter: { team: 'pay' } },
      key: 'all',
      want: {
        deploymentFrequency: { deployments: 4, perDay: 4 / 7 },
        leadTimeForChanges: { medianSeconds: 12 * H, samples: 3 },
        changeFailureRate: { ratio: 0.4, failed: 2, deployments: 5 },
        timeToRestore: { medianSeconds: 80 * 60, incidents: 2 },
        buildFrequency: { builds: 2, perWeek: 2 },
        requirementLeadTime: { medianSeconds: 6.5 * 24 * H, samples: 2 },
        bands: {
          deploymentFrequency: 'high',
          leadTimeForChanges: 'elite',
          changeFailureRate: 'low',
          timeToRestore: 'high',
        },
      },
    },
    {
      // production: d1 d3 d4 d6, failed d3 d6; the same three lead samples; the api outage only.
      name: 'by environment: production',
      query: { filter: { team: 'pay' }, by: 'environment' },
      key: 'production',
      want: {
        deploymentFrequency: { deployments: 3, perDay: 3 / 7 },
        leadTimeForChanges: { medianSeconds: 12 * H, samples: 3 },
        changeFailureRate: { ratio: 0.5, failed: 2, deployments: 4 },
        timeToRestore: { medianSeconds: 40 * 60, incidents: 1 },
        buildFrequency: null,
        requirementLeadTime: null,
      },
    },
    {
      // prod-eu is production too: d2 ships c1 (18 h) and c2 (12 h) there first.
      name: 'by environment: a second production environment',
      query: { filter: { team: 'pay' }, by: 'environment' },
      key: 'prod-eu',
      want: {
        deploymentFrequency: { deployments: 1, perDay: 1 / 7 },
        leadTimeForChanges: { medianSeconds: 15 * H, samples: 2 },
        changeFailureRate: { ratio: 0, failed: 0, deployments: 1 },
        timeToRestore: { medianSeconds: null, incidents: 0 },
        bands: {
          deploymentFrequency: 'high',
          leadTimeForChanges: 'elite',
          changeFailureRate: 'elite',
          timeToRestore: null,
        },
      },
    },
    {
      name: 'by environment: staging deploys count for nothing',
      query: { filter: { team: 'pay' }, by: 'environment' },
      key: 'staging',
      want: {
        deploymentFrequency: { deployments: 0, perDay: 0 },
        changeFailureRate: { ratio: null, failed: 0, deployments: 0 },
      },
    },
    {
      // The never-deployed app's incident: restore time 2 h, no deployment to blame.
      name: 'by app: an incident with no deployment',
      query: { filter: { team: 'pay' }, by: 'app' },
      key: 'web',
      want: {
        deploymentFrequency: { deployments: 0, perDay: 0 },
        changeFailureRate: { ratio: null, failed: 0, deployments: 0 },
        timeToRestore: { medianSeconds: 2 * H, incidents: 1 },
      },
    },
    {
      // aws: d1 d3 d4 d6 (d5 is staging), failed d3 d6.
      name: 'by cloud: aws',
      query: { filter: { team: 'pay' }, by: 'cloud' },
      key: 'aws',
      want: { changeFailureRate: { ratio: 0.5, failed: 2, deployments: 4 } },
    },
    {
      // gcp: d2 d3 d4, failed d3 (counted once though two incidents and a rollback point at it).
      name: 'by cloud: gcp, rollback counted once',
      query: { filter: { team: 'pay' }, by: 'cloud' },
      key: 'gcp',
      want: { changeFailureRate: { ratio: 1 / 3, failed: 1, deployments: 3 } },
    },
    {
      name: 'filter by cloud keeps builds (they have no cloud)',
      query: { filter: { team: 'pay', cloud: 'gcp' } },
      key: 'all',
      want: {
        deploymentFrequency: { deployments: 3, perDay: 3 / 7 },
        buildFrequency: { builds: 2, perWeek: 2 },
      },
    },
    {
      name: 'by team: ops',
      query: { by: 'team' },
      key: 'ops',
      want: { deploymentFrequency: { deployments: 1, perDay: 1 / 7 } },
    },
  ];
  for (const c of cases)
    it(c.name, () => {
      const g = group(c.query, c.key);
      for (const [field, value] of Object.entries(c.want))
        assert.deepEqual(g[field as keyof DeliveryGroup], value, field);
    });

  it('buckets by day: deployments, failures and incidents land on their days', () => {
    const g = group({ filter: { team: 'pay' }, interval: 'day' }, 'all');
    assert.deepEqual(
      g.series.map((p) => [p.start.slice(0, 10), p.deployments, p.failures, p.incidents]),
      [
        ['2026-03-01', 2, 0, 0],
        ['2026-03-02', 2, 1, 1],
        ['2026-03-03', 0, 0, 0],
        ['2026-03-04', 0, 1, 0],
        ['2026-03-05', 0, 0, 1],
        ['2026-03-06', 0, 0, 0],
        ['2026-03-07', 0, 0, 0],
      ],
    );
    assert.deepEqual(
      g.series.slice(0, 2).map((p) => [p.builds, p.leadTimeSeconds, p.timeToRestoreSeconds]),
      [
        [1, 9 * H, null],
        [1, 12 * H, 40 * 60],
      ],
    );
  });

  it('buckets by ISO week: the Sunday window starts in the week of Monday 23 February', () => {
    const g = group({ filter: { team: 'pay' }, interval: 'week' }, 'all');
    assert.deepEqual(
      g.series.map((p) => [p.start.slice(0, 10), p.deployments, p.failures]),
      [
        ['2026-02-23', 2, 0],
        ['2026-03-02', 2, 2],
      ],
    );
  });

  it('never rates above 100 %: three incidents after one deployment fail it once', () => {
    const records = [
      deploy('x', 'production', 'c1', at(1, 1), []),
      ...[2, 3, 4].map((h) =>
        record(`x-i${h}`, { type: 'incident', app: 'api', start: at(1, h), finish: at(1, h, 30) }),
      ),
    ];
    const [g] = deliveryReport(records, WEEK).groups;
    assert.deepEqual(g?.changeFailureRate, { ratio: 1, failed: 1, deployments: 1 });
    assert.deepEqual(g?.timeToRestore, { medianSeconds: 30 * 60, incidents: 3 });
  });

  it('an incident naming its deployment blames that one, not the latest', () => {
    const records = [
      deploy('a', 'production', 'c1', at(1, 1), []),
      deploy('b', 'production', 'c1', at(1, 2), []),
      record('i', { type: 'incident', app: 'api', deployment: 'a', start: at(1, 3) }),
    ];
    const [g] = deliveryReport(records, WEEK).groups;
    assert.deepEqual(g?.changeFailureRate, { ratio: 0.5, failed: 1, deployments: 2 });
    // Still open: no restore time yet.
    assert.deepEqual(g?.timeToRestore, { medianSeconds: null, incidents: 0 });
  });

  it('an empty window reports one empty group', () => {
    const report = deliveryReport([], WEEK);
    assert.equal(report.groups.length, 1);
    assert.equal(report.groups[0]?.bands.deploymentFrequency, 'low');
    assert.equal(report.window.days, 7);
  });
});

describe('DORA bands and helpers', () => {
  const bands: [string, (v: number) => string, number, string][] = [
    ['deployments', deploymentFrequencyBand, 3, 'elite'],
    ['deployments', deploymentFrequencyBand, 1, 'elite'],
    ['deployments', deploymentFrequencyBand, 1 / 7, 'high'],
    ['deployments', deploymentFrequencyBand, 1 / 8, 'medium'],
    ['deployments', deploymentFrequencyBand, 1 / 30, 'medium'],
    ['deployments', deploymentFrequencyBand, 1 / 31, 'low'],
    ['lead time', leadTimeBand, 23 * H, 'elite'],
    ['lead time', leadTimeBand, 24 * H, 'high'],
    ['lead time', leadTimeBand, 7 * 24 * H, 'medium'],
    ['lead time', leadTimeBand, 30 * 24 * H, 'low'],
    ['failure rate', changeFailureRateBand, 0.05, 'elite'],
    ['failure rate', changeFailureRateBand, 0.1, 'high'],
    ['failure rate', changeFailureRateBand, 0.15, 'medium'],
    ['failure rate', changeFailureRateBand, 0.16, 'low'],
    ['restore', timeToRestoreBand, 59 * 60, 'elite'],
    ['restore', timeToRestoreBand, H, 'high'],
    ['restore', timeToRestoreBand, 24 * H, 'medium'],
    ['restore', timeToRestoreBand, 7 * 24 * H, 'low'],
  ];
  for (const [what, band, value, want] of bands)
    it(`${what} ${value} is ${want}`, () => assert.equal(band(value), want));

  for (const [env, want] of [
    [undefined, true],
    ['production', true],
    ['prod', true],
    ['prod-eu', true],
    ['PROD_us', true],
    ['production.cn', true],
    ['staging', false],
    ['preprod', false],
    ['producer', false],
  ] as const)
    it(`environment ${String(env)} is ${want ? '' : 'not '}production`, () =>
      assert.equal(isProduction(env), want));

  for (const [values, want] of [
    [[], null],
    [[5], 5],
    [[3, 1, 2], 2],
    [[4, 1, 3, 2], 2.5],
  ] as const)
    it(`median of [${values.join(', ')}] is ${String(want)}`, () =>
      assert.equal(median(values), want));
});
