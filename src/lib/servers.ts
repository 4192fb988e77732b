// Several control planes behind one flag: `--server http://a:7080,http://b:7080`.
// Every replica serves the API, so a client that cannot reach one moves to the
// next and stays there while it answers (no round robin: a client that keeps
// one replica sees its own writes in order). What counts as "could not reach"
// depends on whether the request may have been delivered: a refused or
// unroutable connection never reached the server, so any request may move; a
// reset or timeout after sending may have, so only requests that are safe to
// repeat move then.

/** Transport failures where the request never left this machine. */
const NOT_DELIVERED = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'UND_ERR_CONNECT_TIMEOUT',
]);

/** Transport failures after the request may have been sent. */
const MAYBE_DELIVERED = new Set([
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'UND_ERR_SOCKET',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
]);

/** The system error code under fetch's `TypeError('fetch failed', { cause })`, if any. */
export function transportCode(err: unknown): string | undefined {
  let e: unknown = err;
  for (let depth = 0; typeof e === 'object' && e !== null && depth < 4; depth++) {
    const { code, cause } = e as { code?: unknown; cause?: unknown };
    if (typeof code === 'string') return code;
    e = cause;
  }
  return undefined;
}

/** AbortSignal.timeout's reason, as fetch and a body read reject with it. */
export function isTimeout(err: unknown): boolean {
  return (err as { name?: unknown } | null)?.name === 'TimeoutError';
}

/**
 * Whether a failed request may be sent to another replica: always when it
 * never reached the server; when it may have, only if repeating it is safe.
 * A timeout of our own (AbortSignal.timeout) reads as maybe delivered.
 */
export function mayTryAnother(err: unknown, idempotent: boolean): boolean {
  if (isTimeout(err)) return idempotent;
  const code = transportCode(err);
  if (code === undefined) return false;
  return NOT_DELIVERED.has(code) || (idempotent && MAYBE_DELIVERED.has(code));
}

/** Splits a comma-separated server list; blanks between commas are ignored. */
export function splitServers(value: string): string[] {
  return value
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

/** The replicas a client may use and the one it uses now. */
export class ServerList {
  readonly all: readonly string[];
  #current = 0;

  constructor(servers: readonly string[]) {
    if (servers.length === 0) throw new Error('a server list needs at least one server');
    this.all = servers;
  }

  get current(): string {
    return this.all[this.#current] as string;
  }

  /** Moves to the next replica (wrapping), and returns it. */
  advance(): string {
    this.#current = (this.#current + 1) % this.all.length;
    return this.current;
  }

  /**
   * Runs `attempt` against the current replica and, while `retry` says the
   * failure may move, against each other one once, starting after the current.
   * The last failure is what the caller sees.
   */
  async run<T>(
    attempt: (server: string) => Promise<T>,
    retry: (err: unknown) => boolean,
  ): Promise<T> {
    for (let tried = 1; ; tried++) {
      try {
        return await attempt(this.current);
      } catch (err) {
        if (tried >= this.all.length || !retry(err)) throw err;
        this.advance();
      }
    }
  }
}
