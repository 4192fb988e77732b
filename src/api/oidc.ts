// OpenID Connect bearer tokens: an ID token (a JWT) from the issuer named at
// start-up signs in as the user its claim names, the way kube-apiserver's
// --oidc-* flags do. Keys come from the issuer's JWKS, given as a file or a URL
// at start-up; nothing is fetched per request except a refresh when a token
// names a key id the set does not hold (at most once per REFRESH_MS), so a key
// rotation at the issuer is picked up without a restart.
//
// What is accepted, in the order it is checked: three base64url parts; a
// header whose alg is one of ALGORITHMS (never "none", never an HMAC the
// issuer's public keys cannot check); a key of the JWKS matching kid (or the
// only key of that type when the token names none); a valid signature; iss
// equal to the issuer; aud holding the audience; exp in the future and nbf in
// the past, each within LEEWAY_S; a username claim that makes a subject name.
// Any failure is "not an OIDC token of ours": the authenticator then answers
// the same 401 as for any unknown token, and the reason goes to the log only.
import { constants, createPublicKey, verify as verifySignature, type KeyObject } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { isLoopbackHost } from '../lib/net.ts';
import { SUBJECT_NAME } from '../model/access.ts';
import type { Principal, TokenVerifier } from './auth.ts';

export interface OidcOptions {
  /** The exact `iss` of accepted tokens. */
  issuer: string;
  /** The `aud` accepted tokens must carry (the client id registered at the issuer). */
  audience: string;
  /** The issuer's JSON Web Key Set: a file path, or an https URL (http on loopback only). */
  jwks: string;
  /** The claim that names the user ("sub" by default; "email" is common). */
  usernameClaim?: string;
  /** Put before every OIDC user name so it cannot be mistaken for a local user ("oidc."). */
  usernamePrefix?: string;
  log?: (line: string) => void;
  now?: () => number;
}

/** Signature algorithms and how node:crypto checks each. */
const ALGORITHMS: Record<string, { hash: string; kty: string; pss?: true; p1363?: true }> = {
  RS256: { hash: 'sha256', kty: 'RSA' },
  RS384: { hash: 'sha384', kty: 'RSA' },
  RS512: { hash: 'sha512', kty: 'RSA' },
  PS256: { hash: 'sha256', kty: 'RSA', pss: true },
  PS384: { hash: 'sha384', kty: 'RSA', pss: true },
  PS512: { hash: 'sha512', kty: 'RSA', pss: true },
  // A JWS carries an ECDSA signature as r||s, not DER.
  ES256: { hash: 'sha256', kty: 'EC', p1363: true },
  ES384: { hash: 'sha384', kty: 'EC', p1363: true },
  ES512: { hash: 'sha512', kty: 'EC', p1363: true },
};

/** Clock skew allowed between the issuer and this server. */
const LEEWAY_S = 60;
/** A URL key set is refetched at most this often for an unknown key id. */
const REFRESH_MS = 60_000;
/** The largest token considered: ID tokens are a few kilobytes. */
const MAX_TOKEN_BYTES = 16 * 1024;

export class OidcConfigError extends Error {}

interface Key {
  kid: string | undefined;
  kty: string;
  key: KeyObject;
}

export class OidcVerifier {
  readonly #options: Required<Omit<OidcOptions, 'log' | 'now'>>;
  readonly #log: (line: string) => void;
  readonly #now: () => number;
  #keys: Key[] = [];
  #loadedAt = 0;
  #fileMtime = 0;

