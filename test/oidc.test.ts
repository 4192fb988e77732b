// OIDC bearer tokens: what the verifier accepts and refuses (table-driven, keys
// made here and signed with node:crypto), key rotation through the JWKS file
// and URL, start-up errors, and a control plane started with --oidc-* flags
// where an ID token authenticates API calls and console sign-in, with roles
// from RoleBindings like any user.
import assert from 'node:assert/strict';
import {
  constants,
  generateKeyPairSync,
  createHmac,
  sign as signWith,
  type KeyObject,
} from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { OidcConfigError, OidcVerifier } from '../src/api/oidc.ts';
import { run } from '../src/cli/program.ts';
import { inProcessServer } from './server.harness.ts';

const ISSUER = 'https://login.example.test/realms/ops';
const AUDIENCE = 'yunjian';
const dir = mkdtempSync(join(tmpdir(), 'yunjian-oidc-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const other = generateKeyPairSync('rsa', { modulusLength: 2048 });

const jwk = (key: KeyObject, kid: string, extra: Record<string, unknown> = {}) => ({
  ...key.export({ format: 'jwk' }),
  kid,
  use: 'sig',
  ...extra,
});

function writeJwks(path: string, keys: object[]): string {
  writeFileSync(path, JSON.stringify({ keys }));
  return path;
}

const b64 = (v: object) => Buffer.from(JSON.stringify(v)).toString('base64url');
const nowS = () => Math.floor(Date.now() / 1000);

interface SignOptions {
  alg?: string;
  /** null: a header without kid. */
  kid?: string | null;
  key?: KeyObject;
  claims?: Record<string, unknown>;
}

/** A JWS the way an issuer makes one. */
function jwt({ alg = 'RS256', kid = 'rsa-1', key = rsa.privateKey, claims = {} }: SignOptions) {
  const header = b64({ alg, typ: 'JWT', ...(kid !== null ? { kid } : {}) });
  const payload = b64({
    iss: ISSUER,
    aud: AUDIENCE,
    sub: 'alice',
    iat: nowS(),
    exp: nowS() + 600,
    ...claims,
  });
  const input = Buffer.from(`${header}.${payload}`);
  const hash = `sha${alg.slice(2)}`;
  const signature = alg.startsWith('ES')
    ? signWith(hash, input, { key, dsaEncoding: 'ieee-p1363' })
    : alg.startsWith('PS')
      ? signWith(hash, input, {
          key,
          padding: constants.RSA_PKCS1_PSS_PADDING,
          saltLength: constants.RSA_PSS_SALTLEN_DIGEST,
        })
      : signWith(hash, input, key);
  return `${header}.${payload}.${signature.toString('base64url')}`;
}

describe('OIDC token verification', () => {
  const jwksFile = writeJwks(join(dir, 'jwks.json'), [
    jwk(rsa.publicKey, 'rsa-1'),
    jwk(ec.publicKey, 'ec-1'),
  ]);
  let verifier: OidcVerifier;
  before(async () => {
    verifier = await OidcVerifier.create({ issuer: ISSUER, audience: AUDIENCE, jwks: jwksFile });
  });

  const forged = () => {
    const [h, , s] = jwt({}).split('.');
    return `${h}.${b64({ iss: ISSUER, aud: AUDIENCE, sub: 'root', exp: nowS() + 600 })}.${s}`;
  };
  const hmacWithPublicKey = () => {
    // The classic alg confusion: HS256 keyed with the issuer's public key.
    const header = b64({ alg: 'HS256', kid: 'rsa-1' });
    const payload = b64({ iss: ISSUER, aud: AUDIENCE, sub: 'mallory', exp: nowS() + 600 });
    const secret = rsa.publicKey.export({ type: 'spki', format: 'pem' });
    const mac = createHmac('sha256', secret).update(`${header}.${payload}`).digest('base64url');
    return `${header}.${payload}.${mac}`;
  };

  const cases: { name: string; token: () => string; user?: string }[] = [
    { name: 'RS256', token: () => jwt({}), user: 'oidc.alice' },
    { name: 'PS256', token: () => jwt({ alg: 'PS256' }), user: 'oidc.alice' },
    {
      name: 'ES256',
      token: () => jwt({ alg: 'ES256', kid: 'ec-1', key: ec.privateKey }),
      user: 'oidc.alice',
    },
    {
      name: 'aud as a list',
      token: () => jwt({ claims: { aud: ['other', AUDIENCE] } }),
      user: 'oidc.alice',
    },
    {
      name: 'exp just passed, within the leeway',
      token: () => jwt({ claims: { exp: nowS() - 10 } }),
      user: 'oidc.alice',
    },
    { name: 'another issuer', token: () => jwt({ claims: { iss: 'https://evil.test' } }) },
    { name: 'another audience', token: () => jwt({ claims: { aud: 'someone-else' } }) },
    { name: 'expired', token: () => jwt({ claims: { exp: nowS() - 3600 } }) },
    { name: 'no exp', token: () => jwt({ claims: { exp: undefined } }) },
    { name: 'not valid yet', token: () => jwt({ claims: { nbf: nowS() + 3600 } }) },
    { name: 'signed by a key not in the set', token: () => jwt({ key: other.privateKey }) },
    { name: 'unknown kid', token: () => jwt({ kid: 'rsa-9' }) },
    {
      name: 'alg none',
      token: () =>
        `${b64({ alg: 'none' })}.${b64({ iss: ISSUER, aud: AUDIENCE, sub: 'x', exp: nowS() + 60 })}.`,
    },
    { name: 'HS256 keyed with the public key', token: hmacWithPublicKey },
    {
      name: 'EC alg on an RSA key',
      token: () => jwt({ alg: 'ES256', kid: 'rsa-1', key: ec.privateKey }),
    },
    { name: 'payload changed after signing', token: forged },
    { name: 'no sub', token: () => jwt({ claims: { sub: undefined } }) },
    { name: 'a sub that is no user name', token: () => jwt({ claims: { sub: 'a b/c' } }) },
    { name: 'no kid with two keys in the set', token: () => jwt({ kid: null }) },
    { name: 'a user token, not a JWT', token: () => 'yju_0123456789ab.secret' },
    { name: 'garbage in three parts', token: () => 'a.b.c' },
  ];
  for (const c of cases) {
    it(`${c.user !== undefined ? 'accepts' : 'refuses'} ${c.name}`, async () => {
      const principal = await verifier.identify(c.token());
      assert.equal(principal?.name, c.user);
      if (principal) {
        assert.equal(principal.kind, 'User');
        assert.ok(principal.expires !== undefined && principal.expires > Date.now() - 60_000);
      }
    });
  }

  it('names users by another claim, with another prefix; refuses an unverified email', async () => {
    const byEmail = await OidcVerifier.create({
      issuer: ISSUER,
      audience: AUDIENCE,
      jwks: jwksFile,
      usernameClaim: 'email',
      usernamePrefix: '',
    });
    const ok = await byEmail.identify(
      jwt({ claims: { email: 'bob@example.test', email_verified: true } }),
    );
    assert.equal(ok?.name, 'bob@example.test');
    assert.equal(
      await byEmail.identify(jwt({ claims: { email: 'bob@example.test', email_verified: false } })),
      undefined,
    );
  });

  it('picks up a rotated key from the JWKS file without a restart', async () => {
    const path = writeJwks(join(dir, 'rotating.json'), [jwk(rsa.publicKey, 'rsa-1')]);
    const v = await OidcVerifier.create({ issuer: ISSUER, audience: AUDIENCE, jwks: path });
    const rotated = jwt({ kid: 'rsa-2', key: other.privateKey });
    assert.equal(await v.identify(rotated), undefined);
    writeJwks(path, [jwk(rsa.publicKey, 'rsa-1'), jwk(other.publicKey, 'rsa-2')]);
    // mtime resolution: make sure the file reads as changed.
    const { utimesSync } = await import('node:fs');
    utimesSync(path, new Date(), new Date(Date.now() + 5000));
    assert.equal((await v.identify(rotated))?.name, 'oidc.alice');
  });

  it('reads the key set from a URL and refetches it for an unknown key at most once a minute', async () => {
    let keys = [jwk(rsa.publicKey, 'rsa-1')];
    let fetches = 0;
    const server = createServer((_req, res) => {
      fetches++;
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ keys }));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    after(() => server.close());
    let clock = Date.now();
    const v = await OidcVerifier.create({
      issuer: ISSUER,
      audience: AUDIENCE,
      jwks: `http://127.0.0.1:${(server.address() as AddressInfo).port}/jwks`,
      now: () => clock,
    });
    assert.equal(fetches, 1);
    assert.equal((await v.identify(jwt({})))?.name, 'oidc.alice');
    keys = [...keys, jwk(other.publicKey, 'rsa-2')];
    const rotated = jwt({ kid: 'rsa-2', key: other.privateKey });
    assert.equal(await v.identify(rotated), undefined, 'refetched too soon');
    assert.equal(fetches, 1);
    clock += 61_000;
    assert.equal((await v.identify(rotated))?.name, 'oidc.alice');
    assert.equal(fetches, 2);
  });

  const badConfigs: {
    name: string;
    options: { issuer: string; audience: string; jwks: string };
    error: RegExp;
  }[] = [
    {
      name: 'an http issuer off loopback',
      options: { issuer: 'http://login.example.test', audience: AUDIENCE, jwks: jwksFile },
      error: /--oidc-issuer: expected an https URL/,
    },
    {
      name: 'an issuer that is no URL',
      options: { issuer: 'login', audience: AUDIENCE, jwks: jwksFile },
      error: /--oidc-issuer: expected a URL/,
    },
    {
      name: 'an empty audience',
      options: { issuer: ISSUER, audience: ' ', jwks: jwksFile },
      error: /--oidc-audience/,
    },
    {
      name: 'a missing JWKS file',
      options: { issuer: ISSUER, audience: AUDIENCE, jwks: join(dir, 'nope.json') },
      error: /--oidc-jwks: cannot read/,
    },
    {
      name: 'a JWKS without keys',
      options: { issuer: ISSUER, audience: AUDIENCE, jwks: writeJwks(join(dir, 'empty.json'), []) },
      error: /holds no RSA or EC signing key/,
    },
    {
      name: 'a JWKS that is not JSON',
      options: {
        issuer: ISSUER,
        audience: AUDIENCE,
        jwks: (writeFileSync(join(dir, 'bad.json'), '{'), join(dir, 'bad.json')),
      },
      error: /is not JSON/,
    },
  ];
  for (const c of badConfigs) {
    it(`stops start-up on ${c.name}`, async () => {
      await assert.rejects(OidcVerifier.create(c.options), (err: Error) => {
        assert.ok(err instanceof OidcConfigError);
        assert.match(err.message, c.error);
        return true;
      });
    });
  }
});

describe('a control plane with --oidc-*', () => {
  const jwks = writeJwks(join(dir, 'server-jwks.json'), [jwk(rsa.publicKey, 'rsa-1')]);
  const h = inProcessServer('oidc', {
    fleet: 'none',
    oidc: { issuer: ISSUER, audience: AUDIENCE, jwks },
  });
  const BASE = '/api/v1alpha1';
  const call = async (path: string, token: string, init: RequestInit = {}) => {
    const res = await fetch(`${h.url}${path}`, {
      ...init,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    });
    return { status: res.status, json: (await res.json()) as Record<string, unknown> };
  };

  it('authenticates an ID token; roles come from RoleBindings naming the OIDC user', async () => {
    const token = jwt({ claims: { sub: 'carol' } });
    assert.equal((await call(`${BASE}/applications`, token)).status, 403);
    const binding = {
      apiVersion: 'yunjian.io/v1alpha1',
      kind: 'ClusterRoleBinding',
      metadata: { name: 'carol-viewer' },
      spec: { subject: { kind: 'User', name: 'oidc.carol' }, role: 'viewer' },
    };
    const made = await call(`${BASE}/clusterrolebindings`, h.token, {
      method: 'POST',
      body: JSON.stringify(binding),
    });
    assert.equal(made.status, 201, JSON.stringify(made.json));
    assert.equal((await call(`${BASE}/applications`, token)).status, 200);
    assert.equal(
      (await call(`${BASE}/namespaces/default/applications`, token, { method: 'POST', body: '{}' }))
        .status,
      403,
    );
  });

  it('answers 401 for an expired token or one from another issuer, like any bad token', async () => {
    for (const token of [
      jwt({ claims: { exp: nowS() - 3600 } }),
      jwt({ claims: { iss: 'https://x.test' } }),
    ]) {
      const res = await call(`${BASE}/applications`, token);
      assert.equal(res.status, 401);
      assert.equal(res.json.reason, 'Unauthorized');
    }
  });

  it('signs the console in with an ID token; the session ends when the token does', async () => {
    const exp = nowS() + 300;
    const res = await fetch(`${h.url}/console/session`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-yunjian-csrf': '1' },
      body: JSON.stringify({ token: jwt({ claims: { sub: 'carol', exp } }) }),
    });
    assert.equal(res.status, 201);
    const body = (await res.json()) as { user: string; expires: string };
    assert.equal(body.user, 'oidc.carol');
    assert.equal(Date.parse(body.expires), exp * 1000);
  });

  it('refuses to start with an OIDC flag missing (CLI exit non-zero naming the flag)', async () => {
    const err: string[] = [];
    const code = await run(['server', '--data', join(dir, 'cli'), '--oidc-issuer', ISSUER], {
      stdout: () => undefined,
      stderr: (t) => err.push(t),
      readStdin: () => Promise.resolve(''),
      env: {},
      home: dir,
      now: () => Date.now(),
      interrupted: () => new AbortController().signal,
    });
    assert.notEqual(code, 0);
    assert.match(err.join(''), /--oidc-audience: required with --oidc-issuer/);
  });
});
