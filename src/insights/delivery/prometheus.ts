// Delivery metrics on /metrics: the four keys per team over the last 30 days
// (computed from the records when Prometheus scrapes, one report shared by the
// four gauges of a scrape) and a counter of deployments that reached an
// outcome, by team, source and outcome.
import { Counter, Gauge, type Registry } from 'prom-client';
import type { DeliveryEvent } from '../../model/schema.ts';
import { deliveryReport, type DeliveryReport } from './metrics.ts';

/** The window the gauges cover. */
export const GAUGE_WINDOW_DAYS = 30;
/** A report serves every gauge collected within this long (one scrape). */
const REPORT_REUSE_MS = 2000;

export interface DeliveryTelemetry {
  /** Counts a deployment record written with its outcome. */
  deployment(record: DeliveryEvent): void;
}

export function registerDeliveryMetrics(
  registry: Registry,
  records: () => Promise<readonly DeliveryEvent[]>,
  now: () => number = Date.now,
): DeliveryTelemetry {
  const deployments = new Counter({
    name: 'yunjian_delivery_deployments_total',
    help: 'Deployments that reached an outcome, by team, source (yunjian, cloudevents, github, gitlab) and outcome',
    labelNames: ['team', 'source', 'outcome'] as const,
    registers: [registry],
  });
  let last: { at: number; report: Promise<DeliveryReport> } | undefined;
  const report = () => {
    const at = now();
    if (last === undefined || at - last.at > REPORT_REUSE_MS) {
      const endMs = at;
      last = {
        at,
        report: records().then((r) =>
          deliveryReport(r, { startMs: endMs - GAUGE_WINDOW_DAYS * 86_400_000, endMs, by: 'team' }),
        ),
      };
    }
    return last.report;
  };
  const gauge = (
    name: string,
    help: string,
    value: (g: DeliveryReport['groups'][number]) => number | null,
  ) =>
    new Gauge({
      name,
      help: `${help}, last ${GAUGE_WINDOW_DAYS} days, by team`,
      labelNames: ['team'] as const,
      registers: [registry],
      async collect() {
        this.reset();
        for (const g of (await report()).groups) {
          const v = value(g);
          if (v !== null) this.set({ team: g.key }, v);
        }
      },
    });
  gauge(
    'yunjian_delivery_deployment_frequency_per_day',
    'Successful production deployments per day',
    (g) => g.deploymentFrequency.perDay,
  );
  gauge(
    'yunjian_delivery_lead_time_seconds',
    'Median commit-to-production lead time',
    (g) => g.leadTimeForChanges.medianSeconds,
  );
  gauge(
    'yunjian_delivery_change_failure_ratio',
    'Share of production deployments that failed, were rolled back or caused an incident',
    (g) => g.changeFailureRate.ratio,
  );
  gauge(
    'yunjian_delivery_time_to_restore_seconds',
    'Median time from an outage to its restore',
    (g) => g.timeToRestore.medianSeconds,
  );
  return {
    deployment(r) {
      deployments.inc({ team: r.spec.team, source: r.spec.source, outcome: r.spec.outcome ?? '' });
    },
  };
}
