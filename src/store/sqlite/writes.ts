// The SQLite store's write path: how each write builds its new state, and the
// group commit that stores it.
//
// Durability: WAL journal with synchronous=FULL. Writes are group-committed:
// the writes issued in one turn of the event loop run in one
// `BEGIN IMMEDIATE ... COMMIT` (each inside its own SAVEPOINT, so a failed
// precondition rolls back that write alone), and a write's promise resolves
// only after COMMIT, so when it resolves its object, its event and the
// revision counter are on disk together or not at all. One fsync then serves a
// whole batch, which is what lets a reconcile storm keep up.
//
// Ordering: node:sqlite is synchronous and this process is the only writer (the
// store assumes it owns the file). A batch therefore runs start to finish in one
// turn of the event loop, and live watchers are handed its events, in revision
// order, right after COMMIT in that same turn. Writes reach watchers in exactly
// revision order, and a watcher catching up from the events table can switch to
// live delivery between two batches without missing or repeating one (see
// SqliteWatch).
import { randomUUID } from 'node:crypto';
import { canonical } from '../../model/canonical.ts';
import { AlreadyExistsError, ConflictError, UnavailableError } from '../../model/errors.ts';
import type {
  BatchOperation,
  ObjectKey,
  StoredObject,
  WatchEventType,
  WriteOptions,
} from '../types.ts';
import { int, parseDoc, type SqliteDatabase, type Statements } from './database.ts';
import {
  describeKey,
  keyOf,
  normalizeKey,
  notFound,
  parseRevision,
  type NormalKey,
} from './objects.ts';
import type { Change } from './watch.ts';

/** One object's write: its key and how to build its new state at a revision. */
export interface WriteStep {
  k: NormalKey;
  mutate: (revision: number) => { type: WatchEventType; doc: object };
}

/** A write waiting for the group commit: one step, or a whole `batch`. */
interface PendingWrite {
  steps: WriteStep[];
  resolve: (written: StoredObject[]) => void;
  reject: (err: unknown) => void;
}

export interface Retention {
  /** How many of the most recent events are always kept. */
  events: number;
  /** How many events past `events` accumulate before one DELETE removes them. */
  compactBatch: number;
}

/** Queues writes and commits each turn's queue in one transaction (see the header). */
export class GroupCommit {
  readonly #database: SqliteDatabase;
  readonly #retention: Retention;
  readonly #publish: (change: Change) => void;
  /** Writes waiting for the next group commit. */
  #queue: PendingWrite[] = [];

  constructor(database: SqliteDatabase, retention: Retention, publish: (change: Change) => void) {
    this.#database = database;
    this.#retention = retention;
    this.#publish = publish;
  }

  /**
   * Queues one write (its steps all or none) for the next group commit. Inside
   * the batch's transaction, each step takes the next revision, lets `mutate`
   * check preconditions and build the new document, then stores the object (or
   * removes it for DELETED), appends the event, advances the counter and
   * compacts old events. Watchers see the changes only after COMMIT.
   */
  enqueue(steps: WriteStep[]): Promise<StoredObject[]> {
    this.#database.assertOpen();
    return new Promise((resolve, reject) => {
      this.#queue.push({ steps, resolve, reject });
      if (this.#queue.length === 1) setImmediate(() => this.flush());
    });
  }

  /** Commits every queued write now. */
  flush(): void {
    const batch = this.#queue;
    if (batch.length === 0) return;
    this.#queue = [];
    if (this.#database.closed) {
      const err = new UnavailableError(`the store ${this.#database.path} is closed`);
      for (const w of batch) w.reject(err);
      return;
    }
    let outcomes: ({ result: Change[] } | { error: unknown })[];
    try {
      outcomes = this.#database.transaction(() =>
        batch.map((w) => this.#database.savepoint(() => w.steps.map((step) => this.#apply(step)))),
      );
    } catch (err) {
      // COMMIT itself failed (disk full, I/O error): nothing of the batch is stored.
      const error =
        err instanceof Error ? new UnavailableError(`commit failed: ${err.message}`) : err;
      for (const w of batch) w.reject(error);
      return;
    }
    for (const o of outcomes) if ('result' in o) for (const c of o.result) this.#publish(c);
    batch.forEach((w, i) => {
      const o = outcomes[i]!;
      // Fresh copies: neither the caller's input nor the watchers' events alias them.
      if ('result' in o) w.resolve(o.result.map((c) => JSON.parse(c.doc) as StoredObject));
      else w.reject(o.error);
    });
  }

  #apply({ k, mutate }: WriteStep): Change {
    const { stmt } = this.#database;
    const revision = this.#database.meta('revision') + 1;
    const { type, doc } = mutate(revision);
    const json = JSON.stringify(doc);
    if (type !== 'DELETED') stmt.putObject.run(k.kind, k.namespace, k.name, revision, json);
    stmt.insertEvent.run(revision, type, k.kind, k.namespace, k.name, json);
    stmt.setMeta.run(revision, 'revision');
    const compacted = this.#database.meta('compacted');
    if (revision - compacted >= this.#retention.events + this.#retention.compactBatch) {
      const upTo = revision - this.#retention.events;
      stmt.deleteEventsUpTo.run(upTo);
      stmt.setMeta.run(upTo, 'compacted');
    }
    const labels = (doc as StoredObject).metadata.labels;
    return { revision, type, kind: k.kind, namespace: k.namespace, labels, doc: json };
  }
}

