// The delivery recorder: follows Applications in the store and writes the
// deployments and incidents planDelivery (plan.ts) decides, then prunes
// delivery records past their age and count limits.
//
// It lists Applications and the Yunjian-sourced records once, then follows a
// watch from that list's revision; every change of an app is planned against
// the records it remembers for that app (its own writes included), so the
// same state replayed writes nothing. Record names are deterministic: a second
// control plane (or a restart racing a write) creates the same name and the
// store refuses it (AlreadyExists), and an update that loses a race
// (Conflict) makes the recorder re-read that app's records and plan again on
// the app's next change. It never drives a controller.
import { AlreadyExistsError, ConflictError, NotFoundError } from '../../model/errors.ts';
import type { Application, DeliveryEvent } from '../../model/schema.ts';
import type { Tenant } from '../../model/access.ts';
import type { Store, Watch } from '../../store/types.ts';
import {
  RECORD_APP_LABEL,
  RECORD_SOURCE_LABEL,
  TEAM_LABEL,
  planDelivery,
  type DeliveryWrites,
} from './plan.ts';

export interface DeliveryRecorderOptions {
  store: Store;
  log: (line: string) => void;
  now?: () => number;
  /** Records whose last time (finish, else start) is older than this are deleted (400 days). */
  retentionDays?: number;
  /** At most this many records are kept; the oldest go first (100,000). */
  maxRecords?: number;
  /** Seconds between prunes (3600). */
  pruneSeconds?: number;
  /** Called for each deployment that reaches an outcome (Prometheus counter). */
  onDeployment?: (record: DeliveryEvent) => void;
}

export const DEFAULT_RETENTION_DAYS = 400;
export const DEFAULT_MAX_RECORDS = 100_000;
const RETRY_MS = 1000;

const appKey = (namespace: string | undefined, name: string) => `${namespace ?? 'default'}/${name}`;

/** The team of an app: its label, else the tenant owning its namespace, else the namespace. */
export function teamOf(app: Application, tenants: readonly Tenant[]): string {
  const ns = app.metadata.namespace ?? 'default';
  return (
    app.metadata.labels?.[TEAM_LABEL] ??
    tenants.find((t) => t.spec.namespaces.includes(ns))?.metadata.name ??
    ns
  );
}

export class DeliveryRecorder {
  readonly #o: DeliveryRecorderOptions;
  readonly #now: () => number;
  /** Yunjian-sourced records by app key. */
  readonly #records = new Map<string, DeliveryEvent[]>();
  #tenants: readonly Tenant[] = [];
  #watch: Watch | undefined;
  #stopped = false;
  #loop: Promise<void> | undefined;
  #prune: NodeJS.Timeout | undefined;
  readonly #synced = Promise.withResolvers<void>();

  constructor(o: DeliveryRecorderOptions) {
    this.#o = o;
    this.#now = o.now ?? Date.now;
  }

