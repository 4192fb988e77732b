// The embedded Store backend: one SQLite file through Node's built-in node:sqlite.
//
// The parts, each with the invariants it keeps:
//   sqlite/database.ts  the tables, file modes, statements and transactions
//   sqlite/writes.ts    the write path: group commit (durability, ordering), batch, compaction
//   sqlite/list.ts      list and its continue tokens
//   sqlite/watch.ts     watchers: catching up from the events table, then live
import type {
  BackendStore,
  BatchOperation,
  BatchOptions,
  ListOptions,
  ListResult,
  ObjectKey,
  Snapshot,
  StoredObject,
  Watch,
  WatchOptions,
  WriteOptions,
} from './types.ts';
import { parseDoc, SqliteDatabase } from './sqlite/database.ts';
import { listObjects } from './sqlite/list.ts';
import { normalizeKey, notFound } from './objects.ts';
import { Watchers } from './sqlite/watch.ts';
import { GroupCommit } from './sqlite/writes.ts';
import {
  batchStep,
  createStep,
  deleteStep,
  restoreStep,
  updateStatusStep,
  updateStep,
} from './steps.ts';

export interface SqliteStoreOptions {
  /** Database file (its directory is created 0700 if missing; the files are 0600), or `:memory:`. */
  path: string;
  /**
   * How many of the most recent change events are always kept for watches to
   * resume from. Older ones are removed in batches as writes happen. Default 100000.
   */
  eventRetention?: number;
  /**
   * How many undelivered events one watcher may have queued. A watcher that
   * falls further behind ends with ExpiredError (its client re-lists), so a slow
   * reader never holds up writers or grows memory without bound. Default 10000.
   */
  watchBufferSize?: number;
}

export function openSqliteStore(options: SqliteStoreOptions): SqliteStore {
  return new SqliteStore(options);
}

export class SqliteStore implements BackendStore {
  readonly path: string;
  readonly #db: SqliteDatabase;
  readonly #watchers: Watchers;
  readonly #commits: GroupCommit;

  constructor(options: SqliteStoreOptions) {
    this.path = options.path;
    const retention = positiveInteger(options.eventRetention ?? 100_000, 'eventRetention');
    // Compact in batches of ~10% so the DELETE runs rarely, never below `retention`.
    const compactBatch = Math.max(1, Math.min(10_000, Math.floor(retention / 10)));
    const watchBufferSize = positiveInteger(options.watchBufferSize ?? 10_000, 'watchBufferSize');
    this.#db = new SqliteDatabase(options.path);
    this.#watchers = new Watchers(this.#db, watchBufferSize);
    this.#commits = new GroupCommit(this.#db, { events: retention, compactBatch }, (change) =>
      this.#watchers.deliver(change),
    );
  }

  get(key: ObjectKey): Promise<StoredObject> {
    return attempt(() => {
      const k = normalizeKey(key);
      this.#db.assertOpen();
      const row = this.#db.stmt.getObject.get(k.kind, k.namespace, k.name);
      if (row === undefined) throw notFound(k);
      return parseDoc(row);
    });
  }

  /** See listObjects for ordering and what a page reflects. */
  list(kind: string, options: ListOptions = {}): Promise<ListResult> {
    return attempt(() => listObjects(this.#db, kind, options));
  }

  create(obj: StoredObject): Promise<StoredObject> {
    return attempt(() => this.#commits.enqueue([createStep(obj)])).then(only);
  }

  update(obj: StoredObject, options?: WriteOptions): Promise<StoredObject> {
    return attempt(() => this.#commits.enqueue([updateStep(obj, options)])).then(only);
  }

  updateStatus(obj: StoredObject, options?: WriteOptions): Promise<StoredObject> {
    return attempt(() => this.#commits.enqueue([updateStatusStep(obj, options)])).then(only);
  }

  delete(key: ObjectKey, options?: WriteOptions): Promise<StoredObject> {
    return attempt(() => this.#commits.enqueue([deleteStep(key, options)])).then(only);
  }

  /** One SAVEPOINT in the next group commit holds the fence check and every step (see GroupCommit). */
  batch(
    operations: readonly BatchOperation[],
    options: BatchOptions = {},
  ): Promise<StoredObject[]> {
    return attempt(() => {
      this.#db.assertOpen();
      if (operations.length === 0) return [];
      return this.#commits.enqueue(
        operations.map((o) => batchStep(o)),
        options.fence,
      );
    });
  }

  /** One read transaction: the revision and every object, as of the same commit. */
  snapshot(): Promise<Snapshot> {
    return attempt(() => {
      this.#db.assertOpen();
      const all = this.#db.query('SELECT doc FROM objects ORDER BY kind, namespace, name');
      return this.#db.transaction(
        () => ({
          revision: String(this.#db.meta('revision')),
          objects: all.all().map((row) => parseDoc(row)),
        }),
        'BEGIN',
      );
    });
  }

  /** One group commit, like `batch`. */
  restore(objects: readonly StoredObject[]): Promise<StoredObject[]> {
    return attempt(() => {
      this.#db.assertOpen();
      if (objects.length === 0) return [];
      return this.#commits.enqueue(objects.map(restoreStep));
    });
  }

  /** See Watchers.open for when errors surface. */
  watch(options: WatchOptions = {}): Watch {
    return this.#watchers.open(options);
  }

  revision(): Promise<string> {
    return attempt(() => {
      this.#db.assertOpen();
      return String(this.#db.meta('revision'));
    });
  }

  /**
   * Compacts every change event, rewrites the file and empties the WAL, so
   * that no earlier version of any object is left in the store's files: what
   * re-encryption needs (see encrypted.ts). A watch resuming from before now
   * gets ExpiredError and re-lists; live watches go on.
   */
  purgeHistory(): Promise<void> {
    return attempt(() => {
      this.#db.assertOpen();
      this.#commits.flush();
      this.#db.purgeHistory();
    });
  }

  /** Ends every watch, then closes the database. Idempotent. */
  close(): Promise<void> {
    return attempt(() => {
      if (this.#db.closed) return;
      this.#commits.flush();
      this.#watchers.closeAll();
      this.#db.close();
    });
  }
}

/** The single object a one-step write resolves with. */
function only(written: StoredObject[]): StoredObject {
  const [obj] = written;
  if (obj === undefined) throw new Error('SQLite store: a write resolved with no object');
  return obj;
}

/** Runs `fn` now; its result or exception becomes the promise's. */
function attempt<T>(fn: () => T | Promise<T>): Promise<T> {
  return new Promise<T>((resolve) => resolve(fn()));
}

function positiveInteger(n: number, what: string): number {
  if (!Number.isSafeInteger(n) || n < 1)
    throw new RangeError(`${what} must be a positive integer, got ${n}`);
  return n;
}
