// A small typed client for the REST API under /api/v1alpha1. It only moves
// data: every non-2xx answer becomes the typed error of model/errors.ts (via
// fromStatusBody) and every transport failure a ServerUnreachableError, so the
// commands never look at HTTP status codes. Given several control planes
// (`--server a,b,c`) it moves to the next when one cannot be reached
// (lib/servers.ts says when a request may move) or, for reads, answers 503.
// Each request to each server is bounded (a replica that accepts connections
// but never answers, paused or hung, must not hold the CLI forever); a read
// that runs out of time moves on like one that could not connect. Watches are
// streams and are not bounded.
import { ServerList, isTimeout, mayTryAnother, splitServers } from '../lib/servers.ts';
import { YunjianError, fromStatusBody } from '../model/errors.ts';
import { DEFAULT_NAMESPACE, type KindInfo } from '../model/kinds.ts';
import type { AnyResource } from '../model/schema.ts';
import type { NodeStatus } from '../drivers/types.ts';
import { ServerTimeoutError, ServerUnreachableError } from './errors.ts';

export const API_PREFIX = '/api/v1alpha1';

export interface ResourceList {
  kind: string;
  apiVersion: string;
  metadata: { resourceVersion: string; continue?: string };
  items: AnyResource[];
}

export interface ListOptions {
  /** Absent for a cluster-scoped kind, or to list a namespaced kind across all namespaces. */
  namespace?: string | undefined;
  labelSelector?: string | undefined;
  limit?: number | undefined;
  continue?: string | undefined;
}

export interface WatchOptions {
  namespace?: string | undefined;
  labelSelector?: string | undefined;
  /** Changes after this revision are delivered. */
  resourceVersion: string;
  signal?: AbortSignal | undefined;
}

/** ERROR events never surface: the watch throws the typed error they carry. */
export type WatchEvent =
  | { type: 'ADDED' | 'MODIFIED' | 'DELETED'; object: AnyResource }
  | { type: 'BOOKMARK'; object: { metadata: { resourceVersion: string } } };

export type ApplyAction = 'created' | 'configured' | 'unchanged';

export interface AppliedItem {
  kind: string;
  namespace?: string;
  name: string;
  action: ApplyAction;
  resourceVersion: string;
}

export interface ApplyResult {
  kind: 'ApplyResult';
  items: AppliedItem[];
}

export type ChaosScope = 'cloud' | 'site' | 'cluster' | 'node';
export const CHAOS_SCOPES: readonly ChaosScope[] = ['cloud', 'site', 'cluster', 'node'];

export interface ChaosRequest {
  action: 'fail' | 'recover';
  scope: ChaosScope;
  name: string;
}

export interface ChaosResult {
  scope: ChaosScope;
  name: string;
  clusters: string[];
  nodes: number;
}

export interface ChaosList {
  items: { scope: ChaosScope; name: string; since: string }[];
}

/** `GET /clusters/{name}/nodes`: every node of one member cluster as its driver reports it. */
export interface NodeList {
  apiVersion: string;
  kind: 'NodeList';
  items: NodeStatus[];
}

export interface ClientOptions {
  /** Base URL without a trailing slash, e.g. http://localhost:7080; several separated by commas. */
  server: string;
  token?: string | undefined;
  fetch?: typeof fetch;
  /** How long one request to one server may take, headers and body (60 s); 0 waits forever. */
  requestTimeoutMs?: number;
}

export const DEFAULT_REQUEST_TIMEOUT_MS = 60_000;

interface RequestOptions {
  query?: Record<string, string | number | boolean | undefined>;
  body?: string;
  contentType?: string;
  signal?: AbortSignal | undefined;
  /** A stream that may stay open as long as the caller wants (a watch): no request timeout. */
  unbounded?: boolean;
}

export class YunjianClient {
  readonly #servers: ServerList;
  readonly #token: string | undefined;
  readonly #fetch: typeof fetch;
  readonly #timeoutMs: number;

  constructor(options: ClientOptions) {
    this.#servers = new ServerList(splitServers(options.server));
    this.#token = options.token;
    this.#fetch = options.fetch ?? fetch;
    this.#timeoutMs = options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
  }

  /** The control plane requests go to now. */
  get server(): string {
    return this.#servers.current;
  }

  get(kind: KindInfo, name: string, namespace: string = DEFAULT_NAMESPACE): Promise<AnyResource> {
    return this.#json<AnyResource>('GET', resourcePath(kind, namespace, name));
  }

