// `yunjian metrics delivery [--team T] [--namespace NS] [--app A] [--cloud C]
// [--environment E] [--since 30d] [--until TIME] [--by team|app|cloud|environment|namespace]
// [--interval day|week] [-o table|json]`: DORA's four keys, build frequency and
// requirement lead time with their bands (GET /api/v1alpha1/metrics/delivery).
import type { Command } from 'commander';
import type { DeliveryGroup, DeliveryReport } from '../../insights/delivery/metrics.ts';
import { UsageError } from '../errors.ts';
import { renderTable } from '../format.ts';
import { connect, type Session } from '../session.ts';

interface DeliveryOpts {
  team?: string;
  namespace?: string;
  app?: string;
  cloud?: string;
  environment?: string;
  since?: string;
  until?: string;
  by?: string;
  interval?: string;
  output?: string;
}

const OUTPUTS = ['table', 'json'];
const NONE = '-';

/** Seconds as the largest unit that keeps a number of at least 1: 40m, 12h, 6.5d. */
export function formatDuration(seconds: number | null): string {
  if (seconds === null) return NONE;
  const units: [string, number][] = [
    ['d', 86_400],
    ['h', 3600],
    ['m', 60],
  ];
  for (const [unit, size] of units)
    if (seconds >= size) return `${Number((seconds / size).toFixed(1))}${unit}`;
  return `${Math.round(seconds)}s`;
}

const ratio = (r: number | null) => (r === null ? NONE : `${Number((r * 100).toFixed(1))}%`);
const band = (b: string | null) => b ?? NONE;

function row(g: DeliveryGroup): string[] {
  return [
    g.key,
    String(g.deploymentFrequency.deployments),
    Number(g.deploymentFrequency.perDay.toFixed(2)).toString(),
    formatDuration(g.leadTimeForChanges.medianSeconds),
    `${ratio(g.changeFailureRate.ratio)} (${g.changeFailureRate.failed}/${g.changeFailureRate.deployments})`,
    formatDuration(g.timeToRestore.medianSeconds),
    g.buildFrequency === null ? NONE : Number(g.buildFrequency.perWeek.toFixed(1)).toString(),
    formatDuration(g.requirementLeadTime?.medianSeconds ?? null),
    [
      g.bands.deploymentFrequency,
      band(g.bands.leadTimeForChanges),
      band(g.bands.changeFailureRate),
      band(g.bands.timeToRestore),
    ].join('/'),
  ];
}

export function renderDeliveryReport(report: DeliveryReport): string {
  const header = [
    (report.by ?? 'group').toUpperCase(),
    'DEPLOYS',
    'PER-DAY',
    'LEAD-TIME',
    'CHANGE-FAILURE',
    'RESTORE',
    'BUILDS/WEEK',
    'REQ-LEAD',
    'BANDS (DF/LT/CFR/TTR)',
  ];
  return (
    renderTable(header, report.groups.map(row)) +
    `\n${report.window.start} to ${report.window.end} (${Number(report.window.days.toFixed(2))} days); medians; bands are DORA's elite/high/medium/low\n`
  );
}

export function registerMetrics(program: Command, session: Session): void {
  const { io } = session;
  const metrics = program.command('metrics').description('delivery metrics');
  metrics
    .command('delivery')
    .description(
      "DORA's four keys (deployment frequency, lead time for changes, change failure rate, time to restore), build frequency and requirement lead time, with bands",
    )
    .option('--team <team>', "only this team's records")
    .option('--namespace <ns>', 'only this namespace')
    .option('--app <app>', 'only this application')
    .option('--cloud <cloud>', 'only deployments and incidents on this cloud')
    .option('--environment <env>', 'only deployments and incidents in this environment')
    .option('--since <when>', 'a duration back from now (30d, 12h, 2w) or an RFC 3339 time (30d)')
    .option('--until <when>', 'as --since (now)')
    .option('--by <dimension>', 'team, app, cloud, environment or namespace (one group)')
    .option('--interval <interval>', 'the series buckets: day or week (week)')
    .option('-o, --output <format>', 'table (default) or json (the API answer, series included)')
    .action(async (opts: DeliveryOpts, cmd: Command) => {
      const output = opts.output ?? 'table';
      if (!OUTPUTS.includes(output))
        throw new UsageError(`--output: expected one of ${OUTPUTS.join(', ')}, got "${output}"`);
      const query = new URLSearchParams();
      for (const key of [
        'team',
        'namespace',
        'app',
        'cloud',
        'environment',
        'since',
        'until',
        'by',
        'interval',
      ] as const) {
        const value = opts[key];
        if (value !== undefined) query.set(key, value);
      }
      const client = await connect(session, cmd);
      const report = await client.call<DeliveryReport>(
        'GET',
        `/api/v1alpha1/metrics/delivery${query.size > 0 ? `?${query.toString()}` : ''}`,
      );
      io.stdout(
        output === 'json' ? `${JSON.stringify(report, null, 2)}\n` : renderDeliveryReport(report),
      );
    });
}
