// What every command shares: the process access it goes through (CliIo, so the
// whole tree runs in-process in unit tests), the state of one command line
// (Session) and the connection to the server. Commands import this module and
// never program.ts, which only assembles them.
import type { Command } from 'commander';
import { YunjianClient } from './client.ts';
import { loadConnection, type Env } from './config.ts';
import type { ErrorContext } from './errors.ts';

export interface CliIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  readStdin: () => Promise<string>;
  env: Env;
  home: string;
  now: () => number;
  fetch?: typeof fetch;
  /**
   * Aborts on SIGINT/SIGTERM. Only long-running commands (server, get --watch,
   * agent, gateway) ask for it, so a Ctrl-C during any other command still ends
   * the process at once.
   */
  interrupted: () => AbortSignal;
}

export interface Session {
  io: CliIo;
  /** Set by commands that report some failures and carry on (delete of several objects). */
  exitCode: number;
  /** Filled in as the command resolves its connection, for error advice. */
  ctx: ErrorContext;
}

/** The program-wide flags, as `cmd.optsWithGlobals()` returns them in any command. */
export interface GlobalOptions {
  server?: string;
  token?: string;
  /** Seconds, from --request-timeout. */
  requestTimeout?: number;
}

/** A client for the server and token in effect; records both in the session for error advice. */
export async function connect(session: Session, cmd: Command): Promise<YunjianClient> {
  const { server, token, requestTimeout } = cmd.optsWithGlobals<GlobalOptions>();
  const conn = await loadConnection({ server, token }, session.io.env, session.io.home);
  session.ctx.server = conn.server.value;
  session.ctx.tokenSource = conn.token?.source;
  return new YunjianClient({
    server: conn.server.value,
    token: conn.token?.value,
    ...(requestTimeout !== undefined ? { requestTimeoutMs: requestTimeout * 1000 } : {}),
    ...(session.io.fetch === undefined ? {} : { fetch: session.io.fetch }),
  });
}
