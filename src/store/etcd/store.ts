// The etcd Store backend, for control planes that share one store (HA).
//
// The parts, each with the invariants it keeps:
//   layout.ts      the keys: counter, change log, objects (and why not etcd's own revision)
//   connection.ts  endpoints, TLS, auth; etcd client errors as typed errors (503 without quorum)
//   writes.ts      group commit as one compare-and-set transaction on the counter
//   list.ts        list and its continue tokens
//   watch.ts       watchers: catching up from the log, then an etcd watch on it
//
// History: the change log keeps the newest `eventRetention` entries (trimmed
// by the write transactions, as SQLite trims its events table), and
// `compactHistory` compacts etcd's own MVCC history, every
// `compactionIntervalMs`, to the etcd revision seen at the previous run, so
// etcd keeps at least one interval of history (as kube-apiserver does) and
// its database does not grow without bound.
import type { Etcd3 } from 'etcd3';
import { UnavailableError } from '../../model/errors.ts';
import { normalizeKey, notFound } from '../objects.ts';
import {
  batchStep,
  createStep,
  deleteStep,
  restoreStep,
  updateStatusStep,
  updateStep,
  type WriteStep,
} from '../steps.ts';
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
} from '../types.ts';
import { connect, storeError, type EtcdConnectionOptions } from './connection.ts';
import { Layout, prefixEnd } from './layout.ts';
import { listObjects, rangeAll } from './list.ts';
import { EtcdWatch } from './watch.ts';
import { EtcdWrites } from './writes.ts';

export interface EtcdStoreOptions extends EtcdConnectionOptions {
  /** Every key lives under this prefix; control planes sharing a prefix share a store. Default `/yunjian/`. */
  prefix?: string | undefined;
  /** How many of the most recent changes are always kept for watches to resume from. Default 10000. */
  eventRetention?: number | undefined;
  /** How many undelivered events one watcher may have queued before it ends with Expired. Default 10000. */
  watchBufferSize?: number | undefined;
  /** How often etcd's MVCC history is compacted (see the header); 0 never. Default 300000 (5 min). */
  compactionIntervalMs?: number | undefined;
  /**
   * Operations per write transaction when grouping writes; a single larger
   * batch is still sent alone. etcd's default `--max-txn-ops` is 128.
   */
  maxTxnOps?: number | undefined;
}

export function openEtcdStore(options: EtcdStoreOptions): EtcdStore {
  return new EtcdStore(options);
}

export class EtcdStore implements BackendStore {
  readonly endpoints: readonly string[];
  readonly prefix: string;
  readonly #client: Etcd3;
  readonly #layout: Layout;
  readonly #writes: EtcdWrites;
  readonly #watchBufferSize: number;
  readonly #watches = new Set<EtcdWatch>();
  readonly #compactionTimer: NodeJS.Timeout | undefined;
  /** The etcd revision the next compaction compacts to. */
  #compactTo: string | undefined;
  #closed = false;

