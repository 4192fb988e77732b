// `yunjian console`: a fresh sign-in link for the web console. The running
// server issues a one-time code for the caller (cluster-admin only); the link
// carries that code, never a token, and works once, within 10 minutes.
import type { Command } from 'commander';
import { connect, type Session } from '../session.ts';

/** What `POST /api/v1alpha1/console/codes` answers (api/console.ts). */
interface IssuedCode {
  code: string;
  path: string;
  expires: string;
}

export function registerConsole(program: Command, session: Session): void {
  const { io } = session;
  program
    .command('console')
    .description('print a one-time sign-in link for the web console')
    .action(async (_opts: unknown, cmd: Command) => {
      const client = await connect(session, cmd);
      const issued = await client.call<IssuedCode>('POST', '/api/v1alpha1/console/codes', {});
      io.stdout(`${client.server}${issued.path}\n`);
      io.stderr(`the link signs in once, until ${issued.expires}\n`);
    });
}
