// The web console: serves the built single-page app (dist/console, built by
// scripts/build-console.ts) at `/` and exchanges the admin token for a browser
// session. Only the static files and the session endpoint are public; every
// API call the console makes goes through the normal auth hook with the
// session cookie (api/auth.ts).
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { BadRequestError, UnauthorizedError, toStatusBody } from '../model/errors.ts';
import { KINDS } from '../model/kinds.ts';
import type { Store } from '../store/types.ts';
import {
  CSRF_HEADER,
  SESSION_COOKIE,
  checkSameOrigin,
  readCookie,
  type TokenAuthenticator,
} from './auth.ts';
import { visibleTo } from './authz.ts';
import type { ApiContext, ApiPlugin } from './server.ts';
import { CONSOLE_DOCS } from './routes/console-docs.ts';

export const CONSOLE_DIR = fileURLToPath(new URL('../../dist/console/', import.meta.url));
export const SESSION_PATH = '/console/session';
export const WATCH_PATH = '/console/watch';

// Kinds the merged watch may follow: those without write-only (secret) fields,
// so nothing needs redacting on the way out.
const WATCHABLE = new Map(
  KINDS.filter((k) => k.writeOnly === undefined).map((k) => [k.plural, k.kind] as const),
);

// The console fetches nothing from anywhere but this server; the policy makes
// the browser enforce it (and refuse framing).
const SECURITY_HEADERS = {
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
  'referrer-policy': 'no-referrer',
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
};

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.json': 'application/json',
  '.png': 'image/png',
  '.woff2': 'font/woff2',
};

const NOT_BUILT = `<!doctype html><html lang="en"><meta charset="utf-8"><title>Yunjian console</title>
<body style="font-family:sans-serif;margin:2rem"><h1>The console is not built</h1>
<p>Run <code>npm run build:console</code> (or start the server with <code>npm start</code>, which builds it), then reload.</p>`;

export interface ConsolePluginOptions {
  auth: TokenAuthenticator;
  store: Store;
  /** Seconds between keep-alive newlines on an idle merged watch. */
  keepAliveSeconds?: number;
  /** Where the built bundle lives; tests point it elsewhere. */
  dir?: string;
}

