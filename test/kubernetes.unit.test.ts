// The kubernetes driver's pure parts: WorkloadSpec -> manifests, ownership, and
// the mapping of API failures to typed errors (429 with Retry-After, 401, 403,
// refused connections), which a real API server cannot easily be made to show.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ApiException } from '@kubernetes/client-node';
import { testWorkload } from '../src/drivers/conformance.ts';
import { retryAfterSeconds, toDriverError } from '../src/drivers/kubernetes/client.ts';
import { quantity } from '../src/drivers/kubernetes/objects.ts';
import {
  deploymentManifest,
  keyOf,
  namespaceName,
  serviceManifest,
} from '../src/drivers/kubernetes/manifests.ts';

const key = { namespace: 'default', app: 'shop', component: 'web' };
const at = { server: 'https://127.0.0.1:6443', origin: 'file /tmp/kubeconfig' };

describe('manifests', () => {
  it('selects architecture by nodeSelector for one, node affinity for several', () => {
    const table: [string[], unknown, unknown][] = [
      [['arm64'], { 'kubernetes.io/arch': 'arm64' }, undefined],
      [
        ['arm64', 'amd64'],
        undefined,
        [
          {
            matchExpressions: [
              { key: 'kubernetes.io/arch', operator: 'In', values: ['amd64', 'arm64'] },
            ],
          },
        ],
      ],
    ];
    for (const [arches, selector, terms] of table) {
      const d = deploymentManifest(
        testWorkload({ key, architectures: arches as ('amd64' | 'arm64')[] }),
      );
      const pod = d.spec?.template.spec;
      assert.deepEqual(pod?.nodeSelector, selector);
      assert.deepEqual(
        pod?.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution
          ?.nodeSelectorTerms,
        terms,
      );
    }
  });

  it('carries the spec, the hash and the ownership label', () => {
    const spec = testWorkload({
      key,
      replicas: 3,
      cpuMillis: 500,
      memoryBytes: 2 ** 30,
      gpu: 0.5,
      env: { B: '2', A: '1' },
      command: ['/srv'],
      args: ['--port', '80'],
      ports: [{ name: 'http', port: 80, protocol: 'TCP' }],
      maxReplicasPerNode: 1,
    });
    const d = deploymentManifest(spec);
    const c = d.spec?.template.spec?.containers[0];
    assert.equal(d.metadata?.namespace, 'yj-default-shop');
    assert.equal(d.spec?.replicas, 3);
    assert.deepEqual(c?.env, [
      { name: 'A', value: '1' },
      { name: 'B', value: '2' },
    ]);
    assert.deepEqual(c?.resources?.requests, {
      cpu: '500m',
      memory: String(2 ** 30),
      'nvidia.com/gpu': '1',
    });
    assert.deepEqual([c?.command, c?.args], [['/srv'], ['--port', '80']]);
    assert.equal(d.metadata?.annotations?.['yunjian.io/workload-hash'], spec.hash);
    assert.deepEqual(keyOf(d.metadata ?? {}), key);
    assert.ok(d.spec?.template.spec?.affinity?.podAntiAffinity);
    assert.deepEqual(
      serviceManifest(spec)?.spec?.ports?.map((p) => [p.name, p.port]),
      [['http', 80]],
    );
    assert.equal(serviceManifest(testWorkload({ key })), undefined, 'no ports, no Service');
  });

  it('checks health: readiness always, liveness after a startup probe only with restartThreshold', () => {
    const check = {
      http: { path: '/healthz' },
      intervalSeconds: 5,
      timeoutSeconds: 1,
      failureThreshold: 3,
    };
    const table: {
      restartThreshold?: number;
      liveness?: number;
      startup?: number;
    }[] = [{}, { restartThreshold: 4, liveness: 4, startup: 720 }];
    for (const row of table) {
      const c = deploymentManifest(
        testWorkload({
          key,
          ports: [{ port: 80, protocol: 'TCP' }],
          healthCheck: {
            ...check,
            ...(row.restartThreshold !== undefined
              ? { restartThreshold: row.restartThreshold }
              : {}),
          },
        }),
      ).spec?.template.spec?.containers[0];
      const probe = {
        httpGet: { path: '/healthz', port: 80, scheme: 'HTTP' },
        periodSeconds: 5,
        timeoutSeconds: 1,
      };
      assert.deepEqual(c?.readinessProbe, { ...probe, failureThreshold: 3 });
      assert.deepEqual(
        c?.livenessProbe,
        row.liveness === undefined ? undefined : { ...probe, failureThreshold: row.liveness },
      );
      // An hour to pass the first check at one check every 5 s.
      assert.deepEqual(
        c?.startupProbe,
        row.startup === undefined ? undefined : { ...probe, failureThreshold: row.startup },
      );
    }
  });

  it('does not claim objects without the ownership label', () => {
    assert.equal(
      keyOf({ annotations: { 'yunjian.io/workload-key': JSON.stringify(key) } }),
      undefined,
    );
  });

  it('fits long names into DNS labels, distinctly', () => {
    const a = namespaceName({ namespace: 'default', app: 'x'.repeat(80) });
    const b = namespaceName({ namespace: 'default', app: `${'x'.repeat(79)}y` });
    assert.ok(a.length <= 63 && b.length <= 63);
    assert.notEqual(a, b);
  });
});

