// Bearer-token authentication. The admin token is created once, on first start,
// in the data directory (mode 0600) and reused on every later start, so a
// restart never locks out an operator or the CLI. Users and service accounts
// authenticate with tokens stored hashed in the store (api/identity.ts); what a
// principal may do is decided afterwards, in one place (api/authz.ts).
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sameDigest, sha256Hex } from '../lib/hash.ts';
import { ForbiddenError, UnauthorizedError } from '../model/errors.ts';

export interface Principal {
  name: string;
  kind: 'User' | 'ServiceAccount';
  /** A static token's holder (the admin token): cluster-admin without any binding. */
  superuser?: boolean;
  /** Epoch ms the credential it presented stops working; a console session ends then too. */
  expires?: number;
}

/** Resolves a bearer token that is not a static one (user tokens in the store). */
export type TokenVerifier = (token: string) => Promise<Principal | undefined>;

export interface TokenFile {
  path: string;
  token: string;
  created: boolean;
}

/** `file` (a token shared by several control planes) instead of the data directory's admin.token. */
export function loadOrCreateAdminToken(dataDir: string, file?: string): TokenFile {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const path = file ?? join(dataDir, 'admin.token');
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

/** The browser console's session cookie and the header its mutating requests carry. */
export const SESSION_COOKIE = 'yunjian_session';
export const CSRF_HEADER = 'x-yunjian-csrf';

export interface Session {
  id: string;
  principal: Principal;
  expires: Date;
  /**
   * For a session signed in with a credential that can be revoked (a user
   * token): whether it still holds, asked on every request.
   */
  stillValid?: () => Promise<boolean>;
}

export interface SessionOptions {
  /** Epoch ms the session may not outlive (its credential's own expiry). */
  expiresBy?: number;
  stillValid?: () => Promise<boolean>;
}

/**
 * Server-side console sessions. Only a digest of each session id is kept, so
 * the map holds nothing a reader could replay; expired sessions are dropped on
 * lookup and whenever a new one is created. Sessions live in memory: a server
 * restart signs browsers out (`yunjian console` prints a fresh sign-in link).
 */
export class SessionStore {
  readonly #sessions = new Map<
    string,
    { principal: Principal; expires: number; stillValid?: () => Promise<boolean> }
  >();
  readonly ttlMs: number;
  readonly #now: () => number;

  constructor(ttlMs = 12 * 3600 * 1000, now: () => number = Date.now) {
    this.ttlMs = ttlMs;
    this.#now = now;
  }

  create(principal: Principal, options: SessionOptions = {}): Session {
    const now = this.#now();
    for (const [key, s] of this.#sessions) if (s.expires <= now) this.#sessions.delete(key);
    const id = randomBytes(32).toString('base64url');
    const expires = Math.min(now + this.ttlMs, options.expiresBy ?? Infinity);
    const stillValid = options.stillValid;
    this.#sessions.set(sha256Hex(id), {
      principal,
      expires,
      ...(stillValid !== undefined ? { stillValid } : {}),
    });
    return {
      id,
      principal,
      expires: new Date(expires),
      ...(stillValid !== undefined ? { stillValid } : {}),
    };
  }

  lookup(id: string): Session | undefined {
    const key = sha256Hex(id);
    const s = this.#sessions.get(key);
    if (!s) return undefined;
    if (s.expires <= this.#now()) {
      this.#sessions.delete(key);
      return undefined;
    }
    return { id, ...s, expires: new Date(s.expires) };
  }

  /** A live session whose credential still holds; one whose credential was revoked ends here. */
  async resume(id: string): Promise<Session | undefined> {
    const session = this.lookup(id);
    if (session?.stillValid === undefined || (await session.stillValid())) return session;
    this.revoke(id);
    return undefined;
  }

  revoke(id: string): void {
    this.#sessions.delete(sha256Hex(id));
  }
}

/** How to get a sign-in link, for every message about a code that no longer works. */
export const NEW_CODE_HINT =
  'run "yunjian console" (as an admin, on the server\'s machine or with --server/--token) for a new sign-in link';

export type Redeemed =
  { ok: true; principal: Principal } | { ok: false; why: 'unknown' | 'used' | 'expired' };

