// A Store wrapper that keeps the spec of chosen kinds (Secret by default)
// encrypted at rest. Above it nothing changes: callers write and read plaintext
// specs, so validation, OpenAPI and the API's write-only redaction see the
// schema they know. Below it the backend stores, in its objects, its change
// history and its WAL, only
//
//   spec: { encrypted: Envelope }     (see envelope.ts)
//
// sealed under the key ring's primary key, with the object's kind, namespace and
// name as authenticated data. Metadata (labels, names) stays in the clear so the
// backend can still select and watch by it.
//
// A spec stored before encryption was enabled is plaintext and reads as such;
// `reencryptAll` (run on start) rewrites those and any sealed under an older key,
// then has the backend purge its history so neither survives on disk.
import { isDeepStrictEqual } from 'node:util';
import { ConflictError, InternalError, NotFoundError } from '../model/errors.ts';
import { isEnvelope, open, seal, type Envelope } from './envelope.ts';
import type { KeyRing } from './keys.ts';
import type {
  BatchOperation,
  BatchOptions,
  ListOptions,
  ListResult,
  ObjectKey,
  Store,
  StoredObject,
  Watch,
  WatchEvent,
  WatchOptions,
  WriteOptions,
} from './types.ts';

export interface EncryptedStoreOptions {
  inner: Store;
  keys: KeyRing;
  /** Kinds whose spec is encrypted. Default: Secret. */
  kinds?: readonly string[];
  /**
   * Drops the backend's change history and rewrites its files, so that no
   * earlier version of any object is left on disk; run after re-encryption.
   * Without it old versions age out with the backend's normal compaction.
   */
  purgeHistory?: () => Promise<void>;
}

export interface RotationResult {
  /** The new primary key. */
  key: string;
  /** Objects re-encrypted with it. */
  reencrypted: number;
  /** Keys removed from the key file (with `prune`). */
  pruned: string[];
  /** The key file's keys afterwards, primary first. */
  keys: string[];
}

/** Re-reads of an object whose rewrite lost a compare-and-set race before giving up. */
const REWRITE_ATTEMPTS = 5;

interface SealedSpec {
  encrypted: Envelope;
}

export class EncryptedStore implements Store {
  readonly keys: KeyRing;
  readonly #inner: Store;
  readonly #kinds: ReadonlySet<string>;
  readonly #purgeHistory: (() => Promise<void>) | undefined;
  /** Rotations run one at a time; each waits for the one before. */
  #rotation: Promise<unknown> = Promise.resolve();

  constructor(options: EncryptedStoreOptions) {
    this.#inner = options.inner;
    this.keys = options.keys;
    this.#kinds = new Set(options.kinds ?? ['Secret']);
    this.#purgeHistory = options.purgeHistory;
  }

  async get(key: ObjectKey): Promise<StoredObject> {
    return this.#decrypt(await this.#inner.get(key));
  }

