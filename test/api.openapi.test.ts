// /openapi.json is generated from the route table: every route the control
// plane registers, its own and its plugins' (console, tokens, audit, agent,
// Kubernetes join, secrets, traffic), is an operation with a summary, and the
// document names no route that is not registered. Request bodies carry the
// TypeBox schemas that validate them.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { inProcessServer } from './server.harness.ts';

// A DNS port makes the traffic plugin part of the server (0: any free port).
const cp = inProcessServer('openapi', { fleet: 'none', dnsPort: 0 });
const BASE = '/api/v1alpha1';

type Operation = {
  summary?: string;
  tags?: string[];
  security?: unknown[];
  parameters?: { name: string; in: string }[];
  requestBody?: { content: Record<string, { schema: Record<string, any> }> };
  responses: Record<string, unknown>;
};
type Document = { paths: Record<string, Record<string, Operation>> };

async function openapi(): Promise<Document> {
  const res = await fetch(`${cp.url}/openapi.json`);
  assert.equal(res.status, 200);
  return (await res.json()) as Document;
}

const pathOf = (url: string) => url.replace(/:([A-Za-z]+)/g, '{$1}');

describe('/openapi.json from the route table', () => {
  it('has every registered route, each with a summary and a tag, and nothing else', async () => {
    const doc = await openapi();
    const routes = cp.server.routes.filter((r) => r.method !== 'HEAD');
    assert.ok(routes.length > 50, `only ${routes.length} routes`);
    const missing: string[] = [];
    for (const r of routes) {
      const op = doc.paths[pathOf(r.url)]?.[r.method.toLowerCase()];
      if (!op?.summary || !op.tags?.length) missing.push(`${r.method} ${r.url}`);
    }
    assert.deepEqual(missing, [], 'routes without a documented operation');
    const registered = new Set(routes.map((r) => `${r.method.toLowerCase()} ${pathOf(r.url)}`));
    const extra = Object.entries(doc.paths).flatMap(([path, ops]) =>
      Object.keys(ops)
        .map((method) => `${method} ${path}`)
        .filter((op) => !registered.has(op)),
    );
    assert.deepEqual(extra, [], 'operations of no registered route');
  });

  it('covers the routes it used to leave out, with their path parameters', async () => {
    const doc = await openapi();
    const cases: [string, string, string[]][] = [
      [`${BASE}/traffic`, 'get', []],
      [`${BASE}/kubernetes/join`, 'post', []],
      [
        `${BASE}/namespaces/{namespace}/applications/{name}/rebalance`,
        'post',
        ['namespace', 'name'],
      ],
      [`${BASE}/namespaces/{namespace}/applications/{name}/logs`, 'get', ['namespace', 'name']],
      [`${BASE}/agent/join`, 'post', []],
      [`${BASE}/agent/heartbeat`, 'post', []],
      [`${BASE}/agent/tokens/{name}`, 'delete', ['name']],
      [`${BASE}/tokens`, 'post', []],
      [`${BASE}/audit`, 'get', []],
      [`${BASE}/secrets/rotate-key`, 'post', []],
      [`${BASE}/clusters/{name}/nodes`, 'get', ['name']],
      [`${BASE}/namespaces/{namespace}/applications/{name}/explain`, 'get', ['namespace', 'name']],
    ];
    for (const [path, method, params] of cases) {
      const op = doc.paths[path]?.[method];
      assert.ok(op, `${method} ${path}`);
      assert.deepEqual(
        (op.parameters ?? []).filter((p) => p.in === 'path').map((p) => p.name),
        params,
        `${method} ${path}`,
      );
    }
  });

  it('gives request bodies the schemas that validate them', async () => {
    const doc = await openapi();
    const body = (path: string) =>
      doc.paths[path]?.['post']?.requestBody?.content['application/json']?.schema ?? {};
    const cases: [string, string[]][] = [
      [`${BASE}/agent/join`, ['cluster', 'host', 'heartbeatSeconds']],
      [`${BASE}/agent/heartbeat`, ['cluster', 'host', 'workloads']],
      [`${BASE}/kubernetes/join`, Object.keys(body(`${BASE}/kubernetes/join`)['properties'] ?? {})],
      [`${BASE}/secrets/rotate-key`, ['prune']],
      [`${BASE}/chaos`, ['action', 'scope', 'name']],
    ];
    for (const [path, properties] of cases) {
      const schema = body(path);
      assert.equal(schema['additionalProperties'], false, path);
      assert.ok(properties.length > 0, path);
      for (const p of properties) assert.ok(schema['properties']?.[p], `${path}: ${p}`);
    }
    const create = doc.paths[`${BASE}/clouds`]?.['post']?.requestBody?.content;
    assert.deepEqual(create?.['application/json']?.schema, { $ref: '#/components/schemas/Cloud' });
    assert.ok(create?.['application/yaml'], 'create takes YAML too');
  });

  it('marks the routes that need no bearer token, and only those', async () => {
    const doc = await openapi();
    const open = cp.server.routes
      .filter((r) => r.method !== 'HEAD' && r.rule?.public === true)
      .map((r) => `${r.method} ${r.url}`);
    assert.ok(open.includes('GET /healthz') && open.includes(`POST ${BASE}/agent/join`));
    for (const r of cp.server.routes.filter((x) => x.method !== 'HEAD')) {
      const op = doc.paths[pathOf(r.url)]?.[r.method.toLowerCase()];
      assert.equal(
        op?.security?.length === 0,
        open.includes(`${r.method} ${r.url}`),
        `${r.method} ${r.url}`,
      );
    }
  });
});
