// Health, readiness, metrics and the API's own description. /healthz,
// /readyz and /openapi.json are open; /metrics needs a principal allowed to
// read metrics.
import type { FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';
import { toStatusBody, UnavailableError } from '../../model/errors.ts';
import type { Store } from '../../store/types.ts';
import { routeTable } from '../authz.ts';
import { buildOpenApi, type RouteDoc } from '../openapi.ts';
import type { ApiPlugin } from '../server.ts';

export interface HealthOptions {
  store: Store;
  registry: Registry;
  version: string;
  /** Extra readiness checks (controllers started, leader elected, ...). */
  ready?: () => Promise<void>;
}

const ok = {
  status: 200,
  description: 'ok',
  schema: { type: 'object', properties: { status: { const: 'ok' } } },
};
const DOCS = {
  healthz: { tags: ['Health'], summary: 'The process is up', response: ok },
  readyz: {
    tags: ['Health'],
    summary: 'The store answers and the controllers are started and leading',
    response: ok,
    errors: { '503': 'Unavailable: not ready yet' },
  },
  openapi: {
    tags: ['Health'],
    summary: 'This document: every route the server registered',
    response: { status: 200, description: 'OpenAPI 3.1' },
  },
  metrics: {
    tags: ['Health'],
    summary: 'Prometheus metrics',
    response: {
      status: 200,
      description: 'text exposition format',
      schema: { type: 'string' },
      contentType: 'text/plain',
    },
  },
} satisfies Record<string, RouteDoc>;

export function healthRoutes(options: HealthOptions): ApiPlugin {
  const { store, registry, version, ready } = options;
  return {
    name: 'health',
    publicPaths: ['/healthz', '/readyz', '/openapi.json'],
    register(app: FastifyInstance) {
      app.get('/healthz', { config: { doc: DOCS.healthz } }, async () => ({ status: 'ok' }));
      app.get('/readyz', { config: { doc: DOCS.readyz } }, async (_req, reply) => {
        await store.revision();
        try {
          await ready?.();
        } catch (err) {
          // Not leading (yet) is a standby's normal state: 503 for the load
          // balancer, but not a server error to log on every probe. A store
          // that does not answer (above) still is one.
          if (err instanceof UnavailableError)
            return reply.code(err.httpStatus).type('application/json').send(toStatusBody(err));
          throw err;
        }
        return { status: 'ok' };
      });
      // Built on the first request: by then every route is registered (Fastify
      // takes none after it starts listening).
      let openapi: Record<string, unknown> | undefined;
      app.get('/openapi.json', { config: { doc: DOCS.openapi } }, async () => {
        openapi ??= buildOpenApi(version, routeTable(app));
        return openapi;
      });
      app.get('/metrics', { config: { doc: DOCS.metrics } }, async (_req, reply) =>
        reply.type(registry.contentType).send(await registry.metrics()),
      );
    },
  };
}
