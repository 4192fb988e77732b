// `yunjian rebalance app NAME`: ask for a fresh placement, moved make-before-break.
import type { Command } from 'commander';
import { connect, type Session } from '../session.ts';
import { appTarget } from '../targets.ts';

export function registerRebalance(program: Command, session: Session): void {
  const { io } = session;
  program
    .command('rebalance')
    .description(
      'place an application afresh on the current fleet; replicas move make-before-break',
    )
    .argument('<kind>', 'applications (or app/NAME)')
    .argument('[name]', 'application name')
    .option('-n, --namespace <ns>', 'namespace')
    .action(
      async (
        kindArg: string,
        nameArg: string | undefined,
        opts: { namespace?: string },
        cmd: Command,
      ) => {
        const { name, namespace } = appTarget('rebalance', kindArg, nameArg, opts.namespace);
        const client = await connect(session, cmd);
        await client.rebalance(name, namespace);
        io.stdout(
          `application.yunjian.io/${name} rebalance requested; watch it with: yunjian describe app ${name}\n`,
        );
      },
    );
}
