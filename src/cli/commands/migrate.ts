// `yunjian migrate app NAME --to cloud=X|site=Y|cluster=Z`: creates a Migration
// (the migration controller does the rest). The option parsers and the
// document builder are pure, for the CLI's unit tests.
import { InvalidArgumentError, Option, type Command } from 'commander';
import {
  API_VERSION,
  DEFAULT_MIGRATION_PAUSE_SECONDS,
  DEFAULT_MIGRATION_STEPS,
  MAX_MIGRATION_STEPS,
  type Migration,
  type MigrationTarget,
} from '../../model/schema.ts';
import { connect, type Session } from '../session.ts';
import { secondsOption } from '../options.ts';
import { appTarget } from '../targets.ts';
import { toYaml } from '../format.ts';

/** `cloud=X`, `site=Y` or `cluster=Z`. */
export function targetOption(raw: string): MigrationTarget {
  const m = /^(cloud|site|cluster)=([a-z0-9][-a-z0-9.]*)$/.exec(raw);
  if (m?.[1] === undefined || m[2] === undefined)
    throw new InvalidArgumentError(`expected cloud=NAME, site=NAME or cluster=NAME, got "${raw}".`);
  const name = m[2];
  return m[1] === 'cloud' ? { cloud: name } : m[1] === 'site' ? { site: name } : { cluster: name };
}

/** Comma-separated percentages, rising, ending at 100 (the server checks again). */
export function stepsOption(raw: string): number[] {
  const steps = raw.split(',').map((s) => Number(s.trim()));
  const bad =
    steps.length === 0 ||
    steps.length > MAX_MIGRATION_STEPS ||
    steps.some((s, i) => !Number.isInteger(s) || s < 1 || s > 100 || s <= (steps[i - 1] ?? 0)) ||
    steps.at(-1) !== 100;
  if (bad)
    throw new InvalidArgumentError(
      `expected up to ${MAX_MIGRATION_STEPS} rising percentages ending at 100 such as 5,25,50,100, got "${raw}".`,
    );
  return steps;
}

export interface MigrateOptions {
  app: string;
  namespace: string;
  to: MigrationTarget;
  name?: string;
  steps?: number[];
  pauseSeconds?: number;
  finalize?: 'manual' | 'automatic';
}

/** The Migration `migrate app` creates; named `<app>-to-<target>` unless `--name` says. */
export function migrationDocument(o: MigrateOptions): Migration {
  const where = Object.values(o.to)[0] as string;
  const name = o.name ?? `${o.app}-to-${where}`.slice(0, 253).replace(/[-.]+$/, '');
  return {
    apiVersion: API_VERSION,
    kind: 'Migration',
    metadata: { name, namespace: o.namespace },
    spec: {
      application: o.app,
      to: o.to,
      ...(o.steps !== undefined ? { steps: o.steps } : {}),
      ...(o.pauseSeconds !== undefined ? { pauseSeconds: o.pauseSeconds } : {}),
      ...(o.finalize !== undefined ? { finalize: o.finalize } : {}),
    },
  };
}

export function registerMigrate(program: Command, session: Session): void {
  const { io } = session;
  program
    .command('migrate')
    .description(
      'move an application to another cloud, site or cluster without downtime: the target is brought to full replicas, traffic moves in gated steps, a failed gate rolls back',
    )
    .argument('<kind>', 'applications (or app/NAME)')
    .argument('[name]', 'application name')
    .requiredOption('--to <target>', 'cloud=NAME, site=NAME or cluster=NAME', targetOption)
    .option(
      '--steps <percentages>',
      `traffic steps onto the target (${DEFAULT_MIGRATION_STEPS.join(',')})`,
      stepsOption,
    )
    .option(
      '--pause <duration>',
      `how long each step serves before its analysis (${DEFAULT_MIGRATION_PAUSE_SECONDS}s)`,
      secondsOption,
    )
    .addOption(
      new Option(
        '--finalize <mode>',
        'remove the source after cutover: manual (default) or automatic',
      ).choices(['manual', 'automatic']),
    )
    .option('--name <name>', 'the Migration name (<app>-to-<target>)')
    .option('--dry-run', 'validate on the server and print the Migration; nothing moves')
    .option('-n, --namespace <ns>', 'namespace')
    .action(
      async (
        kindArg: string,
        nameArg: string | undefined,
        opts: {
          to: MigrationTarget;
          steps?: number[];
          pause?: number;
          finalize?: 'manual' | 'automatic';
          name?: string;
          dryRun?: boolean;
          namespace?: string;
        },
        cmd: Command,
      ) => {
        const { name, namespace } = appTarget('migrate', kindArg, nameArg, opts.namespace);
        const doc = migrationDocument({
          app: name,
          namespace,
          to: opts.to,
          ...(opts.name !== undefined ? { name: opts.name } : {}),
          ...(opts.steps !== undefined ? { steps: opts.steps } : {}),
          ...(opts.pause !== undefined ? { pauseSeconds: opts.pause } : {}),
          ...(opts.finalize !== undefined ? { finalize: opts.finalize } : {}),
        });
        const client = await connect(session, cmd);
        const dryRun = opts.dryRun === true;
        await client.apply(JSON.stringify(doc), { namespace, dryRun });
        const steps = (doc.spec.steps ?? DEFAULT_MIGRATION_STEPS).join('% -> ');
        if (dryRun) io.stdout(toYaml(doc));
        io.stdout(
          `migration.yunjian.io/${doc.metadata.name} ${dryRun ? 'valid (dry run)' : 'created'}: ${name} to ${Object.entries(
            opts.to,
          )
            .map(([k, v]) => `${k} ${String(v)}`)
            .join(
              '',
            )}, traffic ${steps}%, ${doc.spec.pauseSeconds ?? DEFAULT_MIGRATION_PAUSE_SECONDS}s per step, finalize ${doc.spec.finalize ?? 'manual'}\n`,
        );
        if (!dryRun) io.stdout(`follow it with: yunjian migration describe ${doc.metadata.name}\n`);
      },
    );
}
