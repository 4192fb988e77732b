// The DevOps webhook and the delivery metrics over HTTP, on an in-process
// control plane: per-team authentication (HMAC signature, GitLab token,
// bearer), GitHub, GitLab and CloudEvents payloads, idempotency, field-named
// refusals, the report's shape and numbers, and the Prometheus series.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { run } from '../src/cli/program.ts';
import { formatDuration } from '../src/cli/commands/metrics.ts';
import { signBody } from '../src/insights/delivery/webhook.ts';
import { inProcessServer } from './server.harness.ts';

const SECRET = 'team-secret-1f2e';

describe('delivery over the API', () => {
  const h = inProcessServer('delivery-api', { fleet: 'none' });
  const events = (query: string) => `${h.url}/api/v1alpha1/devops/events?${query}`;
  const post = (query: string, body: unknown, headers: Record<string, string> = {}) => {
    const text = typeof body === 'string' ? body : JSON.stringify(body);
    return fetch(events(query), {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'x-hub-signature-256': signBody(text, SECRET),
        ...headers,
      },
      body: text,
    });
  };
  const json = async (r: Response): Promise<any> => r.json();

  it('refuses requests without the team secret, then accepts signed ones', async () => {
    // No secret stored yet: nobody gets in.
    assert.equal((await post('team=payments', { specversion: '1.0' })).status, 401);
    const created = await fetch(`${h.url}/api/v1alpha1/secrets`, {
      method: 'POST',
      headers: { ...h.headers, 'content-type': 'application/json' },
      body: JSON.stringify({
        apiVersion: 'yunjian.io/v1alpha1',
        kind: 'Secret',
        metadata: { name: 'devops-webhook.payments' },
        spec: { type: 'webhook', data: SECRET },
      }),
    });
    assert.equal(created.status, 201);

    const push = {
      repository: { name: 'ledger' },
      commits: [
        { id: 'c1', timestamp: '2026-03-01T00:00:00Z', message: 'one\n\nbody' },
        { id: 'c2', timestamp: '2026-03-01T06:00:00+00:00', message: 'two' },
      ],
    };
    const cases: {
      name: string;
      query: string;
      headers: Record<string, string>;
      status: number;
    }[] = [
      {
        name: 'wrong signature',
        query: 'team=payments',
        headers: { 'x-hub-signature-256': 'sha256=00' },
        status: 401,
      },
      { name: 'another team', query: 'team=search', headers: {}, status: 401 },
      { name: 'no team', query: '', headers: {}, status: 400 },
      {
        name: 'a namespace not its own',
        query: 'team=payments&namespace=kube',
        headers: {},
        status: 403,
      },
    ];
    for (const c of cases) {
      const r = await post(c.query, push, { 'x-github-event': 'push', ...c.headers });
      assert.equal(r.status, c.status, c.name);
    }
    const ok = await post('team=payments', push, { 'x-github-event': 'push' });
    assert.equal(ok.status, 202);
    assert.equal((await json(ok)).created.length, 2);
    // The same delivery again: nothing new.
    const again = await json(await post('team=payments', push, { 'x-github-event': 'push' }));
    assert.deepEqual([again.created.length, again.duplicates.length], [0, 2]);
  });

  it('names the field of a bad payload', async () => {
    const cases: {
      name: string;
      body: unknown;
      headers: Record<string, string>;
      status: number;
      field: string;
    }[] = [
      { name: 'not JSON', body: '{', headers: {}, status: 400, field: '' },
      {
        name: 'push without timestamps',
        body: { commits: [{ id: 'c9' }] },
        headers: { 'x-github-event': 'push' },
        status: 422,
        field: 'commits[0].timestamp',
      },
      {
        name: 'unknown GitHub event',
        body: {},
        headers: { 'x-github-event': 'star' },
        status: 400,
        field: 'X-GitHub-Event',
      },
      {
        name: 'CloudEvent of an unknown type',
        body: {
          specversion: '1.0',
          id: 'e1',
          type: 'com.example.thing',
          time: '2026-03-01T00:00:00Z',
        },
        headers: {},
        status: 422,
        field: 'type',
      },
      {
        name: 'CloudEvent with a bad time',
        body: { specversion: '1.0', id: 'e1', type: 'io.yunjian.devops.build', time: 'yesterday' },
        headers: {},
        status: 422,
        field: 'time',
      },
      {
        name: 'GitLab pipeline without an id',
        body: {
          object_attributes: {
            status: 'success',
            created_at: '2026-03-01 10:00:00 UTC',
            finished_at: '2026-03-01 10:05:00 UTC',
          },
        },
        headers: { 'x-gitlab-event': 'Pipeline Hook' },
        status: 422,
        field: 'object_attributes.id',
      },
    ];
    for (const c of cases) {
      const r = await post('team=payments', c.body, c.headers);
      const body = await json(r);
      assert.equal(r.status, c.status, `${c.name}: ${JSON.stringify(body)}`);
      if (c.field !== '')
        assert.ok(
          body.details.causes.some((x: { field: string }) => x.field === c.field),
          `${c.name}: ${JSON.stringify(body.details)}`,
        );
    }
  });

  it('computes the report from webhook records and shows it on /metrics', async () => {
    const gitlabToken = { 'x-gitlab-token': SECRET };
    const bearer = { authorization: `Bearer ${SECRET}` };
    const send = async (body: unknown, headers: Record<string, string> = {}) => {
      const text = JSON.stringify(body);
      const r = await fetch(events('team=payments&app=api'), {
        method: 'POST',
        headers: {
          'content-type': headers['x-gitlab-event']
            ? 'application/json'
            : 'application/cloudevents+json',
          ...(headers['x-gitlab-token'] || headers.authorization
            ? {}
            : { 'x-hub-signature-256': signBody(text, SECRET) }),
          ...headers,
        },
        body: text,
      });
      assert.equal(r.status, 202, JSON.stringify(await r.clone().json()));
      return json(r);
    };
    const now = Date.now();
    const iso = (hoursAgo: number) => new Date(now - hoursAgo * 3_600_000).toISOString();
    const ce = (id: string, type: string, time: string, data: Record<string, unknown>) => ({
      specversion: '1.0',
      id,
      source: 'ci',
      type,
      time,
      data,
    });
    await send(ce('k1', 'io.yunjian.devops.commit', iso(30), { commit: 'k1' }));
    await send(ce('k2', 'io.yunjian.devops.commit', iso(26), { commit: 'k2' }));
    // A deployment of k2 (lead times 30 - 20 = 10 h and 26 - 20 = 6 h), then a failing one
    // and an incident after it: it blames the failed one, so 1 of 2 failed.
    await send(
      ce('dep-1', 'dev.cdevents.service.deployed.0.2.0', iso(20), {
        commit: 'k2',
        environment: 'production',
        clouds: ['aws'],
      }),
      bearer,
    );
    await send(
      ce('dep-2', 'io.yunjian.devops.deployment', iso(10), {
        commit: 'k2',
        environment: 'production',
        clouds: ['aws'],
        finish: iso(10),
        outcome: 'Failed',
      }),
    );
    const opened = await send(
      ce('inc-1', 'dev.cdevents.incident.detected.0.2.0', iso(9), {
        id: 'INC-1',
        environment: 'production',
      }),
    );
    const resolved = await send(
      ce('inc-2', 'dev.cdevents.incident.resolved.0.2.0', iso(8), {
        id: 'INC-1',
        environment: 'production',
      }),
    );
    assert.equal(opened.created.length, 1);
    assert.deepEqual(resolved.completed, opened.created);
    // A GitLab pipeline (a build) with GitLab's own time format, sent with its token.
    await send(
      {
        object_attributes: {
          id: 77,
          sha: 'k2',
          status: 'success',
          created_at: iso(21)
            .replace('T', ' ')
            .replace(/\.\d+Z$/, ' UTC'),
          finished_at: iso(20.5)
            .replace('T', ' ')
            .replace(/\.\d+Z$/, ' UTC'),
        },
        project: { name: 'api' },
      },
      { ...gitlabToken, 'x-gitlab-event': 'Pipeline Hook' },
    );

    const report = await json(
      await fetch(
        `${h.url}/api/v1alpha1/metrics/delivery?team=payments&since=7d&by=app&interval=day`,
        {
          headers: h.headers,
        },
      ),
    );
    assert.equal(report.by, 'app');
    assert.equal(report.window.days, 7);
    const api = report.groups.find((g: { key: string }) => g.key === 'api');
    assert.ok(api, JSON.stringify(report));
    assert.deepEqual(api.deploymentFrequency, { deployments: 1, perDay: 1 / 7 });
    assert.deepEqual(api.leadTimeForChanges, { medianSeconds: 8 * 3600, samples: 2 });
    assert.deepEqual(api.changeFailureRate, { ratio: 0.5, failed: 1, deployments: 2 });
    assert.deepEqual(api.timeToRestore, { medianSeconds: 3600, incidents: 1 });
    assert.deepEqual(api.buildFrequency, { builds: 1, perWeek: 1 });
    assert.equal(api.bands.changeFailureRate, 'low');
    assert.equal(api.series.length >= 7, true);

    const bad = await fetch(`${h.url}/api/v1alpha1/metrics/delivery?by=planet&since=yesterday`, {
      headers: h.headers,
    });
    assert.equal(bad.status, 400);
    assert.deepEqual(
      (await json(bad)).details.causes.map((c: { field: string }) => c.field),
      ['since', 'by'],
    );
    assert.equal((await fetch(`${h.url}/api/v1alpha1/metrics/delivery`)).status, 401);

    const metrics = await (await fetch(`${h.url}/metrics`, { headers: h.headers })).text();
    assert.match(
      metrics,
      /yunjian_delivery_deployments_total\{team="payments",source="cloudevents",outcome="Failed"\} 1/,
    );
    assert.match(metrics, /yunjian_delivery_change_failure_ratio\{team="payments"\} 0.5/);
    assert.match(metrics, /yunjian_delivery_lead_time_seconds\{team="payments"\} 28800/);

    // A viewer sees the records of its own namespace only: the webhook wrote to default.
    const viewerOf = async (namespace: string) => {
      const r = await fetch(`${h.url}/api/v1alpha1/tokens`, {
        method: 'POST',
        headers: { ...h.headers, 'content-type': 'application/json' },
        body: JSON.stringify({ user: `viewer-${namespace}`, ttl: '1h', role: 'viewer', namespace }),
      });
      assert.equal(r.status, 201);
      return ((await r.json()) as { token: string }).token;
    };
    for (const [namespace, deployments] of [
      ['default', 1],
      ['elsewhere', 0],
    ] as const) {
      const token = await viewerOf(namespace);
      const seen = await json(
        await fetch(`${h.url}/api/v1alpha1/metrics/delivery?team=payments&since=7d`, {
          headers: { authorization: `Bearer ${token}` },
        }),
      );
      assert.equal(seen.groups[0].deploymentFrequency.deployments, deployments, namespace);
    }

    // The CLI's table and its exit codes.
    const cli = async (...args: string[]) => {
      const out: string[] = [];
      const err: string[] = [];
      const code = await run(['--server', h.url, '--token', h.token, ...args], {
        stdout: (t) => out.push(t),
        stderr: (t) => err.push(t),
        readStdin: () => Promise.resolve(''),
        env: {},
        home: h.dataDir,
        now: () => Date.now(),
        interrupted: () => new AbortController().signal,
      });
      return { code, out: out.join(''), err: err.join('') };
    };
    const table = await cli(
      'metrics',
      'delivery',
      '--team',
      'payments',
      '--since',
      '7d',
      '--by',
      'app',
    );
    assert.equal(table.code, 0, table.err);
    const apiRow = table.out.split('\n').find((l) => l.startsWith('api '));
    assert.ok(apiRow, table.out);
    assert.deepEqual(apiRow.split(/\s{2,}/).slice(1, 8), [
      '1',
      '0.14',
      '8h',
      '50% (1/2)',
      '1h',
      '1',
      '-',
    ]);
    const asJson = await cli('metrics', 'delivery', '--team', 'payments', '-o', 'json');
    assert.equal(JSON.parse(asJson.out).groups[0].changeFailureRate.failed, 1);
    const refused = await cli('metrics', 'delivery', '--by', 'planet');
    assert.notEqual(refused.code, 0);
    assert.match(refused.err, /by: expected one of team, app, cloud, environment, namespace/);
  });
});

describe('formatDuration', () => {
  for (const [seconds, want] of [
    [null, '-'],
    [30, '30s'],
    [40 * 60, '40m'],
    [12 * 3600, '12h'],
    [6.5 * 86_400, '6.5d'],
  ] as const)
    it(`${String(seconds)} s is ${want}`, () => assert.equal(formatDuration(seconds), want));
});
