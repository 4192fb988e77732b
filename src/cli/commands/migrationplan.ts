// `yunjian migration plan -f PLAN.yaml [--dry-run | --what-if]` and
// `yunjian migrationplan get|describe|pause|resume|abort`. The plan's waves
// are computed here from the fleet and applications the server lists (the
// planner is pure, the same the controller runs), so they are shown before
// anything moves; --what-if runs the whole plan in a fresh sim twin in this
// process. Nothing but `plan` without --dry-run/--what-if writes.
import type { Command } from 'commander';
import type { WhatIfReport } from '../../controllers/migrationplan/whatif.ts';
import { targetLabel } from '../../model/migrationplan.ts';
import { DEFAULT_NAMESPACE, lookupKind, type KindInfo } from '../../model/kinds.ts';
import type {
  Application,
  Cloud,
  Cluster,
  MigrationPlan,
  MigrationPlanStatus,
  Site,
} from '../../model/schema.ts';
import { resourcePath, type YunjianClient } from '../client.ts';
import { UsageError } from '../errors.ts';
import { ageSince } from '../format.ts';
import { readManifests, toYamlStream } from '../manifest.ts';
import { numberOption, secondsOption } from '../options.ts';
import { connect, type Session } from '../session.ts';
import { registerGetOf } from './get.ts';

const kind = (name: string) => lookupKind(name) as KindInfo;
const PLANS = kind('migrationplans');
/** The what-if's wall-time budget unless --timeout says otherwise. */
const WHAT_IF_TIMEOUT_SECONDS = 30 * 60;

const duration = (seconds: number) => {
  const s = Math.round(seconds);
  if (s < 120) return `${s}s`;
  if (s < 7200) return `${Math.round(s / 60)}m`;
  return `${(s / 3600).toFixed(1)}h`;
};

/** The waves and unmovable applications of a plan, as `plan` prints them before anything moves. */
export function formatPlanPreview(name: string, status: MigrationPlanStatus): string {
  const lines = [
    `migrationplan ${name}: ${status.applications.length} applications in ${status.waves.length} waves, ${status.unmovable.length} unmovable, about ${duration(status.predictedSeconds ?? 0)}`,
  ];
  const to = new Map(status.applications.map((a) => [a.name, targetLabel(a.to)]));
  status.waves.forEach((w, i) => {
    lines.push(
      `  wave ${i + 1} (${w.applications.length}): ${w.applications.map((a) => `${a} -> ${to.get(a) ?? '?'}`).join(', ')}`,
    );
  });
  if (status.unmovable.length > 0) {
    lines.push('unmovable:');
    for (const u of status.unmovable) lines.push(`  ${u.name}: ${u.reason}`);
  }
  return `${lines.join('\n')}\n`;
}

/** The what-if's report. */
export function formatWhatIf(name: string, r: WhatIfReport): string {
  const lines = [
    `what-if ${name} (a copy of the fleet in a sim twin; nothing real changed): ${r.phase}`,
    `  waves:            ${r.waves.length} (${r.waves.map((w) => w.length).join(', ') || 'none'} applications)`,
    `  duration:         ${duration(r.simulatedSeconds)} simulated (${duration(r.wallSeconds)} at ${r.effectiveSpeedup.toFixed(1)}x); planner's estimate ${duration(r.plannedSeconds)}`,
    ...r.peakExtra.map(
      (p) =>
        `  peak at target:   ${p.target} +${p.cpuCores} cores, +${p.memoryGiB} GiB (above its use before the plan)`,
    ),
    `  monthly cost:     $${r.monthlyCost.before.toFixed(2)} before, $${r.monthlyCost.after.toFixed(2)} after (list prices of the applications' requests)`,
    `  zero ready:       ${r.zeroReady.length === 0 ? 'never' : r.zeroReady.join(', ')} (${r.samples} status writes checked)`,
  ];
  r.waves.forEach((w, i) => lines.push(`  wave ${i + 1}: ${w.join(', ')}`));
  if (r.unmovable.length > 0) {
    lines.push('unmovable:');
    for (const u of r.unmovable) lines.push(`  ${u.name}: ${u.reason}`);
  }
  return `${lines.join('\n')}\n`;
}

