// What each write does to one object, for every backend: the preconditions
// (exists / does not exist, compare-and-set, fence) and the new document.
// A backend calls `mutate` with the revision and `read`, the objects' state
// as of the write: inside its transaction, after the earlier writes of the
// same transaction. It stores the document (or removes it for DELETED) and
// records the event.
import { randomUUID } from 'node:crypto';
import { canonical } from '../model/canonical.ts';
import { AlreadyExistsError, ConflictError } from '../model/errors.ts';
import {
  describeKey,
  keyOf,
  normalizeKey,
  notFound,
  parseRevision,
  type NormalKey,
} from './objects.ts';
import type {
  BatchOperation,
  Fence,
  ObjectKey,
  StoredObject,
  WatchEventType,
  WriteOptions,
} from './types.ts';

/** The stored object at `k` as the write sees it; undefined when absent. */
export type ObjectReader = (k: NormalKey) => StoredObject | undefined;

/** One object's write: its key and how to build its new state at a revision. */
export interface WriteStep {
  k: NormalKey;
  mutate: (revision: number, read: ObjectReader) => { type: WatchEventType; doc: StoredObject };
}

function refuseExisting(k: NormalKey, read: ObjectReader): void {
  if (read(k) !== undefined)
    throw new AlreadyExistsError(`${describeKey(k)} already exists`, {
      kind: k.kind,
      name: k.name,
    });
}

export function createStep(obj: StoredObject): WriteStep {
  const k = keyOf(obj);
  return {
    k,
    mutate: (revision, read) => {
      refuseExisting(k, read);
      const metadata: Record<string, unknown> = {
        ...obj.metadata,
        uid: randomUUID(),
        resourceVersion: String(revision),
        generation: 1,
        creationTimestamp: new Date().toISOString(),
      };
      setNamespace(metadata, k.namespace);
      return { type: 'ADDED', doc: { ...obj, metadata } as StoredObject };
    },
  };
}

/**
 * A restore: the object exactly as backed up (uid, generation,
 * creationTimestamp, status kept) at a new revision. AlreadyExists when present.
 */
export function restoreStep(obj: StoredObject): WriteStep {
  const k = keyOf(obj);
  return {
    k,
    mutate: (revision, read) => {
      refuseExisting(k, read);
      return { type: 'ADDED', doc: atRevision(obj, revision) };
    },
  };
}

export function updateStep(obj: StoredObject, options: WriteOptions | undefined): WriteStep {
  const k = keyOf(obj);
  return existingStep(k, expectedVersion(obj, options), (stored, revision) => {
    const specChanged = canonical(obj.spec) !== canonical(stored.spec);
    const generation = (stored.metadata.generation ?? 1) + (specChanged ? 1 : 0);
    // Caller's metadata replaces the stored one except for server-owned fields.
    const metadata: Record<string, unknown> = {
      ...obj.metadata,
      uid: stored.metadata.uid,
      resourceVersion: String(revision),
      generation,
      creationTimestamp: stored.metadata.creationTimestamp,
    };
    setNamespace(metadata, k.namespace);
    return {
      type: 'MODIFIED',
      doc: withStatus({ ...obj, metadata } as StoredObject, stored.status),
    };
  });
}

export function updateStatusStep(obj: StoredObject, options: WriteOptions | undefined): WriteStep {
  const k = keyOf(obj);
  return existingStep(k, expectedVersion(obj, options), (stored, revision) => ({
    type: 'MODIFIED',
    doc: withStatus(atRevision(stored, revision), obj.status),
  }));
}

export function deleteStep(key: ObjectKey, options: WriteOptions | undefined): WriteStep {
  const k = normalizeKey(key);
  return existingStep(k, expectedVersion(undefined, options), (stored, revision) => ({
    type: 'DELETED',
    doc: atRevision(stored, revision),
  }));
}

export function batchStep(o: BatchOperation): WriteStep {
  switch (o.op) {
    case 'create':
      return createStep(o.object);
    case 'update':
      return updateStep(o.object, o.options);
    case 'updateStatus':
      return updateStatusStep(o.object, o.options);
    case 'delete':
      return deleteStep(o.key, o.options);
  }
}

/** The fence's lease key, checked when the fence is (see checkFence). */
export function fenceKey(fence: Fence): NormalKey {
  parseRevision(fence.resourceVersion, 'fence.resourceVersion');
  return normalizeKey(fence.key);
}

/** Throws ConflictError unless the lease object is still at the fenced resourceVersion. */
export function checkFence(read: ObjectReader, fence: Fence): void {
  const k = fenceKey(fence);
  const current = read(k)?.metadata.resourceVersion;
  if (current === fence.resourceVersion) return;
  throw new ConflictError(
    `fenced write refused: ${describeKey(k)} is ${current === undefined ? 'gone' : `at resourceVersion ${current}`}, not ${fence.resourceVersion}; the writer no longer holds it`,
    { kind: k.kind, name: k.name },
  );
}

/**
 * A write to an existing object: `build` gets the stored object once it has
 * passed the compare-and-set check against `expected`.
 */
function existingStep(
  k: NormalKey,
  expected: string | undefined,
  build: (stored: StoredObject, revision: number) => { type: WatchEventType; doc: StoredObject },
): WriteStep {
  return { k, mutate: (revision, read) => build(current(read, k, expected), revision) };
}

/** The stored object, after the compare-and-set check against `expected`. */
function current(read: ObjectReader, k: NormalKey, expected: string | undefined): StoredObject {
  const stored = read(k);
  if (stored === undefined) throw notFound(k);
  const revision = stored.metadata.resourceVersion;
  if (expected !== undefined && expected !== revision) {
    throw new ConflictError(
      `${describeKey(k)}: resourceVersion ${expected} is stale (current ${revision}); re-read and retry`,
      { kind: k.kind, name: k.name },
    );
  }
  return stored;
}

/** The CAS precondition: the explicit option, else the object's own resourceVersion; null means none. */
function expectedVersion(
  obj: StoredObject | undefined,
  options: WriteOptions | undefined,
): string | undefined {
  const explicit = options?.expectedResourceVersion;
  const expected = explicit === null ? undefined : (explicit ?? obj?.metadata.resourceVersion);
  if (expected !== undefined) parseRevision(expected, 'resourceVersion');
  return expected;
}

function setNamespace(metadata: Record<string, unknown>, namespace: string): void {
  if (namespace === '') delete metadata.namespace;
  else metadata.namespace = namespace;
}

function atRevision(stored: StoredObject, revision: number): StoredObject {
  return { ...stored, metadata: { ...stored.metadata, resourceVersion: String(revision) } };
}

/** `doc` with `status` in place of its own; none when `status` is undefined. */
function withStatus(doc: StoredObject, status: unknown): StoredObject {
  const { status: _replaced, ...rest } = doc;
  return status === undefined ? rest : { ...rest, status };
}
