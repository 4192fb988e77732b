// Connecting to one member cluster: kubeconfig loading, API clients with a
// per-request deadline, and the mapping of every failure to the control
// plane's typed errors (model/errors.ts) so controllers back off, give up or
// fail over without looking at Kubernetes specifics.
import {
  ApiException,
  AppsV1Api,
  CoreV1Api,
  KubeConfig,
  ServerConfiguration,
  VersionApi,
  Watch,
  createConfiguration,
  type RequestContext,
  type ResponseContext,
} from '@kubernetes/client-node';
import {
  AlreadyExistsError,
  BadRequestError,
  ConflictError,
  ForbiddenError,
  InternalError,
  NotFoundError,
  TooManyRequestsError,
  UnauthorizedError,
  UnavailableError,
  ValidationError,
  YunjianError,
} from '../../model/errors.ts';

export interface KubeconfigSource {
  /** The kubeconfig document (YAML or JSON). */
  kubeconfig: string;
  /** Where it came from, for messages ("file /x/kubeconfig", "secret default/c1"); never its content. */
  origin: string;
  /** Context to use; the kubeconfig's current-context when absent. */
  context?: string;
}

export interface KubeClients {
  config: KubeConfig;
  core: CoreV1Api;
  apps: AppsV1Api;
  version: VersionApi;
  watch: Watch;
  /** The API server URL, for messages. */
  server: string;
  origin: string;
}

/** Per request; a hung API server counts as unreachable after this. */
export const REQUEST_TIMEOUT_MS = 10_000;

/** Parses the kubeconfig and selects the context; bad input is a ValidationError naming the field. */
export function loadKubeconfig(source: KubeconfigSource): KubeConfig {
  const kc = new KubeConfig();
  try {
    kc.loadFromString(source.kubeconfig);
  } catch (err) {
    throw new ValidationError(`kubeconfig from ${source.origin}`, [
      {
        field: 'kubeconfig',
        message: `expected a kubeconfig document: ${(err as Error).message}`,
      },
    ]);
  }
  if (source.context !== undefined) {
    if (!kc.getContextObject(source.context)) {
      const known = kc.getContexts().map((c) => c.name);
      throw new ValidationError(`kubeconfig from ${source.origin}`, [
        {
          field: 'context',
          message: `expected one of the kubeconfig's contexts (${known.join(', ') || 'none'}), got "${source.context}"`,
        },
      ]);
    }
    kc.setCurrentContext(source.context);
  }
  if (!kc.getCurrentCluster()) {
    throw new ValidationError(`kubeconfig from ${source.origin}`, [
      {
        field: 'current-context',
        message: 'expected a context that names a cluster (set current-context or pass a context)',
      },
    ]);
  }
  return kc;
}

export function connect(source: KubeconfigSource): KubeClients {
  const config = loadKubeconfig(source);
  const server = config.getCurrentCluster()?.server ?? '';
  const deadline = {
    pre(ctx: RequestContext): Promise<RequestContext> {
      ctx.setSignal(AbortSignal.timeout(REQUEST_TIMEOUT_MS));
      return Promise.resolve(ctx);
    },
    post(ctx: ResponseContext): Promise<ResponseContext> {
      return Promise.resolve(ctx);
    },
  };
  const apiConfig = createConfiguration({
    baseServer: new ServerConfiguration(server, {}),
    authMethods: { default: config },
    promiseMiddleware: [deadline],
  });
  return {
    config,
    core: new CoreV1Api(apiConfig),
    apps: new AppsV1Api(apiConfig),
    version: new VersionApi(apiConfig),
    watch: new Watch(config),
    server,
    origin: source.origin,
  };
}

const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ETIMEDOUT',
  'EPIPE',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_SOCKET',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
]);

/** The network-level cause of a failed request (refused, reset, timed out), if that is what it was. */
function networkCause(err: unknown): string | undefined {
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 5; depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && NETWORK_CODES.has(code)) return code;
    // Happy eyeballs: one failure per address tried.
    for (const inner of (e as { errors?: unknown[] }).errors ?? []) {
      const c = (inner as { code?: unknown } | null)?.code;
      if (typeof c === 'string' && NETWORK_CODES.has(c)) return c;
    }
    if (e.name === 'TimeoutError' || e.name === 'AbortError')
      return `no answer within ${REQUEST_TIMEOUT_MS / 1000} s`;
    e = e.cause;
  }
  return undefined;
}

function statusMessage(body: unknown): string | undefined {
  let parsed: unknown = body;
  if (typeof body === 'string') {
    try {
      parsed = JSON.parse(body);
    } catch {
      return body.trim() || undefined;
    }
  }
  const m = (parsed as { message?: unknown } | null)?.message;
  return typeof m === 'string' ? m : undefined;
}