  async list(kind: string, options?: ListOptions): Promise<ListResult> {
    const result = await this.#inner.list(kind, options);
    if (!this.#kinds.has(kind)) return result;
    return { ...result, items: result.items.map((o) => this.#decrypt(o)) };
  }

  async create(obj: StoredObject): Promise<StoredObject> {
    if (!this.#encrypts(obj)) return this.#inner.create(obj);
    const { stored, plaintext } = this.#seal(obj);
    return withSpec(await this.#inner.create(stored), plaintext);
  }

  async update(obj: StoredObject, options?: WriteOptions): Promise<StoredObject> {
    if (!this.#encrypts(obj)) return this.#inner.update(obj, options);
    const { stored, plaintext } = this.#seal(obj);
    const unchanged = await this.#unchangedSealedSpec(obj, plaintext);
    if (unchanged !== undefined) stored.spec = unchanged;
    return withSpec(await this.#inner.update(stored, options), plaintext);
  }

  async updateStatus(obj: StoredObject, options?: WriteOptions): Promise<StoredObject> {
    if (!this.#encrypts(obj)) return this.#inner.updateStatus(obj, options);
    // The backend keeps the stored spec; the plaintext one never goes down.
    const statusOnly: StoredObject = { ...obj };
    delete statusOnly.spec;
    return this.#decrypt(await this.#inner.updateStatus(statusOnly, options));
  }

  /** Returns the deleted object; one whose key is gone comes back without its spec, since it is deleted all the same. */
  async delete(key: ObjectKey, options?: WriteOptions): Promise<StoredObject> {
    return this.#decryptDeleted(await this.#inner.delete(key, options));
  }

  /** One backend batch of the operations, each sealed as its own method above seals it. */
  async batch(
    operations: readonly BatchOperation[],
    options?: BatchOptions,
  ): Promise<StoredObject[]> {
    const prepared = await Promise.all(operations.map((o) => this.#prepare(o)));
    const written = await this.#inner.batch(
      prepared.map((p) => p.operation),
      options,
    );
    return written.map((obj, i) => prepared[i]!.finish(obj));
  }

  watch(options?: WatchOptions): Watch {
    const inner = this.#inner.watch(options);
    if (options?.kind !== undefined && options.kind !== '' && !this.#kinds.has(options.kind))
      return inner;
    return new DecryptingWatch(inner, (o) => this.#decrypt(o));
  }

  revision(): Promise<string> {
    return this.#inner.revision();
  }

  close(): Promise<void> {
    return this.#inner.close();
  }

  /**
   * Rewrites every object of the encrypted kinds that is not sealed with the
   * primary key (plaintext from before encryption, or an older key) and
   * returns how many it rewrote. The backend's history is then purged when
   * anything was rewritten, or always with `purge: 'always'` (a first start
   * with encryption, whose history may hold plaintext of deleted objects).
   */
  async reencryptAll(options: { purge: 'always' | 'if-rewritten' }): Promise<number> {
    let rewritten = 0;
    for (const kind of this.#kinds) {
      let page: ListResult | undefined;
      do {
        page = await this.#inner.list(kind, {
          limit: 500,
          ...(page?.continue !== undefined ? { continue: page.continue } : {}),
        });
        for (const raw of page.items) if (await this.#rewrite(raw)) rewritten++;
      } while (page.continue !== undefined);
    }
    if (rewritten > 0 || options.purge === 'always') await this.#purgeHistory?.();
    return rewritten;
  }

  /**
   * Puts a fresh key first in the key file, re-encrypts every object with it
   * and purges the history; with `prune`, then drops the older keys from the file.
   */
  rotateKey(options: { prune: boolean }): Promise<RotationResult> {
    const run = this.#rotation.then(async () => {
      const key = this.keys.rotate();
      const reencrypted = await this.reencryptAll({ purge: 'if-rewritten' });
      const pruned = options.prune ? this.keys.prune() : [];
      return { key: key.name, reencrypted, pruned, keys: this.keys.names };
    });
    this.#rotation = run.catch(() => undefined);
    return run;
  }

  // ---- internals -----------------------------------------------------------

  #encrypts(obj: StoredObject): boolean {
    // A malformed object goes to the backend as it is, to be refused there.
    return this.#kinds.has(obj?.kind) && typeof obj.metadata?.name === 'string';
  }

  #seal(obj: StoredObject): { stored: StoredObject; plaintext: unknown } {
    const stored: StoredObject = { ...obj };
    delete stored.spec;
    if (obj.spec === undefined) return { stored, plaintext: undefined };
    const json = JSON.stringify(obj.spec);
    const sealed: SealedSpec = {
      encrypted: seal(Buffer.from(json, 'utf8'), this.keys.primary, context(obj)),
    };
    stored.spec = sealed;
    return { stored, plaintext: JSON.parse(json) };
  }

  /**
   * The stored sealed spec when it is under the primary key and holds
   * `plaintext` (obj's spec), so an update that changes nothing stores the same bytes
   * and keeps the backend's generation (a fresh seal always differs).
   */
  async #unchangedSealedSpec(
    obj: StoredObject,
    plaintext: unknown,
  ): Promise<SealedSpec | undefined> {
    if (plaintext === undefined) return undefined;
    let current: StoredObject;
    try {
      current = await this.#inner.get(keyOf(obj));
    } catch (err) {
      if (err instanceof NotFoundError) return undefined;
      throw err;
    }
    if (!isSealedSpec(current.spec) || current.spec.encrypted.keyId !== this.keys.primary.name)
      return undefined;
    return isDeepStrictEqual(this.#decrypt(current).spec, plaintext) ? current.spec : undefined;
  }

  async #prepare(o: BatchOperation): Promise<{
    operation: BatchOperation;
    finish: (written: StoredObject) => StoredObject;
  }> {
    if (o.op === 'delete') return { operation: o, finish: (w) => this.#decryptDeleted(w) };
    if (!this.#encrypts(o.object)) return { operation: o, finish: (w) => w };
    if (o.op === 'updateStatus') {
      const statusOnly: StoredObject = { ...o.object };
      delete statusOnly.spec;
      return { operation: { ...o, object: statusOnly }, finish: (w) => this.#decrypt(w) };
    }
    const { stored, plaintext } = this.#seal(o.object);
    if (o.op === 'update') {
      const unchanged = await this.#unchangedSealedSpec(o.object, plaintext);
      if (unchanged !== undefined) stored.spec = unchanged;
    }
    return { operation: { ...o, object: stored }, finish: (w) => withSpec(w, plaintext) };
  }

  #decryptDeleted(deleted: StoredObject): StoredObject {
    try {
      return this.#decrypt(deleted);
    } catch (err) {
      if (!(err instanceof InternalError)) throw err;
      const bare: StoredObject = { ...deleted };
      delete bare.spec;
      return bare;
    }
  }

  #decrypt(obj: StoredObject): StoredObject {
    if (!this.#kinds.has(obj.kind) || !isSealedSpec(obj.spec)) return obj;
    const plaintext = open(obj.spec.encrypted, this.keys, context(obj), describe(obj));
    return { ...obj, spec: JSON.parse(plaintext.toString('utf8')) as unknown };
  }

  /** Re-seals one object with the primary key unless it already is; true when it wrote. */
  async #rewrite(raw: StoredObject): Promise<boolean> {
    let current = raw;
    for (let attempt = 1; ; attempt++) {
      if (
        current.spec === undefined ||
        (isSealedSpec(current.spec) && current.spec.encrypted.keyId === this.keys.primary.name)
      )
        return false;
      const { stored } = this.#seal(this.#decrypt(current));
      try {
        await this.#inner.update(stored, {
          expectedResourceVersion: current.metadata.resourceVersion ?? null,
        });
        return true;
      } catch (err) {
        if (!(err instanceof ConflictError) || attempt === REWRITE_ATTEMPTS) throw err;
      }
      // Written meanwhile (through this wrapper, so most likely already sealed
      // with the primary key) or deleted: look again.
      try {
        current = await this.#inner.get(keyOf(current));
      } catch (err) {
        if (err instanceof NotFoundError) return false;
        throw err;
      }
    }
  }
}

/** Decrypts each event's object; a failure ends the watch with that error. */
class DecryptingWatch implements Watch {
  readonly #inner: Watch;
  readonly #decrypt: (o: StoredObject) => StoredObject;

  constructor(inner: Watch, decrypt: (o: StoredObject) => StoredObject) {
    this.#inner = inner;
    this.#decrypt = decrypt;
  }

  close(): void {
    this.#inner.close();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<WatchEvent> {
    for await (const event of this.#inner)
      yield { type: event.type, object: this.#decrypt(event.object) };
  }
}

function isSealedSpec(spec: unknown): spec is SealedSpec {
  return (
    typeof spec === 'object' &&
    spec !== null &&
    Object.keys(spec).length === 1 &&
    isEnvelope((spec as { encrypted?: unknown }).encrypted)
  );
}

function keyOf(obj: StoredObject): ObjectKey {
  return { kind: obj.kind, namespace: obj.metadata.namespace, name: obj.metadata.name };
}

/** The identity an envelope is bound to; an absent and an empty namespace are the same. */
function context(obj: StoredObject): string {
  return `${obj.kind}\0${obj.metadata.namespace ?? ''}\0${obj.metadata.name}`;
}

function describe(obj: StoredObject): string {
  const ns = obj.metadata.namespace;
  return `${obj.kind} "${ns === undefined || ns === '' ? '' : `${ns}/`}${obj.metadata.name}"`;
}

function withSpec(written: StoredObject, plaintext: unknown): StoredObject {
  if (plaintext === undefined) return written;
  return { ...written, spec: plaintext };
}
