// CLI-side errors, and the one place that turns any failure into the
// `error: ...` text a user sees, followed by what to do next. Server errors
// arrive as the typed family of model/errors.ts (rebuilt by fromStatusBody), so
// advice is chosen by class, never by matching message text.
import { UnauthorizedError, ValidationError, YunjianError } from '../model/errors.ts';
import { KINDS } from '../model/kinds.ts';

/** A mistake on the command line or in local input, found before anything was sent. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** The request never got an HTTP response: refused, DNS failure, connection reset. */
export class ServerUnreachableError extends Error {
  override readonly name = 'ServerUnreachableError';
  readonly server: string;
  readonly detail: string;

  constructor(server: string, cause: unknown) {
    const detail = describeCause(cause);
    super(`cannot reach ${server}: ${detail}`, { cause });
    this.server = server;
    this.detail = detail;
  }
}

/** A server that took the connection but did not answer in time (--request-timeout). */
export class ServerTimeoutError extends Error {
  override readonly name = 'ServerTimeoutError';
  readonly server: string;

  constructor(server: string, seconds: number, mayHaveRun: boolean) {
    super(
      `no complete answer from ${server} within ${seconds} s${mayHaveRun ? '; it may still have carried out the request' : ''}`,
    );
    this.server = server;
  }
}

/** Node reports a refused connection as `{ code: 'ECONNREFUSED' }`, sometimes with an empty message. */
function describeCause(cause: unknown): string {
  if (typeof cause === 'object' && cause !== null) {
    const { code, message } = cause as { code?: unknown; message?: unknown };
    if (typeof message === 'string' && message !== '') return message;
    if (typeof code === 'string') return code;
  }
  return String(cause);
}

export function unknownKindError(name: string): UsageError {
  const known = KINDS.map((k) =>
    k.shortNames.length > 0 ? `${k.plural} (${k.shortNames.join(', ')})` : k.plural,
  );
  return new UsageError(`unknown kind "${name}"; known kinds: ${known.join(', ')}`);
}

export interface ErrorContext {
  /** The server URL in use, when it had been resolved before the failure. */
  server?: string | undefined;
  /** Where the token came from; undefined when none was sent. */
  tokenSource?: string | undefined;
  /** Where a local `yunjian server` keeps admin.token. */
  dataDir: string;
}

export function formatError(err: unknown, ctx: ErrorContext): string {
  if (err instanceof ServerTimeoutError) {
    return [
      `error: ${err.message}.`,
      'The server took the connection but did not answer: it may be overloaded or hung. Raise --request-timeout (0 waits forever), or point at another replica with --server URL[,URL...].',
    ].join('\n');
  }
  if (err instanceof ServerUnreachableError) {
    return [
      `error: cannot reach the Yunjian server at ${err.server} (${err.detail}).`,
      'Start one with `npm start` or `yunjian server`, or point at another with --server URL or YUNJIAN_SERVER.',
    ].join('\n');
  }
  if (err instanceof UnauthorizedError) {
    const sent =
      ctx.tokenSource === undefined
        ? 'No token was sent. Pass one'
        : `The token from ${ctx.tokenSource} was not accepted. Pass another`;
    return [
      `error: unauthorized${ctx.server === undefined ? '' : ` by ${ctx.server}`}: ${err.message}`,
      `${sent} with --token TOKEN, the YUNJIAN_TOKEN variable or \`yunjian config set token TOKEN\`;`,
      `a local server writes its admin token to <data dir>/admin.token (here ${ctx.dataDir}/admin.token).`,
    ].join('\n');
  }
  if (err instanceof ValidationError) {
    // The server's message normally lists every cause (under a "document N"
    // heading, while the cause's field carries an "[N-1]." prefix); add any it
    // left out so that every field path reaches the user.
    const missing = err.causes.filter(
      (c) => !err.message.includes(c.field.replace(/^\[\d+\]\./, '')),
    );
    return [`error: ${err.message}`, ...missing.map((c) => `  ${c.field}: ${c.message}`)].join(
      '\n',
    );
  }
  if (err instanceof YunjianError && err.retryable) {
    const after = err.details.retryAfterSeconds;
    return `error: ${err.message}\nThis is temporary; retry${after === undefined ? '' : ` in ${after}s`}.`;
  }
  if (err instanceof Error) return `error: ${err.message}`;
  return `error: ${String(err)}`;
}
