// Server-side apply of a multi-document YAML or JSON body. All documents are
// parsed and validated before anything is written, so a batch with one bad
// document changes nothing. Writes then happen in document order (a Cloud before
// the Sites that name it), each one create-or-update.
import { parseAllDocuments } from 'yaml';
import {
  AlreadyExistsError,
  BadRequestError,
  ConflictError,
  NotFoundError,
  ValidationError,
  type FieldCause,
} from '../model/errors.ts';
import { DEFAULT_NAMESPACE, lookupKind } from '../model/kinds.ts';
import type { AnyResource } from '../model/schema.ts';
import { validateResource } from '../model/validate.ts';
import { canonical } from '../model/canonical.ts';
import type { Store, StoredObject } from '../store/types.ts';

export interface ApplyResultItem {
  kind: string;
  namespace?: string;
  name: string;
  action: 'created' | 'configured' | 'unchanged';
  resourceVersion: string;
}

/** Splits a request body into documents; YAML errors name the document and line. */
export function parseDocuments(body: unknown): unknown[] {
  if (typeof body !== 'string') {
    if (Array.isArray(body)) return body as unknown[];
    if (
      typeof body === 'object' &&
      body !== null &&
      Array.isArray((body as { items?: unknown }).items)
    ) {
      return (body as { items: unknown[] }).items;
    }
    return [body];
  }
  const docs = parseAllDocuments(body);
  if (!Array.isArray(docs)) return []; // an empty stream
  const out: unknown[] = [];
  docs.forEach((doc, i) => {
    const err = doc.errors[0];
    if (err) {
      const line = err.linePos?.[0];
      throw new BadRequestError(
        `YAML document ${i + 1}${line ? ` (line ${line.line}, column ${line.col})` : ''}: ${err.message.split('\n')[0] ?? ''}`,
      );
    }
    const value: unknown = doc.toJS();
    if (value !== null && value !== undefined) out.push(value);
  });
  return out;
}

/**
 * Validates one document in the context of a request: namespaced kinds get the
 * request's namespace when they name none; a document that names a different
 * namespace than the URL is rejected rather than silently moved.
 */
export function admit(doc: unknown, subject: string, urlNamespace?: string): AnyResource {
  const resource = validateResource(doc, subject);
  const info = lookupKind(resource.kind);
  if (info?.namespaced) {
    const ns = resource.metadata.namespace;
    if (ns === undefined) resource.metadata.namespace = urlNamespace ?? DEFAULT_NAMESPACE;
    else if (urlNamespace !== undefined && ns !== urlNamespace) {
      throw new ValidationError(subject, [
        {
          field: 'metadata.namespace',
          message: `expected "${urlNamespace}" (the request's namespace), got "${ns}"`,
        },
      ]);
    }
  }
  return resource;
}

function sameDesiredState(a: StoredObject, b: StoredObject): boolean {
  return (
    canonical(a.spec) === canonical(b.spec) &&
    canonical(a.metadata.labels ?? {}) === canonical(b.metadata.labels ?? {}) &&
    canonical(a.metadata.annotations ?? {}) === canonical(b.metadata.annotations ?? {})
  );
}

export async function applyDocuments(
  store: Store,
  docs: unknown[],
  options: { namespace?: string; dryRun?: boolean },
): Promise<ApplyResultItem[]> {
  if (docs.length === 0) throw new BadRequestError('nothing to apply: the body holds no documents');
  const admitted: AnyResource[] = [];
  const causes: FieldCause[] = [];
  const problems: string[] = [];
  docs.forEach((doc, i) => {
    const subject = docs.length > 1 ? `document ${i + 1}` : 'document';
    try {
      admitted.push(admit(doc, subject, options.namespace));
    } catch (err) {
      if (!(err instanceof ValidationError)) throw err;
      problems.push(err.message);
      const prefix = docs.length > 1 ? `[${i}].` : '';
      causes.push(...err.causes.map((c) => ({ field: `${prefix}${c.field}`, message: c.message })));
    }
  });
  if (causes.length > 0) {
    const err = new ValidationError('apply', causes);
    err.message = problems.join('\n');
    throw err;
  }
  const seen = new Set<string>();
  for (const r of admitted) {
    const id = `${r.kind}/${r.metadata.namespace ?? ''}/${r.metadata.name}`;
    if (seen.has(id))
      throw new BadRequestError(`${r.kind} "${r.metadata.name}" appears twice in one apply`);
    seen.add(id);
  }
  const results: ApplyResultItem[] = [];
  for (const r of admitted) results.push(await applyOne(store, r, options.dryRun === true));
  return results;
}

/**
 * Create-or-update with a bounded retry: a concurrent creator can win between
 * our read and our create, and a concurrent writer can bump the revision between
 * our read and a CAS update; both are resolved by re-reading.
 */
async function applyOne(store: Store, r: AnyResource, dryRun: boolean): Promise<ApplyResultItem> {
  const key = { kind: r.kind, namespace: r.metadata.namespace, name: r.metadata.name };
  const item = (action: ApplyResultItem['action'], rv: string): ApplyResultItem => ({
    kind: r.kind,
    ...(r.metadata.namespace !== undefined ? { namespace: r.metadata.namespace } : {}),
    name: r.metadata.name,
    action,
    resourceVersion: rv,
  });
  const doc: StoredObject = {
    apiVersion: r.apiVersion,
    kind: r.kind,
    metadata: { ...r.metadata },
    spec: r.spec,
  };
  for (let attempt = 0; attempt < 5; attempt++) {
    const current = await store.get(key).catch((err: unknown) => {
      if (err instanceof NotFoundError) return undefined;
      throw err;
    });
    if (!current) {
      if (dryRun) return item('created', '0');
      try {
        const created = await store.create(doc);
        return item('created', created.metadata.resourceVersion ?? '');
      } catch (err) {
        if (err instanceof AlreadyExistsError) continue;
        throw err;
      }
    }
    const currentRv = current.metadata.resourceVersion ?? '';
    if (sameDesiredState(current, doc)) return item('unchanged', currentRv);
    if (dryRun) return item('configured', currentRv);
    // An explicit resourceVersion in the document is the user's CAS; otherwise
    // apply CASes against what it just read.
    const expected = r.metadata.resourceVersion ?? currentRv;
    try {
      const updated = await store.update(doc, { expectedResourceVersion: expected });
      return item('configured', updated.metadata.resourceVersion ?? '');
    } catch (err) {
      if (err instanceof ConflictError && r.metadata.resourceVersion === undefined) continue;
      throw err;
    }
  }
  throw new ConflictError(
    `${r.kind} "${r.metadata.name}" kept changing while being applied; retry`,
  );
}
