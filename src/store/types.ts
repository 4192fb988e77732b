// The store contract every backend (SQLite embedded, etcd for HA) implements and
// the conformance suite (store/conformance/) checks. Documents are opaque to
// the store apart from `kind` and `metadata`; validation happens above it.
//
// Invariants every backend keeps:
// - One global, strictly increasing revision. Every successful create, update,
//   updateStatus or delete gets the next revision, which becomes the object's
//   `metadata.resourceVersion` (a decimal string).
// - A write is durable before its promise resolves (a crash after resolve never
//   loses it).
// - Watch delivers every change after the requested revision exactly once, in
//   revision order, with no gaps, until closed.

export interface StoredObject {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    uid?: string;
    resourceVersion?: string;
    generation?: number;
    creationTimestamp?: string;
  };
  spec?: unknown;
  status?: unknown;
}

export interface ObjectKey {
  kind: string;
  /** Absent for cluster-scoped kinds. */
  namespace?: string | undefined;
  name: string;
}

export interface ListOptions {
  /** Only this namespace; absent lists every namespace. */
  namespace?: string | undefined;
  /** Kubernetes label selector syntax: `a=b,c!=d,e in (x,y),!f,g`. */
  labelSelector?: string | undefined;
  /** Page size; absent or 0 returns everything. */
  limit?: number | undefined;
  /** Opaque token from a previous page's `continue`. */
  continue?: string | undefined;
}

export interface ListResult<T extends StoredObject = StoredObject> {
  items: T[];
  /** The store revision the list reflects; watch from here to follow changes. */
  resourceVersion: string;
  /** Present when more items remain. */
  continue?: string;
}

export interface WriteOptions {
  /**
   * Compare-and-set: fail with ConflictError unless the stored object's
   * resourceVersion equals this. Defaults to `metadata.resourceVersion` of the
   * object passed in; pass `null` to write unconditionally.
   */
  expectedResourceVersion?: string | null;
}

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED';

export interface WatchEvent<T extends StoredObject = StoredObject> {
  type: WatchEventType;
  /** For DELETED, the last state with the deletion's revision as resourceVersion. */
  object: T;
}

export interface WatchOptions {
  /** Kind to follow; absent follows every kind. */
  kind?: string | undefined;
  namespace?: string | undefined;
  labelSelector?: string | undefined;
  /**
   * Deliver changes with revision strictly greater than this. Absent means
   * "from now". A revision older than the oldest retained change throws ExpiredError.
   */
  fromRevision?: string | undefined;
}

export interface Watch<T extends StoredObject = StoredObject> extends AsyncIterable<WatchEvent<T>> {
  /** Stops delivery; the iterator then ends. Idempotent. */
  close(): void;
}

/** One write of a `Store.batch`; each behaves as the method of the same name. */
export type BatchOperation =
  | { op: 'create'; object: StoredObject }
  | { op: 'update'; object: StoredObject; options?: WriteOptions }
  | { op: 'updateStatus'; object: StoredObject; options?: WriteOptions }
  | { op: 'delete'; key: ObjectKey; options?: WriteOptions };

/**
 * Fencing: a write made only while the writer still holds a lease. `key`
 * names the lease object (e.g. the leader `Lease`) and `resourceVersion` the
 * version the writer last wrote or read of it. The backend checks it in the
 * same transaction as the writes, so a writer whose lease was renewed or taken
 * by someone else since (a deposed leader, paused and resumed) stores nothing:
 * the write rejects with ConflictError naming the lease.
 */
export interface Fence {
  key: ObjectKey;
  resourceVersion: string;
}

export interface BatchOptions {
  /** Store the batch only if the fence still holds (see Fence). */
  fence?: Fence | undefined;
}

export interface Store {
  /** Throws NotFoundError. */
  get(key: ObjectKey): Promise<StoredObject>;
  list(kind: string, options?: ListOptions): Promise<ListResult>;
  /** Sets uid, resourceVersion, generation 1 and creationTimestamp. Throws AlreadyExistsError. */
  create(obj: StoredObject): Promise<StoredObject>;
  /**
   * Replaces metadata (labels, annotations) and spec; the stored status is kept.
   * `generation` increments when spec changes. Throws NotFoundError, ConflictError.
   */
  update(obj: StoredObject, options?: WriteOptions): Promise<StoredObject>;
  /** Replaces status only; spec, metadata and generation are kept. */
  updateStatus(obj: StoredObject, options?: WriteOptions): Promise<StoredObject>;
  /** Returns the deleted object. Throws NotFoundError, ConflictError. */
  delete(key: ObjectKey, options?: WriteOptions): Promise<StoredObject>;
  /**
   * All of `operations` or none of them. They are applied in order (a later one
   * sees an earlier one's result), each getting its own next revision, and
   * watchers see their events only once all of them are durable. If any one
   * fails, nothing is stored, no revision is used, and the batch rejects with
   * that operation's error. Resolves with the written objects in order (for
   * delete, the deleted object); an empty batch resolves with [] and writes nothing.
   * With `options.fence`, a fence that no longer holds fails the batch like a
   * failing operation (ConflictError); a single fenced write is a batch of one.
   */
  batch(operations: readonly BatchOperation[], options?: BatchOptions): Promise<StoredObject[]>;
  watch(options?: WatchOptions): Watch;
  /** The latest revision. */
  revision(): Promise<string>;
  close(): Promise<void>;
}

/** Every object of a store as of one revision. */
export interface Snapshot {
  revision: string;
  /** In (kind, namespace, name) order. */
  objects: StoredObject[];
}

/**
 * What backup, restore and migration need of a backend (SQLite, etcd) beyond
 * Store. They work below EncryptedStore, so Secrets stay sealed in a backup.
 */
export interface BackendStore extends Store {
  /** Every object at one revision (one read transaction). */
  snapshot(): Promise<Snapshot>;
  /**
   * Writes each object as it is (uid, generation, creationTimestamp, status
   * kept) at the next revisions, all or nothing; AlreadyExists if one is present.
   */
  restore(objects: readonly StoredObject[]): Promise<StoredObject[]>;
  /** Drops the change history, so no earlier version of any object is left (see EncryptedStore). */
  purgeHistory(): Promise<void>;
}
