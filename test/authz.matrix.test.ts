// The authorization matrix: every registered route x every principal (each
// built-in role, the admin token, nobody) x own namespace, a sibling namespace
// of the same tenant and another tenant's namespace, against a real server over
// HTTP. The expected decision is written here as the policy in words
// (`expected`), independently of api/authz.ts, so a route or rule change that
// grants more than the policy says fails.
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { KINDS } from '../src/model/kinds.ts';
import { inProcessServer } from './server.harness.ts';

const h = inProcessServer('authz-matrix', { fleet: 'none' });

type Who = 'admin' | 'cluster-admin' | 'tenant-admin' | 'editor' | 'viewer' | 'agent' | 'nobody';
type Where = 'own' | 'sibling' | 'other';
const WHO: readonly Who[] = [
  'admin',
  'cluster-admin',
  'tenant-admin',
  'editor',
  'viewer',
  'agent',
  'nobody',
];
const NAMESPACE: Record<Where, string> = { own: 't1-a', sibling: 't1-b', other: 't2-a' };
const BASE = '/api/v1alpha1';
/** Namespaced kinds: a tenant-admin lists each across its tenant's namespaces (filtered). */
const NAMESPACED_KINDS = new Set(KINDS.filter((k) => k.namespaced).map((k) => k.plural));

