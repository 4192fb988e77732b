// Live collections. Each is listed once; clusters, applications and events
// then follow one merged watch stream (/console/watch, one connection for all
// three: browsers allow six per host, shared by every tab), each kind resuming
// from its own resourceVersion. A dropped stream reconnects from those
// revisions; an ERROR line (410 Expired after compaction, a watcher that fell
// behind) relists the kind it names; repeated failures relist everything.
// Clouds and sites change only when an operator applies them and are relisted
// every 15 s. Subscribers hear once per animation frame however many events
// arrived, so a 266-cluster heartbeat burst costs one render and one
// aggregation, not 266.
import { useSyncExternalStore } from 'react';
import { API, ApiError, getJson, request } from './api.ts';

export interface Meta {
  name: string;
  namespace?: string;
  resourceVersion?: string;
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
}

interface WatchLine {
  type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';
  kind?: string;
  object: Resource;
}

const keyOf = (o: Resource) => `${o.metadata.namespace ?? ''}/${o.metadata.name}`;
const RETRY_MS = [500, 1000, 2000, 5000, 10000];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

class Collection<T extends Resource> {
  readonly plural: string;
  readonly #map = new Map<string, T>();
  readonly #listeners = new Set<() => void>();
  #snapshot: FeedSnapshot<T> = { items: [], byKey: new Map(), state: 'loading', version: 0 };
  #scheduled = false;
  rv = '';
  listed = false;

  constructor(plural: string) {
    this.plural = plural;
  }

  subscribe = (fn: () => void): (() => void) => {
    this.#listeners.add(fn);
    startFeeds();
    return () => this.#listeners.delete(fn);
  };

  getSnapshot = (): FeedSnapshot<T> => this.#snapshot;

  publish(state: FeedState): void {
    this.#scheduled = false;
    this.#snapshot = {
      items: [...this.#map.values()],
      byKey: new Map(this.#map),
      state,
      version: this.#snapshot.version + 1,
    };
    for (const fn of this.#listeners) fn();
  }

  /** Coalesces bursts: one publish per frame (or per 250 ms in a hidden tab). */
  #schedule(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    const flush = () => {
      if (this.#scheduled) this.publish('live');
    };
    if (document.hidden) setTimeout(flush, 250);
    else requestAnimationFrame(flush);
  }

  async relist(): Promise<void> {
    const list = await getJson<{ metadata: { resourceVersion: string }; items: T[] }>(
      `${API}/${this.plural}`,
    );
    this.#map.clear();
    for (const item of list.items) this.#map.set(keyOf(item), item);
    this.rv = list.metadata.resourceVersion;
    this.listed = true;
    this.publish('live');
  }

  apply(event: WatchLine): void {
    const rv = event.object.metadata.resourceVersion;
    if (rv) this.rv = rv;
    if (event.type === 'BOOKMARK') return;
    if (event.type === 'DELETED') this.#map.delete(keyOf(event.object));
    else this.#map.set(keyOf(event.object), event.object as T);
    this.#schedule();
  }
}

const WATCHED: Record<string, string> = {
  clusters: 'Cluster',
  applications: 'Application',
  events: 'Event',
};
const POLLED = ['clouds', 'sites'];
const POLL_MS = 15000;

const collections = new Map<string, Collection<Resource>>(
  [...Object.keys(WATCHED), ...POLLED].map((p) => [p, new Collection<Resource>(p)]),
);
const byKind = new Map(
  Object.entries(WATCHED).map(([plural, kind]) => [kind, collections.get(plural)!]),
);

const signedOut = (err: unknown) => err instanceof ApiError && err.status === 401;

/** Each loop runs until a 401 (no session); startFeeds starts the stopped ones again. */
const running = new Set<string>();

async function pollLoop(c: Collection<Resource>): Promise<void> {
  for (;;) {
    try {
      await c.relist();
      await sleep(POLL_MS);
    } catch (err) {
      if (signedOut(err)) return;
      c.publish('reconnecting');
      await sleep(RETRY_MS[2]!);
    }
  }
}

async function watchLoop(): Promise<void> {
  const watched = [...byKind.values()];
  let failures = 0;
  for (;;) {
    try {
      await Promise.all(watched.filter((c) => !c.listed).map((c) => c.relist()));
      const query = watched.map((c) => `${c.plural}=${encodeURIComponent(c.rv)}`).join('&');
      const res = await request(`/console/watch?${query}`);
      if (!res.body) throw new Error('watch: the response has no body');
      failures = 0;
      for (const c of watched) c.publish('live');
      await follow(res.body);
      // The server ended the stream (restart, shutdown): reconnect shortly.
      await sleep(RETRY_MS[0]!);
    } catch (err) {
      if (signedOut(err)) return;
      failures++;
      for (const c of watched) c.publish('reconnecting');
      // Resuming after several failures may need revisions the server has
      // compacted away; a fresh list is always correct.
      if (failures >= 3 || (err instanceof ApiError && err.status === 410))
        for (const c of watched) c.listed = false;
      await sleep(RETRY_MS[Math.min(failures - 1, RETRY_MS.length - 1)] ?? 10000);
    }
  }
}

function launch(name: string, loop: () => Promise<void>): void {
  if (running.has(name)) return;
  running.add(name);
  void loop().finally(() => running.delete(name));
}

async function follow(body: ReadableStream<BufferSource>): Promise<void> {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value;
    let nl: number;
    while ((nl = buffer.indexOf('\n')) >= 0) {
      const line = buffer.slice(0, nl).trim();
      buffer = buffer.slice(nl + 1);
      if (line === '') continue; // keep-alive
      const event = JSON.parse(line) as WatchLine;
      if (event.type === 'ERROR') {
        const c = byKind.get(event.kind ?? '');
        if (c) c.listed = false;
        else for (const x of byKind.values()) x.listed = false;
        await reader.cancel();
        return;
      }
      byKind.get(event.object.kind)?.apply(event);
    }
  }
}

/** Lists every collection in parallel and follows them; restarts loops a 401 stopped. */
export function startFeeds(): void {
  for (const plural of POLLED) launch(plural, () => pollLoop(collections.get(plural)!));
  launch('watch', watchLoop);
}

export function useFeed<T extends Resource>(plural: string): FeedSnapshot<T> {
  const c = collections.get(plural);
  if (!c) throw new Error(`no live collection for ${plural}`);
  return useSyncExternalStore(c.subscribe, c.getSnapshot) as FeedSnapshot<T>;
}
