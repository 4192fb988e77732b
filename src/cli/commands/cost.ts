// `yunjian cost [--by app|component|team|cloud|site|cluster|day] [--since 30d]
// [--until TIME] [--idle none|uniform|proportional] [--team T] [-o table|json|csv]`:
// what the fleet cost over a window, by one dimension (GET /api/v1alpha1/cost).
import type { Command } from 'commander';
import { UsageError } from '../errors.ts';
import { renderTable } from '../format.ts';
import { connect, type Session } from '../session.ts';

interface CostOpts {
  by?: string;
  since?: string;
  until?: string;
  idle?: string;
  team?: string;
  output?: string;
}

interface CostRow {
  key: string;
  keys: string[];
  cpuMicros: number;
  memoryMicros: number;
  gpuMicros: number;
  idleMicros: number;
  totalMicros: number;
}
interface CostResult {
  window: { since: string; until: string };
  samples: number;
  by: string;
  idle: string;
  rows: CostRow[];
  totals: { workloadMicros: number; idleMicros: number; totalMicros: number; fleetMicros: number };
}

const OUTPUTS = ['table', 'json', 'csv'];
const usd = (micros: number) => (micros / 1e6).toFixed(2);

export function registerCost(program: Command, session: Session): void {
  const { io } = session;
  program
    .command('cost')
    .description(
      "what the fleet cost over a window: max(request, use) at each cluster's prices, idle capacity as its own row or shared",
    )
    .option(
      '--by <dimensions>',
      'app, component, team, cloud, site, cluster or day, or up to three comma-separated (app)',
    )
    .option('--since <when>', 'a duration back from now (30d, 12h, 90m) or an RFC 3339 time (30d)')
    .option('--until <when>', 'as --since (now)')
    .option('--idle <sharing>', 'none (its own row), uniform or proportional (none)')
    .option('--team <team>', "only this team's rows")
    .option('-o, --output <format>', 'table (default), json or csv (amounts in USD)')
    .action(async (opts: CostOpts, cmd: Command) => {
      const output = opts.output ?? 'table';
      if (!OUTPUTS.includes(output))
        throw new UsageError(`--output: expected one of ${OUTPUTS.join(', ')}, got "${output}"`);
      const query = new URLSearchParams();
      for (const key of ['by', 'since', 'until', 'idle', 'team'] as const) {
        const value = opts[key];
        if (value !== undefined) query.set(key, value);
      }
      const client = await connect(session, cmd);
      const report = await client.call<CostResult>(
        'GET',
        `/api/v1alpha1/cost${query.size > 0 ? `?${query.toString()}` : ''}`,
      );
      if (output === 'json') {
        io.stdout(`${JSON.stringify(report, null, 2)}\n`);
        return;
      }
      const cells = (r: CostRow) => [
        usd(r.cpuMicros),
        usd(r.memoryMicros),
        usd(r.gpuMicros),
        usd(r.idleMicros),
        usd(r.totalMicros),
      ];
      // One column per dimension (--by cloud,day), then the amounts.
      const header = [
        ...report.by.split(',').map((d) => d.toUpperCase()),
        'CPU',
        'MEMORY',
        'GPU',
        'IDLE',
        'TOTAL',
      ];
      if (output === 'csv') {
        const quote = (s: string) => (/[",\r\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s);
        const lines = [header, ...report.rows.map((r) => [...r.keys, ...cells(r)])];
        io.stdout(`${lines.map((l) => l.map(quote).join(',')).join('\n')}\n`);
        return;
      }
      io.stdout(
        renderTable(
          header,
          report.rows.map((r) => [...r.keys, ...cells(r)]),
        ),
      );
      io.stdout(
        `\n${report.window.since} to ${report.window.until}, ${report.samples} samples, idle ${report.idle}: total ${usd(report.totals.totalMicros)} USD of a fleet cost of ${usd(report.totals.fleetMicros)} USD\n`,
      );
    });
}
