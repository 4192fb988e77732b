// Events: what happened to a resource (a cluster went NotReady, an app failed
// over), written by controllers and read by `yunjian get events`, the console's
// timeline and the watch API. The same event repeating (same object, reason and
// message) within `dedupeSeconds` bumps the count of one object instead of
// adding another; events older than `retentionSeconds` are pruned, and at most
// `maxEvents` are kept, so the store's size stays bounded under an outage storm.
import { randomBytes } from 'node:crypto';
import { ConflictError, NotFoundError } from '../model/errors.ts';
import { API_VERSION, type Event, type EventSpec } from '../model/schema.ts';
import type { Store } from '../store/types.ts';

export interface InvolvedObject {
  kind: string;
  namespace?: string;
  name: string;
}

export interface EventRecorderOptions {
  store: Store;
  source: string;
  now?: () => number;
  dedupeSeconds?: number;
  retentionSeconds?: number;
  maxEvents?: number;
}

export class EventRecorder {
  readonly #o: EventRecorderOptions;
  readonly #now: () => number;
  /** Last event name per object+reason+message, for counting repeats. */
  readonly #recent = new Map<string, { name: string; at: number }>();

  constructor(o: EventRecorderOptions) {
    this.#o = o;
    this.#now = o.now ?? Date.now;
  }

  /** Records an event; failures are returned, never thrown, so a reconcile is not failed by its audit trail. */
  async record(
    object: InvolvedObject,
    type: EventSpec['type'],
    reason: string,
    message: string,
  ): Promise<Error | undefined> {
    const at = this.#now();
    const iso = new Date(at).toISOString();
    const key = `${object.kind}/${object.namespace ?? ''}/${object.name}/${reason}/${message}`;
    const dedupeMs = (this.#o.dedupeSeconds ?? 600) * 1000;
    try {
      const previous = this.#recent.get(key);
      if (previous && at - previous.at < dedupeMs) {
        const existing = (await this.#o.store
          .get({ kind: 'Event', name: previous.name })
          .catch((err: unknown) => {
            if (err instanceof NotFoundError) return undefined;
            throw err;
          })) as Event | undefined;
        if (existing) {
          await this.#o.store.update({
            ...existing,
            spec: { ...existing.spec, count: existing.spec.count + 1, lastTimestamp: iso },
          });
          this.#recent.set(key, { name: previous.name, at });
          return undefined;
        }
      }
      // Names sort by time, so a list is already a timeline.
      const name = `${at.toString(36).padStart(9, '0')}.${randomBytes(4).toString('hex')}`;
      const event: Event = {
        apiVersion: API_VERSION,
        kind: 'Event',
        metadata: {
          name,
          labels: {
            'yunjian.io/involved-kind': object.kind.toLowerCase(),
            'yunjian.io/involved-name': object.name,
            'yunjian.io/reason': reason,
          },
        },
        spec: {
          involvedObject: {
            kind: object.kind,
            ...(object.namespace !== undefined ? { namespace: object.namespace } : {}),
            name: object.name,
          },
          type,
          reason,
          message,
          count: 1,
          firstTimestamp: iso,
          lastTimestamp: iso,
          source: this.#o.source,
        },
      };
      await this.#o.store.create(event);
      this.#recent.set(key, { name, at });
      if (this.#recent.size > 10_000) this.#recent.clear();
      return undefined;
    } catch (err) {
      if (err instanceof ConflictError) return undefined;
      return err instanceof Error ? err : new Error(String(err));
    }
  }

  /** Deletes events past retention and the oldest beyond `maxEvents`; returns how many. */
  async prune(): Promise<number> {
    const retentionMs = (this.#o.retentionSeconds ?? 3600) * 1000;
    const max = this.#o.maxEvents ?? 5000;
    const { items } = await this.#o.store.list('Event');
    const events = (items as Event[]).sort((a, b) =>
      a.spec.lastTimestamp.localeCompare(b.spec.lastTimestamp),
    );
    const cutoff = this.#now() - retentionMs;
    let deleted = 0;
    for (const [i, e] of events.entries()) {
      const expired = Date.parse(e.spec.lastTimestamp) < cutoff || events.length - i > max;
      if (!expired) break;
      await this.#o.store
        .delete({ kind: 'Event', name: e.metadata.name })
        .then(() => deleted++)
        .catch((err: unknown) => {
          if (!(err instanceof NotFoundError)) throw err;
        });
    }
    return deleted;
  }
}
