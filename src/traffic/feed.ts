// Follows the resources the traffic manager routes by (Applications, Sites,
// Clusters): list, then watch from the list's revision; any watch failure
// (expired revision, dropped stream) relists after a short pause, so the
// cache converges on the store like an informer. The source is the store in
// the server and the HTTP watch API in the gateway.
import type { StoredObject } from '../store/types.ts';
import type { Store } from '../store/types.ts';

export interface FeedEvent {
  type: string;
  object: StoredObject;
}

export interface FeedSource {
  list(kind: string): Promise<{ items: StoredObject[]; revision: string }>;
  /** Changes after `fromRevision`, until `signal` aborts or the stream fails. */
  watch(kind: string, fromRevision: string, signal: AbortSignal): AsyncIterable<FeedEvent>;
}

export function storeFeedSource(store: Store): FeedSource {
  return {
    async list(kind) {
      const r = await store.list(kind);
      return { items: r.items, revision: r.resourceVersion };
    },
    watch(kind, fromRevision, signal) {
      const w = store.watch({ kind, fromRevision });
      // An abort during the list came before this listener: close at once.
      if (signal.aborted) w.close();
      else signal.addEventListener('abort', () => w.close(), { once: true });
      return w;
    },
  };
}

export interface FeedSnapshot {
  objects: Map<string, Map<string, StoredObject>>;
  /** Highest revision seen across kinds. */
  revision: number;
}

function keyOf(o: StoredObject): string {
  return `${o.metadata.namespace ?? ''}/${o.metadata.name}`;
}

/**
 * Runs until `signal` aborts. `onChange` is called (at most once per tick) after
 * every kind has been listed once and then after every change.
 */
export function follow(
  source: FeedSource,
  kinds: readonly string[],
  onChange: (snap: FeedSnapshot) => void,
  signal: AbortSignal,
  onError: (err: unknown) => void = () => undefined,
): Promise<void> {
  const snap: FeedSnapshot = {
    objects: new Map(kinds.map((k) => [k, new Map<string, StoredObject>()])),
    revision: 0,
  };
  const listed = new Set<string>();
  let scheduled = false;
  const changed = () => {
    if (scheduled || listed.size < kinds.length) return;
    scheduled = true;
    setImmediate(() => {
      scheduled = false;
      if (!signal.aborted) onChange(snap);
    });
  };
  const bump = (rv: string | undefined) => {
    const n = Number(rv);
    if (Number.isFinite(n) && n > snap.revision) snap.revision = n;
  };
  const one = async (kind: string) => {
    const byKey = snap.objects.get(kind) ?? new Map<string, StoredObject>();
    while (!signal.aborted) {
      try {
        const { items, revision } = await source.list(kind);
        byKey.clear();
        for (const o of items) byKey.set(keyOf(o), o);
        bump(revision);
        listed.add(kind);
        changed();
        for await (const ev of source.watch(kind, revision, signal)) {
          if (ev.type === 'DELETED') byKey.delete(keyOf(ev.object));
          else if (ev.type === 'ADDED' || ev.type === 'MODIFIED')
            byKey.set(keyOf(ev.object), ev.object);
          bump(ev.object.metadata.resourceVersion);
          changed();
        }
      } catch (err) {
        if (!signal.aborted) onError(err);
      }
      if (signal.aborted) return;
      await new Promise((r) => setTimeout(r, 500));
    }
  };
  return Promise.all(kinds.map(one)).then(() => undefined);
}
