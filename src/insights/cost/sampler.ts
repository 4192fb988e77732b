// The cost sampler: at every interval boundary (and at start-up, for the
// interval under way) it writes one CostSample of the fleet, prunes samples
// past the retention period, and checks every Budget.
//
// Ordering and idempotence: a sample's name is its interval's start, created
// (never updated), so a restart or a second control plane cannot count an
// interval twice; only the leader samples. A sample stands for its whole
// interval from the state at its start; intervals nobody sampled (the control
// plane was down) cost nothing. A budget's status is written before its
// Warning event, so a crossing warns at most once per month.
import { AlreadyExistsError, NotFoundError } from '../../model/errors.ts';
import type { Tenant } from '../../model/access.ts';
import type { Application, Budget, Cloud, Cluster, CostSample } from '../../model/schema.ts';
import type { EventRecorder } from '../../events/recorder.ts';
import type { Store } from '../../store/types.ts';
import { allocate } from './allocate.ts';
import { budgetPeriod, decideBudget, periodStartMs } from './budget.ts';
import { samplesIn } from './query.ts';
import { buildSample, usageKey } from './sample.ts';

/** What a member reports its workloads use (a driver's listWorkloads, structurally). */
export type UsageSource = (cluster: Cluster) => Promise<
  readonly {
    key: { namespace: string; app: string; component: string };
    cpuUsageMillis?: number;
  }[]
>;

export interface CostSamplerOptions {
  store: Store;
  events: EventRecorder;
  log: (line: string) => void;
  /** Seconds per sample (3600); a divisor of a day keeps each sample inside one UTC day. */
  intervalSeconds?: number;
  /** Days samples are kept (40: a month and its budget with room). */
  retentionDays?: number;
  /** Measured use; without it (or when a member does not answer) requests stand for use. */
  usage?: UsageSource;
  /** Resolves while this control plane leads; only the leader samples. */
  leading?: () => Promise<void>;
  /**
   * Seconds before a pass that did not sample (not leading yet, or failed) is
   * tried again, rather than waiting for the next boundary (5).
   */
  retrySeconds?: number;
  now?: () => number;
}

export const DEFAULT_COST_INTERVAL_SECONDS = 3600;
export const DEFAULT_COST_RETENTION_DAYS = 40;
const DEFAULT_RETRY_SECONDS = 5;
/** How long one member may take to report its workloads' use before the sample goes without it. */
const USAGE_TIMEOUT_MS = 5000;

export class CostSampler {
  readonly #o: CostSamplerOptions;
  readonly #now: () => number;
  readonly #intervalMs: number;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #stopped = false;

  constructor(o: CostSamplerOptions) {
    this.#o = o;
    this.#now = o.now ?? Date.now;
    this.#intervalMs = (o.intervalSeconds ?? DEFAULT_COST_INTERVAL_SECONDS) * 1000;
  }

  start(): void {
    this.#schedule(0);
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    await this.#running;
  }