export function createStep(stmt: Statements, obj: StoredObject): WriteStep {
  const k = keyOf(obj);
  return {
    k,
    mutate: (revision) => {
      if (stmt.getObject.get(k.kind, k.namespace, k.name) !== undefined) {
        throw new AlreadyExistsError(`${describeKey(k)} already exists`, {
          kind: k.kind,
          name: k.name,
        });
      }
      const metadata: Record<string, unknown> = {
        ...obj.metadata,
        uid: randomUUID(),
        resourceVersion: String(revision),
        generation: 1,
        creationTimestamp: new Date().toISOString(),
      };
      setNamespace(metadata, k.namespace);
      return { type: 'ADDED', doc: { ...obj, metadata } };
    },
  };
}

export function updateStep(
  stmt: Statements,
  obj: StoredObject,
  options: WriteOptions | undefined,
): WriteStep {
  const k = keyOf(obj);
  return existingStep(stmt, k, expectedVersion(obj, options), (stored, revision) => {
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
    return { type: 'MODIFIED', doc: withStatus({ ...obj, metadata }, stored.status) };
  });
}

export function updateStatusStep(
  stmt: Statements,
  obj: StoredObject,
  options: WriteOptions | undefined,
): WriteStep {
  const k = keyOf(obj);
  return existingStep(stmt, k, expectedVersion(obj, options), (stored, revision) => ({
    type: 'MODIFIED',
    doc: withStatus(atRevision(stored, revision), obj.status),
  }));
}

export function deleteStep(
  stmt: Statements,
  key: ObjectKey,
  options: WriteOptions | undefined,
): WriteStep {
  const k = normalizeKey(key);
  return existingStep(stmt, k, expectedVersion(undefined, options), (stored, revision) => {
    stmt.deleteObject.run(k.kind, k.namespace, k.name);
    return { type: 'DELETED', doc: atRevision(stored, revision) };
  });
}

export function batchStep(stmt: Statements, o: BatchOperation): WriteStep {
  switch (o.op) {
    case 'create':
      return createStep(stmt, o.object);
    case 'update':
      return updateStep(stmt, o.object, o.options);
    case 'updateStatus':
      return updateStatusStep(stmt, o.object, o.options);
    case 'delete':
      return deleteStep(stmt, o.key, o.options);
  }
}

/**
 * A write to an existing object: `build` gets the stored object once it has
 * passed the compare-and-set check against `expected`.
 */
function existingStep(
  stmt: Statements,
  k: NormalKey,
  expected: string | undefined,
  build: (stored: StoredObject, revision: number) => { type: WatchEventType; doc: object },
): WriteStep {
  return { k, mutate: (revision) => build(current(stmt, k, expected), revision) };
}

/** The stored object, after the compare-and-set check against `expected`. */
function current(stmt: Statements, k: NormalKey, expected: string | undefined): StoredObject {
  const row = stmt.getObject.get(k.kind, k.namespace, k.name);
  if (row === undefined) throw notFound(k);
  const revision = String(int(row, 'revision'));
  if (expected !== undefined && expected !== revision) {
    throw new ConflictError(
      `${describeKey(k)}: resourceVersion ${expected} is stale (current ${revision}); re-read and retry`,
      {
        kind: k.kind,
        name: k.name,
      },
    );
  }
  return parseDoc(row);
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
function withStatus<T extends { status?: unknown }>(doc: T, status: unknown): object {
  const { status: _replaced, ...rest } = doc;
  return status === undefined ? rest : { ...rest, status };
}
