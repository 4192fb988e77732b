// List on the SQLite store: one kind, optionally one namespace and a label
// selector, in (namespace, name) order, paginated by an opaque continue token
// that holds the last key returned.
import { BadRequestError } from '../../model/errors.ts';
import { matchesLabels, parseLabelSelector } from '../../model/labels.ts';
import { decodeContinue, encodeContinue } from '../objects.ts';
import type { ListOptions, ListResult, StoredObject } from '../types.ts';
import { parseDoc, type SqliteDatabase } from './database.ts';

/**
 * Items are ordered by (namespace, name). `resourceVersion` is the store
 * revision when this page was read. Each page of a paginated list reflects the
 * state at the time that page is read (like a Kubernetes continue token past
 * its compaction window), not a snapshot from the first page: every object
 * present for the whole listing is returned exactly once, while objects
 * created or deleted in between may or may not appear. An empty `namespace`
 * means all namespaces.
 */
export function listObjects(
  database: SqliteDatabase,
  kind: string,
  options: ListOptions,
): ListResult {
  database.assertOpen();
  const limit = options.limit ?? 0;
  if (!Number.isInteger(limit) || limit < 0)
    throw new BadRequestError(`limit must be a non-negative integer, got ${limit}`);
  const reqs = options.labelSelector ? parseLabelSelector(options.labelSelector) : [];
  const after = options.continue ? decodeContinue(options.continue) : undefined;
  const namespace = options.namespace ? options.namespace : undefined;

  const stmt = database.query(
    [
      'SELECT namespace, name, doc FROM objects WHERE kind = ?',
      namespace !== undefined ? 'AND namespace = ?' : '',
      after !== undefined ? 'AND (namespace, name) > (?, ?)' : '',
      'ORDER BY namespace, name',
    ].join(' '),
  );
  const params: string[] = [kind];
  if (namespace !== undefined) params.push(namespace);
  if (after !== undefined) params.push(after[0], after[1]);

  // One read transaction so the revision and the rows are the same snapshot.
  return database.transaction(() => {
    const revision = database.meta('revision');
    const items: StoredObject[] = [];
    let more = false;
    for (const row of stmt.iterate(...params)) {
      const obj = parseDoc(row);
      if (!matchesLabels(reqs, obj.metadata.labels)) continue;
      // Only report `continue` when another matching item really exists.
      if (limit > 0 && items.length === limit) {
        more = true;
        break;
      }
      items.push(obj);
    }
    const result: ListResult = { items, resourceVersion: String(revision) };
    const last = items[items.length - 1];
    if (more && last !== undefined)
      result.continue = encodeContinue([last.metadata.namespace ?? '', last.metadata.name]);
    return result;
  }, 'BEGIN');
}