  list(kind: KindInfo, options: ListOptions = {}): Promise<ResourceList> {
    return this.#json<ResourceList>('GET', resourcePath(kind, options.namespace), {
      query: {
        labelSelector: options.labelSelector,
        limit: options.limit,
        continue: options.continue,
      },
    });
  }

  /**
   * Follows `continue` tokens until the list is complete. `chunkSize` 0 asks
   * for everything in one response. The merged list keeps the first page's
   * resourceVersion: a watch from there can only repeat changes the later pages
   * already showed, never miss one.
   */
  async listAll(
    kind: KindInfo,
    options: Omit<ListOptions, 'limit' | 'continue'>,
    chunkSize: number,
  ): Promise<ResourceList> {
    const limit = chunkSize > 0 ? chunkSize : undefined;
    const first = await this.list(kind, { ...options, limit });
    const items = [...first.items];
    let next = first.metadata.continue;
    while (next !== undefined && next !== '') {
      const page = await this.list(kind, { ...options, limit, continue: next });
      items.push(...page.items);
      next = page.metadata.continue;
    }
    return { ...first, metadata: { resourceVersion: first.metadata.resourceVersion }, items };
  }

  /** Streams newline-delimited JSON events until the server ends the stream or `signal` aborts. */
  async *watch(kind: KindInfo, options: WatchOptions): AsyncGenerator<WatchEvent, void, undefined> {
    const res = await this.#request('GET', resourcePath(kind, options.namespace), {
      query: {
        watch: true,
        resourceVersion: options.resourceVersion,
        labelSelector: options.labelSelector,
      },
      signal: options.signal,
      unbounded: true,
    });
    if (res.body === null) return;
    for await (const line of lines(res.body, this.server, options.signal))
      yield parseWatchEvent(line);
  }

  apply(
    yamlStream: string,
    options: { namespace?: string; dryRun: boolean },
  ): Promise<ApplyResult> {
    return this.#json<ApplyResult>('POST', `${API_PREFIX}/apply`, {
      query: { namespace: options.namespace, dryRun: options.dryRun ? true : undefined },
      body: yamlStream,
      contentType: 'application/yaml',
    });
  }

  async delete(kind: KindInfo, name: string, namespace: string = DEFAULT_NAMESPACE): Promise<void> {
    const res = await this.#request('DELETE', resourcePath(kind, namespace, name));
    await res.body?.cancel();
  }

  chaos(request: ChaosRequest): Promise<ChaosResult> {
    return this.#json<ChaosResult>('POST', `${API_PREFIX}/chaos`, {
      body: JSON.stringify(request),
      contentType: 'application/json',
    });
  }

  /** Why the application is placed where it is (a PlacementExplanation document). */
  explain(name: string, namespace: string = DEFAULT_NAMESPACE): Promise<unknown> {
    return this.#json<unknown>(
      'GET',
      `${API_PREFIX}/namespaces/${encodeURIComponent(namespace)}/applications/${encodeURIComponent(name)}/explain`,
    );
  }

  /** Asks for a fresh placement of the application (moved make-before-break). */
  rebalance(name: string, namespace: string = DEFAULT_NAMESPACE): Promise<unknown> {
    return this.#json<unknown>(
      'POST',
      `${API_PREFIX}/namespaces/${encodeURIComponent(namespace)}/applications/${encodeURIComponent(name)}/rebalance`,
    );
  }

  chaosList(): Promise<ChaosList> {
    return this.#json<ChaosList>('GET', `${API_PREFIX}/chaos`);
  }

  nodes(cluster: string): Promise<NodeList> {
    return this.#json<NodeList>(
      'GET',
      `${API_PREFIX}/clusters/${encodeURIComponent(cluster)}/nodes`,
    );
  }

  /**
   * A request outside the resource API (join and user tokens, logs, audit,
   * joins, key rotation): `path` from the server root, with its query; `body`
   * is sent as JSON.
   */
  call<T>(method: string, path: string, body?: unknown): Promise<T> {
    return this.#json<T>(
      method,
      path,
      body === undefined ? {} : { body: JSON.stringify(body), contentType: 'application/json' },
    );
  }

  /** The body of a successful response, as the API documents it (the server validated it). */
  async #json<T>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
    const res = await this.#request(method, path, options);
    try {
      return (await res.json()) as T;
    } catch (err) {
      // The request's time ran out while the body was still arriving.
      if (isTimeout(err)) throw this.#timedOut(this.#servers.current, method);
      throw err;
    }
  }

  #timedOut(server: string, method: string): ServerTimeoutError {
    return new ServerTimeoutError(
      server,
      this.#timeoutMs / 1000,
      method !== 'GET' && method !== 'HEAD',
    );
  }

  async #request(method: string, path: string, options: RequestOptions = {}): Promise<Response> {
    const idempotent = method === 'GET' || method === 'HEAD';
    try {
      return await this.#servers.run(
        (server) => this.#send(server, method, path, options),
        (err) =>
          options.signal?.aborted !== true &&
          (mayTryAnother(err, idempotent) ||
            (idempotent && err instanceof YunjianError && err.httpStatus === 503)),
      );
    } catch (err) {
      if (err instanceof YunjianError || options.signal?.aborted === true) throw err;
      if (isTimeout(err)) throw this.#timedOut(this.#servers.all.join(', '), method);
      throw transportError(this.#servers.all.join(', '), err);
    }
  }

  async #send(
    server: string,
    method: string,
    path: string,
    options: RequestOptions,
  ): Promise<Response> {
    const url = new URL(server + path);
    for (const [key, value] of Object.entries(options.query ?? {})) {
      if (value !== undefined) url.searchParams.set(key, String(value));
    }
    const headers: Record<string, string> = { accept: 'application/json' };
    if (this.#token !== undefined) headers['authorization'] = `Bearer ${this.#token}`;
    if (options.contentType !== undefined) headers['content-type'] = options.contentType;
    const signals = [
      options.signal,
      options.unbounded !== true && this.#timeoutMs > 0
        ? AbortSignal.timeout(this.#timeoutMs)
        : undefined,
    ].filter((s) => s !== undefined);
    const signal = signals.length > 1 ? AbortSignal.any(signals) : signals[0];
    const res = await this.#fetch(url, {
      method,
      headers,
      ...(options.body === undefined ? {} : { body: options.body }),
      ...(signal === undefined ? {} : { signal }),
    });
    if (!res.ok) {
      const text = await res.text();
      let body: unknown;
      try {
        body = JSON.parse(text);
      } catch {
        body = undefined; // not a Status body; fromStatusBody falls back on the HTTP code
      }
      throw fromStatusBody(body, res.status);
    }
    return res;
  }
}

