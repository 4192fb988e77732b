// Watch on the SQLite store: one SqliteWatch per watcher, and the registry of
// live watchers that the group commit hands each committed change to (see
// writes.ts for why they arrive in exactly revision order).
import { ExpiredError } from '../../model/errors.ts';
import { matchesLabels, parseLabelSelector, type Requirement } from '../../model/labels.ts';
import type { StoredObject, Watch, WatchEvent, WatchEventType, WatchOptions } from '../types.ts';
import { int, str, type SqliteDatabase } from './database.ts';
import { parseRevision } from '../objects.ts';

/** Events read from the table per step while a watcher catches up. */
const CATCH_UP_PAGE = 256;

/** A committed write, as handed to live watchers. */
export interface Change {
  revision: number;
  type: WatchEventType;
  kind: string;
  namespace: string;
  /** Labels of the object in the event (the deleted state for DELETED). */
  labels: Record<string, string> | undefined;
  doc: string;
}

/** The store's watchers: opens them, hands them each commit, ends them on close. */
export class Watchers {
  readonly #database: SqliteDatabase;
  readonly #bufferSize: number;
  readonly #registered = new Set<SqliteWatch>();

  constructor(database: SqliteDatabase, bufferSize: number) {
    this.#database = database;
    this.#bufferSize = bufferSize;
  }

  /**
   * Errors (a bad selector or revision: BadRequestError; a compacted revision:
   * ExpiredError) are thrown from the first `next()`, never from here. A
   * `fromRevision` ahead of the store's revision is accepted and delivers
   * changes after it. An empty `namespace` means all namespaces.
   */
  open(options: WatchOptions): Watch {
    const watch = new SqliteWatch(this.#bufferSize, {
      readPage: (after, filter, limit) => this.#readEvents(after, filter, limit),
      detach: (w) => this.#registered.delete(w),
    });
    if (this.#database.closed) {
      watch.close();
      return watch;
    }
    try {
      const filter: EventFilter = {
        kind: options.kind || undefined,
        namespace: options.namespace || undefined,
        reqs: options.labelSelector ? parseLabelSelector(options.labelSelector) : [],
      };
      const current = this.#database.meta('revision');
      let from = current;
      if (options.fromRevision !== undefined) {
        from = parseRevision(options.fromRevision, 'fromRevision');
        const compacted = this.#database.meta('compacted');
        if (from < compacted) throw expired(from, compacted);
      }
      // Registered before any write can run (we are in one synchronous turn), so
      // from here on every commit is either still in the table or delivered live.
      this.#registered.add(watch);
      watch.start(filter, from, from >= current);
    } catch (err) {
      watch.fail(err);
    }
    return watch;
  }

  /** Called synchronously after each commit, in revision order. */
  deliver(change: Change): void {
    for (const w of this.#registered) w.deliver(change);
  }

  closeAll(): void {
    for (const w of [...this.#registered]) w.close();
  }

  /** Events after `after` matching kind/namespace (labels are the caller's job). */
  #readEvents(after: number, filter: EventFilter, limit: number): EventPage {
    this.#database.assertOpen();
    return this.#database.transaction(() => {
      const compacted = this.#database.meta('compacted');
      if (after < compacted) throw expired(after, compacted);
      const rows = this.#database.stmt.readEvents.all(
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
      return { changes, current: this.#database.meta('revision') };
    }, 'BEGIN');
  }
}

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

function expired(from: number, compacted: number): ExpiredError {
  return new ExpiredError(
    `resourceVersion ${from} is too old: changes up to revision ${compacted} have been compacted; re-list and watch from the list's resourceVersion`,
  );
}