describe('errors', () => {
  it('maps API failures to typed errors', () => {
    const status = (code: number, message: string, reason?: string) =>
      JSON.stringify({
        kind: 'Status',
        code,
        message,
        ...(reason ? { details: { causes: [{ reason }] } } : {}),
      });
    const table: [unknown, string, boolean, RegExp][] = [
      [
        new ApiException(429, 'x', status(429, 'slow down'), { 'retry-after': '7' }),
        'TooManyRequests',
        true,
        /throttled/,
      ],
      [
        new ApiException(401, 'Unauthorized', undefined, {}),
        'Unauthorized',
        false,
        /credentials in kubeconfig file \/tmp\/kubeconfig were rejected/,
      ],
      [
        new ApiException(403, 'x', status(403, 'nodes is forbidden'), {}),
        'Forbidden',
        false,
        /may not list Nodes/,
      ],
      [
        new ApiException(403, 'x', status(403, 'terminating', 'NamespaceTerminating'), {}),
        'Unavailable',
        true,
        /terminating/,
      ],
      [new ApiException(503, 'x', status(503, 'etcd down'), {}), 'Unavailable', true, /HTTP 503/],
      [
        new ApiException(422, 'x', status(422, 'bad spec'), {}),
        'BadRequest',
        false,
        /refused: bad spec/,
      ],
      [
        new TypeError('fetch failed', {
          cause: Object.assign(new Error('connect'), { code: 'ECONNREFUSED' }),
        }),
        'Unavailable',
        true,
        /unreachable \(ECONNREFUSED\)/,
      ],
    ];
    for (const [raw, reason, retryable, message] of table) {
      const err = toDriverError(raw, at, 'list Nodes');
      assert.equal(err.reason, reason);
      assert.equal(err.retryable, retryable);
      assert.match(err.message, message);
    }
    const throttled = toDriverError(table[0]![0], at, 'x');
    assert.equal(throttled.details.retryAfterSeconds, 7);
  });

  it('reads Retry-After as seconds or an HTTP date', () => {
    const now = Date.parse('2026-01-01T00:00:00Z');
    assert.equal(retryAfterSeconds('3', now), 3);
    assert.equal(retryAfterSeconds('Thu, 01 Jan 2026 00:00:10 GMT', now), 10);
    assert.equal(retryAfterSeconds(undefined, now), 1);
  });

  it('parses Kubernetes quantities', () => {
    const table: [string, number][] = [
      ['4', 4],
      ['250m', 0.25],
      ['16Gi', 16 * 2 ** 30],
      ['3910652Ki', 3910652 * 1024],
      ['1e3', 1000],
      ['110', 110],
    ];
    for (const [q, v] of table) assert.equal(quantity(q), v, q);
  });
});
