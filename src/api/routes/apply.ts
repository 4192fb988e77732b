// `POST /api/v1alpha1/apply`: server-side apply of one or more documents
// (multi-document YAML, or JSON: one object, an array or a List), all or
// nothing (admission/apply.ts). Authorization checks each document first
// (api/authz.ts), as the body names the objects.
import type { FastifyInstance } from 'fastify';
import { API_VERSION } from '../../model/schema.ts';
import type { Store } from '../../store/types.ts';
import { applyDocuments, parseDocuments } from '../../admission/apply.ts';
import type { RouteDoc } from '../openapi.ts';
import type { ApiPlugin } from '../server.ts';
import { BASE, isTrue } from './resources.ts';

const APPLY_DOC: RouteDoc = {
  tags: ['Apply'],
  summary:
    'Server-side apply of one or more documents (multi-document YAML or JSON); all are validated before any is written',
  query: [
    {
      name: 'namespace',
      type: 'string',
      description: 'The namespace of namespaced documents that name none',
    },
    { name: 'dryRun', type: 'boolean', description: 'Validate and plan, write nothing' },
  ],
  body: {
    description: 'A resource, an array of resources or a List of them; or YAML documents',
  },
  yaml: true,
  response: {
    status: 200,
    description: 'ApplyResult: per document, created, configured or unchanged',
  },
  errors: {
    '400': 'BadRequest: unparsable, too many documents, too deep, or a duplicate key',
    '409': 'Conflict: a stale resourceVersion; nothing was written',
    '422': 'Invalid: every field error of every document; nothing was written',
  },
};

export function applyRoutes(store: Store): ApiPlugin {
  return {
    name: 'apply',
    register(app: FastifyInstance) {
      app.post<{ Querystring: { namespace?: string; dryRun?: string } }>(
        `${BASE}/apply`,
        { config: { doc: APPLY_DOC } },
        async (request) => {
          const docs = parseDocuments(request.body);
          const ns = request.query.namespace;
          const items = await applyDocuments(store, docs, {
            ...(ns ? { namespace: ns } : {}),
            dryRun: isTrue(request.query.dryRun),
          });
          return { kind: 'ApplyResult', apiVersion: API_VERSION, items };
        },
      );
    },
  };
}
