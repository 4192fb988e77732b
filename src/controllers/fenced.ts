// The store as the controllers see it: reads and watches pass through, and
// every write carries the leader lease as a fence (store/types.ts Fence), so
// the store refuses it in the same transaction once another control plane has
// taken the lease. A leader paused past its lease (GC, SIGSTOP, a VM frozen)
// that wakes up and writes before its elector notices stores nothing.
//
// Invariants: the fence is the lease's resourceVersion as this process last
// acquired or renewed it (`hold`, called by the elector before the workers of
// a term start); without a held lease every write is refused here, before it
// reaches the store. Our own renewal moves the lease's version too, so a write
// refused while the fence changed under it is tried again with the new one;
// nothing of a refused batch was stored, so the retry cannot write twice.
import { ConflictError } from '../model/errors.ts';
import type {
  BatchOperation,
  Fence,
  ListOptions,
  ListResult,
  ObjectKey,
  Store,
  StoredObject,
  Watch,
  WatchOptions,
  WriteOptions,
} from '../store/types.ts';

/** Renewals that may overtake one write before it gives up (each is a lease period apart). */
const RENEWALS_PER_WRITE = 3;

export class FencedStore implements Store {
  readonly #inner: Store;
  readonly #lease: ObjectKey;
  readonly #log: (line: string) => void;
  #fence: Fence | undefined;

  constructor(inner: Store, lease: ObjectKey, log: (line: string) => void) {
    this.#inner = inner;
    this.#lease = lease;
    this.#log = log;
  }

  /** The lease's resourceVersion after this process acquired or renewed it. */
  hold(resourceVersion: string): void {
    this.#fence = { key: this.#lease, resourceVersion };
  }

  /** The lease is lost (or given up): every write is refused from now on. */
  release(): void {
    this.#fence = undefined;
  }

  get(key: ObjectKey): Promise<StoredObject> {
    return this.#inner.get(key);
  }

  list(kind: string, options?: ListOptions): Promise<ListResult> {
    return this.#inner.list(kind, options);
  }

  watch(options?: WatchOptions): Watch {
    return this.#inner.watch(options);
  }

  revision(): Promise<string> {
    return this.#inner.revision();
  }

  /** The inner store belongs to whoever opened it; closing this view closes nothing. */
  close(): Promise<void> {
    return Promise.resolve();
  }

  async create(object: StoredObject): Promise<StoredObject> {
    return one(await this.batch([{ op: 'create', object }]));
  }

  async update(object: StoredObject, options?: WriteOptions): Promise<StoredObject> {
    return one(await this.batch([{ op: 'update', object, ...withOptions(options) }]));
  }

  async updateStatus(object: StoredObject, options?: WriteOptions): Promise<StoredObject> {
    return one(await this.batch([{ op: 'updateStatus', object, ...withOptions(options) }]));
  }

  async delete(key: ObjectKey, options?: WriteOptions): Promise<StoredObject> {
    return one(await this.batch([{ op: 'delete', key, ...withOptions(options) }]));
  }

  /** The caller's own fence, if any, is replaced by the leader lease's. */
  async batch(operations: readonly BatchOperation[]): Promise<StoredObject[]> {
    for (let attempt = 0; ; attempt++) {
      const fence = this.#fence;
      if (fence === undefined)
        throw new ConflictError(
          `fenced write refused: this control plane does not hold the leader lease ${this.#lease.name}`,
        );
      try {
        return await this.#inner.batch(operations, { fence });
      } catch (err) {
        if (!(err instanceof ConflictError)) throw err;
        const renewed = this.#fence !== undefined && this.#fence !== fence;
        if (renewed && attempt < RENEWALS_PER_WRITE) continue;
        if (!renewed && err.message.startsWith('fenced write refused'))
          this.#log(`fence: ${describe(operations)} refused: ${err.message}`);
        throw err;
      }
    }
  }
}

function one(written: StoredObject[]): StoredObject {
  const [object] = written;
  if (object === undefined) throw new Error('a batch of one write resolved with no object');
  return object;
}

function withOptions(options: WriteOptions | undefined): { options?: WriteOptions } {
  return options === undefined ? {} : { options };
}

function describe(operations: readonly BatchOperation[]): string {
  const first = operations[0];
  if (first === undefined) return 'an empty batch';
  const key =
    first.op === 'delete'
      ? first.key
      : { kind: first.object.kind, name: first.object.metadata.name };
  const more = operations.length > 1 ? ` (+${operations.length - 1} more)` : '';
  return `${first.op} ${key.kind}/${key.name}${more}`;
}
