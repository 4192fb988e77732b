// The OpenAPI document is derived from the same TypeBox schemas that validate
// requests, so documentation and validation cannot drift apart.
import { KINDS, type KindInfo } from '../model/kinds.ts';
import { API_VERSION } from '../model/schema.ts';

const BASE = '/api/v1alpha1';

function plainJson(schema: unknown): unknown {
  // TypeBox marks schemas with symbol keys; JSON round-trip keeps only JSON Schema.
  return JSON.parse(JSON.stringify(schema)) as unknown;
}

const statusRef = { $ref: '#/components/schemas/Status' };
const errorResponses = {
  '401': {
    description: 'Missing or invalid bearer token',
    content: { 'application/json': { schema: statusRef } },
  },
  '404': { description: 'Not found', content: { 'application/json': { schema: statusRef } } },
};

function listSchema(k: KindInfo) {
  return {
    type: 'object',
    properties: {
      apiVersion: { const: API_VERSION },
      kind: { const: `${k.kind}List` },
      metadata: {
        type: 'object',
        properties: { resourceVersion: { type: 'string' }, continue: { type: 'string' } },
      },
      items: { type: 'array', items: { $ref: `#/components/schemas/${k.kind}` } },
    },
  };
}

const listParams = [
  {
    name: 'labelSelector',
    in: 'query',
    schema: { type: 'string' },
    description: 'e.g. tier=prod,region in (eu,us)',
  },
  { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 0 } },
  { name: 'continue', in: 'query', schema: { type: 'string' } },
  {
    name: 'watch',
    in: 'query',
    schema: { type: 'boolean' },
    description: 'Stream changes as newline-delimited JSON events',
  },
  {
    name: 'resourceVersion',
    in: 'query',
    schema: { type: 'string' },
    description: 'With watch: deliver changes after this revision',
  },
];

function kindPaths(k: KindInfo): Record<string, unknown> {
  const ref = { $ref: `#/components/schemas/${k.kind}` };
  const one = { content: { 'application/json': { schema: ref } } };
  const tag = [k.kind];
  const nsParam = [{ name: 'namespace', in: 'path', required: true, schema: { type: 'string' } }];
  const nameParam = [{ name: 'name', in: 'path', required: true, schema: { type: 'string' } }];
  const collection = k.namespaced
    ? `${BASE}/namespaces/{namespace}/${k.plural}`
    : `${BASE}/${k.plural}`;
  const item = `${collection}/{name}`;
  const scopeParams = k.namespaced ? nsParam : [];
  const paths: Record<string, unknown> = {
    [collection]: {
      get: {
        tags: tag,
        summary: `List or watch ${k.plural}`,
        parameters: [...scopeParams, ...listParams],
        responses: {
          '200': {
            description: `${k.kind}List`,
            content: {
              'application/json': { schema: { $ref: `#/components/schemas/${k.kind}List` } },
            },
          },
          ...errorResponses,
        },
      },
      post: {
        tags: tag,
        summary: `Create a ${k.singular}`,
        parameters: scopeParams,
        requestBody: { required: true, ...one },
        responses: {
          '201': { description: 'Created', ...one },
          '409': { description: 'AlreadyExists' },
          '422': { description: 'Invalid: every field error with its path' },
          ...errorResponses,
        },
      },
    },
    [item]: {
      get: {
        tags: tag,
        summary: `Read a ${k.singular}`,
        parameters: [...scopeParams, ...nameParam],
        responses: { '200': { description: k.kind, ...one }, ...errorResponses },
      },
      put: {
        tags: tag,
        summary: `Replace a ${k.singular} (compare-and-set on metadata.resourceVersion when given)`,
        parameters: [...scopeParams, ...nameParam],
        requestBody: { required: true, ...one },
        responses: {
          '200': { description: 'Replaced', ...one },
          '409': { description: 'Conflict: stale resourceVersion' },
          '422': { description: 'Invalid' },
          ...errorResponses,
        },
      },
      delete: {
        tags: tag,
        summary: `Delete a ${k.singular}`,
        parameters: [...scopeParams, ...nameParam],
        responses: { '200': { description: 'The deleted object', ...one }, ...errorResponses },
      },
    },
    [`${item}/status`]: {
      put: {
        tags: tag,
        summary: `Replace the status of a ${k.singular}`,
        parameters: [...scopeParams, ...nameParam],
        requestBody: { required: true, ...one },
        responses: {
          '200': { description: 'Replaced', ...one },
          '409': { description: 'Conflict' },
          ...errorResponses,
        },
      },
    },
  };
  if (k.namespaced) {
    paths[`${BASE}/${k.plural}`] = {
      get: {
        tags: tag,
        summary: `List or watch ${k.plural} in every namespace`,
        parameters: listParams,
        responses: { '200': { description: `${k.kind}List` }, ...errorResponses },
      },
    };
  }
  return paths;
}