  constructor(options: EtcdStoreOptions) {
    this.endpoints = [...options.endpoints];
    this.prefix = options.prefix ?? '/yunjian/';
    const retention = positiveInteger(options.eventRetention ?? 10_000, 'eventRetention');
    this.#watchBufferSize = positiveInteger(options.watchBufferSize ?? 10_000, 'watchBufferSize');
    const maxTxnOps = positiveInteger(options.maxTxnOps ?? 128, 'maxTxnOps');
    const interval = options.compactionIntervalMs ?? 300_000;
    if (!Number.isSafeInteger(interval) || interval < 0)
      throw new RangeError(`compactionIntervalMs must be a non-negative integer, got ${interval}`);
    this.#layout = new Layout(this.prefix);
    this.#client = connect(options);
    this.#writes = new EtcdWrites(this.#client, this.#layout, {
      // Trim in batches of ~10% so the range delete runs rarely, never below `retention`.
      retention: {
        events: retention,
        trimBatch: Math.max(1, Math.min(1000, Math.floor(retention / 10))),
      },
      maxTxnOps,
      toError: (err) => this.#error(err),
    });
    if (interval > 0) {
      this.#compactionTimer = setInterval(
        () => void this.compactHistory().catch(() => undefined),
        interval,
      );
      this.#compactionTimer.unref();
    }
  }

  get(key: ObjectKey): Promise<StoredObject> {
    return this.#call(async () => {
      const k = normalizeKey(key);
      const res = await this.#client.kv.range({ key: this.#layout.object(k) });
      const kv = res.kvs[0];
      if (kv === undefined) throw notFound(k);
      return JSON.parse(kv.value.toString()) as StoredObject;
    });
  }

  /** See listObjects for ordering and what a page reflects. */
  list(kind: string, options: ListOptions = {}): Promise<ListResult> {
    return this.#call(() => listObjects(this.#client, this.#layout, kind, options));
  }

  create(obj: StoredObject): Promise<StoredObject> {
    return this.#write(() => [createStep(obj)]).then(only);
  }

  update(obj: StoredObject, options?: WriteOptions): Promise<StoredObject> {
    return this.#write(() => [updateStep(obj, options)]).then(only);
  }

  updateStatus(obj: StoredObject, options?: WriteOptions): Promise<StoredObject> {
    return this.#write(() => [updateStatusStep(obj, options)]).then(only);
  }

  delete(key: ObjectKey, options?: WriteOptions): Promise<StoredObject> {
    return this.#write(() => [deleteStep(key, options)]).then(only);
  }

  /** One etcd transaction holds the fence check and every step (see writes.ts). */
  batch(
    operations: readonly BatchOperation[],
    options: BatchOptions = {},
  ): Promise<StoredObject[]> {
    if (operations.length === 0 && !this.#closed) return Promise.resolve([]);
    return this.#write(() => operations.map(batchStep), options);
  }

  /** The counter and every object, read at one etcd revision. */
  snapshot(): Promise<Snapshot> {
    return this.#call(async () => {
      const head = await this.#client.kv.range({ key: this.#layout.revision });
      const all = Buffer.from(`${this.prefix}objects/`);
      const objects = await rangeAll(this.#client, {
        start: all,
        end: prefixEnd(all),
        at: head.header.revision,
      });
      return {
        revision: head.kvs[0]?.value.toString() ?? '0',
        objects: objects.map((kv) => JSON.parse(kv.value.toString()) as StoredObject),
      };
    });
  }

  /** One write transaction, like `batch`. */
  restore(objects: readonly StoredObject[]): Promise<StoredObject[]> {
    if (objects.length === 0 && !this.#closed) return Promise.resolve([]);
    return this.#write(() => objects.map(restoreStep));
  }

  /**
   * Empties the change log (watches from before now get Expired and re-list)
   * and compacts etcd's history physically up to now, so no earlier version
   * of any object is kept: what re-encryption needs. etcd's database file
   * keeps the freed pages until `etcdctl defrag`.
   */
  purgeHistory(): Promise<void> {
    return this.#call(async () => {
      await this.#writes.flush();
      const layout = this.#layout;
      for (;;) {
        const head = await this.#client.kv.range({ key: layout.revision });
        const counter = head.kvs[0];
        const res = await this.#client.kv.txn({
          compare: [
            {
              key: layout.revision,
              target: 'Mod',
              result: 'Equal',
              mod_revision: counter?.mod_revision ?? '0',
            },
          ],
          success: [
            {
              request_delete_range: {
                key: Buffer.from(layout.logPrefix),
                range_end: prefixEnd(Buffer.from(layout.logPrefix)),
              },
            },
            {
              request_put: {
                key: layout.compacted,
                value: Buffer.from(counter?.value.toString() ?? '0'),
              },
            },
          ],
        });
        if (!res.succeeded) continue;
        await this.#client.kv.compact({ revision: res.header.revision, physical: true });
        return;
      }
    });
  }

  /** See EtcdWatch for when errors surface. */
  watch(options: WatchOptions = {}): Watch {
    const watch = new EtcdWatch(
      {
        client: this.#client,
        layout: this.#layout,
        bufferLimit: this.#watchBufferSize,
        toError: (err) => this.#error(err),
        detach: (w) => this.#watches.delete(w),
      },
      options,
    );
    if (this.#closed) {
      watch.close();
      return watch;
    }
    this.#watches.add(watch);
    if (options.fromRevision === undefined) this.#writes.hold(watch.started);
    return watch;
  }

  revision(): Promise<string> {
    return this.#call(async () => {
      const res = await this.#client.kv.range({ key: this.#layout.revision });
      return res.kvs[0]?.value.toString() ?? '0';
    });
  }

  /**
   * Compacts etcd's MVCC history to the etcd revision seen at the previous
   * call (none the first time), so at least one interval of history stays for
   * watches that reconnect. Several control planes doing it is harmless.
   */
  compactHistory(): Promise<void> {
    return this.#call(async () => {
      const now = (await this.#client.kv.range({ key: this.#layout.revision })).header.revision;
      const to = this.#compactTo;
      this.#compactTo = now;
      if (to === undefined) return;
      try {
        await this.#client.kv.compact({ revision: to });
      } catch (err) {
        // Someone compacted further already; what we wanted is done.
        if (!/required revision has been compacted/.test(String(err))) throw err;
      }
    });
  }

  /** Finishes queued writes, ends every watch, then disconnects. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#compactionTimer);
    await this.#writes.flush();
    for (const w of [...this.#watches]) w.close();
    this.#client.close();
  }

  /** `steps` runs inside the call, so a malformed object rejects like any other error. */
  #write(steps: () => WriteStep[], options: BatchOptions = {}): Promise<StoredObject[]> {
    return this.#call(() => this.#writes.enqueue(steps(), options.fence));
  }

  #call<T>(fn: () => Promise<T>): Promise<T> {
    if (this.#closed)
      return Promise.reject(
        new UnavailableError(`the etcd store at ${this.endpoints.join(',')} is closed`),
      );
    return new Promise<T>((resolve) => resolve(fn())).catch((err: unknown) => {
      throw this.#error(err);
    });
  }

  #error(err: unknown): unknown {
    return storeError(err, this.endpoints);
  }
}

/** The single object a one-step write resolves with. */
function only(written: StoredObject[]): StoredObject {
  const [obj] = written;
  if (obj === undefined) throw new Error('etcd store: a write resolved with no object');
  return obj;
}

function positiveInteger(n: number, what: string): number {
  if (!Number.isSafeInteger(n) || n < 1)
    throw new RangeError(`${what} must be a positive integer, got ${n}`);
  return n;
}
