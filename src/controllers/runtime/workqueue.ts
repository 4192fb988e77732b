// A work queue in the manner of client-go's: a key is queued at most once, a key
// being processed is never handed to a second worker, and a key re-added while
// processing is queued again when the worker calls done(). Failed keys come back
// after a per-key exponential backoff that forget() resets. Delays are in the
// clock's time (the system clock unless the queue runs in an accelerated twin).
import { systemClock, type Clock } from '../../lib/clock.ts';

export interface WorkQueueOptions {
  baseDelayMs?: number;
  maxDelayMs?: number;
  clock?: Clock;
}

export class WorkQueue {
  readonly #queue: string[] = [];
  readonly #queued = new Set<string>();
  readonly #processing = new Set<string>();
  readonly #dirty = new Set<string>();
  readonly #failures = new Map<string, number>();
  readonly #timers = new Map<string, { cancel: () => void; due: number }>();
  readonly #waiters: ((key: string | undefined) => void)[] = [];
  readonly #base: number;
  readonly #max: number;
  readonly #clock: Clock;
  #shutDown = false;

  constructor(options: WorkQueueOptions = {}) {
    this.#base = options.baseDelayMs ?? 5;
    this.#max = options.maxDelayMs ?? 60_000;
    this.#clock = options.clock ?? systemClock;
  }

  get length(): number {
    return this.#queue.length;
  }

  add(key: string): void {
    if (this.#shutDown) return;
    if (this.#processing.has(key)) {
      this.#dirty.add(key);
      return;
    }
    if (this.#queued.has(key)) return;
    const waiter = this.#waiters.shift();
    if (waiter) {
      this.#processing.add(key);
      waiter(key);
      return;
    }
    this.#queued.add(key);
    this.#queue.push(key);
  }

  /**
   * Adds the key after a delay. Of several pending delays for one key the
   * earliest wins: a backoff retry in 40 ms must not wait for a 30 s resync.
   */
  addAfter(key: string, delayMs: number): void {
    if (this.#shutDown) return;
    if (delayMs <= 0) return this.add(key);
    const due = this.#clock.now() + delayMs;
    const pending = this.#timers.get(key);
    if (pending) {
      if (pending.due <= due) return;
      pending.cancel();
    }
    const cancel = this.#clock.after(delayMs, () => {
      this.#timers.delete(key);
      this.add(key);
    });
    this.#timers.set(key, { cancel, due });
  }

  /** Re-adds after the key's next backoff step: base * 2^failures, capped. */
  addRateLimited(key: string): number {
    const n = this.#failures.get(key) ?? 0;
    this.#failures.set(key, n + 1);
    const delay = Math.min(this.#max, this.#base * 2 ** n);
    this.addAfter(key, delay);
    return delay;
  }

  forget(key: string): void {
    this.#failures.delete(key);
  }

  /** Resolves with the next key, or undefined once shut down. */
  get(): Promise<string | undefined> {
    const key = this.#queue.shift();
    if (key !== undefined) {
      this.#queued.delete(key);
      this.#processing.add(key);
      return Promise.resolve(key);
    }
    if (this.#shutDown) return Promise.resolve(undefined);
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  done(key: string): void {
    this.#processing.delete(key);
    if (this.#dirty.delete(key)) this.add(key);
  }

  shutDown(): void {
    this.#shutDown = true;
    for (const t of this.#timers.values()) t.cancel();
    this.#timers.clear();
    for (const w of this.#waiters.splice(0)) w(undefined);
  }
}
