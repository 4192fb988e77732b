// Leader lock: only the holder of the `Lease` object runs the control loops, so
// two control planes on one store never act at once. The lock lives in the
// store and is taken and renewed with compare-and-set writes (the store's
// resourceVersion check), so it works on every backend that passes the store
// conformance suite: SQLite today, etcd for HA.
//
// Invariants: a holder renews every `renewSeconds` (< duration); a candidate
// takes the lease only when the holder's last renewal is older than the lease
// duration *as observed on the candidate's clock since it last saw the lease
// change* (not the holder's timestamp), so clock skew between machines cannot
// steal a live lease. A holder that fails to renew within the duration stops
// acting (`onLost`) before anyone else may take over. Acting "stops" on this
// process's clock, which a paused process does not see move: every write of the
// control loops is therefore also fenced by the lease version reported to
// `onHeld` (controllers/fenced.ts), which the store itself checks.
import { AlreadyExistsError, ConflictError, NotFoundError } from '../model/errors.ts';
import { API_VERSION, type Lease } from '../model/schema.ts';
import type { Store } from '../store/types.ts';

export interface LeaderElectorOptions {
  store: Store;
  /** Lease object name; one per set of control loops. */
  name: string;
  /** Who we are, e.g. hostname + pid. */
  identity: string;
  durationSeconds?: number;
  renewSeconds?: number;
  /** How often a candidate checks a lease held by someone else. */
  retrySeconds?: number;
  /** The lease's resourceVersion after each acquisition and renewal, before `onStarted`. */
  onHeld?: (resourceVersion: string) => void;
  onStarted: () => void;
  onLost: () => void;
  log: (line: string) => void;
  now?: () => number;
}

export class LeaderElector {
  readonly #o: LeaderElectorOptions;
  readonly #now: () => number;
  #timer: NodeJS.Timeout | undefined;
  #leading = false;
  #stopped = false;
  /** The lease version we last saw and when (our clock), to judge expiry. */
  #observed: { version: string; at: number } | undefined;
  #lastRenew = 0;

  constructor(o: LeaderElectorOptions) {
    this.#o = o;
    this.#now = o.now ?? Date.now;
  }

  get leading(): boolean {
    return this.#leading;
  }

  start(): void {
    void this.#tick();
  }

  /** Stops campaigning; a leader releases the lease so a successor need not wait. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    if (!this.#leading) return;
    this.#leading = false;
    try {
      const lease = (await this.#o.store.get({ kind: 'Lease', name: this.#o.name })) as Lease;
      if (lease.spec.holderIdentity === this.#o.identity)
        await this.#o.store.delete(
          { kind: 'Lease', name: this.#o.name },
          { expectedResourceVersion: lease.metadata.resourceVersion ?? null },
        );
    } catch {
      // Released or taken already: either way nothing to undo.
    }
  }

  get #duration(): number {
    return (this.#o.durationSeconds ?? 15) * 1000;
  }

  #schedule(ms: number): void {
    if (this.#stopped) return;
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => void this.#tick(), ms);
    this.#timer.unref();
  }

  async #tick(): Promise<void> {
    if (this.#stopped) return;
    const renewMs = (this.#o.renewSeconds ?? (this.#o.durationSeconds ?? 15) / 3) * 1000;
    // A standby checks at least four times a lease, so it takes over within a
    // quarter lease of the expiry it observes.
    const retryMs = (this.#o.retrySeconds ?? Math.min(2, this.#duration / 4000)) * 1000;
    try {
      const held = await this.#tryAcquireOrRenew();
      if (this.#stopped) return;
      if (held !== undefined) {
        this.#lastRenew = this.#now();
        this.#o.onHeld?.(held);
        if (!this.#leading) {
          this.#leading = true;
          this.#o.log(`leader: ${this.#o.identity} holds lease ${this.#o.name}`);
          this.#o.onStarted();
        }
        this.#schedule(renewMs);
        return;
      }
      this.#loseIfLeading('another control plane holds the lease');
      this.#schedule(retryMs);
    } catch (err) {
      // The store is unreachable: keep acting only while the lease cannot have expired.
      if (this.#leading && this.#now() - this.#lastRenew >= this.#duration)
        this.#loseIfLeading(
          `could not renew within ${this.#duration / 1000}s: ${err instanceof Error ? err.message : String(err)}`,
        );
      this.#schedule(Math.min(renewMs, retryMs));
    }
  }

  #loseIfLeading(why: string): void {
    if (!this.#leading) return;
    this.#leading = false;
    this.#o.log(`leader: ${this.#o.identity} lost lease ${this.#o.name}: ${why}`);
    this.#o.onLost();
  }

  /** The lease's new resourceVersion when we hold it now; undefined when someone else does. */
  async #tryAcquireOrRenew(): Promise<string | undefined> {
    const { store, name, identity } = this.#o;
    const nowIso = new Date(this.#now()).toISOString();
    let lease: Lease | undefined;
    try {
      lease = (await store.get({ kind: 'Lease', name })) as Lease;
    } catch (err) {
      if (!(err instanceof NotFoundError)) throw err;
    }
    if (!lease) {
      try {
        const created = await store.create({
          apiVersion: API_VERSION,
          kind: 'Lease',
          metadata: { name },
          spec: {
            holderIdentity: identity,
            leaseDurationSeconds: this.#duration / 1000,
            acquireTime: nowIso,
            renewTime: nowIso,
            leaseTransitions: 0,
          },
        });
        return created.metadata.resourceVersion;
      } catch (err) {
        if (err instanceof AlreadyExistsError) return undefined;
        throw err;
      }
    }
    const version = lease.metadata.resourceVersion ?? '';
    if (this.#observed?.version !== version) this.#observed = { version, at: this.#now() };
    const mine = lease.spec.holderIdentity === identity;
    const expired = this.#now() - this.#observed.at >= lease.spec.leaseDurationSeconds * 1000;
    if (!mine && !expired) return undefined;
    try {
      const renewed = await store.update(
        {
          ...lease,
          spec: {
            holderIdentity: identity,
            leaseDurationSeconds: this.#duration / 1000,
            acquireTime: mine ? lease.spec.acquireTime : nowIso,
            renewTime: nowIso,
            leaseTransitions: lease.spec.leaseTransitions + (mine ? 0 : 1),
          },
        },
        { expectedResourceVersion: version },
      );
      return renewed.metadata.resourceVersion;
    } catch (err) {
      if (err instanceof ConflictError || err instanceof NotFoundError) return undefined;
      throw err;
    }
  }
}
