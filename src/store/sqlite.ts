// The embedded Store backend: one SQLite file through Node's built-in node:sqlite.
//
// Tables:
//   objects (kind, namespace, name) -> revision, doc   current state; namespace '' = cluster-scoped
//   events  revision -> type, kind, namespace, name, doc   one row per write; feeds watch
//   meta    'revision'  the last revision handed out (never decreases, deletes included)
//           'compacted' every event with revision <= this has been removed
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
import { chmodSync, closeSync, existsSync, mkdirSync, openSync } from 'node:fs';
import { dirname } from 'node:path';
import { DatabaseSync, type SQLOutputValue, type StatementSync } from 'node:sqlite';
import {
  AlreadyExistsError,
  BadRequestError,
  ConflictError,
  ExpiredError,
  NotFoundError,
  UnavailableError,
} from '../model/errors.ts';
import { matchesLabels, parseLabelSelector, type Requirement } from '../model/labels.ts';
import type {
  BatchOperation,
  ListOptions,
  ListResult,
  ObjectKey,
  Store,
  StoredObject,
  Watch,
  WatchEvent,
  WatchEventType,
  WatchOptions,
  WriteOptions,
} from './types.ts';

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

const SCHEMA_VERSION = 1;
/** Events read from the table per step while a watcher catches up. */
const CATCH_UP_PAGE = 256;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (
  key   TEXT PRIMARY KEY,
  value INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS objects (
  kind      TEXT NOT NULL,
  namespace TEXT NOT NULL,
  name      TEXT NOT NULL,
  revision  INTEGER NOT NULL,
  doc       TEXT NOT NULL,
  PRIMARY KEY (kind, namespace, name)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS events (
  revision  INTEGER PRIMARY KEY,
  type      TEXT NOT NULL,
  kind      TEXT NOT NULL,
  namespace TEXT NOT NULL,
  name      TEXT NOT NULL,
  doc       TEXT NOT NULL
);
INSERT OR IGNORE INTO meta (key, value) VALUES
  ('schema_version', ${SCHEMA_VERSION}), ('revision', 0), ('compacted', 0);
`;

/** A committed write, as handed to live watchers. */
interface Change {
  revision: number;
  type: WatchEventType;
  kind: string;
  namespace: string;
  /** Labels of the object in the event (the deleted state for DELETED). */
  labels: Record<string, string> | undefined;
  doc: string;
}

export function openSqliteStore(options: SqliteStoreOptions): SqliteStore {
  return new SqliteStore(options);
}

export class SqliteStore implements Store {
  readonly path: string;
  readonly #db: DatabaseSync;
  readonly #retention: number;
  readonly #compactBatch: number;
  readonly #watchBufferSize: number;
  readonly #watches = new Set<SqliteWatch>();
  readonly #stmt: ReturnType<typeof prepareStatements>;
  readonly #listStatements = new Map<string, StatementSync>();
  /** Writes waiting for the next group commit. */
  #batch: PendingWrite[] = [];
  #closed = false;

  constructor(options: SqliteStoreOptions) {
    this.path = options.path;
    this.#retention = positiveInteger(options.eventRetention ?? 100_000, 'eventRetention');
    // Compact in batches of ~10% so the DELETE runs rarely, never below `retention`.
    this.#compactBatch = Math.max(1, Math.min(10_000, Math.floor(this.#retention / 10)));
    this.#watchBufferSize = positiveInteger(options.watchBufferSize ?? 10_000, 'watchBufferSize');

    if (options.path !== ':memory:') ownerOnly(options.path);
    this.#db = new DatabaseSync(options.path, { timeout: 5000 });
    try {
      const mode = this.#db.prepare('PRAGMA journal_mode = WAL').get()?.journal_mode;
      if (options.path !== ':memory:' && mode !== 'wal') {
        throw new Error(
          `SQLite store ${options.path}: could not enable WAL journal (got ${String(mode)})`,
        );
      }
      this.#db.exec('PRAGMA synchronous = FULL');
      this.#transaction(() => this.#db.exec(SCHEMA));
      this.#stmt = prepareStatements(this.#db);
      const version = this.#meta('schema_version');
      if (version !== SCHEMA_VERSION) {
        throw new Error(
          `SQLite store ${options.path}: schema version ${version} is not supported (expected ${SCHEMA_VERSION})`,
        );
      }
    } catch (err) {
      this.#db.close();
      throw err;
    }
  }

  get(key: ObjectKey): Promise<StoredObject> {
    return attempt(() => {
      const k = normalizeKey(key);
      const row = this.#open().#stmt.getObject.get(k.kind, k.namespace, k.name);
      if (row === undefined) throw notFound(k);
      return parseDoc(row);
    });
  }

  /**
   * Items are ordered by (namespace, name). `resourceVersion` is the store
   * revision when this page was read. Each page of a paginated list reflects the
   * state at the time that page is read (like a Kubernetes continue token past
   * its compaction window), not a snapshot from the first page: every object
   * present for the whole listing is returned exactly once, while objects
   * created or deleted in between may or may not appear. An empty `namespace`
   * means all namespaces.
   */
  list(kind: string, options: ListOptions = {}): Promise<ListResult> {
    return attempt(() => {
      this.#open();
      const limit = options.limit ?? 0;
      if (!Number.isInteger(limit) || limit < 0)
        throw new BadRequestError(`limit must be a non-negative integer, got ${limit}`);
      const reqs = options.labelSelector ? parseLabelSelector(options.labelSelector) : [];
      const after = options.continue ? decodeContinue(options.continue) : undefined;
      const namespace = options.namespace ? options.namespace : undefined;

      const sql = [
        'SELECT namespace, name, doc FROM objects WHERE kind = ?',
        namespace !== undefined ? 'AND namespace = ?' : '',
        after !== undefined ? 'AND (namespace, name) > (?, ?)' : '',
        'ORDER BY namespace, name',
      ].join(' ');
      const stmt = this.#listStatements.get(sql) ?? this.#db.prepare(sql);
      this.#listStatements.set(sql, stmt);
      const params: string[] = [kind];
      if (namespace !== undefined) params.push(namespace);
      if (after !== undefined) params.push(after[0], after[1]);

      // One read transaction so the revision and the rows are the same snapshot.
      return this.#transaction(() => {
        const revision = this.#meta('revision');
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
    });
  }

  create(obj: StoredObject): Promise<StoredObject> {
    return attempt(() => this.#write([this.#createStep(obj)])).then(only);
  }

  update(obj: StoredObject, options?: WriteOptions): Promise<StoredObject> {
    return attempt(() => this.#write([this.#updateStep(obj, options)])).then(only);
  }

  updateStatus(obj: StoredObject, options?: WriteOptions): Promise<StoredObject> {
    return attempt(() => this.#write([this.#updateStatusStep(obj, options)])).then(only);
  }

  delete(key: ObjectKey, options?: WriteOptions): Promise<StoredObject> {
    return attempt(() => this.#write([this.#deleteStep(key, options)])).then(only);
  }

  /** One SAVEPOINT in the next group commit holds every step (see #flush). */
  batch(operations: readonly BatchOperation[]): Promise<StoredObject[]> {
    return attempt(() => {
      this.#open();
      if (operations.length === 0) return [];
      return this.#write(
        operations.map((o) => {
          switch (o.op) {
            case 'create':
              return this.#createStep(o.object);
            case 'update':
              return this.#updateStep(o.object, o.options);
            case 'updateStatus':
              return this.#updateStatusStep(o.object, o.options);
            case 'delete':
              return this.#deleteStep(o.key, o.options);
          }
        }),
      );
    });
  }

  /**
   * Errors (a bad selector or revision: BadRequestError; a compacted revision:
   * ExpiredError) are thrown from the first `next()`, never from `watch()`. A
   * `fromRevision` ahead of the store's revision is accepted and delivers
   * changes after it. An empty `namespace` means all namespaces.
   */
  watch(options: WatchOptions = {}): Watch {
    const watch = new SqliteWatch(this.#watchBufferSize, {
      readPage: (after, filter, limit) => this.#readEvents(after, filter, limit),
      detach: (w) => this.#watches.delete(w),
    });
    if (this.#closed) {
      watch.close();
      return watch;
    }
    try {
      const filter: EventFilter = {
        kind: options.kind || undefined,
        namespace: options.namespace || undefined,
        reqs: options.labelSelector ? parseLabelSelector(options.labelSelector) : [],
      };
      const current = this.#meta('revision');
      let from = current;
      if (options.fromRevision !== undefined) {
        from = parseRevision(options.fromRevision, 'fromRevision');
        const compacted = this.#meta('compacted');
        if (from < compacted) throw expired(from, compacted);
      }
      // Registered before any write can run (we are in one synchronous turn), so
      // from here on every commit is either still in the table or delivered live.
      this.#watches.add(watch);
      watch.start(filter, from, from >= current);
    } catch (err) {
      watch.fail(err);
    }
    return watch;
  }

  revision(): Promise<string> {
    return attempt(() => String(this.#open().#meta('revision')));
  }

  /**
   * Compacts every change event, rewrites the file (VACUUM) and empties the
   * WAL (checkpoint TRUNCATE), so that no earlier version of any object is left
   * in the store's files: what re-encryption needs (see encrypted.ts). A watch
   * resuming from before now gets ExpiredError and re-lists; live watches go on.
   */
  purgeHistory(): Promise<void> {
    return attempt(() => {
      this.#open().#flush();
      this.#transaction(() => {
        const revision = this.#meta('revision');
        this.#stmt.deleteEventsUpTo.run(revision);
        this.#stmt.setMeta.run(revision, 'compacted');
      });
      this.#db.exec('VACUUM');
      const checkpoint = this.#db.prepare('PRAGMA wal_checkpoint(TRUNCATE)').get();
      if (checkpoint?.busy !== 0)
        throw new UnavailableError(`the store ${this.path}: the WAL checkpoint could not finish`);
    });
  }

  /** Ends every watch, then closes the database. Idempotent. */
  close(): Promise<void> {
    return attempt(() => {
      if (this.#closed) return;
      this.#flush();
      this.#closed = true;
      for (const w of [...this.#watches]) w.close();
      this.#db.close();
    });
  }

  // ---- internals -----------------------------------------------------------

  #open(): this {
    if (this.#closed) throw new UnavailableError(`the store ${this.path} is closed`);
    return this;
  }

  #meta(key: string): number {
    return int(this.#stmt.getMeta.get(key), 'value');
  }

  #transaction<T>(fn: () => T, begin = 'BEGIN IMMEDIATE'): T {
    this.#db.exec(begin);
    try {
      const result = fn();
      this.#db.exec('COMMIT');
      return result;
    } catch (err) {
      if (this.#db.isTransaction) this.#db.exec('ROLLBACK');
      throw err;
    }
  }

  #createStep(obj: StoredObject): WriteStep {
    const k = keyOf(obj);
    return {
      k,
      mutate: (revision) => {
        if (this.#stmt.getObject.get(k.kind, k.namespace, k.name) !== undefined) {
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

  #updateStep(obj: StoredObject, options: WriteOptions | undefined): WriteStep {
    const k = keyOf(obj);
    const expected = expectedVersion(obj, options);
    return {
      k,
      mutate: (revision) => {
        const stored = this.#current(k, expected);
        const specChanged = canonicalJson(obj.spec) !== canonicalJson(stored.spec);
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
        const doc: Record<string, unknown> = { ...obj, metadata };
        delete doc.status;
        if (stored.status !== undefined) doc.status = stored.status;
        return { type: 'MODIFIED', doc };
      },
    };
  }

  #updateStatusStep(obj: StoredObject, options: WriteOptions | undefined): WriteStep {
    const k = keyOf(obj);
    const expected = expectedVersion(obj, options);
    return {
      k,
      mutate: (revision) => {
        const stored = this.#current(k, expected);
        const doc: Record<string, unknown> = {
          ...stored,
          metadata: { ...stored.metadata, resourceVersion: String(revision) },
        };
        delete doc.status;
        if (obj.status !== undefined) doc.status = obj.status;
        return { type: 'MODIFIED', doc };
      },
    };
  }

  #deleteStep(key: ObjectKey, options: WriteOptions | undefined): WriteStep {
    const k = normalizeKey(key);
    const expected = expectedVersion(undefined, options);
    return {
      k,
      mutate: (revision) => {
        const stored = this.#current(k, expected);
        this.#stmt.deleteObject.run(k.kind, k.namespace, k.name);
        return {
          type: 'DELETED',
          doc: { ...stored, metadata: { ...stored.metadata, resourceVersion: String(revision) } },
        };
      },
    };
  }

  /** The stored object, after the compare-and-set check against `expected`. */
  #current(k: NormalKey, expected: string | undefined): StoredObject {
    const row = this.#stmt.getObject.get(k.kind, k.namespace, k.name);
    if (row === undefined) throw notFound(k);
    const current = String(int(row, 'revision'));
    if (expected !== undefined && expected !== current) {
      throw new ConflictError(
        `${describeKey(k)}: resourceVersion ${expected} is stale (current ${current}); re-read and retry`,
        {
          kind: k.kind,
          name: k.name,
        },
      );
    }
    return parseDoc(row);
  }

  /**
   * Queues one write (its steps all or none) for the next group commit (see
   * the header). Inside the batch's transaction, each step takes the next
   * revision, lets `mutate` check preconditions and build the new document,
   * then stores the object (or removes it for DELETED), appends the event,
   * advances the counter and compacts old events. Watchers see the changes
   * only after COMMIT.
   */
  #write(steps: WriteStep[]): Promise<StoredObject[]> {
    this.#open();
    return new Promise((resolve, reject) => {
      this.#batch.push({ steps, resolve, reject });
      if (this.#batch.length === 1) setImmediate(() => this.#flush());
    });
  }

  #flush(): void {
    const batch = this.#batch;
    if (batch.length === 0) return;
    this.#batch = [];
    if (this.#closed) {
      const err = new UnavailableError(`the store ${this.path} is closed`);
      for (const w of batch) w.reject(err);
      return;
    }
    const outcomes: ({ changes: Change[] } | { error: unknown })[] = [];
    try {
      this.#transaction(() => {
        for (const w of batch) {
          this.#db.exec('SAVEPOINT write');
          try {
            outcomes.push({ changes: w.steps.map((step) => this.#applyWrite(step)) });
            this.#db.exec('RELEASE write');
          } catch (error) {
            this.#db.exec('ROLLBACK TO write');
            this.#db.exec('RELEASE write');
            outcomes.push({ error });
          }
        }
      });
    } catch (err) {
      // COMMIT itself failed (disk full, I/O error): nothing of the batch is stored.
      const error =
        err instanceof Error ? new UnavailableError(`commit failed: ${err.message}`) : err;
      for (const w of batch) w.reject(error);
      return;
    }
    for (const o of outcomes)
      if ('changes' in o) for (const c of o.changes) for (const w of this.#watches) w.deliver(c);
    batch.forEach((w, i) => {
      const o = outcomes[i]!;
      // Fresh copies: neither the caller's input nor the watchers' events alias them.
      if ('changes' in o) w.resolve(o.changes.map((c) => JSON.parse(c.doc) as StoredObject));
      else w.reject(o.error);
    });
  }

  #applyWrite({ k, mutate }: WriteStep): Change {
    const revision = this.#meta('revision') + 1;
    const { type, doc } = mutate(revision);
    const json = JSON.stringify(doc);
    if (type !== 'DELETED') this.#stmt.putObject.run(k.kind, k.namespace, k.name, revision, json);
    this.#stmt.insertEvent.run(revision, type, k.kind, k.namespace, k.name, json);
    this.#stmt.setMeta.run(revision, 'revision');
    const compacted = this.#meta('compacted');
    if (revision - compacted >= this.#retention + this.#compactBatch) {
      const upTo = revision - this.#retention;
      this.#stmt.deleteEventsUpTo.run(upTo);
      this.#stmt.setMeta.run(upTo, 'compacted');
    }
    const labels = (doc as StoredObject).metadata.labels;
    return { revision, type, kind: k.kind, namespace: k.namespace, labels, doc: json };
  }

  /** Events after `after` matching kind/namespace (labels are the caller's job). */
  #readEvents(after: number, filter: EventFilter, limit: number): EventPage {
    this.#open();
    return this.#transaction(() => {
      const compacted = this.#meta('compacted');
      if (after < compacted) throw expired(after, compacted);
      const rows = this.#stmt.readEvents.all(
        after,
        filter.kind ?? null,
        filter.namespace ?? null,
        limit,
      );
      const changes = rows.map((row): Change => ({
        revision: int(row, 'revision'),
        type: str(row, 'type') as WatchEventType,
        kind: str(row, 'kind'),
        namespace: str(row, 'namespace'),
        labels: undefined,
        doc: str(row, 'doc'),
      }));
      return { changes, current: this.#meta('revision') };
    }, 'BEGIN');
  }
}

function prepareStatements(db: DatabaseSync) {
  return {
    getMeta: db.prepare('SELECT value FROM meta WHERE key = ?'),
    setMeta: db.prepare('UPDATE meta SET value = ? WHERE key = ?'),
    getObject: db.prepare(
      'SELECT revision, doc FROM objects WHERE kind = ? AND namespace = ? AND name = ?',
    ),
    putObject: db.prepare(
      `INSERT INTO objects (kind, namespace, name, revision, doc) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (kind, namespace, name) DO UPDATE SET revision = excluded.revision, doc = excluded.doc`,
    ),
    deleteObject: db.prepare('DELETE FROM objects WHERE kind = ? AND namespace = ? AND name = ?'),
    insertEvent: db.prepare(
      'INSERT INTO events (revision, type, kind, namespace, name, doc) VALUES (?, ?, ?, ?, ?, ?)',
    ),
    readEvents: db.prepare(
      `SELECT revision, type, kind, namespace, name, doc FROM events
       WHERE revision > ?1 AND (?2 IS NULL OR kind = ?2) AND (?3 IS NULL OR namespace = ?3)
       ORDER BY revision LIMIT ?4`,
    ),
    deleteEventsUpTo: db.prepare('DELETE FROM events WHERE revision <= ?'),
  };
}

// ---- watch -------------------------------------------------------------------

interface EventFilter {
  kind: string | undefined;
  namespace: string | undefined;
  reqs: Requirement[];
}

interface EventPage {
  changes: Change[];
  /** The store revision when the page was read. */
  current: number;
}

interface WatchSource {
  readPage(after: number, filter: EventFilter, limit: number): EventPage;
  detach(w: SqliteWatch): void;
}

interface Pending {
  type: WatchEventType;
  doc: string;
}

type Waiter = { resolve: (r: IteratorResult<WatchEvent>) => void; reject: (err: unknown) => void };

/**
 * One watcher. It starts either live (from the current revision) or catching
 * up: pulling pages of the events table after `cursor` whenever its consumer
 * has nothing left to read. A catching-up watcher ignores live changes, since
 * they are in the table too. The page that comes back short was read in the
 * same synchronous turn as `current`, so no write can have slipped in between;
 * the watcher goes live at that point and every later commit reaches it
 * through `deliver`. Together this is every revision after `from`, once each,
 * in order.
 */
class SqliteWatch implements Watch, AsyncIterator<WatchEvent> {
  readonly #source: WatchSource;
  readonly #bufferLimit: number;
  #filter: EventFilter = { kind: undefined, namespace: undefined, reqs: [] };
  /** The last revision examined while catching up. */
  #cursor = 0;
  #live = false;
  #buffer: Pending[] = [];
  #waiters: Waiter[] = [];
  /** Thrown by the next `next()`, after which the watch is over. */
  #error: unknown = undefined;
  #ended = false;

  constructor(bufferLimit: number, source: WatchSource) {
    this.#bufferLimit = bufferLimit;
    this.#source = source;
  }

  start(filter: EventFilter, from: number, live: boolean): void {
    this.#filter = filter;
    this.#cursor = from;
    this.#live = live;
  }

  fail(err: unknown): void {
    if (this.#ended) return;
    this.#source.detach(this);
    this.#buffer = [];
    this.#error = err;
    const waiter = this.#waiters.shift();
    if (waiter !== undefined) this.#raise(waiter.reject);
  }

  /** Called synchronously after each commit, in revision order. Never throws. */
  deliver(change: Change): void {
    if (this.#ended || this.#error !== undefined || !this.#live) return;
    // Going live at `cursor` means only later revisions belong to this watch.
    if (change.revision <= this.#cursor || !this.#matches(change)) return;
    const waiter = this.#waiters.shift();
    if (waiter !== undefined) {
      waiter.resolve({ done: false, value: toEvent(change) });
    } else if (this.#buffer.length >= this.#bufferLimit) {
      this.fail(
        new ExpiredError(
          `watch fell more than ${this.#bufferLimit} events behind at revision ${change.revision}; re-list and watch again`,
        ),
      );
    } else {
      this.#buffer.push(change);
    }
  }

  next(): Promise<IteratorResult<WatchEvent>> {
    return new Promise((resolve, reject) => {
      for (;;) {
        if (this.#error !== undefined) return this.#raise(reject);
        const pending = this.#buffer.shift();
        if (pending !== undefined) return resolve({ done: false, value: toEvent(pending) });
        if (this.#ended) return resolve({ done: true, value: undefined });
        if (this.#live) return this.#waiters.push({ resolve, reject });
        this.#catchUp();
      }
    });
  }

  return(): Promise<IteratorResult<WatchEvent>> {
    this.close();
    return Promise.resolve({ done: true, value: undefined });
  }

  [Symbol.asyncIterator](): AsyncIterator<WatchEvent> {
    return this;
  }

  close(): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#error = undefined;
    this.#buffer = [];
    this.#source.detach(this);
    for (const w of this.#waiters.splice(0)) w.resolve({ done: true, value: undefined });
  }

  #catchUp(): void {
    const limit = Math.min(CATCH_UP_PAGE, this.#bufferLimit);
    try {
      const { changes, current } = this.#source.readPage(this.#cursor, this.#filter, limit);
      for (const c of changes) {
        if (this.#matches(c)) this.#buffer.push(c);
      }
      const last = changes[changes.length - 1];
      if (changes.length < limit || last === undefined) {
        this.#cursor = current;
        this.#live = true;
      } else {
        this.#cursor = last.revision;
      }
    } catch (err) {
      this.fail(err);
    }
  }

  #matches(c: Change): boolean {
    const f = this.#filter;
    if (f.kind !== undefined && c.kind !== f.kind) return false;
    if (f.namespace !== undefined && c.namespace !== f.namespace) return false;
    if (f.reqs.length === 0) return true;
    const labels = c.labels ?? (JSON.parse(c.doc) as StoredObject).metadata.labels;
    return matchesLabels(f.reqs, labels);
  }

  #raise(reject: (err: unknown) => void): void {
    const err = this.#error;
    this.#error = undefined;
    this.close();
    reject(err);
  }
}

function toEvent(p: Pending): WatchEvent {
  return { type: p.type, object: JSON.parse(p.doc) as StoredObject };
}

// ---- helpers -----------------------------------------------------------------

interface NormalKey {
  kind: string;
  /** '' for cluster-scoped objects. */
  namespace: string;
  name: string;
}

/** One object's write: its key and how to build its new state at a revision. */
interface WriteStep {
  k: NormalKey;
  mutate: (revision: number) => { type: WatchEventType; doc: object };
}

/** A write waiting for the group commit: one step, or a whole `batch`. */
interface PendingWrite {
  steps: WriteStep[];
  resolve: (written: StoredObject[]) => void;
  reject: (err: unknown) => void;
}

/**
 * Makes the database readable by its owner alone before SQLite opens it: a
 * missing directory is created 0700, the file is created (or narrowed) to
 * 0600, and so are a -wal and -shm left from before. SQLite creates new -wal
 * and -shm files with the database file's mode, so they follow.
 */
function ownerOnly(path: string): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  closeSync(openSync(path, 'a', 0o600));
  for (const file of [path, `${path}-wal`, `${path}-shm`])
    if (existsSync(file)) chmodSync(file, 0o600);
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

function normalizeKey(key: ObjectKey): NormalKey {
  if (
    typeof key?.kind !== 'string' ||
    key.kind === '' ||
    typeof key.name !== 'string' ||
    key.name === ''
  ) {
    throw new BadRequestError('an object key needs a kind and a name');
  }
  return { kind: key.kind, namespace: key.namespace ?? '', name: key.name };
}

function keyOf(obj: StoredObject): NormalKey {
  if (
    typeof obj !== 'object' ||
    obj === null ||
    typeof obj.metadata !== 'object' ||
    obj.metadata === null
  ) {
    throw new BadRequestError('an object needs kind and metadata.name');
  }
  return normalizeKey({
    kind: obj.kind,
    namespace: obj.metadata.namespace,
    name: obj.metadata.name,
  });
}

function setNamespace(metadata: Record<string, unknown>, namespace: string): void {
  if (namespace === '') delete metadata.namespace;
  else metadata.namespace = namespace;
}

function describeKey(k: NormalKey): string {
  return `${k.kind} "${k.namespace === '' ? '' : `${k.namespace}/`}${k.name}"`;
}

function notFound(k: NormalKey): NotFoundError {
  return new NotFoundError(`${describeKey(k)} not found`, { kind: k.kind, name: k.name });
}

function expired(from: number, compacted: number): ExpiredError {
  return new ExpiredError(
    `resourceVersion ${from} is too old: changes up to revision ${compacted} have been compacted; re-list and watch from the list's resourceVersion`,
  );
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

function parseRevision(s: string, what: string): number {
  const n = /^\d{1,15}$/.test(s) ? Number(s) : NaN;
  if (!Number.isSafeInteger(n))
    throw new BadRequestError(`${what} must be a decimal revision, got ${JSON.stringify(s)}`);
  return n;
}

function positiveInteger(n: number, what: string): number {
  if (!Number.isSafeInteger(n) || n < 1)
    throw new RangeError(`${what} must be a positive integer, got ${n}`);
  return n;
}

function encodeContinue(key: [string, string]): string {
  return Buffer.from(JSON.stringify(key)).toString('base64url');
}

function decodeContinue(token: string): [string, string] {
  try {
    const key: unknown = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
    if (
      Array.isArray(key) &&
      key.length === 2 &&
      typeof key[0] === 'string' &&
      typeof key[1] === 'string'
    ) {
      return [key[0], key[1]];
    }
  } catch {
    // fall through
  }
  throw new BadRequestError('the continue token is not valid; start the list again without it');
}

/** JSON with object keys sorted, so equal values compare equal regardless of key order. */
function canonicalJson(value: unknown): string {
  return (
    JSON.stringify(value, (_key, v: unknown) => {
      if (v === null || typeof v !== 'object' || Array.isArray(v)) return v;
      const sorted: Record<string, unknown> = {};
      for (const k of Object.keys(v).sort()) sorted[k] = (v as Record<string, unknown>)[k];
      return sorted;
    }) ?? 'undefined'
  );
}

function parseDoc(row: Record<string, SQLOutputValue>): StoredObject {
  return JSON.parse(str(row, 'doc')) as StoredObject;
}

function str(row: Record<string, SQLOutputValue> | undefined, column: string): string {
  const v = row?.[column];
  if (typeof v !== 'string') throw new Error(`SQLite store: column ${column} is not text`);
  return v;
}

function int(row: Record<string, SQLOutputValue> | undefined, column: string): number {
  const v = row?.[column];
  if (typeof v !== 'number') throw new Error(`SQLite store: column ${column} is not an integer`);
  return v;
}