async function call(method: string, path: string, token: string, body?: unknown) {
  const res = await fetch(`${h.url}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
    },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  let json: any;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, json };
}

/** Opens a stream, reads only its status, and closes it. */
async function peek(path: string, token: string): Promise<{ status: number; json: any }> {
  const abort = new AbortController();
  const res = await fetch(`${h.url}${path}`, {
    headers: { authorization: `Bearer ${token}` },
    signal: abort.signal,
  });
  if (res.status !== 200) return { status: res.status, json: await res.json() };
  abort.abort();
  return { status: 200, json: undefined };
}

/**
 * The policy. cluster-admin (and the admin token): everything. tenant-admin of
 * t1: every namespaced route in t1's namespaces, reads of the clouds, sites,
 * clusters, events and tenants it may see (lists filtered; a name it cannot see,
 * here a missing one, refused), t1's audit. editor / viewer in t1-a:
 * applications there (viewer: reads only), lists of applications and events
 * across namespaces filtered to t1-a, and delivery metrics over those namespaces'
 * records; catalog instances and bindings as applications, and the catalog's
 * items to every role. agent and nobody: nothing.
 */
function expected(who: Who, method: string, url: string, where: Where | undefined): boolean {
  if (who === 'admin' || who === 'cluster-admin') return true;
  if (who === 'agent' || who === 'nobody') return false;
  const read = method === 'GET';
  const ns = /^\/api\/v1alpha1\/namespaces\/:namespace\/([a-z]+)(\/:name(\/([a-z]+))?)?$/.exec(url);
  if (ns) {
    const resource = ns[4] === 'status' ? `${ns[1]}/status` : (ns[1] ?? '');
    if (who === 'tenant-admin') return where === 'own' || where === 'sibling';
    if (
      !['applications', 'migrations', 'migrationplans', 'instances', 'bindings'].includes(
        resource,
      ) ||
      where !== 'own'
    )
      return false;
    return who === 'editor' || read;
  }
  if (url === `${BASE}/apply`) {
    if (who === 'tenant-admin') return where === 'own' || where === 'sibling';
    return who === 'editor' && where === 'own';
  }
  if (url === '/console/watch') return true; // applications and events, filtered
  if (url === `${BASE}/metrics/delivery`) return read; // over the records of namespaces whose apps it may list
  const list = /^\/api\/v1alpha1\/([a-z]+)$/.exec(url)?.[1];
  if (!read || list === undefined) return false;
  if (who === 'tenant-admin')
    return (
      NAMESPACED_KINDS.has(list) ||
      ['clouds', 'sites', 'clusters', 'events', 'tenants', 'audit', 'catalogitems'].includes(list)
    );
  return [
    'applications',
    'migrations',
    'migrationplans',
    'instances',
    'bindings',
    'events',
    'catalogitems',
  ].includes(list);
}

const tokens = new Map<Who, string>();

describe('authorization matrix', () => {
  before(async () => {
    const admin = h.token;
    tokens.set('admin', admin);
    const tenants = [
      { name: 't1', namespaces: ['t1-a', 't1-b'] },
      { name: 't2', namespaces: ['t2-a'] },
    ];
    for (const t of tenants) {
      const r = await call('POST', `${BASE}/tenants`, admin, {
        apiVersion: 'yunjian.io/v1alpha1',
        kind: 'Tenant',
        metadata: { name: t.name },
        spec: { namespaces: t.namespaces },
      });
      assert.equal(r.status, 201, JSON.stringify(r.json));
    }
    const grants: [Who, Record<string, string>][] = [
      ['cluster-admin', { role: 'cluster-admin' }],
      ['tenant-admin', { role: 'tenant-admin', namespace: 't1-a' }],
      ['editor', { role: 'editor', namespace: 't1-a' }],
      ['viewer', { role: 'viewer', namespace: 't1-a' }],
      ['agent', { role: 'agent' }],
      ['nobody', {}],
    ];
    for (const [who, grant] of grants) {
      const r = await call('POST', `${BASE}/tokens`, admin, {
        user: `u-${who}`,
        ttl: '1h',
        ...grant,
      });
      assert.equal(r.status, 201, JSON.stringify(r.json));
      tokens.set(who, r.json.token);
    }
  });

  it('every registered route has an authorization rule', () => {
    const missing = h.server.routes.filter((r) => r.rule === undefined);
    assert.deepEqual(
      missing.map((r) => `${r.method} ${r.url}`),
      [],
    );
  });

  it('allows exactly what the policy allows, for every role, route and namespace', async () => {
    interface Case {
      who: Who;
      method: string;
      url: string;
      where: Where | undefined;
      watch: boolean;
    }
    const cases: Case[] = [];
    for (const r of h.server.routes) {
      if (r.method === 'HEAD' || r.rule?.public === true) continue;
      const namespaced = r.url.includes(':namespace') || r.url === `${BASE}/apply`;
      const wheres: (Where | undefined)[] = namespaced ? ['own', 'sibling', 'other'] : [undefined];
      const listRoute = r.method === 'GET' && r.rule?.verb === 'list' && !r.url.endsWith('/audit');
      for (const who of WHO)
        for (const where of wheres) {
          cases.push({ who, method: r.method, url: r.url, where, watch: false });
          if (listRoute) cases.push({ who, method: r.method, url: r.url, where, watch: true });
        }
    }
    assert.ok(cases.length > 500, `only ${cases.length} cases`);
    const wrong: string[] = [];
    const run = async (c: Case) => {
      const token = tokens.get(c.who) ?? '';
      const ns = c.where === undefined ? '' : NAMESPACE[c.where];
      const path = c.url
        .replace(':namespace', ns)
        .replace(':name', 'matrix-missing')
        .replace(':file', 'missing.js');
      let result: { status: number; json: any };
      if (c.url === `${BASE}/apply`) {
        result = await call('POST', `${path}?dryRun=true`, token, {
          apiVersion: 'yunjian.io/v1alpha1',
          kind: 'Application',
          metadata: { name: 'matrix', namespace: ns },
          spec: { components: [{ name: 'web', image: 'nginx', replicas: 1 }] },
        });
      } else if (c.url === '/console/watch') {
        result = await peek(`${path}?applications=&events=`, token);
      } else if (c.watch) {
        result = await peek(`${path}?watch=true`, token);
      } else {
        result = await call(
          c.method,
          path,
          token,
          c.method === 'GET' || c.method === 'DELETE' ? undefined : {},
        );
      }
      const refused =
        result.status === 401 ||
        (result.status === 403 && String(result.json?.message ?? '').startsWith('forbidden:'));
      const want = expected(c.who, c.method, c.url, c.where);
      if (want === refused)
        wrong.push(
          `${c.who} ${c.method} ${path}${c.watch ? ' (watch)' : ''}: expected ${want ? 'allowed' : 'refused'}, got ${result.status} ${String(result.json?.message ?? '')}`,
        );
    };
    // Bounded concurrency over one server.
    const queue = [...cases];
    await Promise.all(
      Array.from({ length: 12 }, async () => {
        for (let c = queue.shift(); c !== undefined; c = queue.shift()) await run(c);
      }),
    );
    assert.deepEqual(wrong, []);
  });

  it('public routes are the same for everyone: never refused by authorization', async () => {
    const open = h.server.routes.filter((r) => r.rule?.public === true && r.method === 'GET');
    assert.ok(open.some((r) => r.url === '/healthz'));
    for (const r of open) {
      const res = await fetch(`${h.url}${r.url.replace(':file', 'missing.js')}`);
      const text = await res.text();
      // The route may refuse by itself (the console's session endpoint says
      // "not signed in"); the authentication hook and authorization never do.
      assert.doesNotMatch(text, /missing bearer token|forbidden:/, r.url);
    }
  });
});
