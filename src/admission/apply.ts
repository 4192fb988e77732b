// Server-side apply of a multi-document YAML or JSON body, all or nothing: every
// document is parsed and validated, then each one's create-or-update is worked
// out against what is stored, then all of them are written in one store batch
// in document order (a Cloud before the Sites that name it). A document that
// fails at any stage, validation or write, leaves nothing of the apply stored.
//
// Parsing is bounded: at most MAX_APPLY_DOCUMENTS documents (the YAML stream
// is read no further), MAX_YAML_ALIASES alias expansions per document (a
// "billion laughs" is refused, not expanded), MAX_DOCUMENT_DEPTH levels of
// nesting and no key twice in one map (found in one pass, lib/yamlkeys.ts), all
// answered 400 BadRequest.
import { Composer, LineCounter, Parser } from 'yaml';
import { findDuplicateKey } from '../lib/yamlkeys.ts';
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
import type { BatchOperation, Store, StoredObject } from '../store/types.ts';

export interface ApplyResultItem {
  kind: string;
  namespace?: string;
  name: string;
  action: 'created' | 'configured' | 'unchanged';
  resourceVersion: string;
}

/** Documents one apply takes. */
export const MAX_APPLY_DOCUMENTS = 500;
/** Nesting of arrays and objects in one document (the schemas need a handful). */
export const MAX_DOCUMENT_DEPTH = 64;
/** Alias expansions in one YAML document. */
export const MAX_YAML_ALIASES = 100;

/**
 * Splits a request body (JSON already parsed, or a YAML string) into at most
 * MAX_APPLY_DOCUMENTS documents; errors name the document and, for YAML, the line.
 */
export function parseDocuments(body: unknown): unknown[] {
  const docs = typeof body === 'string' ? parseYaml(body) : documentsOf(body);
  checkDocumentCount(docs.length);
  docs.forEach((doc, i) => checkDepth(doc, docs.length > 1 ? `document ${i + 1}` : 'document'));
  return docs;
}

function documentsOf(body: unknown): unknown[] {
  if (Array.isArray(body)) return body as unknown[];
  if (
    typeof body === 'object' &&
    body !== null &&
    Array.isArray((body as { items?: unknown }).items)
  )
    return (body as { items: unknown[] }).items;
  return [body];
}

function checkDocumentCount(count: number): void {
  if (count > MAX_APPLY_DOCUMENTS)
    throw new BadRequestError(
      `too many documents: one request takes at most ${MAX_APPLY_DOCUMENTS}; split the apply`,
    );
}

function parseYaml(text: string): unknown[] {
  const out: unknown[] = [];
  let index = 0;
  const lines = new LineCounter();
  const at = (offset: number) => {
    const { line, col } = lines.linePos(offset);
    return `YAML document ${index} (line ${line}, column ${col})`;
  };
  // Composed one document at a time, so an over-long stream stops at the limit.
  const composer = new Composer({ uniqueKeys: false });
  for (const doc of composer.compose(new Parser(lines.addNewLine).parse(text))) {
    index++;
    checkDocumentCount(index);
    const err = doc.errors[0];
    if (err) throw new BadRequestError(`${at(err.pos[0])}: ${err.message.split('\n')[0] ?? ''}`);
    const duplicate = findDuplicateKey(doc.contents);
    if (duplicate)
      throw new BadRequestError(
        `${at(duplicate.offset)}: duplicate key ${duplicate.path}: a key may appear once in a map`,
        {
          causes: [
            { field: duplicate.path, message: 'expected a key that appears once in its map' },
          ],
        },
      );
    let value: unknown;
    try {
      value = doc.toJS({ maxAliasCount: MAX_YAML_ALIASES });
    } catch (e) {
      // The yaml package refuses alias bombs and cyclic aliases with a ReferenceError.
      if (!(e instanceof ReferenceError)) throw e;
      throw new BadRequestError(
        `YAML document ${index}: ${e.message}; at most ${MAX_YAML_ALIASES} alias expansions are allowed`,
      );
    }
    if (value !== null && value !== undefined) out.push(value);
  }
  return out;
}

/** Refuses a value nested deeper than MAX_DOCUMENT_DEPTH, without recursing. */
export function checkDepth(value: unknown, subject: string): void {
  const pending: [unknown, number][] = [[value, 1]];
  for (let next = pending.pop(); next !== undefined; next = pending.pop()) {
    const [v, depth] = next;
    if (typeof v !== 'object' || v === null) continue;
    if (depth > MAX_DOCUMENT_DEPTH)
      throw new BadRequestError(
        `${subject} is nested too deeply: at most ${MAX_DOCUMENT_DEPTH} levels of objects and arrays`,
      );
    for (const child of Object.values(v)) pending.push([child, depth + 1]);
  }
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
  for (let attempt = 1; ; attempt++) {
    const plans = await Promise.all(admitted.map((r) => planOne(store, r)));
    if (options.dryRun === true) return plans.map((p) => p.item);
    const writing = plans.filter((p) => p.operation !== undefined);
    try {
      const written = await store.batch(writing.map((p) => p.operation!));
      writing.forEach((p, i) => {
        p.item.resourceVersion = written[i]?.metadata.resourceVersion ?? '';
      });
      return plans.map((p) => p.item);
    } catch (err) {
      // Another writer got in between the plan and the batch (a create, an
      // update, a delete): plan again from what is stored now.
      const raced =
        err instanceof ConflictError ||
        err instanceof AlreadyExistsError ||
        err instanceof NotFoundError;
      if (!raced || attempt === APPLY_ATTEMPTS) throw err;
    }
  }
}

/** Plans of one apply made before giving up on objects that keep changing under it. */
const APPLY_ATTEMPTS = 5;

interface Plan {
  item: ApplyResultItem;
  /** The write, absent when the stored object already is as asked. */
  operation?: BatchOperation;
}

/**
 * What applying one document means now: create when absent, nothing when its
 * spec, labels and annotations are as stored, otherwise an update CASed on
 * what was read. An explicit resourceVersion in the document is the user's
 * CAS, checked here so that a stale one fails the apply at once.
 */
async function planOne(store: Store, r: AnyResource): Promise<Plan> {
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
  const current = await store.get(key).catch((err: unknown) => {
    if (err instanceof NotFoundError) return undefined;
    throw err;
  });
  if (!current) return { item: item('created', '0'), operation: { op: 'create', object: doc } };
  const currentRv = current.metadata.resourceVersion ?? '';
  const expected = r.metadata.resourceVersion ?? currentRv;
  if (expected !== currentRv)
    throw new ConflictError(
      `${r.kind} "${r.metadata.name}": resourceVersion ${expected} is stale (current ${currentRv}); re-read and retry`,
      { kind: r.kind, name: r.metadata.name },
    );
  if (sameDesiredState(current, doc)) return { item: item('unchanged', currentRv) };
  return {
    item: item('configured', currentRv),
    operation: { op: 'update', object: doc, options: { expectedResourceVersion: expected } },
  };
}
