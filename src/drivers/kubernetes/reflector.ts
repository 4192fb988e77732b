// A list-then-watch cache of one resource collection, the way client-go's
// reflector keeps an informer's store: list once, watch from the list's
// resourceVersion, re-list on 410 Gone, reconnect with backoff on errors.
//
// Read-your-writes: the driver feeds its own write responses in (`observe`,
// `forget`) so a status read right after a write sees it even before the watch
// event arrives. An object is replaced only by a newer resourceVersion, and a
// forgotten (deleted) uid is not brought back by a late event for it.
import type { KubernetesObject, Watch } from '@kubernetes/client-node';

export interface ReflectorOptions<T extends KubernetesObject> {
  /** Path of the collection to watch, e.g. /apis/apps/v1/deployments. */
  path: string;
  watch: Watch;
  list: () => Promise<{ items: T[]; metadata?: { resourceVersion?: string } }>;
  labelSelector?: string;
  fieldSelector?: string;
  /** Called with each failure (list or watch); the reflector keeps retrying. */
  onError?: (err: unknown) => void;
  /** Called after every successful (re)list. */
  onSynced?: () => void;
}

/** Server-side watch timeout, shorter than the client's 30 s inactivity timeout, so quiet watches end cleanly. */
const WATCH_TIMEOUT_SECONDS = 20;
const MAX_BACKOFF_MS = 10_000;

function keyOf(o: KubernetesObject): string {
  return `${o.metadata?.namespace ?? ''}/${o.metadata?.name ?? ''}`;
}

/** True when `a` is at least as new as `b`; resourceVersions are compared as integers when both are. */
function notOlder(a: KubernetesObject, b: KubernetesObject): boolean {
  const ra = a.metadata?.resourceVersion;
  const rb = b.metadata?.resourceVersion;
  if (ra === undefined || rb === undefined || !/^\d+$/.test(ra) || !/^\d+$/.test(rb)) return true;
  return BigInt(ra) >= BigInt(rb);
}

export class Reflector<T extends KubernetesObject> {
  private readonly options: ReflectorOptions<T>;
  private objects = new Map<string, T>();
  private readonly gone = new Set<string>();
  private resourceVersion = '';
  private abort: AbortController | undefined;
  private stopped = false;
  private backoffMs = 0;
  private timer: NodeJS.Timeout | undefined;
  private hasSynced = false;
  private firstSync: Promise<void>;
  private resolveFirstSync: () => void = () => undefined;

  constructor(options: ReflectorOptions<T>) {
    this.options = options;
    this.firstSync = new Promise((resolve) => {
      this.resolveFirstSync = resolve;
    });
  }

  start(): void {
    void this.run();
  }

  /** Resolves once the first list has been loaded. */
  synced(): Promise<void> {
    return this.firstSync;
  }

  get isSynced(): boolean {
    return this.hasSynced;
  }

  list(): T[] {
    return [...this.objects.values()];
  }

  observe(obj: T): void {
    const uid = obj.metadata?.uid;
    if (uid !== undefined) this.gone.delete(uid);
    const current = this.objects.get(keyOf(obj));
    if (current === undefined || notOlder(obj, current)) this.objects.set(keyOf(obj), obj);
  }

  forget(obj: KubernetesObject): void {
    const current = this.objects.get(keyOf(obj));
    const uid = obj.metadata?.uid ?? current?.metadata?.uid;
    if (uid !== undefined) this.gone.add(uid);
    if (current !== undefined && (uid === undefined || current.metadata?.uid === uid))
      this.objects.delete(keyOf(obj));
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.abort?.abort();
    this.abort = undefined;
  }

  private async run(): Promise<void> {
    if (this.stopped) return;
    try {
      if (this.resourceVersion === '') await this.relist();
      await this.watchOnce();
    } catch (err) {
      this.failed(err);
    }
  }

  private async relist(): Promise<void> {
    const list = await this.options.list();
    const next = new Map<string, T>();
    for (const item of list.items) next.set(keyOf(item), item);
    this.objects = next;
    // A consistent list is newer than any delete we saw, so tombstones are done.
    this.gone.clear();
    this.resourceVersion = list.metadata?.resourceVersion ?? '';
    this.hasSynced = true;
    this.resolveFirstSync();
    this.options.onSynced?.();
  }

  private async watchOnce(): Promise<void> {
    const params: Record<string, string | number> = {
      resourceVersion: this.resourceVersion,
      timeoutSeconds: WATCH_TIMEOUT_SECONDS,
      allowWatchBookmarks: 'true',
    };
    if (this.options.labelSelector !== undefined)
      params['labelSelector'] = this.options.labelSelector;
    if (this.options.fieldSelector !== undefined)
      params['fieldSelector'] = this.options.fieldSelector;
    this.abort = await this.options.watch.watch(
      this.options.path,
      params,
      (phase, obj: T) => this.event(phase, obj),
      (err: unknown) => {
        if (this.stopped) return;
        if (err) {
          this.failed(err);
          return;
        }
        this.backoffMs = 0;
        void this.run();
      },
    );
  }

  private event(phase: string, obj: T): void {
    const rv = obj.metadata?.resourceVersion;
    switch (phase) {
      case 'ADDED':
      case 'MODIFIED': {
        const uid = obj.metadata?.uid;
        if (uid !== undefined && this.gone.has(uid)) break;
        this.observe(obj);
        break;
      }
      case 'DELETED': {
        const current = this.objects.get(keyOf(obj));
        if (current?.metadata?.uid === obj.metadata?.uid) this.objects.delete(keyOf(obj));
        if (obj.metadata?.uid !== undefined) this.gone.delete(obj.metadata.uid);
        break;
      }
      case 'BOOKMARK':
        break;
      case 'ERROR':
        // 410 Gone: our resourceVersion was compacted away; the watch ends and we re-list.
        if ((obj as { code?: number }).code === 410) this.resourceVersion = '';
        return;
      default:
        return;
    }
    if (rv !== undefined) this.resourceVersion = rv;
  }

  private failed(err: unknown): void {
    if (this.stopped) return;
    const code = (err as { statusCode?: number; code?: number } | null)?.statusCode;
    if (code === 410) this.resourceVersion = '';
    else this.options.onError?.(err);
    // After an outage the cache may have missed deletes: list again.
    if (code !== 410) this.resourceVersion = '';
    this.backoffMs = Math.min(MAX_BACKOFF_MS, this.backoffMs === 0 ? 250 : this.backoffMs * 2);
    this.timer = setTimeout(() => void this.run(), this.backoffMs);
    this.timer.unref();
  }
}
