// Catalog admission: an Instance is checked against its CatalogItem (the item,
// version and plan exist; parameters satisfy the version's JSON Schema; pins
// name versions) and a CatalogItem against itself (model/catalog/items.ts)
// before either is written, by a create, a replace or an apply (where the
// item may come in the same apply). Errors are 422 with field paths, like
// schema errors. It runs after authorization (its hook is added after
// access control's) and adds no routes.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { admit, parseDocuments } from '../../admission/apply.ts';
import { catalogItemCauses } from '../../model/catalog/items.ts';
import { instanceCauses } from '../../model/catalog/parameters.ts';
import { NotFoundError, ValidationError, type FieldCause } from '../../model/errors.ts';
import type { AnyResource, CatalogItem } from '../../model/schema.ts';
import type { Store } from '../../store/types.ts';
import type { ApiPlugin } from '../server.ts';
import { BASE } from './resources.ts';

const CHECKED = new Set([
  `POST ${BASE}/namespaces/:namespace/instances`,
  `PUT ${BASE}/namespaces/:namespace/instances/:name`,
  `POST ${BASE}/catalogitems`,
  `PUT ${BASE}/catalogitems/:name`,
  `POST ${BASE}/apply`,
]);

/** The documents of a body that are valid Instances or CatalogItems (others fail in the handler). */
function catalogDocuments(request: FastifyRequest): { resource: AnyResource; prefix: string }[] {
  let docs: unknown[];
  try {
    docs = parseDocuments(request.body);
  } catch {
    return [];
  }
  const params = request.params as { namespace?: string } | undefined;
  const query = request.query as { namespace?: string } | undefined;
  const out: { resource: AnyResource; prefix: string }[] = [];
  docs.forEach((doc, i) => {
    const kind = (doc as { kind?: unknown } | null)?.kind;
    if (kind !== 'Instance' && kind !== 'CatalogItem') return;
    try {
      const resource = admit(
        structuredClone(doc),
        'document',
        params?.namespace ?? query?.namespace,
      );
      out.push({ resource, prefix: docs.length > 1 ? `[${i}].` : '' });
    } catch (err) {
      if (!(err instanceof ValidationError)) throw err;
    }
  });
  return out;
}

export async function checkCatalogDocuments(
  store: Store,
  docs: readonly { resource: AnyResource; prefix: string }[],
): Promise<void> {
  const applied = new Map<string, CatalogItem>();
  for (const { resource } of docs)
    if (resource.kind === 'CatalogItem') applied.set(resource.metadata.name, resource);
  const causes: FieldCause[] = [];
  for (const { resource, prefix } of docs) {
    let found: FieldCause[] = [];
    if (resource.kind === 'CatalogItem') found = catalogItemCauses(resource);
    else if (resource.kind === 'Instance') {
      const name = resource.spec.item;
      const item =
        applied.get(name) ??
        ((await store.get({ kind: 'CatalogItem', name }).catch((err: unknown) => {
          if (err instanceof NotFoundError) return undefined;
          throw err;
        })) as unknown as CatalogItem | undefined);
      found = instanceCauses(resource, item);
    }
    causes.push(...found.map((c) => ({ field: `${prefix}${c.field}`, message: c.message })));
  }
  if (causes.length > 0) throw new ValidationError('document', causes);
}

export function catalogRoutes(store: Store): ApiPlugin {
  return {
    name: 'catalog',
    register(app: FastifyInstance) {
      app.addHook('preHandler', async (request) => {
        if (!CHECKED.has(`${request.method} ${request.routeOptions.url ?? ''}`)) return;
        const docs = catalogDocuments(request);
        if (docs.length > 0) await checkCatalogDocuments(store, docs);
      });
    },
  };
}
