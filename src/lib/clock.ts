// Time as the control loops and the sim twin see it. The control plane runs on
// the system clock; the what-if runs the same loops and the sim on an
// accelerated clock, so that every delay (pauses, replica start-up, member API
// rate limits, readiness polling, heartbeats, requeues, throttling waits)
// shrinks by the same factor and the twin's time is the time the plan would
// take. Timers run in the clock's time: `after(1000, fn)` on a clock at 4x
// fires after 250 ms of wall time.
//
// A clock faster than the host can follow is no longer a model: work that
// takes 5 ms of CPU takes 5 ms x speedup of the twin's time, and once the
// event loop is saturated, requeues fire late in twin time. The accelerated
// clock therefore governs its own rate from the event loop's utilization: it
// slows down while the loop is busy and speeds back up, at most to its
// target, when it is not.
import { MinHeap } from './heap.ts';

// Function-typed members: callers pass `clock.now` around detached.
export interface Clock {
  /** Milliseconds since the epoch, in this clock's time. */
  readonly now: () => number;
  /**
   * Runs `fn` once `ms` of this clock's time has passed; the returned function
   * cancels it. Timers do not keep the process alive.
   */
  readonly after: (ms: number, fn: () => void) => () => void;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  after: (ms, fn) => {
    const t = setTimeout(fn, ms);
    t.unref();
    return () => clearTimeout(t);
  },
};

/**
 * Resolves after `ms` of the clock's time. Unlike a timer, a sleep keeps the
 * process alive while it waits, as `setTimeout` would: shutting down control
 * loops awaits a reconcile that may be sleeping out a member's throttling.
 */
export function sleep(clock: Clock, ms: number): Promise<void> {
  const keepAlive = setInterval(() => undefined, 2 ** 30);
  return new Promise<void>((resolve) => void clock.after(ms, resolve)).finally(() =>
    clearInterval(keepAlive),
  );
}

interface PendingTimer {
  due: number;
  seq: number;
  fn: () => void;
  cancelled: boolean;
}

export interface AcceleratedClockOptions {
  /** How many times faster than wall time the clock runs at most. */
  speedup: number;
  /**
   * Keep the event loop's utilization at or below this fraction by slowing
   * down (0.6); 1 turns the governor off and runs at `speedup` always.
   */
  maxUtilization?: number;
}

/** How often the governor looks at the event loop. */
const GOVERN_MS = 200;

/**
 * A clock that runs up to `speedup` times faster than wall time, starting at
 * the wall time it was made at. Its rate only changes at the governor's ticks;
 * between them `now()` is linear in wall time, and the one wall-clock timer it
 * holds is always set for its earliest pending timer at the current rate.
 */
export class AcceleratedClock implements Clock {
  readonly speedup: number;
  readonly #maxUtilization: number;
  /** Clock time and wall time (performance.now) at the last rate change. */
  #baseTime: number;
  #baseWall: number;
  #rate: number;
  readonly #startWall: number;
  /** Pending timers by (due, seq); cancelled ones are dropped when they surface. */
  readonly #heap = new MinHeap<PendingTimer>(
    (a, b) => a.due < b.due || (a.due === b.due && a.seq < b.seq),
  );
  #seq = 0;
  #wallTimer: NodeJS.Timeout | undefined;
  #governor: NodeJS.Timeout | undefined;
  #utilization = performance.eventLoopUtilization();
  /** Wall time of the governor ticks that left the rate below the target, for `throttledFraction`. */
  #slowWall = 0;

  constructor(options: AcceleratedClockOptions) {
    if (!(options.speedup >= 1))
      throw new RangeError(`speedup: expected >= 1, got ${options.speedup}`);
    this.speedup = options.speedup;
    this.#maxUtilization = options.maxUtilization ?? 0.6;
    this.#rate = options.speedup;
    this.#baseWall = this.#startWall = performance.now();
    this.#baseTime = Date.now();
    if (this.#maxUtilization < 1 && options.speedup > 1) {
      this.#governor = setInterval(() => this.#govern(), GOVERN_MS);
      this.#governor.unref();
    }
  }

  now = (): number => this.#baseTime + (performance.now() - this.#baseWall) * this.#rate;

  after = (ms: number, fn: () => void): (() => void) => {
    const timer: PendingTimer = {
      due: this.now() + Math.max(0, ms),
      seq: this.#seq++,
      fn,
      cancelled: false,
    };
    this.#heap.push(timer);
    if (this.#heap.peek() === timer) this.#arm();
    return () => {
      timer.cancelled = true;
    };
  };

  /** The fraction of wall time the governor held the clock below its target. */
  throttledFraction(): number {
    const wall = performance.now() - this.#startWall;
    return wall > 0 ? Math.min(1, this.#slowWall / wall) : 0;
  }

  /** Stops the governor and drops every pending timer. */
  stop(): void {
    clearInterval(this.#governor);
    clearTimeout(this.#wallTimer);
    this.#heap.clear();
  }

  #govern(): void {
    const u = performance.eventLoopUtilization(this.#utilization);
    this.#utilization = performance.eventLoopUtilization();
    let rate = this.#rate;
    if (u.utilization > this.#maxUtilization) rate = Math.max(1, rate * 0.7);
    else if (u.utilization < this.#maxUtilization * 0.7) rate = Math.min(this.speedup, rate * 1.2);
    if (rate < this.speedup) this.#slowWall += GOVERN_MS;
    if (rate === this.#rate) return;
    this.#baseTime = this.now();
    this.#baseWall = performance.now();
    this.#rate = rate;
    this.#arm();
  }

  /** Sets the one wall-clock timer for the earliest live timer at the current rate. */
  #arm(): void {
    clearTimeout(this.#wallTimer);
    while (this.#heap.peek()?.cancelled === true) this.#heap.pop();
    const first = this.#heap.peek();
    if (first === undefined) return;
    const wait = Math.max(0, (first.due - this.now()) / this.#rate);
    this.#wallTimer = setTimeout(() => this.#fire(), wait);
    this.#wallTimer.unref();
  }

  #fire(): void {
    const t = this.now();
    const due: PendingTimer[] = [];
    // A wall timer that fired a fraction of a millisecond early re-arms: no
    // timer ever runs before its time on this clock.
    for (
      let next = this.#heap.peek();
      next !== undefined && next.due <= t;
      next = this.#heap.peek()
    )
      due.push(this.#heap.pop()!);
    this.#arm();
    for (const timer of due) if (!timer.cancelled) timer.fn();
  }
}
