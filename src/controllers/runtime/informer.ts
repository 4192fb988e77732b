// An informer keeps an in-memory copy of one kind, fed by list-then-watch, and
// calls handlers on every change. Handlers only enqueue keys; reconcilers read
// the cache (or the store) for current state, so a missed or merged event can
// never leave a wrong result behind. When the watch ends (expired revision, a
// watcher that fell behind, a store restart), the informer re-lists and diffs.
import { ExpiredError } from '../../model/errors.ts';
import type { Store, StoredObject } from '../../store/types.ts';

export interface InformerHandlers<T extends StoredObject> {
  onAdd?(obj: T): void;
  onUpdate?(old: T, obj: T): void;
  onDelete?(obj: T): void;
}

export function objectKey(obj: {
  metadata: { namespace?: string | undefined; name: string };
}): string {
  return obj.metadata.namespace
    ? `${obj.metadata.namespace}/${obj.metadata.name}`
    : obj.metadata.name;
}

export class Informer<T extends StoredObject> {
  readonly #cache = new Map<string, T>();
  readonly #handlers: InformerHandlers<T>[] = [];
  #synced!: Promise<void>;
  #markSynced!: () => void;
  #stopped = false;
  #closeWatch: (() => void) | undefined;
  #loop: Promise<void> | undefined;

  readonly store: Store;
  readonly kind: string;
  readonly onError: (err: unknown) => void;

  constructor(store: Store, kind: string, onError: (err: unknown) => void = () => {}) {
    this.store = store;
    this.kind = kind;
    this.onError = onError;
    this.#synced = new Promise((resolve) => (this.#markSynced = resolve));
  }

  addHandlers(h: InformerHandlers<T>): void {
    this.#handlers.push(h);
  }

  get(key: string): T | undefined {
    return this.#cache.get(key);
  }

  list(): T[] {
    return [...this.#cache.values()];
  }

  /** Resolves once the first list has been loaded into the cache. */
  hasSynced(): Promise<void> {
    return this.#synced;
  }

  start(): void {
    this.#loop ??= this.#run();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    this.#closeWatch?.();
    await this.#loop;
  }

  async #run(): Promise<void> {
    let backoff = 100;
    while (!this.#stopped) {
      try {
        const listed = await this.store.list(this.kind);
        this.#replace(listed.items as T[]);
        this.#markSynced();
        const watch = this.store.watch({ kind: this.kind, fromRevision: listed.resourceVersion });
        this.#closeWatch = () => watch.close();
        if (this.#stopped) watch.close();
        for await (const ev of watch) {
          const obj = ev.object as T;
          const key = objectKey(obj);
          const old = this.#cache.get(key);
          if (ev.type === 'DELETED') {
            this.#cache.delete(key);
            this.#handlers.forEach((h) => h.onDelete?.(obj));
          } else {
            this.#cache.set(key, obj);
            if (old) this.#handlers.forEach((h) => h.onUpdate?.(old, obj));
            else this.#handlers.forEach((h) => h.onAdd?.(obj));
          }
        }
        backoff = 100;
      } catch (err) {
        if (this.#stopped) return;
        if (!(err instanceof ExpiredError)) this.onError(err);
        await new Promise((r) => setTimeout(r, backoff));
        backoff = Math.min(backoff * 2, 5000);
      }
    }
  }

  /** Replaces the cache with a fresh list, emitting the differences as events. */
  #replace(items: T[]): void {
    const fresh = new Map(items.map((o) => [objectKey(o), o]));
    for (const [key, old] of this.#cache) {
      if (!fresh.has(key)) {
        this.#cache.delete(key);
        this.#handlers.forEach((h) => h.onDelete?.(old));
      }
    }
    for (const [key, obj] of fresh) {
      const old = this.#cache.get(key);
      this.#cache.set(key, obj);
      if (!old) this.#handlers.forEach((h) => h.onAdd?.(obj));
      else if (old.metadata.resourceVersion !== obj.metadata.resourceVersion)
        this.#handlers.forEach((h) => h.onUpdate?.(old, obj));
    }
  }
}