function statusReason(body: unknown): string | undefined {
  let parsed: unknown = body;
  if (typeof body === 'string') {
    try {
      parsed = JSON.parse(body);
    } catch {
      return undefined;
    }
  }
  const causes = (parsed as { details?: { causes?: { reason?: unknown }[] } } | null)?.details
    ?.causes;
  return typeof causes?.[0]?.reason === 'string' ? causes[0].reason : undefined;
}

/** Seconds from a Retry-After header (delta-seconds or HTTP date); 1 when absent or unreadable. */
export function retryAfterSeconds(header: string | undefined, now = Date.now()): number {
  if (header === undefined) return 1;
  if (/^\s*\d+\s*$/.test(header)) return Math.max(1, Number(header));
  const at = Date.parse(header);
  return Number.isNaN(at) ? 1 : Math.max(1, Math.ceil((at - now) / 1000));
}

/**
 * Maps a failed call to a typed error. `what` names the call ("create
 * Deployment shop/web"); `c` names the cluster so messages say which one.
 */
export function toDriverError(
  err: unknown,
  c: Pick<KubeClients, 'server' | 'origin'>,
  what: string,
): YunjianError {
  if (err instanceof YunjianError) return err;
  const at = `cluster ${c.server} (kubeconfig ${c.origin})`;
  if (err instanceof ApiException) {
    const code = err.code;
    const msg = statusMessage(err.body) ?? err.message;
    const headers = err.headers as Record<string, string | undefined>;
    switch (code) {
      case 401:
        return new UnauthorizedError(
          `Unauthorized: the credentials in kubeconfig ${c.origin} were rejected by ${c.server} (${what})`,
        );
      case 403:
        // A namespace being deleted refuses new content until it is gone: retry later.
        if (statusReason(err.body) === 'NamespaceTerminating')
          return new UnavailableError(`${what} on ${at}: ${msg}`);
        return new ForbiddenError(
          `Forbidden: the user of kubeconfig ${c.origin} may not ${what} on ${c.server}: ${msg}`,
        );
      case 404:
        return new NotFoundError(`${what} on ${at}: ${msg}`);
      case 409:
        return statusReason(err.body) === undefined && /already exists/.test(msg)
          ? new AlreadyExistsError(`${what} on ${at}: ${msg}`)
          : new ConflictError(`${what} on ${at}: ${msg}`);
      case 422:
      case 400:
        return new BadRequestError(`${what} on ${at} was refused: ${msg}`);
      case 429:
        return new TooManyRequestsError(
          `${what} on ${at} was throttled: ${msg}`,
          retryAfterSeconds(headers['retry-after']),
        );
      default:
        if (code >= 500 || code === 408)
          return new UnavailableError(`${what} on ${at} failed with HTTP ${code}: ${msg}`);
        return new InternalError(`${what} on ${at} failed with HTTP ${code}: ${msg}`);
    }
  }
  const net = networkCause(err);
  if (net !== undefined)
    return new UnavailableError(`${at} is unreachable (${net}) during ${what}`);
  const text = err instanceof Error ? err.message : String(err);
  return new UnavailableError(`${what} on ${at} failed: ${text}`);
}

/** Transient failures worth repeating in place: network errors and 5xx. Throttling is left to the caller, who knows how long to wait. */
function transient(err: YunjianError): boolean {
  return err instanceof UnavailableError || err instanceof ConflictError;
}

export interface RetryOptions {
  attempts?: number;
  /** First backoff; doubled each time, with jitter. */
  baseDelayMs?: number;
}

/**
 * Runs one API call, retrying transient failures with exponential backoff and
 * jitter. A 429 waits the server's Retry-After once when it is short (at most
 * 2 s); longer waits go back to the caller as TooManyRequestsError so the work
 * queue, not this call, holds the delay.
 */
export async function call<T>(
  c: Pick<KubeClients, 'server' | 'origin'>,
  what: string,
  fn: () => Promise<T>,
  options: RetryOptions = {},
): Promise<T> {
  const attempts = options.attempts ?? 3;
  const base = options.baseDelayMs ?? 200;
  let waitedForThrottle = false;
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (raw) {
      const err = toDriverError(raw, c, what);
      if (err instanceof TooManyRequestsError && !waitedForThrottle) {
        const delay = (err.details.retryAfterSeconds ?? 1) * 1000;
        if (delay <= 2000) {
          waitedForThrottle = true;
          await sleep(delay);
          continue;
        }
      }
      // A refused connection is a down server, not a blip: fail fast so the
      // cluster is reported unreachable without stalling the caller.
      const refused = /ECONNREFUSED/.test(err.message);
      if (attempt >= attempts || !transient(err) || refused) throw err;
      await sleep(base * 2 ** (attempt - 1) * (0.5 + Math.random()));
    }
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
