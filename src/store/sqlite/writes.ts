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
import { UnavailableError } from '../../model/errors.ts';
import type { NormalKey } from '../objects.ts';
import { checkFence, type ObjectReader, type WriteStep } from '../steps.ts';
import type { Fence, StoredObject } from '../types.ts';
import { parseDoc, type SqliteDatabase } from './database.ts';
import type { Change } from './watch.ts';

/** A write waiting for the group commit: one step, or a whole `batch`. */
interface PendingWrite {
  steps: WriteStep[];
  fence: Fence | undefined;
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
  enqueue(steps: WriteStep[], fence?: Fence): Promise<StoredObject[]> {
    this.#database.assertOpen();
    return new Promise((resolve, reject) => {
      this.#queue.push({ steps, fence, resolve, reject });
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
        batch.map((w) =>
          this.#database.savepoint(() => {
            if (w.fence !== undefined) checkFence(this.#read, w.fence);
            return w.steps.map((step) => this.#apply(step));
          }),
        ),
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

  /** The committed state inside the current transaction: what each step reads. */
  readonly #read: ObjectReader = (k: NormalKey) => {
    const row = this.#database.stmt.getObject.get(k.kind, k.namespace, k.name);
    return row === undefined ? undefined : parseDoc(row);
  };

  #apply({ k, mutate }: WriteStep): Change {
    const { stmt } = this.#database;
    const revision = this.#database.meta('revision') + 1;
    const { type, doc } = mutate(revision, this.#read);
    const json = JSON.stringify(doc);
    if (type === 'DELETED') stmt.deleteObject.run(k.kind, k.namespace, k.name);
    else stmt.putObject.run(k.kind, k.namespace, k.name, revision, json);
    stmt.insertEvent.run(revision, type, k.kind, k.namespace, k.name, json);
    stmt.setMeta.run(revision, 'revision');
    const compacted = this.#database.meta('compacted');
    if (revision - compacted >= this.#retention.events + this.#retention.compactBatch) {
      const upTo = revision - this.#retention.events;
      stmt.deleteEventsUpTo.run(upTo);
      stmt.setMeta.run(upTo, 'compacted');
    }
    const labels = doc.metadata.labels;
    return { revision, type, kind: k.kind, namespace: k.namespace, labels, doc: json };
  }
}
