// The OpenAPI document is generated from the route table: every route the
// server registers (its own and its plugins') is recorded by the onRoute hook
// (api/authz.ts) with the `doc` it was registered with, and each becomes one
// operation here. Request and response schemas are the TypeBox schemas that
// validate them, so documentation and validation cannot drift apart, and a
// route registered without a doc shows up without a summary, which
// test/api.openapi.test.ts refuses.
import { KINDS, type KindInfo } from '../model/kinds.ts';
import { API_VERSION } from '../model/schema.ts';
import type { RecordedRoute } from './authz.ts';

/** What /openapi.json says about one route; given as the route's `config.doc`. */
export interface RouteDoc {
  summary: string;
  /** Groups in the document: a kind's name, or what the route is about (Apply, Health). */
  tags: readonly string[];
  /** Query parameters; path parameters are read from the URL. */
  query?: readonly QueryParam[];
  /** The request body's JSON Schema: the TypeBox schema the handler validates it with. */
  body?: unknown;
  /** The body may be omitted (it defaults to `{}`). */
  bodyOptional?: true;
  /** The body may also be YAML text (one or more documents). */
  yaml?: true;
  /** The success answer; `schema` where the answer has one. */
  response: { status: number; description: string; schema?: unknown; contentType?: string };
  /** Statuses the route answers besides success and the common errors, with what they mean. */
  errors?: Readonly<Record<string, string>>;
}

export interface QueryParam {
  name: string;
  type: 'string' | 'integer' | 'boolean';
  description?: string;
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The route's entry in /openapi.json. */
    doc?: RouteDoc;
  }
}

/** A reference to one of the document's component schemas (a kind, its list, Status). */
export const schemaRef = (name: string) => ({ $ref: `#/components/schemas/${name}` });

function plainJson(schema: unknown): unknown {
  // TypeBox marks schemas with symbol keys; JSON round-trip keeps only JSON Schema.
  return JSON.parse(JSON.stringify(schema)) as unknown;
}

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
      items: { type: 'array', items: schemaRef(k.kind) },
    },
  };
}

const STATUS_SCHEMA = {
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
};

const PATH_PARAMS: Readonly<Record<string, string>> = {
  namespace: 'The namespace (a DNS label)',
  name: 'The object name',
};

const json = (schema: unknown) => ({ 'application/json': { schema } });
const status = (description: string) => ({ description, content: json(schemaRef('Status')) });

function operation(route: RecordedRoute, doc: RouteDoc): Record<string, unknown> {
  const params = [...route.url.matchAll(/:([A-Za-z]+)/g)].map(([, name = '']) => ({
    name,
    in: 'path',
    required: true,
    schema: { type: 'string' },
    ...(PATH_PARAMS[name] !== undefined ? { description: PATH_PARAMS[name] } : {}),
  }));
  for (const q of doc.query ?? [])
    params.push({
      name: q.name,
      in: 'query',
      required: false,
      schema: { type: q.type },
      ...(q.description !== undefined ? { description: q.description } : {}),
    });
  const isPublic = route.rule?.public === true;
  const errors: Record<string, unknown> = {};
  for (const [code, what] of Object.entries(doc.errors ?? {})) errors[code] = status(what);
  if (!isPublic) {
    errors['401'] = status('Missing or invalid credentials');
    errors['403'] = status('Forbidden: the principal may not do this');
  }
  const { response } = doc;
  return {
    tags: doc.tags,
    summary: doc.summary,
    ...(isPublic ? { security: [] } : {}),
    ...(params.length > 0 ? { parameters: params } : {}),
    ...(doc.body !== undefined
      ? {
          requestBody: {
            required: doc.bodyOptional !== true,
            content: {
              ...json(plainJson(doc.body)),
              ...(doc.yaml === true ? { 'application/yaml': { schema: { type: 'string' } } } : {}),
            },
          },
        }
      : {}),
    responses: {
      [String(response.status)]: {
        description: response.description,
        ...(response.schema !== undefined
          ? {
              content: {
                [response.contentType ?? 'application/json']: {
                  schema: plainJson(response.schema),
                },
              },
            }
          : {}),
      },
      ...errors,
      default: status('An error, with a stable reason and every field at fault'),
    },
  };
}

/**
 * The document for `routes` (api/authz.ts routeTable). HEAD routes are left
 * out: Fastify adds one for every GET, answering as the GET does.
 */
export function buildOpenApi(
  version: string,
  routes: readonly RecordedRoute[] = [],
): Record<string, unknown> {
  const schemas: Record<string, unknown> = { Status: STATUS_SCHEMA };
  for (const k of KINDS) {
    schemas[k.kind] = plainJson(k.schema);
    schemas[`${k.kind}List`] = listSchema(k);
  }
  const paths: Record<string, Record<string, unknown>> = {};
  for (const route of routes) {
    if (route.method === 'HEAD') continue;
    const path = route.url.replace(/:([A-Za-z]+)/g, '{$1}');
    const doc = route.doc ?? { summary: '', tags: [], response: { status: 200, description: '' } };
    (paths[path] ??= {})[route.method.toLowerCase()] = operation(route, doc);
  }
  return {
    openapi: '3.1.0',
    info: { title: 'Yunjian API', version },
    components: { schemas, securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
    security: [{ bearer: [] }],
    paths,
  };
}
