// A token bucket per simulated cluster API: `burst` calls may be made at once,
// then tokens come back at `qps` per second. Time comes from the fleet's clock
// on every call, so the bucket needs no timer and is exact under a fake clock.

export class TokenBucket {
  private qps: number;
  private burst: number;
  private tokens: number;
  private last: number;

  constructor(qps: number, burst: number, now: number) {
    this.qps = qps;
    this.burst = burst;
    this.tokens = burst;
    this.last = now;
  }

  /** Changes the rate; tokens already saved are kept up to the new burst. */
  configure(qps: number, burst: number): void {
    this.qps = qps;
    this.burst = burst;
    this.tokens = Math.min(this.tokens, burst);
  }

  /** Takes one token: returns 0 when the call is admitted, else the seconds until a token is free. */
  take(now: number): number {
    if (this.qps === Infinity) return 0;
    // A clock that steps backwards (a test rewinding it) refills nothing.
    const elapsed = Math.max(0, now - this.last) / 1000;
    this.last = Math.max(this.last, now);
    this.tokens = Math.min(this.burst, this.tokens + elapsed * this.qps);
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return 0;
    }
    return (1 - this.tokens) / this.qps;
  }

  describe(): string {
    return `${this.qps} requests/s, burst ${this.burst}`;
  }
}