/** `migrationplan describe`: the waves with each application's Migration and phase. */
export function describeMigrationPlan(p: MigrationPlan, now: number): string {
  const s = p.status;
  const lines = [
    `Name:        ${p.metadata.name}`,
    `Namespace:   ${p.metadata.namespace ?? DEFAULT_NAMESPACE}`,
    `Phase:       ${s?.phase ?? 'Pending'}${p.spec.paused === true ? ' (spec.paused)' : ''}${p.spec.abort === true ? ' (spec.abort)' : ''}`,
    `Wave size:   ${p.spec.waveSize ?? 10}, concurrency ${p.spec.concurrency ?? 5}, gate maxFailed ${p.spec.gate?.maxFailed ?? 0}`,
  ];
  if (s?.startedAt !== undefined) lines.push(`Started:     ${ageSince(s.startedAt, now)} ago`);
  if (s?.finishedAt !== undefined) lines.push(`Finished:    ${ageSince(s.finishedAt, now)} ago`);
  if (s?.predictedSeconds !== undefined) lines.push(`Predicted:   ${duration(s.predictedSeconds)}`);
  if (s?.message !== undefined) lines.push(`Message:     ${s.message}`);
  s?.waves.forEach((w, i) => {
    lines.push(`Wave ${i + 1}: ${w.phase}${i === s.currentWave ? ' (current)' : ''}`);
    for (const name of w.applications) {
      const a = s.applications.find((x) => x.name === name);
      lines.push(
        `  ${name} -> ${a ? targetLabel(a.to) : '?'}  ${a?.migration ?? '-'}  ${a?.phase ?? (a?.migration !== undefined ? 'Pending' : 'not started')}`,
      );
    }
  });
  if (s !== undefined && s.unmovable.length > 0) {
    lines.push('Unmovable:');
    for (const u of s.unmovable) lines.push(`  ${u.name}: ${u.reason}`);
  }
  return `${lines.join('\n')}\n`;
}

async function fleetFromServer(client: YunjianClient) {
  const all = async <T>(name: string) =>
    (await client.listAll(kind(name), {}, 500)).items as unknown as T[];
  return {
    clouds: await all<Cloud>('clouds'),
    sites: await all<Site>('sites'),
    clusters: await all<Cluster>('clusters'),
    apps: await all<Application>('applications'),
  };
}

