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
  NEW_CODE_HINT,
  SESSION_COOKIE,
  checkSameOrigin,
  readCookie,
  type Session,
  type TokenAuthenticator,
} from './auth.ts';
import { accessOf, visibleTo } from './authz.ts';
import { userTokenSession } from './identity.ts';
import type { ApiContext, ApiPlugin } from './server.ts';
import { CONSOLE_DOCS } from './routes/console-docs.ts';

export const CONSOLE_DIR = fileURLToPath(new URL('../../dist/console/', import.meta.url));
export const SESSION_PATH = '/console/session';
export const WATCH_PATH = '/console/watch';
/** Where an admin asks for a fresh sign-in code (`yunjian console`). */
export const CODES_PATH = '/api/v1alpha1/console/codes';

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

/** A page of its own for what happens before the console's app runs; `body` is trusted HTML. */
const notice = (title: string, body: string) =>
  `<!doctype html><html lang="en"><meta charset="utf-8"><title>Yunjian console</title>
<body style="font-family:sans-serif;margin:2rem"><h1>${title}</h1>
${body}`;

const NOT_BUILT = notice(
  'The console is not built',
  '<p>Run <code>npm run build:console</code> (or start the server with <code>npm start</code>, which builds it), then reload.</p>',
);

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

const TOKEN_IN_LINK = notice(
  'Tokens are not accepted in links',
  `<p>Sign-in links carry a one-time code (<code>/?code=…</code>), never a token: a link ends up in
browser history, logs and screenshots. ${escapeHtml(NEW_CODE_HINT.replace(/^run/, 'Run'))}, or
<a href="/">sign in</a> with your token on the form.</p>`,
);

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

  const sessionReply = (reply: FastifyReply, session: Session) =>
    reply
      .header(
        'set-cookie',
        cookie(
          session.id,
          Math.max(0, Math.floor((session.expires.getTime() - Date.now()) / 1000)),
        ),
      )
      .header('cache-control', 'no-store');

  const index = async (
    request: FastifyRequest<{ Querystring: { code?: string; token?: string } }>,
    reply: FastifyReply,
  ) => {
    if (request.query.token !== undefined) {
      return reply
        .code(400)
        .headers(SECURITY_HEADERS)
        .header('content-type', 'text/html; charset=utf-8')
        .header('cache-control', 'no-store')
        .send(TOKEN_IN_LINK);
    }
    // The sign-in link: a good code becomes a session cookie and a redirect to
    // the bare address, so the code leaves the address bar (and the history)
    // before any script runs, and the page starts signed in.
    const code = request.query.code;
    if (code !== undefined) {
      const redeemed = auth.codes.redeem(code.trim());
      if (!redeemed.ok) {
        return reply
          .code(401)
          .headers(SECURITY_HEADERS)
          .header('content-type', 'text/html; charset=utf-8')
          .header('cache-control', 'no-store')
          .send(
            notice(
              'This sign-in link does not work',
              `<p>${escapeHtml(auth.codes.refusal(redeemed.why).message)}.</p>
<p>Or <a href="/">sign in</a> with your token on the form.</p>`,
            ),
          );
      }
      return sessionReply(reply, auth.sessions.create(redeemed.principal))
        .code(303)
        .headers(SECURITY_HEADERS)
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

  /** A session for a sign-in body: exactly one of a one-time code or a token. */
  const signIn = async (body: unknown): Promise<Session> => {
    const b = (typeof body === 'object' && body !== null ? body : {}) as Record<string, unknown>;
    const { code, token } = b;
    const given = [code, token].filter((v) => v !== undefined).length;
    if (given !== 1)
      throw new BadRequestError(
        'code: expected exactly one of code (from a sign-in link) or token (yours, e.g. yju_...)',
      );
    if (code !== undefined) {
      if (typeof code !== 'string' || code.trim() === '')
        throw new BadRequestError('code: expected the sign-in code as a non-empty string');
      const redeemed = auth.codes.redeem(code.trim());
      if (!redeemed.ok) throw auth.codes.refusal(redeemed.why);
      return auth.sessions.create(redeemed.principal);
    }
    if (typeof token !== 'string' || token.trim() === '')
      throw new BadRequestError('token: expected your token as a non-empty string');
    const presented = token.trim();
    const principal = await auth.verifyToken(presented);
    if (!principal) throw new UnauthorizedError('invalid, expired or revoked token');
    // A user token's session ends with the token (expiry, revocation), an
    // OIDC token's at its exp; the admin token cannot be revoked short of
    // editing the data directory.
    const bound =
      principal.superuser === true ? undefined : await userTokenSession(store, presented);
    return auth.sessions.create(
      principal,
      bound ?? (principal.expires !== undefined ? { expiresBy: principal.expires } : {}),
    );
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
        const session = id === undefined ? undefined : await auth.sessions.resume(id);
        if (!session) throw new UnauthorizedError('not signed in');
        return { user: session.principal.name, expires: session.expires.toISOString() };
      });

      // Code or token for session: the console posts it once, then only the
      // HttpOnly cookie authenticates it.
      app.post<{ Body: unknown }>(
        SESSION_PATH,
        { config: { doc: CONSOLE_DOCS.signIn } },
        async (request, reply) => {
          checkSameOrigin(credentials(request));
          const session = await signIn(request.body);
          return sessionReply(reply, session)
            .code(201)
            .send({ user: session.principal.name, expires: session.expires.toISOString() });
        },
      );

      // A fresh sign-in link for the caller (`yunjian console`); the route is
      // cluster-admin's (api/authz.ts). The code signs in as whoever asked.
      app.post(CODES_PATH, { config: { doc: CONSOLE_DOCS.codes } }, async (request, reply) => {
        const principal = accessOf(request)?.access.principal;
        if (principal === undefined) throw new UnauthorizedError('not signed in');
        const { code, expires } = auth.codes.issue(principal);
        return reply
          .code(201)
          .header('cache-control', 'no-store')
          .send({ code, path: `/?code=${code}`, expires: expires.toISOString() });
      });

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
