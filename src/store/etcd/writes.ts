// The etcd store's write path: group commit as one optimistic etcd transaction.
//
// Writes issued in one turn of the event loop (and those queued while a commit
// is in flight) form a group, bounded by `maxTxnOps`. For a group:
//   1. read `meta/revision` and every object the group touches (and every
//      fence's lease) at one etcd revision;
//   2. run each write's steps in memory, in order, each at the next store
//      revision, on top of the earlier successful writes of the group; a write
//      whose precondition fails is dropped alone (it rejects, uses no revision);
//   3. commit one transaction: IF meta/revision's mod revision is what step 1
//      read THEN put each touched object's final state (or delete it), one log
//      entry per change, the new counter, and trim the log past the retention.
// If another writer (this process never has two commits in flight; another
// control plane may) committed in between, the compare fails and the group is
// read and run again: the preconditions are judged on state no write has
// changed before commit, so compare-and-set means the same as on SQLite.
//
// Durability: a commit is acknowledged by etcd only after a majority of its
// members has it in their logs; a write's promise resolves only after that.
// A commit whose answer is lost (a member died mid-request) may be retried by
// the client; the log entry carries the transaction's id, so a retry that
// finds the counter moved recognises its own commit instead of running again.
import { randomUUID } from 'node:crypto';
import { setImmediate as nextTurn } from 'node:timers/promises';
import type { Etcd3, IRequestOp } from 'etcd3';
import { UnavailableError } from '../../model/errors.ts';
import type { NormalKey } from '../objects.ts';
import { checkFence, fenceKey, type ObjectReader, type WriteStep } from '../steps.ts';
import type { Fence, StoredObject, WatchEventType } from '../types.ts';
import type { Layout, LogEntry } from './layout.ts';

/** How many times a group is read and run again after losing the race to another writer. */
const MAX_ATTEMPTS = 100;
/** Range operations per read transaction while gathering a group's objects. */
const READ_CHUNK = 100;

interface PendingWrite {
  steps: WriteStep[];
  fence: Fence | undefined;
  resolve: (written: StoredObject[]) => void;
  reject: (err: unknown) => void;
}

export interface LogRetention {
  /** How many of the most recent log entries are always kept. */
  events: number;
  /** How many entries past `events` accumulate before one range delete removes them. */
  trimBatch: number;
}

interface Change {
  key: string;
  k: NormalKey;
  type: WatchEventType;
  doc: StoredObject;
}

export class EtcdWrites {
  readonly #client: Etcd3;
  readonly #layout: Layout;
  readonly #retention: LogRetention;
  readonly #maxTxnOps: number;
  readonly #toError: (err: unknown) => unknown;
  #queue: PendingWrite[] = [];
  #running: Promise<void> | undefined;
  /** Watches opening "from now": the next group waits until each has read its start. */
  readonly #barriers = new Set<Promise<unknown>>();

  constructor(
    client: Etcd3,
    layout: Layout,
    options: { retention: LogRetention; maxTxnOps: number; toError: (err: unknown) => unknown },
  ) {
    this.#client = client;
    this.#layout = layout;
    this.#retention = options.retention;
    this.#maxTxnOps = options.maxTxnOps;
    this.#toError = options.toError;
  }

  enqueue(steps: WriteStep[], fence: Fence | undefined): Promise<StoredObject[]> {
    return new Promise((resolve, reject) => {
      this.#queue.push({ steps, fence, resolve, reject });
      this.#running ??= this.#drain();
    });
  }

