// Bearer-token authentication. The admin token is created once, on first start,
// in the data directory (mode 0600) and reused on every later start, so a
// restart never locks out an operator or the CLI.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { UnauthorizedError } from '../model/errors.ts';

export interface Principal {
  name: string;
}

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

export class TokenAuthenticator {
  // Compared as fixed-length digests so timing says nothing about the token.
  readonly #tokens = new Map<string, Principal>();

  addToken(token: string, principal: Principal): void {
    this.#tokens.set(digest(token).toString('hex'), principal);
  }

  authenticate(authorization: string | undefined): Principal {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '');
    if (!m?.[1]) {
      throw new UnauthorizedError(
        'missing bearer token: send "Authorization: Bearer TOKEN" (the admin token is in the server\'s data directory as admin.token)',
      );
    }
    const presented = digest(m[1]);
    for (const [hex, principal] of this.#tokens) {
      if (timingSafeEqual(Buffer.from(hex, 'hex'), presented)) return principal;
    }
    throw new UnauthorizedError('invalid bearer token');
  }
}
