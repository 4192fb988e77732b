// How controllers reach a cluster's driver. The provider owns driver lifetimes:
// driverFor() creates or refreshes the driver for the cluster's current spec,
// forget() releases it when the Cluster is deleted.
import type { ClusterDriver } from '../drivers/types.ts';
import { sleep, systemClock, type Clock } from '../lib/clock.ts';
import { TooManyRequestsError } from '../model/errors.ts';
import type { Cluster, ClusterDriver as ClusterDriverConfig } from '../model/schema.ts';

export interface DriverProvider {
  /** Undefined when no driver of the cluster's type is available (no agent joined yet). */
  driverFor(cluster: Cluster): ClusterDriver | undefined;
  forget(clusterName: string): void;
}

export type DriverType = ClusterDriverConfig['type'];

/**
 * One provider per driver type (sim, agent, kubernetes), chosen by
 * `spec.driver.type`; every driver it hands out waits out throttling (in the
 * clock's time: a member's Retry-After is in the same time as its rate limit).
 */
export function providerByType(
  providers: Partial<Record<DriverType, DriverProvider>>,
  clock: Clock = systemClock,
): DriverProvider {
  // One patient wrapper per driver instance, so callers may compare drivers.
  const wrapped = new WeakMap<ClusterDriver, ClusterDriver>();
  return {
    driverFor(cluster) {
      const d = providers[cluster.spec.driver.type]?.driverFor(cluster);
      if (!d) return undefined;
      let w = wrapped.get(d);
      if (!w) wrapped.set(d, (w = patientDriver(d, clock)));
      return w;
    },
    forget(name) {
      for (const p of Object.values(providers)) p.forget(name);
    },
  };
}

/** At most this long is spent waiting out one call's throttling before the error goes to the caller. */
const MAX_THROTTLE_WAIT_MS = 10_000;

/**
 * The driver with client-side patience for throttling, as client-go does for
 * 429s: a call answered with TooManyRequests is retried after its Retry-After
 * (jittered, so a burst of callers does not return in lock step) until
 * MAX_THROTTLE_WAIT_MS is spent; only then does the error reach the
 * controller, whose work queue backs off the whole key.
 */
export function patientDriver(driver: ClusterDriver, clock: Clock = systemClock): ClusterDriver {
  const patient =
    <A extends unknown[], R>(fn: (...args: A) => Promise<R>) =>
    async (...args: A): Promise<R> => {
      let waited = 0;
      for (;;) {
        try {
          return await fn(...args);
        } catch (err) {
          const after =
            err instanceof TooManyRequestsError
              ? (err.details.retryAfterSeconds ?? 0.1) * 1000
              : -1;
          if (after < 0 || waited + after > MAX_THROTTLE_WAIT_MS) throw err;
          const delay = after * (1 + Math.random() * 0.5);
          waited += delay;
          await sleep(clock, delay);
        }
      }
    };
  return {
    type: driver.type,
    inventory: patient(() => driver.inventory()),
    applyWorkload: patient((spec) => driver.applyWorkload(spec)),
    deleteWorkload: patient((key) => driver.deleteWorkload(key)),
    listWorkloads: patient(() => driver.listWorkloads()),
    ...(driver.nodes ? { nodes: patient(() => driver.nodes!()) } : {}),
    close: () => driver.close(),
  };
}
