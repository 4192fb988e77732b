// Runs a reconciler over a work queue with a fixed number of workers. The
// reconciler is level-based: it gets only a key and must derive everything from
// current state, so running it twice, or after a crash, is always safe.
import { YunjianError } from '../../model/errors.ts';
import { WorkQueue } from './workqueue.ts';

export interface ReconcileResult {
  /** Reconcile this key again after the delay even if nothing changes (polling a slow start, a heartbeat). */
  requeueAfterMs?: number;
}

export type Reconciler = (key: string) => Promise<ReconcileResult | void>;

export interface ControllerStats {
  reconciles: number;
  errors: number;
}

export class Controller {
  readonly queue = new WorkQueue();
  readonly stats: ControllerStats = { reconciles: 0, errors: 0 };
  readonly #workers: Promise<void>[] = [];

  readonly name: string;
  readonly #reconcile: Reconciler;
  readonly #log: (line: string) => void;
  readonly #workerCount: number;

  constructor(name: string, reconcile: Reconciler, log: (line: string) => void, workers = 4) {
    this.name = name;
    this.#reconcile = reconcile;
    this.#log = log;
    this.#workerCount = workers;
  }

  enqueue(key: string): void {
    this.queue.add(key);
  }

  start(): void {
    for (let i = 0; i < this.#workerCount; i++) this.#workers.push(this.#work());
  }

  async stop(): Promise<void> {
    this.queue.shutDown();
    await Promise.all(this.#workers);
  }

  async #work(): Promise<void> {
    for (;;) {
      const key = await this.queue.get();
      if (key === undefined) return;
      try {
        this.stats.reconciles++;
        const result = await this.#reconcile(key);
        this.queue.forget(key);
        if (result?.requeueAfterMs !== undefined) this.queue.addAfter(key, result.requeueAfterMs);
      } catch (err) {
        this.stats.errors++;
        const delay = this.queue.addRateLimited(key);
        // Retryable errors (throttling, conflicts, unreachable members) are
        // routine; only log the others, which point at a bug or bad data.
        if (!(err instanceof YunjianError && err.retryable)) {
          this.#log(
            `${this.name}: reconcile ${key} failed (retry in ${delay} ms): ${err instanceof Error ? err.message : String(err)}`,
          );
        }
      } finally {
        this.queue.done(key);
      }
    }
  }
}
