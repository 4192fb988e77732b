// Watch on the etcd store: catch up from the change log, then follow it live.
//
// A watch keeps `cursor`, the last store revision it has examined. To (re)sync
// it reads meta/compacted and the log entries after `cursor` at one etcd
// revision R (in pages, all at R), then opens an etcd watch on the log prefix
// from R + 1: every entry is either in the read or arrives on the etcd watch,
// so nothing is missed, and entries at or below `cursor` are dropped, so
// nothing repeats. The log is dense (one entry per store revision), so an
// entry that arrives ahead of `cursor + 1` waits until the gap is filled.
// When the etcd watch fails (etcd compacted its history under a watch that was
// disconnected, a member went away) the watch syncs again from `cursor`; only
// when the log itself was trimmed past `cursor` does it end with Expired.
import type { Etcd3, IKeyValue, Watcher } from 'etcd3';
import { ExpiredError } from '../../model/errors.ts';
import { matchesLabels, parseLabelSelector, type Requirement } from '../../model/labels.ts';
import { parseRevision } from '../objects.ts';
import type { StoredObject, Watch, WatchEvent, WatchOptions } from '../types.ts';
import { prefixEnd, type Layout, type LogEntry } from './layout.ts';

/** Log entries read per range request while catching up. */
const CATCH_UP_PAGE = 256;

export interface WatchSource {
  client: Etcd3;
  layout: Layout;
  bufferLimit: number;
  toError: (err: unknown) => unknown;
  detach: (w: EtcdWatch) => void;
}

interface Filter {
  kind: string | undefined;
  namespace: string | undefined;
  reqs: Requirement[];
}

type Waiter = { resolve: (r: IteratorResult<WatchEvent>) => void; reject: (err: unknown) => void };

export class EtcdWatch implements Watch, AsyncIterator<WatchEvent> {
  readonly #source: WatchSource;
  #filter: Filter = { kind: undefined, namespace: undefined, reqs: [] };
  /** The last revision examined; undefined until a watch "from now" has read it. */
  #cursor: number | undefined;
  readonly #early = new Map<number, LogEntry>();
  #buffer: WatchEvent[] = [];
  #waiters: Waiter[] = [];
  #etcdWatch: Watcher | undefined;
  /** Thrown by the next `next()`, after which the watch is over. */
  #error: unknown = undefined;
  #ended = false;
  /** Settles once the first sync has fixed where the watch starts. */
  readonly started: Promise<void>;