  start(): void {
    this.#loop = this.#run();
    this.#prune = setInterval(
      () => {
        this.prune().catch((err: unknown) => this.#o.log(`delivery: prune: ${String(err)}`));
      },
      (this.#o.pruneSeconds ?? 3600) * 1000,
    );
    this.#prune.unref();
  }

  /** Resolves once the first list has been planned. */
  synced(): Promise<void> {
    return this.#synced.promise;
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearInterval(this.#prune);
    this.#watch?.close();
    await this.#loop;
  }

  async #run(): Promise<void> {
    while (!this.#stopped) {
      try {
        const [apps, records, tenants] = await Promise.all([
          this.#o.store.list('Application'),
          this.#o.store.list('DeliveryEvent', { labelSelector: `${RECORD_SOURCE_LABEL}=yunjian` }),
          this.#o.store.list('Tenant'),
        ]);
        this.#tenants = tenants.items as unknown as Tenant[];
        this.#records.clear();
        for (const r of records.items as unknown as DeliveryEvent[]) {
          const key = appKey(r.metadata.namespace, r.metadata.labels?.[RECORD_APP_LABEL] ?? '');
          this.#records.set(key, [...(this.#records.get(key) ?? []), r]);
        }
        for (const app of apps.items as unknown as Application[]) await this.#observe(app, true);
        this.#synced.resolve();
        if (this.#stopped) return;
        const watch = this.#o.store.watch({
          kind: 'Application',
          fromRevision: apps.resourceVersion,
        });
        this.#watch = watch;
        for await (const event of watch) {
          if (event.type === 'DELETED') continue;
          await this.#observe(event.object as unknown as Application, false);
        }
      } catch (err) {
        if (this.#stopped) return;
        this.#o.log(`delivery: ${err instanceof Error ? err.message : String(err)}; listing again`);
        await new Promise((resolve) => setTimeout(resolve, RETRY_MS));
      }
    }
  }

  async #observe(app: Application, initial: boolean): Promise<void> {
    const key = appKey(app.metadata.namespace, app.metadata.name);
    const plan = () =>
      planDelivery({
        app,
        records: this.#records.get(key) ?? [],
        team: teamOf(app, this.#tenants),
        nowMs: this.#now(),
        initial,
      });
    let writes = plan();
    if (writes.create.length === 0 && writes.update.length === 0) return;
    // New records carry the team, which may come from a tenant: tenants change
    // rarely, so they are re-read only when a record is about to be created.
    if (writes.create.length > 0) {
      this.#tenants = (await this.#o.store.list('Tenant')).items as unknown as Tenant[];
      writes = plan();
    }
    await this.#apply(key, app, writes);
  }

  async #apply(key: string, app: Application, writes: DeliveryWrites): Promise<void> {
    const { store } = this.#o;
    const mine = new Map((this.#records.get(key) ?? []).map((r) => [r.metadata.name, r]));
    let stale = false;
    for (const r of writes.create)
      try {
        mine.set(r.metadata.name, (await store.create(r)) as unknown as DeliveryEvent);
        this.#counted(r);
      } catch (err) {
        if (!(err instanceof AlreadyExistsError)) throw err;
        stale = true;
      }
    for (const r of writes.update)
      try {
        mine.set(r.metadata.name, (await store.update(r)) as unknown as DeliveryEvent);
        this.#counted(r);
      } catch (err) {
        if (!(err instanceof ConflictError) && !(err instanceof NotFoundError)) throw err;
        stale = true;
      }
    this.#records.set(key, [...mine.values()]);
    if (stale) {
      const listed = await store.list('DeliveryEvent', {
        namespace: app.metadata.namespace ?? 'default',
        labelSelector: `${RECORD_SOURCE_LABEL}=yunjian,${RECORD_APP_LABEL}=${app.metadata.name}`,
      });
      this.#records.set(key, listed.items as unknown as DeliveryEvent[]);
    }
  }

  #counted(r: DeliveryEvent): void {
    const o = r.spec.outcome;
    if (r.spec.type === 'deployment' && (o === 'Succeeded' || o === 'Failed'))
      this.#o.onDeployment?.(r);
  }

  /** Deletes records past retention and the oldest beyond the count limit; returns how many. */
  async prune(): Promise<number> {
    const { store } = this.#o;
    const retentionMs = (this.#o.retentionDays ?? DEFAULT_RETENTION_DAYS) * 86_400_000;
    const max = this.#o.maxRecords ?? DEFAULT_MAX_RECORDS;
    const last = (r: DeliveryEvent) => Date.parse(r.spec.finish ?? r.spec.start);
    const records = ((await store.list('DeliveryEvent')).items as unknown as DeliveryEvent[]).sort(
      (a, b) => last(a) - last(b),
    );
    const cutoff = this.#now() - retentionMs;
    let deleted = 0;
    for (const [i, r] of records.entries()) {
      if (!(last(r) < cutoff || records.length - i > max)) break;
      await store
        .delete({ kind: 'DeliveryEvent', namespace: r.metadata.namespace, name: r.metadata.name })
        .then(() => deleted++)
        .catch((err: unknown) => {
          if (!(err instanceof NotFoundError)) throw err;
        });
      const key = appKey(r.metadata.namespace, r.metadata.labels?.[RECORD_APP_LABEL] ?? '');
      const kept = this.#records.get(key)?.filter((x) => x.metadata.name !== r.metadata.name);
      if (kept) this.#records.set(key, kept);
    }
    return deleted;
  }
}