  /**
   * Holds writes issued after this call until `started` settles, so that a
   * watch opened "from now" sees every write its caller issues after opening it.
   */
  hold(started: Promise<unknown>): void {
    const barrier = started.catch(() => undefined).finally(() => this.#barriers.delete(barrier));
    this.#barriers.add(barrier);
  }

  /** Resolves once every write queued so far has been committed or rejected. */
  async flush(): Promise<void> {
    while (this.#running !== undefined) await this.#running;
  }

  async #drain(): Promise<void> {
    try {
      // One turn's writes form one group.
      await nextTurn();
      while (this.#queue.length > 0) {
        await Promise.all(this.#barriers);
        await this.#commitGroup(this.#takeGroup());
      }
    } finally {
      this.#running = undefined;
    }
  }

  /** Queued writes up to the transaction size (at least one, however large). */
  #takeGroup(): PendingWrite[] {
    let ops = 1;
    let n = 0;
    for (const w of this.#queue) {
      const cost = 2 * w.steps.length;
      if (n > 0 && ops + cost > this.#maxTxnOps) break;
      ops += cost;
      n++;
    }
    return this.#queue.splice(0, n);
  }

  async #commitGroup(group: PendingWrite[]): Promise<void> {
    try {
      for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
        if (await this.#tryCommit(group)) return;
      }
      throw new UnavailableError(
        `etcd store: gave up after ${MAX_ATTEMPTS} attempts, each overtaken by another writer's commit`,
      );
    } catch (err) {
      const error = this.#toError(err);
      for (const w of group) w.reject(error);
    }
  }

  /** One read-run-commit round; false when another writer committed first. */
  async #tryCommit(group: PendingWrite[]): Promise<boolean> {
    const layout = this.#layout;
    const keys = new Map<string, NormalKey>();
    for (const w of group) {
      for (const s of w.steps) keys.set(layout.object(s.k).toString('binary'), s.k);
      if (w.fence !== undefined) {
        const k = fenceKey(w.fence);
        keys.set(layout.object(k).toString('binary'), k);
      }
    }
    const snapshot = await this.#read([...keys.keys()]);
    const base = snapshot.revision;

    // Run every write on top of the earlier ones; a failed write leaves no trace.
    const state = new Map(snapshot.objects);
    const changes: Change[] = [];
    const outcomes: ({ written: StoredObject[] } | { error: unknown })[] = [];
    for (const w of group) {
      const local = new Map<string, StoredObject | undefined>();
      const mine: Change[] = [];
      const read: ObjectReader = (k) => {
        const key = layout.object(k).toString('binary');
        return local.has(key) ? local.get(key) : state.get(key);
      };
      try {
        if (w.fence !== undefined) checkFence(read, w.fence);
        for (const step of w.steps) {
          const key = layout.object(step.k).toString('binary');
          const { type, doc } = step.mutate(base + changes.length + mine.length + 1, read);
          local.set(key, type === 'DELETED' ? undefined : doc);
          mine.push({ key, k: step.k, type, doc });
        }
      } catch (err) {
        outcomes.push({ error: err });
        continue;
      }
      for (const [key, value] of local) state.set(key, value);
      changes.push(...mine);
      outcomes.push({ written: mine.map((c) => c.doc) });
    }
    if (changes.length === 0) {
      settle(group, outcomes);
      return true;
    }

    const txn = randomUUID();
    const revision = base + changes.length;
    const success: IRequestOp[] = [];
    for (const key of new Set(changes.map((c) => c.key))) {
      const doc = state.get(key);
      const k = Buffer.from(key, 'binary');
      success.push(
        doc === undefined
          ? { request_delete_range: { key: k } }
          : { request_put: { key: k, value: Buffer.from(JSON.stringify(doc)) } },
      );
    }
    changes.forEach((c, i) => {
      const entry: LogEntry = { type: c.type, txn, doc: c.doc };
      success.push({
        request_put: { key: layout.log(base + i + 1), value: Buffer.from(JSON.stringify(entry)) },
      });
    });
    success.push({ request_put: { key: layout.revision, value: Buffer.from(String(revision)) } });
    const { events, trimBatch } = this.#retention;
    if (revision - snapshot.compacted >= events + trimBatch) {
      // Never past `base`: the entries this transaction writes stay.
      const upTo = Math.min(revision - events, base);
      success.push({
        request_delete_range: {
          key: Buffer.from(layout.logPrefix),
          range_end: layout.log(upTo + 1),
        },
      });
      success.push({ request_put: { key: layout.compacted, value: Buffer.from(String(upTo)) } });
    }

    const result = await this.#client.kv.txn({
      compare: [
        { key: layout.revision, target: 'Mod', result: 'Equal', mod_revision: snapshot.counterMod },
      ],
      success,
      failure: [{ request_range: { key: layout.log(base + 1) } }],
    });
    if (!result.succeeded) {
      // Our own commit, retried by the client after its answer was lost?
      const kv = result.responses[0]?.response_range.kvs[0];
      const entry = kv === undefined ? undefined : (JSON.parse(kv.value.toString()) as LogEntry);
      if (entry?.txn !== txn) return false;
    }
    settle(group, outcomes);
    return true;
  }

  /** meta/revision (value and mod revision), meta/compacted and `keys`, at one etcd revision. */
  async #read(keys: string[]) {
    const layout = this.#layout;
    const first = await this.#client.kv.txn({
      success: [
        { request_range: { key: layout.revision } },
        { request_range: { key: layout.compacted } },
      ],
    });
    const at = first.header.revision;
    const counter = first.responses[0]?.response_range.kvs[0];
    const compacted = first.responses[1]?.response_range.kvs[0];
    const objects = new Map<string, StoredObject | undefined>();
    for (let i = 0; i < keys.length; i += READ_CHUNK) {
      const chunk = keys.slice(i, i + READ_CHUNK);
      const read = await this.#client.kv.txn({
        success: chunk.map((key) => ({
          request_range: { key: Buffer.from(key, 'binary'), revision: at },
        })),
      });
      chunk.forEach((key, j) => {
        const kv = read.responses[j]?.response_range.kvs[0];
        objects.set(
          key,
          kv === undefined ? undefined : (JSON.parse(kv.value.toString()) as StoredObject),
        );
      });
    }
    return {
      revision: counter === undefined ? 0 : Number(counter.value.toString()),
      counterMod: counter?.mod_revision ?? '0',
      compacted: compacted === undefined ? 0 : Number(compacted.value.toString()),
      objects,
    };
  }
}

function settle(
  group: PendingWrite[],
  outcomes: ({ written: StoredObject[] } | { error: unknown })[],
) {
  group.forEach((w, i) => {
    const o = outcomes[i]!;
    // Fresh copies: neither the caller's input nor a later write aliases them.
    if ('written' in o) w.resolve(o.written.map((d) => structuredClone(d)));
    else w.reject(o.error);
  });
}