/**
 * One-time sign-in codes for the console's link (`/?code=...`), so no
 * long-lived token is ever put in a URL. Only a digest of each code is kept; a
 * code signs in once and only within its TTL. A redeemed or expired code stays
 * until its TTL is over so the browser can be told which of the two it was;
 * then it is forgotten and reads as unknown. At most `limit` codes are held
 * (the oldest go first), so asking for codes in a loop cannot grow memory.
 */
export class SignInCodes {
  readonly #codes = new Map<string, { principal: Principal; expires: number; used: boolean }>();
  readonly ttlMs: number;
  readonly #now: () => number;
  readonly #limit: number;

  constructor(ttlMs = 10 * 60 * 1000, now: () => number = Date.now, limit = 1000) {
    this.ttlMs = ttlMs;
    this.#now = now;
    this.#limit = limit;
  }

  issue(principal: Principal): { code: string; expires: Date } {
    const now = this.#now();
    for (const [key, c] of this.#codes) if (c.expires < now) this.#codes.delete(key);
    // Maps iterate in insertion order: the first key is the oldest code.
    while (this.#codes.size >= this.#limit) {
      const oldest = this.#codes.keys().next();
      if (oldest.done === true) break;
      this.#codes.delete(oldest.value);
    }
    const code = `yjc_${randomBytes(24).toString('base64url')}`;
    const expires = now + this.ttlMs;
    this.#codes.set(sha256Hex(code), { principal, expires, used: false });
    return { code, expires: new Date(expires) };
  }

  redeem(code: string): Redeemed {
    const entry = this.#codes.get(sha256Hex(code));
    if (entry === undefined) return { ok: false, why: 'unknown' };
    if (entry.used) return { ok: false, why: 'used' };
    if (entry.expires <= this.#now()) return { ok: false, why: 'expired' };
    entry.used = true;
    return { ok: true, principal: entry.principal };
  }

  /** How long a code works, in words. */
  get lifetime(): string {
    return this.ttlMs >= 60_000
      ? `${Math.round(this.ttlMs / 60_000)} minutes`
      : `${Math.round(this.ttlMs / 1000)} seconds`;
  }

  /** The 401 for a code that did not sign in, saying why and how to get another. */
  refusal(why: 'unknown' | 'used' | 'expired'): UnauthorizedError {
    const what = {
      unknown: 'is not one this server issued (or the server restarted since)',
      used: 'was already used; each code signs in once',
      expired: `expired; codes last ${this.lifetime}`,
    }[why];
    return new UnauthorizedError(`sign-in code ${what}: ${NEW_CODE_HINT}`);
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
  readonly codes: SignInCodes;
  readonly #verifiers: TokenVerifier[] = [];

  constructor(options: { sessions?: SessionStore; codes?: SignInCodes } = {}) {
    this.sessions = options.sessions ?? new SessionStore();
    this.codes = options.codes ?? new SignInCodes();
  }

  /** A static token (the admin token): its holder is a superuser. */
  addToken(token: string, principal: { name: string }): Principal {
    const holder: Principal = { name: principal.name, kind: 'User', superuser: true };
    this.#tokens.set(sha256Hex(token), holder);
    return holder;
  }

  /** Where tokens that are not static are looked up (the store's user tokens, OIDC), in order. */
  useVerifier(verifier: TokenVerifier): void {
    this.#verifiers.push(verifier);
  }

  /** The principal a token belongs to, or undefined for an unknown, expired or revoked token. */
  async verifyToken(token: string): Promise<Principal | undefined> {
    const presented = sha256Hex(token);
    for (const [stored, principal] of this.#tokens) {
      if (sameDigest(stored, presented)) return principal;
    }
    for (const verify of this.#verifiers) {
      const principal = await verify(token);
      if (principal !== undefined) return principal;
    }
    return undefined;
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
    const session = await this.sessions.resume(sessionId);
    if (!session) {
      throw new UnauthorizedError(
        `console session expired, ended or unknown: sign in again with your token, or ${NEW_CODE_HINT}`,
      );
    }
    if (!SAFE_METHODS.has(c.method.toUpperCase())) checkSameOrigin(c);
    return session.principal;
  }
}
