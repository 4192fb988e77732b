// `yunjian explain app NAME`: why each cloud and cluster was chosen or rejected.
import { Option, type Command } from 'commander';
import type { ApplicationExplanation } from '../../model/explanation.ts';
import { describeExplanation } from '../describe.ts';
import { toJson, toYaml } from '../format.ts';
import { connect, type Session } from '../session.ts';
import { appTarget } from '../targets.ts';

export function registerExplain(program: Command, session: Session): void {
  const { io } = session;
  program
    .command('explain')
    .description(
      'why an application is placed where it is: each cloud and cluster, chosen or rejected',
    )
    .argument('<kind>', 'applications (or app/NAME)')
    .argument('[name]', 'application name')
    .option('-n, --namespace <ns>', 'namespace')
    .addOption(new Option('-o, --output <format>', 'output format').choices(['json', 'yaml']))
    .action(
      async (
        kindArg: string,
        nameArg: string | undefined,
        opts: { namespace?: string; output?: 'json' | 'yaml' },
        cmd: Command,
      ) => {
        const { name, namespace } = appTarget('explain', kindArg, nameArg, opts.namespace);
        const client = await connect(session, cmd);
        const x = (await client.explain(name, namespace)) as ApplicationExplanation;
        if (opts.output === 'json') io.stdout(toJson(x));
        else if (opts.output === 'yaml') io.stdout(toYaml(x));
        else io.stdout(describeExplanation(x));
      },
    );
}