  private constructor(options: OidcOptions) {
    this.#options = {
      issuer: options.issuer,
      audience: options.audience,
      jwks: options.jwks,
      usernameClaim: options.usernameClaim ?? 'sub',
      usernamePrefix: options.usernamePrefix ?? 'oidc.',
    };
    this.#log = options.log ?? (() => undefined);
    this.#now = options.now ?? Date.now;
  }

  /** Checks the options and loads the key set once, so a wrong flag stops start-up, not sign-in. */
  static async create(options: OidcOptions): Promise<OidcVerifier> {
    let issuer: URL;
    try {
      issuer = new URL(options.issuer);
    } catch {
      throw new OidcConfigError(`--oidc-issuer: expected a URL, got ${options.issuer}`);
    }
    if (issuer.protocol !== 'https:' && !isLoopbackHost(issuer.hostname))
      throw new OidcConfigError(
        `--oidc-issuer: expected an https URL (http only on loopback), got ${options.issuer}`,
      );
    if (options.audience.trim() === '')
      throw new OidcConfigError('--oidc-audience: expected the client id tokens are issued to');
    const prefix = options.usernamePrefix ?? 'oidc.';
    if (prefix !== '' && !/^[A-Za-z0-9][A-Za-z0-9._@-]{0,31}$/.test(prefix))
      throw new OidcConfigError(
        `--oidc-username-prefix: expected letters, digits, ".", "_", "@", "-" (up to 32), got ${prefix}`,
      );
    const verifier = new OidcVerifier(options);
    await verifier.#load();
    return verifier;
  }

  /** As an authenticator verifier: the principal, or undefined for anything not a valid token of this issuer. */
  verifier(): TokenVerifier {
    return (token) => this.identify(token);
  }

  /** The identity in a token, or undefined (the reason is logged) when it is not one to accept. */
  async identify(token: string): Promise<Principal | undefined> {
    // Cheap shape test first: user and admin tokens are not JWTs and should not be logged as bad ones.
    if (token.length > MAX_TOKEN_BYTES || !/^[\w-]+\.[\w-]+\.[\w-]+$/.test(token)) return undefined;
    try {
      return await this.#check(token);
    } catch (err) {
      this.#log(`oidc: token refused: ${(err as Error).message}`);
      return undefined;
    }
  }

  async #check(token: string): Promise<Principal> {
    const [h, p, s] = token.split('.') as [string, string, string];
    const header = parseJsonPart(h, 'header');
    const alg = typeof header.alg === 'string' ? header.alg : '';
    const algorithm = ALGORITHMS[alg];
    if (algorithm === undefined) throw new Error(`alg ${JSON.stringify(header.alg)} not accepted`);
    const kid = typeof header.kid === 'string' ? header.kid : undefined;
    const key = await this.#keyFor(kid, algorithm.kty);
    const ok = verifySignature(
      algorithm.hash,
      Buffer.from(`${h}.${p}`),
      {
        key: key.key,
        // RFC 7518: PSS with MGF1 and a salt as long as the hash.
        ...(algorithm.pss
          ? {
              padding: constants.RSA_PKCS1_PSS_PADDING,
              saltLength: constants.RSA_PSS_SALTLEN_DIGEST,
            }
          : {}),
        ...(algorithm.p1363 ? { dsaEncoding: 'ieee-p1363' as const } : {}),
      },
      Buffer.from(s, 'base64url'),
    );
    if (!ok) throw new Error('signature does not verify');
    const claims = parseJsonPart(p, 'payload');
    if (claims.iss !== this.#options.issuer)
      throw new Error(`iss ${JSON.stringify(claims.iss)} is not ${this.#options.issuer}`);
    const aud = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
    if (!aud.includes(this.#options.audience))
      throw new Error(`aud does not include ${this.#options.audience}`);
    const nowS = this.#now() / 1000;
    if (typeof claims.exp !== 'number') throw new Error('no exp claim');
    if (claims.exp + LEEWAY_S <= nowS) throw new Error('expired');
    if (typeof claims.nbf === 'number' && claims.nbf - LEEWAY_S > nowS)
      throw new Error('not valid yet (nbf)');
    const claimName = this.#options.usernameClaim;
    const value = claims[claimName];
    if (typeof value !== 'string' || value === '') throw new Error(`no ${claimName} claim`);
    if (claimName === 'email' && claims.email_verified === false)
      throw new Error('email not verified');
    const name = `${this.#options.usernamePrefix}${value}`;
    if (!SUBJECT_NAME.test(name))
      throw new Error(`${claimName} ${JSON.stringify(value)} does not make a user name`);
    return { name, kind: 'User', expires: claims.exp * 1000 };
  }

  async #keyFor(kid: string | undefined, kty: string): Promise<Key> {
    const find = () =>
      kid !== undefined
        ? this.#keys.find((k) => k.kid === kid)
        : this.#keys.length === 1 && this.#keys[0]?.kty === kty
          ? this.#keys[0]
          : undefined;
    let key = find();
    if (key === undefined && this.#mayReload()) {
      await this.#load();
      key = find();
    }
    if (key === undefined) throw new Error(`no key ${kid ?? '(no kid)'} in the issuer's key set`);
    if (key.kty !== kty)
      throw new Error(`key ${kid ?? ''} is ${key.kty}, the token's alg needs ${kty}`);
    return key;
  }

  #mayReload(): boolean {
    if (isUrl(this.#options.jwks)) return this.#now() - this.#loadedAt >= REFRESH_MS;
    try {
      return statSync(this.#options.jwks).mtimeMs !== this.#fileMtime;
    } catch {
      return false;
    }
  }

  async #load(): Promise<void> {
    const source = this.#options.jwks;
    let text: string;
    if (isUrl(source)) {
      const url = new URL(source);
      if (url.protocol !== 'https:' && !isLoopbackHost(url.hostname))
        throw new OidcConfigError(`--oidc-jwks: expected an https URL (http only on loopback)`);
      const response = await fetch(url, { redirect: 'error', signal: AbortSignal.timeout(10_000) });
      if (!response.ok)
        throw new OidcConfigError(`--oidc-jwks: ${source} answered ${response.status}`);
      text = await response.text();
    } else {
      try {
        this.#fileMtime = statSync(source).mtimeMs;
        text = readFileSync(source, 'utf8');
      } catch (err) {
        throw new OidcConfigError(`--oidc-jwks: cannot read ${source}: ${(err as Error).message}`);
      }
    }
    this.#loadedAt = this.#now();
    this.#keys = parseJwks(text, source);
  }
}

function isUrl(s: string): boolean {
  return /^https?:\/\//i.test(s);
}

function parseJsonPart(part: string, what: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
  } catch {
    throw new Error(`${what} is not base64url JSON`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new Error(`${what} is not a JSON object`);
  return value as Record<string, unknown>;
}

/** The usable signing keys of a JWKS document; keys for encryption or of other types are left out. */
export function parseJwks(text: string, source: string): Key[] {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw new OidcConfigError(`--oidc-jwks: ${source} is not JSON`);
  }
  const keys = (doc as { keys?: unknown }).keys;
  if (!Array.isArray(keys))
    throw new OidcConfigError(`--oidc-jwks: ${source}: expected an object with a "keys" array`);
  const usable: Key[] = [];
  for (const [i, jwk] of keys.entries()) {
    const k = jwk as Record<string, unknown>;
    if ((k.kty !== 'RSA' && k.kty !== 'EC') || (k.use !== undefined && k.use !== 'sig')) continue;
    try {
      usable.push({
        kid: typeof k.kid === 'string' ? k.kid : undefined,
        kty: k.kty,
        key: createPublicKey({ key: k, format: 'jwk' }),
      });
    } catch (err) {
      throw new OidcConfigError(
        `--oidc-jwks: ${source}: keys[${i}] is not a public key: ${(err as Error).message}`,
      );
    }
  }
  if (usable.length === 0)
    throw new OidcConfigError(`--oidc-jwks: ${source} holds no RSA or EC signing key`);
  return usable;
}