export function buildOpenApi(version: string): Record<string, unknown> {
  const schemas: Record<string, unknown> = {
    Status: {
      type: 'object',
      required: ['kind', 'status', 'code', 'reason', 'message'],
      properties: {
        kind: { const: 'Status' },
        apiVersion: { const: 'v1' },
        status: { const: 'Failure' },
        code: { type: 'integer' },
        reason: { type: 'string', description: 'Stable machine-readable error code' },
        message: { type: 'string' },
        details: {
          type: 'object',
          properties: {
            causes: {
              type: 'array',
              items: {
                type: 'object',
                properties: { field: { type: 'string' }, message: { type: 'string' } },
              },
            },
            retryAfterSeconds: { type: 'number' },
          },
        },
      },
    },
  };
  let paths: Record<string, unknown> = {};
  for (const k of KINDS) {
    schemas[k.kind] = plainJson(k.schema);
    schemas[`${k.kind}List`] = listSchema(k);
    paths = { ...paths, ...kindPaths(k) };
  }
  paths[`${BASE}/apply`] = {
    post: {
      tags: ['Apply'],
      summary:
        'Server-side apply of one or more documents (multi-document YAML or JSON); all are validated before any is written',
      parameters: [
        { name: 'namespace', in: 'query', schema: { type: 'string' } },
        { name: 'dryRun', in: 'query', schema: { type: 'boolean' } },
      ],
      requestBody: {
        required: true,
        content: {
          'application/yaml': { schema: { type: 'string' } },
          'application/json': { schema: {} },
        },
      },
      responses: {
        '200': { description: 'ApplyResult' },
        '422': { description: 'Invalid: nothing was written' },
        ...errorResponses,
      },
    },
  };
  paths[`${BASE}/chaos`] = {
    get: {
      tags: ['Chaos'],
      summary: 'Active injected faults',
      responses: { '200': { description: 'Faults' } },
    },
    post: {
      tags: ['Chaos'],
      summary: 'Fail or recover a simulated cloud, site, cluster or node',
      requestBody: {
        required: true,
        content: {
          'application/json': {
            schema: {
              type: 'object',
              additionalProperties: false,
              required: ['action', 'scope', 'name'],
              properties: {
                action: { enum: ['fail', 'recover'] },
                scope: { enum: ['cloud', 'site', 'cluster', 'node'] },
                name: { type: 'string' },
              },
            },
          },
        },
      },
      responses: { '200': { description: 'What was affected' }, ...errorResponses },
    },
  };
  paths[`${BASE}/namespaces/{namespace}/applications/{name}/explain`] = {
    get: {
      tags: ['Application'],
      summary:
        'Why the application is placed where it is: per component, each cloud and cluster chosen or rejected, with reasons and scores',
      parameters: [
        { name: 'namespace', in: 'path', required: true, schema: { type: 'string' } },
        { name: 'name', in: 'path', required: true, schema: { type: 'string' } },
      ],
      responses: { '200': { description: 'PlacementExplanation' }, ...errorResponses },
    },
  };
  for (const p of ['/healthz', '/readyz'])
    paths[p] = {
      get: { tags: ['Health'], security: [], responses: { '200': { description: 'ok' } } },
    };
  paths['/metrics'] = {
    get: {
      tags: ['Health'],
      summary: 'Prometheus metrics',
      responses: { '200': { description: 'text exposition format' } },
    },
  };
  return {
    openapi: '3.1.0',
    info: { title: 'Yunjian API', version },
    components: { schemas, securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
    security: [{ bearer: [] }],
    paths,
  };
}