export function consolePlugin(options: ConsolePluginOptions): ApiPlugin {
  const dir = options.dir ?? CONSOLE_DIR;
  const { auth, store } = options;

  const sendFile = async (reply: FastifyReply, path: string, immutable: boolean) => {
    const ext = path.slice(path.lastIndexOf('.'));
    const body = await readFile(path);
    return reply
      .headers(SECURITY_HEADERS)
      .header('content-type', TYPES[ext] ?? 'application/octet-stream')
      .header('cache-control', immutable ? 'public, max-age=31536000, immutable' : 'no-store')
      .send(body);
  };

  const cookie = (value: string, maxAgeSeconds: number) =>
    `${SESSION_COOKIE}=${value}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${maxAgeSeconds}`;

  const index = async (
    request: FastifyRequest<{ Querystring: { token?: string } }>,
    reply: FastifyReply,
  ) => {
    // The printed sign-in link: a valid token becomes a session cookie and a
    // redirect to the bare address, so the token leaves the address bar (and
    // the history) before any script runs, and the page starts signed in. An
    // invalid one falls through to the page, whose sign-in form says so.
    const token = request.query.token;
    const principal = token ? await auth.verifyToken(token.trim()) : undefined;
    if (principal) {
      const session = auth.sessions.create(principal);
      return reply
        .code(303)
        .headers(SECURITY_HEADERS)
        .header('set-cookie', cookie(session.id, Math.floor(auth.sessions.ttlMs / 1000)))
        .header('cache-control', 'no-store')
        .header('location', '/')
        .send();
    }
    try {
      return await sendFile(reply, join(dir, 'index.html'), false);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      return reply
        .code(503)
        .headers(SECURITY_HEADERS)
        .header('content-type', 'text/html; charset=utf-8')
        .send(NOT_BUILT);
    }
  };

  const credentials = (request: FastifyRequest) => ({
    method: request.method,
    origin: request.headers.origin,
    host: request.headers.host,
    csrf: request.headers[CSRF_HEADER],
  });

  return {
    name: 'console',
    publicPaths: ['/', '/index.html', SESSION_PATH],
    publicPrefixes: ['/assets/'],
    register(app: FastifyInstance, { watchStreams }: ApiContext) {
      app.get('/', { config: { doc: CONSOLE_DOCS.page } }, index);
      app.get('/index.html', { config: { doc: CONSOLE_DOCS.page } }, index);

      app.get<{ Params: { file: string } }>(
        '/assets/:file',
        { config: { doc: CONSOLE_DOCS.asset } },
        async (request, reply) => {
          // Vite emits flat, content-hashed names; anything else is not ours.
          const file = request.params.file;
          if (!/^[A-Za-z0-9_-][A-Za-z0-9._-]*$/.test(file)) return reply.callNotFound();
          try {
            return await sendFile(reply, join(dir, 'assets', file), true);
          } catch (err) {
            if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
            return reply.callNotFound();
          }
        },
      );

      // Who the browser is signed in as (401 when it is not).
      app.get(SESSION_PATH, { config: { doc: CONSOLE_DOCS.session } }, async (request) => {
        const id = readCookie(request.headers.cookie, SESSION_COOKIE);
        const session = id === undefined ? undefined : auth.sessions.lookup(id);
        if (!session) throw new UnauthorizedError('not signed in');
        return { user: session.principal.name, expires: session.expires.toISOString() };
      });

      // Token for session: the console posts the token from its sign-in link or
      // form once, then only the HttpOnly cookie authenticates it.
      app.post<{ Body: unknown }>(
        SESSION_PATH,
        { config: { doc: CONSOLE_DOCS.signIn } },
        async (request, reply) => {
          checkSameOrigin(credentials(request));
          const body = request.body as Record<string, unknown> | null;
          const token = body?.['token'];
          if (typeof token !== 'string' || token === '')
            throw new BadRequestError('token: expected the admin token as a non-empty string');
          const principal = await auth.verifyToken(token.trim());
          if (!principal) throw new UnauthorizedError('invalid token');
          const session = auth.sessions.create(principal);
          return reply
            .code(201)
            .header('set-cookie', cookie(session.id, Math.floor(auth.sessions.ttlMs / 1000)))
            .header('cache-control', 'no-store')
            .send({ user: principal.name, expires: session.expires.toISOString() });
        },
      );

      // Several kinds on one stream: a browser keeps six connections per host,
      // and one watch per kind per tab would use them up with two tabs open.
      // Each line is a watch event as on /api/v1alpha1/...?watch=true; an
      // ERROR line names its kind (`kind`) so the console relists just that
      // one. Revisions are global, but each kind resumes from its own, so a
      // kind that lagged behind another loses nothing on reconnect.
      // Authenticated by the normal hook (session cookie or bearer token).
      app.get<{ Querystring: Record<string, string> }>(
        WATCH_PATH,
        { config: { doc: CONSOLE_DOCS.watch } },
        async (request, reply) => {
          const wanted = Object.entries(request.query);
          if (wanted.length === 0)
            throw new BadRequestError(
              `expected ?PLURAL=RESOURCEVERSION for each kind to watch, e.g. ?clusters=42`,
            );
          // Every kind is checked before any watch is opened, so a refusal leaves none open.
          const kinds = wanted.map(([plural, rv]) => {
            const kind = WATCHABLE.get(plural);
            if (kind === undefined) {
              throw new BadRequestError(
                `${plural}: expected one of ${[...WATCHABLE.keys()].join(', ')}`,
              );
            }
            return { kind, fromRevision: rv === '' ? undefined : rv };
          });
          const visible = visibleTo(request);
          return watchStreams.serve(request, reply, {
            what: 'console watch',
            sources: kinds.map(({ kind, fromRevision }) => ({
              watch: store.watch({ kind, fromRevision }),
              // Only what the principal may see (applications of its namespaces, their events).
              line: (event) => (visible(event.object) ? JSON.stringify(event) : undefined),
              errorLine: (err) =>
                JSON.stringify({ type: 'ERROR', kind, object: toStatusBody(err) }),
            })),
            idleEveryMs: (options.keepAliveSeconds ?? 15) * 1000,
            idleLine: () => '',
          });
        },
      );

      app.delete(
        SESSION_PATH,
        { config: { doc: CONSOLE_DOCS.signOut } },
        async (request, reply) => {
          checkSameOrigin(credentials(request));
          const id = readCookie(request.headers.cookie, SESSION_COOKIE);
          if (id !== undefined) auth.sessions.revoke(id);
          return reply.header('set-cookie', cookie('', 0)).send({ user: null });
        },
      );
    },
  };
}

/** Whether the bundle exists, so the server can say how to build it instead of printing a dead link. */
export function consoleBuilt(dir: string = CONSOLE_DIR): boolean {
  return existsSync(join(dir, 'index.html'));
}