/**
 * Namespaced kinds live under /namespaces/{ns}/; without a namespace the
 * plural path lists them across all namespaces. Cluster-scoped kinds ignore it.
 */
export function resourcePath(kind: KindInfo, namespace?: string, name?: string): string {
  const scope =
    kind.namespaced && namespace !== undefined
      ? `/namespaces/${encodeURIComponent(namespace)}`
      : '';
  const tail = name === undefined ? '' : `/${encodeURIComponent(name)}`;
  return `${API_PREFIX}${scope}/${kind.plural}${tail}`;
}

/** undici rejects with `TypeError('fetch failed', { cause })`; the cause says what happened. */
function transportError(server: string, err: unknown): ServerUnreachableError {
  return new ServerUnreachableError(server, (err as { cause?: unknown }).cause ?? err);
}

/** Splits an NDJSON body into non-empty lines; an abort ends it quietly, a dropped connection throws. */
async function* lines(
  body: ReadableStream<Uint8Array>,
  server: string,
  signal: AbortSignal | undefined,
): AsyncGenerator<string, void, undefined> {
  const decoder = new TextDecoder();
  let buffered = '';
  try {
    for await (const chunk of body) {
      buffered += decoder.decode(chunk, { stream: true });
      let newline: number;
      while ((newline = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, newline).trim();
        buffered = buffered.slice(newline + 1);
        if (line !== '') yield line;
      }
    }
  } catch (err) {
    if (signal?.aborted === true) return;
    throw transportError(server, err);
  }
  const rest = (buffered + decoder.decode()).trim();
  if (rest !== '') yield rest;
}

function parseWatchEvent(line: string): WatchEvent {
  const event = JSON.parse(line) as { type?: unknown; object?: unknown };
  switch (event.type) {
    case 'ADDED':
    case 'MODIFIED':
    case 'DELETED':
    case 'BOOKMARK':
      return event as WatchEvent;
    case 'ERROR': {
      const code = (event.object as { code?: unknown } | undefined)?.code;
      throw fromStatusBody(event.object, typeof code === 'number' ? code : 500);
    }
    default:
      throw new SyntaxError(`unexpected watch event type ${JSON.stringify(event.type)}`);
  }
}
