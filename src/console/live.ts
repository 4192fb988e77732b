// Live collections: list once, then follow the watch stream from the list's
// resourceVersion. A dropped stream reconnects from the last revision seen
// (BOOKMARKs keep it fresh while idle); an ERROR event (410 Expired when the
// revision was compacted, or a watcher that fell behind) or a failed resume
// relists. Subscribers are told once per animation frame however many events
// arrived, so a 266-cluster heartbeat burst costs one re-render and one
// aggregation, not 266.
import { useSyncExternalStore } from 'react';
import { API, ApiError, getJson, request } from './api.ts';

export interface Meta {
  name: string;
  namespace?: string;
  resourceVersion?: string;
  generation?: number;
  creationTimestamp?: string;
  labels?: Record<string, string>;
}
export interface Resource {
  kind: string;
  metadata: Meta;
}

export type FeedState = 'loading' | 'live' | 'reconnecting';

export interface FeedSnapshot<T> {
  items: readonly T[];
  byKey: ReadonlyMap<string, T>;
  state: FeedState;
  /** Bumped once per delivered batch; memoise aggregates on it. */
  version: number;
  error?: string;
}

interface WatchLine {
  type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';
  object: Resource & { code?: number; message?: string };
}

const keyOf = (o: Resource) => `${o.metadata.namespace ?? ''}/${o.metadata.name}`;
const RETRY_MS = [500, 1000, 2000, 5000, 10000];

export class Feed<T extends Resource> {
  readonly #path: string;
  readonly #map = new Map<string, T>();
  readonly #listeners = new Set<() => void>();
  #snapshot: FeedSnapshot<T>;
  #rv = '';
  #failures = 0;
  #scheduled = false;
  #started = false;

  /** Without a watch the feed relists every this many ms (see `feed`). */
  readonly #pollMs: number | undefined;

  constructor(path: string, pollMs?: number) {
    this.#path = path;
    this.#pollMs = pollMs;
    this.#snapshot = { items: [], byKey: new Map(), state: 'loading', version: 0 };
  }

  subscribe = (fn: () => void): (() => void) => {
    this.#listeners.add(fn);
    if (!this.#started) {
      this.#started = true;
      void this.#run();
    }
    return () => this.#listeners.delete(fn);
  };

  getSnapshot = (): FeedSnapshot<T> => this.#snapshot;

  #publish(state: FeedState, error?: string): void {
    const items = [...this.#map.values()];
    this.#snapshot = {
      items,
      byKey: new Map(this.#map),
      state,
      version: this.#snapshot.version + 1,
      ...(error !== undefined ? { error } : {}),
    };
    for (const fn of this.#listeners) fn();
  }

  /** Coalesces bursts: one publish per frame (or per 250 ms in a hidden tab). */
  #schedule(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    const flush = () => {
      this.#scheduled = false;
      this.#publish('live');
    };
    if (document.hidden) setTimeout(flush, 250);
    else requestAnimationFrame(flush);
  }

  async #relist(): Promise<void> {
    const list = await getJson<{ metadata: { resourceVersion: string }; items: T[] }>(this.#path);
    this.#map.clear();
    for (const item of list.items) this.#map.set(keyOf(item), item);
    this.#rv = list.metadata.resourceVersion;
    this.#publish('live');
  }

  async #run(): Promise<void> {
    let needList = true;
    for (;;) {
      try {
        if (needList) await this.#relist();
        if (this.#pollMs !== undefined) {
          await new Promise((r) => setTimeout(r, this.#pollMs));
          continue;
        }
        needList = await this.#follow();
        this.#failures = 0;
      } catch (err) {
        // A 401 is handled by the app (back to sign-in); keep retrying quietly
        // so the feed resumes once a new session exists.
        const message = err instanceof Error ? err.message : String(err);
        this.#failures++;
        if (err instanceof ApiError && err.status === 410) needList = true;
        this.#publish('reconnecting', message);
        const wait = RETRY_MS[Math.min(this.#failures - 1, RETRY_MS.length - 1)] ?? 10000;
        await new Promise((r) => setTimeout(r, wait));
        // Resuming after several failures may need a revision the server
        // compacted away; a fresh list is always correct.
        if (this.#failures >= 3) needList = true;
      }
    }
  }

  /** Follows the stream until it ends; returns whether a relist is needed. */
  async #follow(): Promise<boolean> {
    const sep = this.#path.includes('?') ? '&' : '?';
    const res = await request(
      `${this.#path}${sep}watch=true&resourceVersion=${encodeURIComponent(this.#rv)}`,
    );
    if (!res.body) throw new Error('watch: the response has no body');
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return false;
      buffer += value;
      let nl: number;
      while ((nl = buffer.indexOf('\n')) >= 0) {
        const line = buffer.slice(0, nl).trim();
        buffer = buffer.slice(nl + 1);
        if (line === '') continue;
        const event = JSON.parse(line) as WatchLine;
        if (event.type === 'ERROR') {
          await reader.cancel();
          return true;
        }
        const rv = event.object.metadata?.resourceVersion;
        if (rv) this.#rv = rv;
        if (event.type === 'BOOKMARK') continue;
        if (event.type === 'DELETED') this.#map.delete(keyOf(event.object));
        else this.#map.set(keyOf(event.object), event.object as unknown as T);
        this.#schedule();
      }
    }
  }
}

const feeds = new Map<string, Feed<Resource>>();

// A browser keeps at most six HTTP/1.1 connections per host and every watch
// holds one open. The kinds that change with failures and deployments are
// watched; clouds and sites (changed only by an operator's apply) are relisted
// every 15 s, which leaves connections free for explain and apply.
const POLLED: Record<string, number> = { clouds: 15000, sites: 15000 };

export function feed<T extends Resource>(plural: string): Feed<T> {
  let f = feeds.get(plural);
  if (!f) {
    f = new Feed<Resource>(`${API}/${plural}`, POLLED[plural]);
    feeds.set(plural, f);
  }
  return f as unknown as Feed<T>;
}

export function useFeed<T extends Resource>(plural: string): FeedSnapshot<T> {
  const f = feed<T>(plural);
  return useSyncExternalStore(f.subscribe, f.getSnapshot);
}
