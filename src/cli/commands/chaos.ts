// `yunjian chaos fail|recover SCOPE NAME` and `chaos list`: simulated failures
// of the twin fleet.
import { Argument, type Command } from 'commander';
import { CHAOS_SCOPES, type ChaosScope } from '../client.ts';
import { ageSince, renderTable } from '../format.ts';
import { connect, type Session } from '../session.ts';

export function registerChaos(program: Command, session: Session): void {
  const { io } = session;
  const chaos = program
    .command('chaos')
    .description('inject or clear simulated failures in the fleet');
  for (const action of ['fail', 'recover'] as const) {
    chaos
      .command(action)
      .description(
        action === 'fail'
          ? 'fail a cloud, site, cluster or node'
          : 'recover a failed cloud, site, cluster or node',
      )
      .addArgument(new Argument('<scope>', 'what to act on').choices(CHAOS_SCOPES))
      .argument('<name>', 'its name')
      .action(async (scope: ChaosScope, name: string, _opts: unknown, cmd: Command) => {
        const client = await connect(session, cmd);
        const r = await client.chaos({ action, scope, name });
        const shown =
          r.clusters.slice(0, 5).join(', ') +
          (r.clusters.length > 5 ? `, +${r.clusters.length - 5} more` : '');
        io.stdout(
          `${r.scope}/${r.name} ${action === 'fail' ? 'failed' : 'recovered'}: ` +
            `${r.clusters.length} cluster${r.clusters.length === 1 ? '' : 's'}${shown === '' ? '' : ` (${shown})`}, ` +
            `${r.nodes} node${r.nodes === 1 ? '' : 's'} affected\n`,
        );
      });
  }
  chaos
    .command('list')
    .description('list the failures in force')
    .action(async (_opts: unknown, cmd: Command) => {
      const client = await connect(session, cmd);
      const { items } = await client.chaosList();
      if (items.length === 0) {
        io.stderr('No failures injected.\n');
        return;
      }
      const now = io.now();
      io.stdout(
        renderTable(
          ['SCOPE', 'NAME', 'AGE'],
          items.map((f) => [f.scope, f.name, ageSince(f.since, now)]),
        ),
      );
    });
}
