// `POST .../applications/{name}/rebalance`: asks the application controller
// for a fresh placement by stamping an annotation; the controller moves
// replicas make-before-break.
import type { FastifyInstance } from 'fastify';
import { ConflictError } from '../../model/errors.ts';
import { REBALANCE_ANNOTATION } from '../../model/wellknown.ts';
import type { Store } from '../../store/types.ts';
import { schemaRef, type RouteDoc } from '../openapi.ts';
import type { ApiPlugin } from '../server.ts';
import { BASE } from './resources.ts';

/** Writes of the annotation that lose a race to another writer before the request gives up. */
const ATTEMPTS = 5;

const REBALANCE_DOC: RouteDoc = {
  tags: ['Application'],
  summary: `Place the application afresh: stamps ${REBALANCE_ANNOTATION}; replicas move make-before-break`,
  response: {
    status: 200,
    description: 'The annotated Application',
    schema: schemaRef('Application'),
  },
  errors: { '404': 'NotFound', '409': 'Conflict: the application kept changing' },
};

export function rebalanceRoutes(store: Store): ApiPlugin {
  return {
    name: 'rebalance',
    register(app: FastifyInstance) {
      app.post<{ Params: { namespace: string; name: string } }>(
        `${BASE}/namespaces/:namespace/applications/:name/rebalance`,
        { config: { doc: REBALANCE_DOC } },
        async (request) => {
          const { namespace, name } = request.params;
          for (let attempt = 1; ; attempt++) {
            const current = await store.get({ kind: 'Application', namespace, name });
            try {
              return await store.update({
                ...current,
                metadata: {
                  ...current.metadata,
                  annotations: {
                    ...current.metadata.annotations,
                    [REBALANCE_ANNOTATION]: new Date().toISOString(),
                  },
                },
              });
            } catch (err) {
              if (!(err instanceof ConflictError) || attempt >= ATTEMPTS) throw err;
            }
          }
        },
      );
    },
  };
}
