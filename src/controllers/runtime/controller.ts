// Runs a reconciler over a work queue with a fixed number of workers. The
// reconciler is level-based: it gets only a key and must derive everything from
// current state, so running it twice, or after a crash, is always safe.
import type { Clock } from '../../lib/clock.ts';
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

/**
 * Runs after a stop, before the controller starts again: a new leadership
 * term begins with no memory of the last one, which another control plane
 * may have acted in.
 */
export type ForgetTerm = () => void;

export interface ControllerOptions {
  /** Keys reconciled at once (4); never two for one key. */
  workers?: number;
  forgetTerm?: ForgetTerm;
  /** The clock of requeue delays and retry backoff (the system clock). */
  clock?: Clock;
}

export class Controller {
  #queue: WorkQueue;
  readonly stats: ControllerStats = { reconciles: 0, errors: 0 };
  #workers: Promise<void>[] = [];
  #stopped = false;

  readonly name: string;
  readonly #reconcile: Reconciler;
  readonly #log: (line: string) => void;
  readonly #workerCount: number;
  readonly #forgetTerm: ForgetTerm | undefined;
  readonly #clock: Clock | undefined;

  constructor(
    name: string,
    reconcile: Reconciler,
    log: (line: string) => void,
    options: ControllerOptions = {},
  ) {
    this.name = name;
    this.#reconcile = reconcile;
    this.#log = log;
    this.#workerCount = options.workers ?? 4;
    this.#forgetTerm = options.forgetTerm;
    this.#clock = options.clock;
    this.#queue = this.#newQueue();
  }

  #newQueue(): WorkQueue {
    return new WorkQueue(this.#clock !== undefined ? { clock: this.#clock } : {});
  }

  enqueue(key: string): void {
    this.#queue.add(key);
  }

  /**
   * Starts the workers. After a stop the queue starts empty (its keys and
   * timers went with the last term): the caller enqueues every key again.
   */
  start(): void {
    if (this.#stopped) {
      this.#forgetTerm?.();
      this.#queue = this.#newQueue();
      this.#workers = [];
      this.#stopped = false;
    }
    const queue = this.#queue;
    for (let i = 0; i < this.#workerCount; i++) this.#workers.push(this.#work(queue));
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    this.#queue.shutDown();
    await Promise.all(this.#workers);
  }

  async #work(queue: WorkQueue): Promise<void> {
    for (;;) {
      const key = await queue.get();
      if (key === undefined) return;
      try {
        this.stats.reconciles++;
        const result = await this.#reconcile(key);
        queue.forget(key);
        if (result?.requeueAfterMs !== undefined) queue.addAfter(key, result.requeueAfterMs);
      } catch (err) {
        this.stats.errors++;
        const delay = queue.addRateLimited(key);
        // Retryable errors (throttling, conflicts, unreachable members) are
        // routine; only log the others, which point at a bug or bad data.
        if (!(err instanceof YunjianError && err.retryable)) {
          this.#log(
            `${this.name}: reconcile ${key} failed (retry in ${delay} ms): ${err instanceof Error ? err.message : String(err)}`,
          );
        }
      } finally {
        queue.done(key);
      }
    }
  }
}
