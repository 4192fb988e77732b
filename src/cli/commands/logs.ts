// `yunjian logs app NAME`: replica output gathered from the agents that run it.
import { Argument, type Command } from 'commander';
import { DEFAULT_NAMESPACE } from '../../model/kinds.ts';
import { integerOption } from '../options.ts';
import { connect, type Session } from '../session.ts';

interface LogsResponse {
  items: {
    cluster: string;
    component: string;
    workload: string;
    replica: string;
    lines: string[];
  }[];
  errors: { cluster: string; message: string }[];
}

export function registerLogs(program: Command, session: Session): void {
  const { io } = session;
  program
    .command('logs')
    .description("print the output of an application's replicas, gathered from the agents")
    .addArgument(
      new Argument('<kind>', 'resource kind').choices(['app', 'application', 'applications']),
    )
    .argument('<name>', 'application name')
    .option('-n, --namespace <ns>', 'namespace', DEFAULT_NAMESPACE)
    .option('-c, --component <name>', 'only this component')
    .option('--cluster <name>', 'only this cluster')
    .option(
      '--tail <n>',
      'lines per replica',
      integerOption('an integer from 1 to 10000', 1, 10_000),
      100,
    )
    .action(
      async (
        _kind: string,
        name: string,
        opts: { namespace: string; component?: string; cluster?: string; tail: number },
        cmd: Command,
      ) => {
        const query = new URLSearchParams({ tail: String(opts.tail) });
        if (opts.component !== undefined) query.set('component', opts.component);
        if (opts.cluster !== undefined) query.set('cluster', opts.cluster);
        const client = await connect(session, cmd);
        const res = await client.call<LogsResponse>(
          'GET',
          `/api/v1alpha1/namespaces/${encodeURIComponent(opts.namespace)}/applications/${encodeURIComponent(name)}/logs?${query.toString()}`,
        );
        for (const item of res.items)
          for (const line of item.lines) io.stdout(`[${item.cluster}/${item.replica}] ${line}\n`);
        for (const e of res.errors) io.stderr(`${e.cluster}: logs unavailable: ${e.message}\n`);
        if (res.items.length === 0 && res.errors.length === 0)
          io.stderr(`application ${opts.namespace}/${name} runs no replicas on agent clusters\n`);
      },
    );
}
