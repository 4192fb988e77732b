// What the gateway saw of each backend cluster: one record per attempt (when,
// whether it failed: a connect error, reset, timeout or 5xx; how long it took),
// kept per cluster in a bounded ring, so "since T" questions (a migration
// step's analysis) are answered from the attempts themselves. An attempt that
// failed counts against its backend even when a retry elsewhere served the
// client: the gate must see a bad target that the retries hide.
export interface BackendWindow {
  requests: number;
  errors: number;
  /** Milliseconds; absent without requests. */
  p99LatencyMs?: number;
}

/** Per-backend attempt stats (`?since=MS`), answered to loopback clients only: the migration gate reads them. */
export const BACKEND_STATS_PATH = '/.well-known/yunjian/backends';

/** Attempts kept per cluster (the oldest are dropped first). */
export const BACKEND_RING = 20_000;

class Ring {
  readonly at = new Float64Array(BACKEND_RING);
  readonly ms = new Float32Array(BACKEND_RING);
  readonly failed = new Uint8Array(BACKEND_RING);
  size = 0;
  next = 0;
}

export class BackendStats {
  readonly #rings = new Map<string, Ring>();

  record(cluster: string, failed: boolean, ms: number, at: number): void {
    let r = this.#rings.get(cluster);
    if (!r) this.#rings.set(cluster, (r = new Ring()));
    r.at[r.next] = at;
    r.ms[r.next] = ms;
    r.failed[r.next] = failed ? 1 : 0;
    r.next = (r.next + 1) % BACKEND_RING;
    r.size = Math.min(r.size + 1, BACKEND_RING);
  }

  /** Attempts at or after `sinceMs`, per cluster. */
  since(sinceMs: number): Record<string, BackendWindow> {
    const out: Record<string, BackendWindow> = {};
    for (const [cluster, r] of this.#rings) {
      const times: number[] = [];
      let errors = 0;
      for (let i = 0; i < r.size; i++) {
        if ((r.at[i] ?? 0) < sinceMs) continue;
        times.push(r.ms[i] ?? 0);
        errors += r.failed[i] ?? 0;
      }
      if (times.length === 0) continue;
      times.sort((a, b) => a - b);
      const p99 = times[Math.min(times.length - 1, Math.ceil(times.length * 0.99) - 1)] ?? 0;
      out[cluster] = { requests: times.length, errors, p99LatencyMs: Math.round(p99 * 10) / 10 };
    }
    return out;
  }
}
