// `yunjian config view|set`: the settings in effect and the config file.
import { Argument, type Command } from 'commander';
import {
  CONFIG_KEYS,
  configFilePath,
  loadConnection,
  normalizeServerUrl,
  readConfigFile,
  writeConfigFile,
  type ConfigKey,
} from '../config.ts';
import type { GlobalOptions, Session } from '../session.ts';

export function registerConfig(program: Command, session: Session): void {
  const { io } = session;
  const config = program.command('config').description('show or change the CLI configuration');
  config
    .command('view')
    .description('show the settings in effect and where each comes from')
    .option('--raw', 'show the token instead of REDACTED')
    .action(async (opts: { raw?: boolean }, cmd: Command) => {
      const { server, token } = cmd.optsWithGlobals<GlobalOptions>();
      const conn = await loadConnection({ server, token }, io.env, io.home);
      const shownToken =
        conn.token === undefined ? '""' : opts.raw === true ? conn.token.value : 'REDACTED';
      io.stdout(
        [
          `# config file: ${configFilePath(io.env, io.home)}`,
          `server: ${conn.server.value} # from ${conn.server.source}`,
          `token: ${shownToken} # ${conn.token === undefined ? 'none found' : `from ${conn.token.source}`}`,
        ].join('\n') + '\n',
      );
    });
  config
    .command('set')
    .description('set server or token in the config file (written with mode 0600)')
    .addArgument(new Argument('<key>', 'setting').choices(CONFIG_KEYS))
    .argument('<value>', 'new value')
    .action(async (key: ConfigKey, value: string) => {
      const path = configFilePath(io.env, io.home);
      const file = await readConfigFile(path);
      file[key] = key === 'server' ? normalizeServerUrl(value, 'the command line') : value;
      await writeConfigFile(path, file);
      io.stdout(`${key} set in ${path}\n`);
    });
}
