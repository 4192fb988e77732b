// `yunjian version` (and the program's --version).
import type { Command } from 'commander';
import pkg from '../../../package.json' with { type: 'json' };
import type { Session } from '../session.ts';

export const CLI_VERSION = pkg.version;

export function registerVersion(program: Command, session: Session): void {
  program
    .command('version')
    .description('print the CLI version')
    .action(() => {
      session.io.stdout(`yunjian ${CLI_VERSION} (node ${process.version})\n`);
    });
}
