// Bearer-token authentication. The admin token is created once, on first start,
// in the data directory (mode 0600) and reused on every later start, so a
// restart never locks out an operator or the CLI. Users and service accounts
// authenticate with tokens stored hashed in the store (api/identity.ts); what a
// principal may do is decided afterwards, in one place (api/authz.ts).
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ForbiddenError, UnauthorizedError } from '../model/errors.ts';

export interface Principal {
  name: string;
  kind: 'User' | 'ServiceAccount';
  /** A static token's holder (the admin token): cluster-admin without any binding. */
  superuser?: boolean;
}

/** Resolves a bearer token that is not a static one (user tokens in the store). */
export type TokenVerifier = (token: string) => Promise<Principal | undefined>;

export interface TokenFile {
  path: string;
  token: string;
  created: boolean;
}

export function loadOrCreateAdminToken(dataDir: string): TokenFile {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const path = join(dataDir, 'admin.token');
  if (existsSync(path)) {
    const token = readFileSync(path, 'utf8').trim();
    if (token.length >= 16) return { path, token, created: false };
  }
  const token = `yj_${randomBytes(24).toString('base64url')}`;
  // 'wx' would fail if a concurrent start created it first; a plain write with
  // mode 0600 is fine because a data directory is owned by one server.
  writeFileSync(path, `${token}\n`, { mode: 0o600 });
  return { path, token, created: true };
}

const digest = (s: string) => createHash('sha256').update(s).digest();

/** The browser console's session cookie and the header its mutating requests carry. */
export const SESSION_COOKIE = 'yunjian_session';
export const CSRF_HEADER = 'x-yunjian-csrf';

export interface Session {
  id: string;
  principal: Principal;
  expires: Date;
}

/**
 * Server-side console sessions. Only a digest of each session id is kept, so
 * the map holds nothing a reader could replay; expired sessions are dropped on
 * lookup and whenever a new one is created. Sessions live in memory: a server
 * restart signs browsers out, which the sign-in link printed at start undoes.
 */
export class SessionStore {
  readonly #sessions = new Map<string, { principal: Principal; expires: number }>();
  readonly ttlMs: number;
  readonly #now: () => number;

  constructor(ttlMs = 12 * 3600 * 1000, now: () => number = Date.now) {
    this.ttlMs = ttlMs;
    this.#now = now;
  }

  create(principal: Principal): Session {
    const now = this.#now();
    for (const [key, s] of this.#sessions) if (s.expires <= now) this.#sessions.delete(key);
    const id = randomBytes(32).toString('base64url');
    const expires = now + this.ttlMs;
    this.#sessions.set(digest(id).toString('hex'), { principal, expires });
    return { id, principal, expires: new Date(expires) };
  }

  lookup(id: string): Session | undefined {
    const key = digest(id).toString('hex');
    const s = this.#sessions.get(key);
    if (!s) return undefined;
    if (s.expires <= this.#now()) {
      this.#sessions.delete(key);
      return undefined;
    }
    return { id, principal: s.principal, expires: new Date(s.expires) };
  }

  revoke(id: string): void {
    this.#sessions.delete(digest(id).toString('hex'));
  }
}

/** The parts of an HTTP request that carry credentials. */
export interface RequestCredentials {
  method: string;
  authorization?: string | undefined;
  cookie?: string | undefined;
  origin?: string | undefined;
  host?: string | undefined;
  csrf?: string | string[] | undefined;
}

export function readCookie(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * A cookie travels with every request the browser makes to this origin, so a
 * session may only change things when the request also proves it came from the
 * console itself: a custom header (which another site cannot add without a CORS
 * preflight this server never grants) and, when the browser sends one, an
 * Origin naming this host. SameSite=Strict on the cookie is the second wall.
 */
export function checkSameOrigin(c: RequestCredentials): void {
  if (c.csrf !== '1') {
    throw new ForbiddenError(
      `session requests that change state must send the header "${CSRF_HEADER}: 1"`,
    );
  }
  if (c.origin !== undefined) {
    let host: string;
    try {
      host = new URL(c.origin).host;
    } catch {
      host = '';
    }
    if (host === '' || host !== c.host) {
      throw new ForbiddenError(
        `cross-origin request refused: origin ${c.origin} is not this server`,
      );
    }
  }
}

export class TokenAuthenticator {
  // Compared as fixed-length digests so timing says nothing about the token.
  readonly #tokens = new Map<string, Principal>();
  readonly sessions: SessionStore;
  #verifier: TokenVerifier | undefined;

  constructor(sessions: SessionStore = new SessionStore()) {
    this.sessions = sessions;
  }

  /** A static token (the admin token): its holder is a superuser. */
  addToken(token: string, principal: { name: string }): void {
    this.#tokens.set(digest(token).toString('hex'), {
      name: principal.name,
      kind: 'User',
      superuser: true,
    });
  }

  /** Where tokens that are not static are looked up (the store's user tokens). */
  useVerifier(verifier: TokenVerifier): void {
    this.#verifier = verifier;
  }

  /** The principal a token belongs to, or undefined for an unknown, expired or revoked token. */
  async verifyToken(token: string): Promise<Principal | undefined> {
    const presented = digest(token);
    for (const [hex, principal] of this.#tokens) {
      if (timingSafeEqual(Buffer.from(hex, 'hex'), presented)) return principal;
    }
    return this.#verifier?.(token);
  }

  async authenticate(authorization: string | undefined): Promise<Principal> {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '');
    if (!m?.[1]) {
      throw new UnauthorizedError(
        'missing bearer token: send "Authorization: Bearer TOKEN" (the admin token is in the server\'s data directory as admin.token)',
      );
    }
    const principal = await this.verifyToken(m[1]);
    if (!principal) throw new UnauthorizedError('invalid, expired or revoked bearer token');
    return principal;
  }

  /**
   * A bearer token when the request has an Authorization header (the CLI),
   * otherwise a console session cookie, which must also pass the same-origin
   * check for anything but reads.
   */
  async authenticateRequest(c: RequestCredentials): Promise<Principal> {
    const sessionId = readCookie(c.cookie, SESSION_COOKIE);
    if (c.authorization !== undefined || sessionId === undefined) {
      return this.authenticate(c.authorization);
    }
    const session = this.sessions.lookup(sessionId);
    if (!session) {
      throw new UnauthorizedError(
        'console session expired or unknown: sign in again with the link the server printed',
      );
    }
    if (!SAFE_METHODS.has(c.method.toUpperCase())) checkSameOrigin(c);
    return session.principal;
  }
}