  #schedule(delayMs: number): void {
    if (this.#stopped) return;
    this.#timer = setTimeout(() => {
      this.#running = this.tick()
        .catch((err: unknown) => {
          this.#o.log(`cost: ${err instanceof Error ? err.message : String(err)}`);
          return false;
        })
        .then((sampled) => {
          // Samples are named by their interval, so trying again cannot count one twice.
          const now = this.#now();
          const untilBoundary = this.#intervalMs - (now % this.#intervalMs);
          const retryMs = (this.#o.retrySeconds ?? DEFAULT_RETRY_SECONDS) * 1000;
          this.#schedule(sampled ? untilBoundary : Math.min(untilBoundary, retryMs));
        });
    }, delayMs);
    this.#timer.unref();
  }

  /** One pass: sample the interval under way (once), prune, check budgets; false when not leading. */
  async tick(): Promise<boolean> {
    if (this.#o.leading !== undefined) {
      const leads = await this.#o.leading().then(
        () => true,
        () => false,
      );
      if (!leads) return false;
    }
    const now = this.#now();
    const startMs = now - (now % this.#intervalMs);
    await this.sample(startMs);
    await this.prune(now);
    await this.checkBudgets(now);
    return true;
  }

  /** Writes the sample of the interval starting at startMs, unless one exists. */
  async sample(startMs: number): Promise<CostSample | undefined> {
    const store = this.#o.store;
    const list = async <T>(kind: string) => (await store.list(kind)).items as T[];
    const [clusters, clouds, apps, tenants] = await Promise.all([
      list<Cluster>('Cluster'),
      list<Cloud>('Cloud'),
      list<Application>('Application'),
      list<Tenant>('Tenant'),
    ]);
    const usage = await this.#usage(clusters, apps);
    const sample = buildSample(
      { clusters, clouds, apps, tenants, usage },
      startMs,
      this.#intervalMs / 1000,
    );
    try {
      return (await store.create(sample)) as CostSample;
    } catch (err) {
      if (err instanceof AlreadyExistsError) return undefined;
      throw err;
    }
  }

  /** Measured cpu per placed workload, from the members that hold placements and answer in time. */
  async #usage(clusters: readonly Cluster[], apps: readonly Application[]) {
    const usage = new Map<string, number>();
    const source = this.#o.usage;
    if (source === undefined) return usage;
    const placed = new Set(apps.flatMap((a) => (a.status?.placements ?? []).map((p) => p.cluster)));
    await Promise.all(
      clusters
        .filter((c) => placed.has(c.metadata.name))
        .map(async (c) => {
          let timer: NodeJS.Timeout | undefined;
          const timeout = new Promise<undefined>((resolve) => {
            timer = setTimeout(() => resolve(undefined), USAGE_TIMEOUT_MS);
          });
          const listed = await Promise.race([source(c).catch(() => undefined), timeout]);
          clearTimeout(timer);
          for (const w of listed ?? [])
            if (w.cpuUsageMillis !== undefined)
              usage.set(
                usageKey(c.metadata.name, w.key.namespace, w.key.app, w.key.component),
                w.cpuUsageMillis,
              );
        }),
    );
    return usage;
  }

  /** Deletes samples that started before the retention period. */
  async prune(nowMs: number): Promise<number> {
    const cutoff = nowMs - (this.#o.retentionDays ?? DEFAULT_COST_RETENTION_DAYS) * 86_400_000;
    const { items } = await this.#o.store.list('CostSample');
    let deleted = 0;
    for (const s of items as CostSample[]) {
      if (Date.parse(s.spec.start) >= cutoff) continue;
      await this.#o.store
        .delete({ kind: 'CostSample', name: s.metadata.name })
        .catch((err: unknown) => {
          if (!(err instanceof NotFoundError)) throw err;
        });
      deleted++;
    }
    return deleted;
  }

  /** Month-to-date cost of every budget's team; a Warning event per newly crossed threshold. */
  async checkBudgets(nowMs: number): Promise<void> {
    const store = this.#o.store;
    const budgets = (await store.list('Budget')).items as Budget[];
    if (budgets.length === 0) return;
    const period = budgetPeriod(nowMs);
    const samples = await samplesIn(store, { sinceMs: periodStartMs(nowMs), untilMs: nowMs + 1 });
    for (const budget of budgets) {
      const spent = allocate(samples, {
        by: 'team',
        idle: budget.spec.idle ?? 'none',
        team: budget.spec.team,
      }).totals.totalMicros;
      const decision = decideBudget(budget, spent, period);
      if (JSON.stringify(decision.status) !== JSON.stringify(budget.status))
        await store.updateStatus({ ...budget, status: decision.status });
      for (const t of decision.crossed)
        await this.#o.events.record(
          { kind: 'Budget', name: budget.metadata.name },
          'Warning',
          'BudgetThresholdCrossed',
          `team ${budget.spec.team} spent ${(spent / 1e6).toFixed(2)} USD in ${period}: ${t}% of its ${budget.spec.monthlyAmount} USD budget`,
        );
    }
  }
}
