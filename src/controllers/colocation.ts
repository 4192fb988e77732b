// Usage-aware placement (placement.colocation): the application controller
// learns each component's per-replica cpu use from what the drivers measure
// and turns it into the reservation its replicas hold on their nodes.
//
// Invariants:
// - A reservation never exceeds the request (which stays the replica's cpu
//   limit) and is the request until `minSamples` observations exist.
// - It rises as soon as the percentile passes it (an under-reservation is an
//   overload risk) but falls only when the percentile drops below
//   LOWER_BELOW of it: a changed reservation changes the workload's spec,
//   which members may roll out by restarting replicas.
import { COLOCATION_DEFAULTS, type ApplicationStatus, type Placement } from '../model/schema.ts';

type ColocationStatus = NonNullable<ApplicationStatus['colocation']>;
export type ComponentUsage = ColocationStatus['components'][number];

/** Per-replica samples kept per component (an hour at the default interval). */
export const WINDOW_SAMPLES = 360;
/** Reservations are whole multiples of this many millicores, and at least one. */
const RESERVATION_STEP_MILLIS = 10;
const LOWER_BELOW = 0.75;

/** The p-th percentile (nearest rank) of the samples; undefined for none. */
export function percentile(samples: readonly number[], p: number): number | undefined {
  if (samples.length === 0) return undefined;
  const sorted = [...samples].sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[Math.min(sorted.length, rank) - 1];
}

export interface ReservationInput {
  requestMillis: number;
  /** The reservation in force, absent before the first one. */
  reservedMillis?: number;
  samples: readonly number[];
  policy: NonNullable<Placement['colocation']>;
}

/** The next reservation of a component and the percentile it follows. */
export function nextReservation(input: ReservationInput): {
  reservedMillis: number;
  predictedMillis?: number;
} {
  const { requestMillis, reservedMillis, samples, policy } = input;
  const current = Math.min(reservedMillis ?? requestMillis, requestMillis);
  const predicted = percentile(samples, policy.percentile ?? COLOCATION_DEFAULTS.percentile);
  if (
    predicted === undefined ||
    samples.length < (policy.minSamples ?? COLOCATION_DEFAULTS.minSamples)
  )
    return {
      reservedMillis: current,
      ...(predicted !== undefined ? { predictedMillis: predicted } : {}),
    };
  const target = Math.min(
    requestMillis,
    Math.max(
      RESERVATION_STEP_MILLIS,
      Math.ceil(predicted / RESERVATION_STEP_MILLIS) * RESERVATION_STEP_MILLIS,
    ),
  );
  const move = target > current || target < current * LOWER_BELOW;
  return { reservedMillis: move ? target : current, predictedMillis: predicted };
}

/**
 * Bounded per-key windows of samples, at most one per interval. Memory only:
 * after a restart a component starts a fresh window and keeps the reservation
 * its status recorded until the window holds enough samples again.
 */
export class UsageWindows {
  readonly #intervalMs: number;
  readonly #windows = new Map<string, { at: number; samples: number[] }>();

  constructor(intervalMs: number) {
    this.#intervalMs = intervalMs;
  }

  /** Adds a sample unless the key's last one is younger than the interval. */
  record(key: string, atMs: number, value: number): void {
    let w = this.#windows.get(key);
    if (w === undefined) this.#windows.set(key, (w = { at: -Infinity, samples: [] }));
    if (atMs - w.at < this.#intervalMs) return;
    w.at = atMs;
    w.samples.push(value);
    if (w.samples.length > WINDOW_SAMPLES) w.samples.splice(0, w.samples.length - WINDOW_SAMPLES);
  }

  samples(key: string): readonly number[] {
    return this.#windows.get(key)?.samples ?? [];
  }

  /** Drops every window whose key starts with the prefix (an app that is gone). */
  forget(prefix: string): void {
    for (const k of this.#windows.keys()) if (k.startsWith(prefix)) this.#windows.delete(k);
  }
}