/** `migration plan`, registered under `migration` by its command. */
export function registerMigrationPlanSubcommand(migration: Command, session: Session): void {
  const { io } = session;
  migration
    .command('plan')
    .description(
      'show the waves of a MigrationPlan (dependencies first, bounded by wave size and target capacity) and apply it; --what-if rehearses it on a sim twin',
    )
    .requiredOption('-f, --filename <path>', 'the MigrationPlan (YAML or JSON)')
    .option('--dry-run', 'validate on the server and show the waves; nothing is stored')
    .option(
      '--what-if',
      'run the whole plan against a copy of the fleet in a sim twin at accelerated time; nothing real changes',
    )
    .option(
      '--speedup <factor>',
      'how much faster than real time the what-if runs at most (20; slower while the host is busy)',
      numberOption('a factor from 1 to 1000', 1, 1000),
    )
    .option(
      '--timeout <duration>',
      'give the what-if up to this much wall time, such as 30m (30m); it reports where the plan got to',
      secondsOption,
    )
    .option('-n, --namespace <ns>', 'namespace of the plan')
    .action(
      async (
        opts: {
          filename: string;
          dryRun?: boolean;
          whatIf?: boolean;
          speedup?: number;
          timeout?: number;
          namespace?: string;
        },
        cmd: Command,
      ) => {
        const manifests = await readManifests([opts.filename], io.readStdin);
        const doc = manifests[0]?.object;
        if (manifests.length !== 1 || doc?.['kind'] !== 'MigrationPlan')
          throw new UsageError(`${opts.filename}: expected one MigrationPlan document`);
        const client = await connect(session, cmd);
        const namespace =
          opts.namespace ??
          (doc['metadata'] as { namespace?: string } | undefined)?.namespace ??
          DEFAULT_NAMESPACE;
        // The server validates (every field path) before anything else happens.
        await client.apply(toYamlStream(manifests), { namespace, dryRun: true });
        const plan = {
          ...(doc as unknown as MigrationPlan),
          metadata: { ...(doc as unknown as MigrationPlan).metadata, namespace },
        };
        const fleet = await fleetFromServer(client);
        // Loaded on demand: the planner and the twin (a store, the control
        // loops, the sim) would otherwise load on every CLI call.
        if (opts.whatIf === true) {
          const { runWhatIf } = await import('../../controllers/migrationplan/whatif.ts');
          const report = await runWhatIf({
            ...fleet,
            plan,
            ...(opts.speedup !== undefined ? { speedup: opts.speedup } : {}),
            timeoutMs: (opts.timeout ?? WHAT_IF_TIMEOUT_SECONDS) * 1000,
            // Long work shows progress: on stderr, so stdout stays the report.
            progress: (line) => io.stderr(`what-if: ${line}\n`),
          });
          io.stdout(formatWhatIf(plan.metadata.name, report));
          return;
        }
        const { initialPlanStatus } = await import('../../controllers/migrationplan/index.ts');
        io.stdout(formatPlanPreview(plan.metadata.name, initialPlanStatus(plan, fleet)));
        if (opts.dryRun === true) {
          io.stdout(`migrationplan.yunjian.io/${plan.metadata.name} valid (dry run)\n`);
          return;
        }
        const result = await client.apply(toYamlStream(manifests), { namespace, dryRun: false });
        for (const item of result.items)
          io.stdout(`migrationplan.yunjian.io/${item.name} ${item.action}\n`);
        io.stdout(`follow it with: yunjian migrationplan describe ${plan.metadata.name}\n`);
      },
    );
}

/** The spec change each control verb makes. */
const CONTROLS = {
  pause: { spec: { paused: true }, done: 'paused: migrations in flight go on, none starts' },
  resume: { spec: { paused: false }, done: 'resumed' },
  abort: { spec: { abort: true }, done: 'aborting: migrations in flight roll back' },
} as const satisfies Record<string, { spec: Partial<MigrationPlan['spec']>; done: string }>;

export function registerMigrationPlan(program: Command, session: Session): void {
  const { io } = session;
  const cmdGroup = program
    .command('migrationplan')
    .description('show and steer migration plans (yunjian migration plan -f PLAN starts one)');
  registerGetOf(cmdGroup, session, PLANS, 'plan');
  cmdGroup
    .command('describe')
    .description("waves, each application's Migration and phase, unmovable applications")
    .argument('<name>', 'plan name')
    .option('-n, --namespace <ns>', 'namespace')
    .action(async (name: string, opts: { namespace?: string }, cmd: Command) => {
      const client = await connect(session, cmd);
      const p = (await client.get(PLANS, name, opts.namespace)) as MigrationPlan;
      io.stdout(describeMigrationPlan(p, io.now()));
    });
  for (const [verb, control] of Object.entries(CONTROLS))
    cmdGroup
      .command(verb)
      .description(`${verb} a migration plan`)
      .argument('<name>', 'plan name')
      .option('-n, --namespace <ns>', 'namespace')
      .action(async (name: string, opts: { namespace?: string }, cmd: Command) => {
        const client = await connect(session, cmd);
        const namespace = opts.namespace ?? DEFAULT_NAMESPACE;
        const p = (await client.get(PLANS, name, namespace)) as MigrationPlan;
        await client.call('PUT', resourcePath(PLANS, namespace, name), {
          ...p,
          spec: { ...p.spec, ...control.spec },
        });
        io.stdout(`migrationplan.yunjian.io/${name} ${control.done}\n`);
      });
}
