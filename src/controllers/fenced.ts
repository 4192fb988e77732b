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
// refused by a fence that is not the lease's version any more is tried again
// when the lease still names us: with the version the elector reported since,
// or the one the lease has now (the renewal committed, and its answer is still
// on its way to the elector), but only within the term the write began in: a
// write of a term that was lost is never carried into the next one. Nothing of
// a refused batch was stored, so the retry cannot write twice.
import { ConflictError, NotFoundError } from '../model/errors.ts';
import type { Lease } from '../model/schema.ts';
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

/** Renewals that may overtake one write before it gives up (each a renewal period apart). */
const RENEWALS_PER_WRITE = 3;

export class FencedStore implements Store {
  readonly #inner: Store;
  readonly #lease: ObjectKey;
  readonly #identity: string;
  readonly #log: (line: string) => void;
  #fence: Fence | undefined;
  /** Incremented at every release: writes begun before it are not retried after it. */
  #term = 0;

  /** `identity` is the elector's: the lease's holder while this process leads. */
  constructor(inner: Store, lease: ObjectKey, identity: string, log: (line: string) => void) {
    this.#inner = inner;
    this.#lease = lease;
    this.#identity = identity;
    this.#log = log;
  }

  /** The lease's resourceVersion after this process acquired or renewed it. */
  hold(resourceVersion: string): void {
    this.#fence = { key: this.#lease, resourceVersion };
  }

  /** The lease is lost (or given up): every write is refused from now on. */
  release(): void {
    this.#fence = undefined;
    this.#term++;
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
    const term = this.#term;
    for (let attempt = 0; ; attempt++) {
      const fence = this.#fence;
      if (fence === undefined)
        throw new ConflictError(
          `fenced write refused: this control plane does not hold the leader lease ${this.#lease.name}`,
        );
      try {
        return await this.#inner.batch(operations, { fence });
      } catch (err) {
        if (!(err instanceof ConflictError) || !err.message.startsWith('fenced write refused'))
          throw err;
        if (attempt < RENEWALS_PER_WRITE && (await this.#renewedSince(fence, term))) continue;
        this.#log(`fence: ${describe(operations)} refused: ${err.message}`);
        throw err;
      }
    }
  }

  /**
   * Whether we still hold the lease, in the same term, at a newer version than
   * `fence` (then the fence is moved to it).
   */
  async #renewedSince(fence: Fence, term: number): Promise<boolean> {
    if (this.#term !== term) return false;
    if (this.#fence !== fence) return this.#fence !== undefined;
    const lease = (await this.#inner.get(this.#lease).catch((err: unknown) => {
      if (err instanceof NotFoundError) return undefined;
      throw err;
    })) as Lease | undefined;
    const version = lease?.metadata.resourceVersion;
    if (lease?.spec.holderIdentity !== this.#identity || version === undefined) return false;
    // The elector may have reported a newer renewal (or a loss) while we read.
    if (this.#term !== term) return false;
    if (this.#fence === fence && version !== fence.resourceVersion) this.hold(version);
    return this.#fence !== undefined && this.#fence !== fence;
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
