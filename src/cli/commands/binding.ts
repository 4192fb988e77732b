// `yunjian binding create NAME --instance I --app A [--env-prefix P]`: give an
// application an instance's connection details (a Secret, and env in every
// component of the application, put there by the catalog controller).
import type { Command } from 'commander';
import { DEFAULT_NAMESPACE } from '../../model/kinds.ts';
import { API_VERSION, type Binding } from '../../model/schema.ts';
import { connect, type Session } from '../session.ts';

export function registerBinding(program: Command, session: Session): void {
  const { io } = session;
  const binding = program
    .command('binding')
    .description('bindings of applications to catalog instances (list with: yunjian get bindings)');
  binding
    .command('create')
    .description(
      "bind an instance to an application: its connection details become the application's env",
    )
    .argument('<name>', 'binding name')
    .requiredOption('--instance <instance>', 'the instance')
    .requiredOption('--app <application>', 'the consuming application')
    .option(
      '--env-prefix <prefix>',
      'env names start with this (default: the instance name upper-cased and _)',
    )
    .option('-n, --namespace <ns>', 'namespace')
    .action(
      async (
        name: string,
        opts: { instance: string; app: string; envPrefix?: string; namespace?: string },
        cmd: Command,
      ) => {
        const namespace = opts.namespace ?? DEFAULT_NAMESPACE;
        const doc: Binding = {
          apiVersion: API_VERSION,
          kind: 'Binding',
          metadata: { name, namespace },
          spec: {
            instance: opts.instance,
            application: opts.app,
            ...(opts.envPrefix !== undefined ? { envPrefix: opts.envPrefix } : {}),
          },
        };
        const client = await connect(session, cmd);
        await client.apply(JSON.stringify(doc), { namespace, dryRun: false });
        io.stdout(`binding.yunjian.io/${name} created (${opts.instance} -> ${opts.app})\n`);
      },
    );
}
