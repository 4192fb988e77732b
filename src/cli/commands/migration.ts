// `yunjian migration get|describe|pause|resume|abort|finalize NAME`: reads a
// Migration, or sets one of the user's controls in its spec (paused, abort,
// finalizeApproved) with a compare-and-set PUT; the controller acts on it.
import type { Command } from 'commander';
import { lookupKind, DEFAULT_NAMESPACE, type KindInfo } from '../../model/kinds.ts';
import type { Migration } from '../../model/schema.ts';
import { resourcePath } from '../client.ts';
import { ageSince } from '../format.ts';
import { connect, type Session } from '../session.ts';
import { registerGetOf } from './get.ts';
import { registerMigrationPlanSubcommand } from './migrationplan.ts';

const MIGRATIONS = lookupKind('migrations') as KindInfo;

/** The spec change each control verb makes, and what it prints. */
export const CONTROLS = {
  pause: { spec: { paused: true }, done: 'paused' },
  resume: { spec: { paused: false }, done: 'resumed' },
  abort: { spec: { abort: true }, done: 'aborting: the pre-migration state is being restored' },
  finalize: {
    spec: { finalizeApproved: true },
    done: 'finalize approved: the source is drained and removed after cutover',
  },
} as const satisfies Record<string, { spec: Partial<Migration['spec']>; done: string }>;

/** `migration describe`: the state machine, its steps' analyses and hooks. */
export function describeMigration(m: Migration, now: number): string {
  const s = m.status;
  const to = Object.entries(m.spec.to)
    .map(([k, v]) => `${k} ${String(v)}`)
    .join('');
  const lines = [
    `Name:         ${m.metadata.name}`,
    `Namespace:    ${m.metadata.namespace ?? DEFAULT_NAMESPACE}`,
    `Application:  ${m.spec.application}`,
    `To:           ${to}`,
    `Steps:        ${(m.spec.steps ?? [5, 25, 50, 100]).join('% -> ')}%`,
    `Finalize:     ${m.spec.finalize ?? 'manual'}${m.spec.finalizeApproved === true ? ' (approved)' : ''}`,
    `Phase:        ${s?.phase ?? 'Pending'}${s?.resumePhase !== undefined ? ` (from ${s.resumePhase})` : ''}`,
  ];
  if (s?.weight !== undefined) lines.push(`Traffic:      ${s.weight}% on the target`);
  if (s?.source !== undefined) lines.push(`Source:       ${s.source.join(', ')}`);
  if (s?.target !== undefined) lines.push(`Target:       ${s.target.join(', ')}`);
  if (s?.startedAt !== undefined) lines.push(`Started:      ${ageSince(s.startedAt, now)} ago`);
  if (s?.finishedAt !== undefined) lines.push(`Finished:     ${ageSince(s.finishedAt, now)} ago`);
  if (s?.message !== undefined) lines.push(`Message:      ${s.message}`);
  if (s?.analyses?.length) {
    lines.push('Analyses:');
    for (const a of s.analyses)
      lines.push(`  step ${a.step + 1} at ${a.weight}%: ${a.result} (${a.message})`);
  }
  if (s?.hooks?.length) {
    lines.push('Data-sync hooks:');
    for (const h of s.hooks) lines.push(`  ${h.name} (${h.stage}): ${h.result} ${h.message}`);
  }
  return `${lines.join('\n')}\n`;
}

export function registerMigration(program: Command, session: Session): void {
  const { io } = session;
  const migration = program
    .command('migration')
    .description('show and steer migrations (yunjian migrate app NAME --to ... starts one)');
  registerGetOf(migration, session, MIGRATIONS, 'migration');
  migration
    .command('describe')
    .description('phase, traffic, analyses and hooks of a migration')
    .argument('<name>', 'migration name')
    .option('-n, --namespace <ns>', 'namespace')
    .action(async (name: string, opts: { namespace?: string }, cmd: Command) => {
      const client = await connect(session, cmd);
      const m = (await client.get(MIGRATIONS, name, opts.namespace)) as Migration;
      io.stdout(describeMigration(m, io.now()));
    });
  registerMigrationPlanSubcommand(migration, session);
  for (const [verb, control] of Object.entries(CONTROLS))
    migration
      .command(verb)
      .description(`${verb} a migration`)
      .argument('<name>', 'migration name')
      .option('-n, --namespace <ns>', 'namespace')
      .action(async (name: string, opts: { namespace?: string }, cmd: Command) => {
        const client = await connect(session, cmd);
        const namespace = opts.namespace ?? DEFAULT_NAMESPACE;
        const m = (await client.get(MIGRATIONS, name, namespace)) as Migration;
        await client.call('PUT', resourcePath(MIGRATIONS, namespace, name), {
          ...m,
          spec: { ...m.spec, ...control.spec },
        });
        io.stdout(`migration.yunjian.io/${name} ${control.done}\n`);
      });
}
