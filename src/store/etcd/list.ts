// List on the etcd store: one kind, optionally one namespace and a label
// selector, in (namespace, name) order (see layout.ts), paginated by the same
// opaque continue token as SQLite's (the last key returned).
import type { Etcd3, IKeyValue } from 'etcd3';
import { BadRequestError } from '../../model/errors.ts';
import { matchesLabels, parseLabelSelector } from '../../model/labels.ts';
import { decodeContinue, encodeContinue } from '../objects.ts';
import type { ListOptions, ListResult, StoredObject } from '../types.ts';
import { after, prefixEnd, type Layout } from './layout.ts';

/** Keys read per range request (grpc-js refuses answers over 4 MiB). */
const RANGE_CHUNK = 500;

/**
 * One page is read at one etcd revision, and `resourceVersion` is the store
 * revision at that etcd revision, so a watch from it continues exactly after
 * the page. Each page of a paginated list reflects the state when that page is
 * read, as on SQLite (the conformance suite requires it): every object present
 * for the whole listing is returned exactly once. An empty `namespace` means
 * all namespaces.
 */
export async function listObjects(
  client: Etcd3,
  layout: Layout,
  kind: string,
  options: ListOptions,
): Promise<ListResult> {
  const limit = options.limit ?? 0;
  if (!Number.isInteger(limit) || limit < 0)
    throw new BadRequestError(`limit must be a non-negative integer, got ${limit}`);
  const reqs = options.labelSelector ? parseLabelSelector(options.labelSelector) : [];
  const resume = options.continue ? decodeContinue(options.continue) : undefined;
  const namespace = options.namespace ? options.namespace : undefined;
  const prefix = layout.objects(kind, namespace);
  const end = prefixEnd(prefix);
  let start =
    resume === undefined
      ? prefix
      : after(layout.object({ kind, namespace: resume[0], name: resume[1] }));

  const first = await client.kv.txn({ success: [{ request_range: { key: layout.revision } }] });
  const at = first.header.revision;
  const counter = first.responses[0]?.response_range.kvs[0];
  const revision = counter === undefined ? '0' : counter.value.toString();

  const items: StoredObject[] = [];
  let more = false;
  for (;;) {
    const page = await client.kv.range({
      key: start,
      range_end: end,
      revision: at,
      limit: RANGE_CHUNK,
      sort_order: 'Ascend',
      sort_target: 'Key',
    });
    for (const kv of page.kvs) {
      const obj = JSON.parse(kv.value.toString()) as StoredObject;
      if (!matchesLabels(reqs, obj.metadata.labels)) continue;
      // Only report `continue` when another matching item really exists.
      if (limit > 0 && items.length === limit) {
        more = true;
        break;
      }
      items.push(obj);
    }
    const last = page.kvs[page.kvs.length - 1];
    if (more || !page.more || last === undefined) break;
    start = after(last.key);
  }
  const result: ListResult = { items, resourceVersion: revision };
  const last = items[items.length - 1];
  if (more && last !== undefined)
    result.continue = encodeContinue([last.metadata.namespace ?? '', last.metadata.name]);
  return result;
}

/** Every key in [start, end) at etcd revision `at`, in key order, read in chunks. */
export async function rangeAll(
  client: Etcd3,
  range: { start: Buffer; end: Buffer; at: string },
): Promise<IKeyValue[]> {
  const all: IKeyValue[] = [];
  let start = range.start;
  for (;;) {
    const page = await client.kv.range({
      key: start,
      range_end: range.end,
      revision: range.at,
      limit: RANGE_CHUNK,
      sort_order: 'Ascend',
      sort_target: 'Key',
    });
    all.push(...page.kvs);
    const last = page.kvs[page.kvs.length - 1];
    if (!page.more || last === undefined) return all;
    start = after(last.key);
  }
}
