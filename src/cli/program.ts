// The `yunjian` command tree, assembled from one module per top-level command
// (commands/*.ts). Commands share only session.ts (process access, the
// connection) and the helpers beside it, and never import this module, so the
// tree has no import cycle. The registration order is the order of `--help`.
import { Command, CommanderError } from 'commander';
import { secondsOption } from './options.ts';
import { registerAgent } from './commands/agent.ts';
import { registerApply } from './commands/apply.ts';
import { registerAudit } from './commands/audit.ts';
import { registerBackup } from './commands/backup.ts';
import { registerCost } from './commands/cost.ts';
import { registerBench } from './commands/bench.ts';
import { registerBinding } from './commands/binding.ts';
import { registerCatalog } from './commands/catalog.ts';
import { registerChaos } from './commands/chaos.ts';
import { registerCluster } from './commands/cluster.ts';
import { registerCompletion } from './commands/completion.ts';
import { registerConsole } from './commands/console.ts';
import { registerConfig } from './commands/config.ts';
import { registerDelete } from './commands/delete.ts';
import { registerDescribe } from './commands/describe.ts';
import { registerExplain } from './commands/explain.ts';
import { registerGateway } from './commands/gateway.ts';
import { registerGet } from './commands/get.ts';
import { registerInstance } from './commands/instance.ts';
import { registerLogs } from './commands/logs.ts';
import { registerMigrate } from './commands/migrate.ts';
import { registerMigration } from './commands/migration.ts';
import { registerMigrationPlan } from './commands/migrationplan.ts';
import { registerMetrics } from './commands/metrics.ts';
import { registerRebalance } from './commands/rebalance.ts';
import { registerSecrets } from './commands/secrets.ts';
import { registerServer } from './commands/server.ts';
import { registerStore } from './commands/store.ts';
import { registerToken } from './commands/token.ts';
import { registerTraffic } from './commands/traffic.ts';
import { registerUser } from './commands/user.ts';
import { CLI_VERSION, registerVersion } from './commands/version.ts';
import { defaultDataDir } from './config.ts';
import { formatError } from './errors.ts';
import type { CliIo, Session } from './session.ts';

export type { CliIo } from './session.ts';

const COMMANDS: readonly ((program: Command, session: Session) => void)[] = [
  registerServer,
  registerApply,
  registerGet,
  registerDescribe,
  registerExplain,
  registerRebalance,
  registerMigrate,
  registerMigration,
  registerMigrationPlan,
  registerDelete,
  registerCatalog,
  registerInstance,
  registerBinding,
  registerChaos,
  registerConfig,
  registerBench,
  registerAgent,
  registerToken,
  registerLogs,
  registerCluster,
  registerGateway,
  registerTraffic,
  registerAudit,
  registerCost,
  registerMetrics,
  registerUser,
  registerConsole,
  registerCompletion,
  registerSecrets,
  registerBackup,
  registerStore,
  registerVersion,
];

/** Runs one command line and returns the process exit code; never throws. */
export async function run(argv: readonly string[], io: CliIo): Promise<number> {
  const session: Session = { io, exitCode: 0, ctx: { dataDir: defaultDataDir(io.env, io.home) } };
  try {
    await buildProgram(session).parseAsync(argv, { from: 'user' });
    return session.exitCode;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode; // commander has printed its own message
    io.stderr(formatError(err, session.ctx) + '\n');
    return 1;
  }
}

function buildProgram(session: Session): Command {
  const { io } = session;
  const program = new Command('yunjian')
    .description('Yunjian (云舰): one control plane for many clouds, data centres and edge sites')
    .option(
      '--server <url>',
      'API server URL (env YUNJIAN_SERVER, then config file, then http://localhost:7080)',
    )
    .option(
      '--token <token>',
      'bearer token (env YUNJIAN_TOKEN, then config file, then the local admin token)',
    )
    .option(
      '--request-timeout <duration>',
      'give up on a server that has not answered one request in this long, such as 30s or 2m (60s; 0 waits forever); a read then tries the next --server; watches are not bounded',
      secondsOption,
    )
    .version(`yunjian ${CLI_VERSION}`, '--version', 'print the CLI version')
    .exitOverride()
    .configureOutput({ writeOut: io.stdout, writeErr: io.stderr })
    .showHelpAfterError('(run with --help for usage)');
  for (const register of COMMANDS) register(program, session);
  return program;
}