  /**
   * Errors (a bad selector or revision: BadRequestError; a compacted revision:
   * ExpiredError; etcd down: UnavailableError) are thrown from `next()`.
   */
  constructor(source: WatchSource, options: WatchOptions) {
    this.#source = source;
    try {
      this.#filter = {
        kind: options.kind || undefined,
        namespace: options.namespace || undefined,
        reqs: options.labelSelector ? parseLabelSelector(options.labelSelector) : [],
      };
      if (options.fromRevision !== undefined)
        this.#cursor = parseRevision(options.fromRevision, 'fromRevision');
    } catch (err) {
      this.fail(err);
    }
    this.started = this.#ended ? Promise.resolve() : this.#sync();
  }

  fail(err: unknown): void {
    if (this.#ended || this.#error !== undefined) return;
    this.#stopFollowing();
    this.#buffer = [];
    this.#error = err;
    const waiter = this.#waiters.shift();
    if (waiter !== undefined) this.#raise(waiter.reject);
  }

  next(): Promise<IteratorResult<WatchEvent>> {
    return new Promise((resolve, reject) => {
      if (this.#error !== undefined) return this.#raise(reject);
      const event = this.#buffer.shift();
      if (event !== undefined) return resolve({ done: false, value: event });
      if (this.#ended) return resolve({ done: true, value: undefined });
      this.#waiters.push({ resolve, reject });
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
    this.#stopFollowing();
    for (const w of this.#waiters.splice(0)) w.resolve({ done: true, value: undefined });
  }

  #stopFollowing(): void {
    this.#source.detach(this);
    const w = this.#etcdWatch;
    this.#etcdWatch = undefined;
    if (w !== undefined) void w.cancel().catch(() => undefined);
  }

  /** Catches up from the log after `cursor`, then follows it (see the header). */
  async #sync(): Promise<void> {
    const { client, layout } = this.#source;
    try {
      const head = await client.kv.txn({
        success: [
          { request_range: { key: layout.compacted } },
          { request_range: { key: layout.revision } },
        ],
      });
      const at = head.header.revision;
      const compacted = intValue(head.responses[0]?.response_range.kvs[0]);
      this.#cursor ??= intValue(head.responses[1]?.response_range.kvs[0]);
      if (this.#cursor < compacted) {
        throw new ExpiredError(
          `resourceVersion ${this.#cursor} is too old: changes up to revision ${compacted} have been compacted; re-list and watch from the list's resourceVersion`,
        );
      }
      let start = layout.log(this.#cursor + 1);
      const end = prefixEnd(Buffer.from(layout.logPrefix));
      for (;;) {
        if (this.#ended || this.#error !== undefined) return;
        const page = await client.kv.range({
          key: start,
          range_end: end,
          revision: at,
          limit: CATCH_UP_PAGE,
          sort_order: 'Ascend',
          sort_target: 'Key',
        });
        for (const kv of page.kvs) this.#accept(kv);
        const last = page.kvs[page.kvs.length - 1];
        if (!page.more || last === undefined) break;
        start = Buffer.concat([last.key, Buffer.from([0])]);
      }
      if (this.#ended || this.#error !== undefined) return;
      const etcdWatch = await client
        .watch()
        .prefix(layout.logPrefix)
        .startRevision(String(BigInt(at) + 1n))
        .create();
      if (this.#ended || this.#error !== undefined) {
        void etcdWatch.cancel().catch(() => undefined);
        return;
      }
      this.#etcdWatch = etcdWatch;
      etcdWatch.on('put', (kv: IKeyValue) => this.#accept(kv));
      etcdWatch.on('error', () => this.#resync(etcdWatch));
    } catch (err) {
      this.fail(this.#source.toError(err));
    }
  }

  #resync(failed: Watcher): void {
    if (this.#etcdWatch !== failed) return;
    this.#etcdWatch = undefined;
    void failed.cancel().catch(() => undefined);
    void this.#sync();
  }

  #accept(kv: IKeyValue): void {
    if (this.#ended || this.#error !== undefined || this.#cursor === undefined) return;
    const revision = this.#source.layout.logRevision(kv.key);
    if (revision <= this.#cursor) return;
    this.#early.set(revision, JSON.parse(kv.value.toString()) as LogEntry);
    for (let entry = this.#early.get(this.#cursor + 1); entry !== undefined;) {
      this.#early.delete(this.#cursor + 1);
      this.#cursor += 1;
      this.#deliver(entry);
      if (this.#error !== undefined) return;
      entry = this.#early.get(this.#cursor + 1);
    }
    if (this.#early.size > this.#source.bufferLimit) this.#overflow();
  }

  #deliver(entry: LogEntry): void {
    const doc = entry.doc as StoredObject;
    if (!this.#matches(doc)) return;
    const event: WatchEvent = { type: entry.type, object: doc };
    const waiter = this.#waiters.shift();
    if (waiter !== undefined) waiter.resolve({ done: false, value: event });
    else if (this.#buffer.length >= this.#source.bufferLimit) this.#overflow();
    else this.#buffer.push(event);
  }

  #overflow(): void {
    this.fail(
      new ExpiredError(
        `watch fell more than ${this.#source.bufferLimit} events behind at revision ${this.#cursor}; re-list and watch again`,
      ),
    );
  }

  #matches(doc: StoredObject): boolean {
    const f = this.#filter;
    if (f.kind !== undefined && doc.kind !== f.kind) return false;
    if (f.namespace !== undefined && (doc.metadata.namespace ?? '') !== f.namespace) return false;
    return f.reqs.length === 0 || matchesLabels(f.reqs, doc.metadata.labels);
  }

  #raise(reject: (err: unknown) => void): void {
    const err = this.#error;
    this.#error = undefined;
    this.close();
    reject(err);
  }
}

function intValue(kv: IKeyValue | undefined): number {
  return kv === undefined ? 0 : Number(kv.value.toString());
}
