// The watch API as the traffic manager's feed, so `yunjian gateway` follows a
// control plane over HTTP exactly as the server's own traffic manager follows
// its store.
import { lookupKind } from '../model/kinds.ts';
import type { StoredObject } from '../store/types.ts';
import type { FeedSource } from '../traffic/feed.ts';
import type { YunjianClient } from './client.ts';

/** The watch API as the traffic manager's feed: list, then watch from the list's revision. */
export function apiFeedSource(c: YunjianClient): FeedSource {
  const kind = (name: string) => {
    const k = lookupKind(name);
    if (k === undefined) throw new Error(`unknown kind ${name}`);
    return k;
  };
  return {
    async list(name) {
      const r = await c.listAll(kind(name), {}, 500);
      return { items: r.items, revision: r.metadata.resourceVersion };
    },
    async *watch(name, fromRevision, signal) {
      for await (const ev of c.watch(kind(name), { resourceVersion: fromRevision, signal }))
        yield { type: ev.type, object: ev.object as StoredObject };
    },
  };
}
