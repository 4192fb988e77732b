// Signing in to the console against a real in-process server: the printed
// link carries a one-time code (never the admin token), codes work once and
// expire, `yunjian console` prints a fresh link for an admin only, a token in a
// link is refused, and a user's own token signs in a session that sees only
// what that user may see and ends when the token is revoked.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { run } from '../src/cli/program.ts';
import { inProcessServer, type TestServer } from './server.harness.ts';

const BASE = '/api/v1alpha1';
const V = 'yunjian.io/v1alpha1';

// A stand-in bundle: the server prints a sign-in link only when the console is built.
const consoleDir = mkdtempSync(join(tmpdir(), 'yunjian-signin-console-'));
mkdirSync(join(consoleDir, 'assets'));
writeFileSync(join(consoleDir, 'index.html'), '<!doctype html><title>console</title>');
after(() => rmSync(consoleDir, { recursive: true, force: true }));

/** A server whose start-up lines are kept, with helpers bound to it. */
function signInServer(name: string, ttlSeconds?: number) {
  const logs: string[] = [];
  const h = inProcessServer(name, {
    fleet: 'none',
    consoleDir,
    log: (line) => logs.push(line),
    ...(ttlSeconds !== undefined ? { signInCodeTtlSeconds: ttlSeconds } : {}),
  });
  const printedLink = () => {
    const line = logs.find((l) => l.startsWith('console: http://'));
    assert.ok(line, `no sign-in link printed:\n${logs.join('\n')}`);
    return new URL(line.slice('console: '.length));
  };
  return { h, logs, printedLink };
}

/** Follows a sign-in link by hand: the session cookie it sets, or the refusal. */
async function open(h: TestServer, link: URL | string) {
  const url = new URL(typeof link === 'string' ? link : `${link.pathname}${link.search}`, h.url);
  const res = await fetch(url, { redirect: 'manual' });
  return {
    status: res.status,
    location: res.headers.get('location'),
    cookie: (res.headers.get('set-cookie') ?? '').split(';')[0] ?? '',
    text: await res.text(),
  };
}

const postSession = (h: TestServer, body: unknown) =>
  fetch(`${h.url}/console/session`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-yunjian-csrf': '1' },
    body: JSON.stringify(body),
  });

async function call(h: TestServer, method: string, path: string, auth: string, body?: unknown) {
  const res = await fetch(`${h.url}${path}`, {
    method,
    headers: {
      ...(auth.startsWith('yunjian_session=')
        ? { cookie: auth }
        : { authorization: `Bearer ${auth}` }),
      ...(body !== undefined ? { 'content-type': 'application/json', 'x-yunjian-csrf': '1' } : {}),
    },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  return { status: res.status, json: (await res.json()) as any };
}

async function cli(h: TestServer, token: string, ...args: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await run(['--server', h.url, '--token', token, ...args], {
    stdout: (t) => out.push(t),
    stderr: (t) => err.push(t),
    readStdin: () => Promise.resolve(''),
    env: {},
    home: h.dataDir,
    now: () => Date.now(),
    interrupted: () => new AbortController().signal,
  });
  return { code, out: out.join(''), err: err.join('') };
}

describe('console sign-in with one-time codes', () => {
  const { h, logs, printedLink } = signInServer('signin');

  it('prints a link with a code and never the admin token', () => {
    const link = printedLink();
    assert.match(link.search, /^\?code=yjc_[\w-]{32}$/);
    for (const line of logs) assert.ok(!line.includes(h.token), `admin token printed: ${line}`);
  });

  it('signs the printed link in once, as admin; the second use is 401 saying how to get another', async () => {
    const first = await open(h, printedLink());
    assert.equal(first.status, 303);
    assert.equal(first.location, '/');
    assert.match(first.cookie, /^yunjian_session=/);
    const who = await call(h, 'GET', '/console/session', first.cookie);
    assert.equal(who.json.user, 'admin');
    assert.equal((await call(h, 'GET', `${BASE}/clouds`, first.cookie)).status, 200);

    const again = await open(h, printedLink());
    assert.equal(again.status, 401);
    assert.equal(again.cookie, '');
    assert.match(again.text, /already used/);
    assert.match(again.text, /yunjian console/);
  });

  it('refuses a token in a link, the admin token included, with no session', async () => {
    for (const token of [h.token, 'anything']) {
      const res = await open(h, `/?token=${encodeURIComponent(token)}`);
      assert.equal(res.status, 400);
      assert.equal(res.cookie, '');
      assert.match(res.text, /not accepted in links/);
      assert.match(res.text, /yunjian console/);
    }
  });

  it('yunjian console prints a fresh link that works once, through the form endpoint too', async () => {
    const out = await cli(h, h.token, 'console');
    assert.equal(out.code, 0, out.err);
    const link = new URL(out.out.trim());
    assert.equal(link.origin, new URL(h.url).origin);
    const code = link.searchParams.get('code');
    assert.ok(code);
    const first = await postSession(h, { code });
    assert.equal(first.status, 201);
    assert.match(first.headers.get('set-cookie') ?? '', /HttpOnly; SameSite=Strict/);
    const second = await postSession(h, { code });
    assert.equal(second.status, 401);
    assert.match(((await second.json()) as any).message, /already used.*yunjian console/);
    // Used through the form, the link is spent too.
    assert.equal((await open(h, link)).status, 401);
    const unknown = await postSession(h, { code: 'yjc_not-a-code' });
    assert.equal(unknown.status, 401);
  });

  it('names the field when the sign-in body has neither or both of code and token', async () => {
    for (const body of [{}, { code: 'a', token: 'b' }, { code: 7 }, { token: '' }]) {
      const res = await postSession(h, body);
      assert.equal(res.status, 400, JSON.stringify(body));
      assert.match(((await res.json()) as any).message, /^(code|token): expected/);
    }
  });

  describe('user tokens', () => {
    const users: Record<string, string> = {};
    before(async () => {
      for (const t of ['blue', 'red']) {
        const tenant = await call(h, 'POST', `${BASE}/tenants`, h.token, {
          apiVersion: V,
          kind: 'Tenant',
          metadata: { name: t },
          spec: { namespaces: [t] },
        });
        assert.equal(tenant.status, 201, JSON.stringify(tenant.json));
        const created = await call(h, 'POST', `${BASE}/tokens`, h.token, {
          user: `${t}-admin`,
          role: 'tenant-admin',
          namespace: t,
          ttl: '1h',
        });
        assert.equal(created.status, 201, JSON.stringify(created.json));
        users[t] = created.json.token;
        const app = await call(h, 'POST', `${BASE}/namespaces/${t}/applications`, h.token, {
          apiVersion: V,
          kind: 'Application',
          metadata: { name: `${t}-app`, namespace: t },
          spec: { components: [{ name: 'web', image: 'nginx', replicas: 1 }] },
        });
        assert.equal(app.status, 201, JSON.stringify(app.json));
      }
    });

    const signInAs = async (token: string) => {
      const res = await postSession(h, { token });
      assert.equal(res.status, 201);
      return (res.headers.get('set-cookie') ?? '').split(';')[0] ?? '';
    };

    it("signs in with the user's own token; the session sees only that user's tenant", async () => {
      const cookie = await signInAs(users['blue']!);
      assert.equal((await call(h, 'GET', '/console/session', cookie)).json.user, 'blue-admin');
      const apps = await call(h, 'GET', `${BASE}/applications`, cookie);
      assert.equal(apps.status, 200);
      assert.deepEqual(
        apps.json.items.map((a: any) => a.metadata.name),
        ['blue-app'],
      );
      assert.equal(
        (await call(h, 'GET', `${BASE}/namespaces/red/applications`, cookie)).status,
        403,
      );
    });

    it('only a cluster-admin gets sign-in codes', async () => {
      const cookie = await signInAs(users['red']!);
      assert.equal((await call(h, 'POST', `${BASE}/console/codes`, cookie, {})).status, 403);
      const out = await cli(h, users['red']!, 'console');
      assert.notEqual(out.code, 0);
      assert.match(out.err, /forbidden/i);
    });

    it('ends the session when its token is revoked', async () => {
      const cookie = await signInAs(users['red']!);
      assert.equal((await call(h, 'GET', `${BASE}/applications`, cookie)).status, 200);
      const id = /^yju_([0-9a-f]{12})\./.exec(users['red']!)?.[1];
      const revoked = await call(h, 'DELETE', `${BASE}/usertokens/token-${id}`, h.token);
      assert.equal(revoked.status, 200, JSON.stringify(revoked.json));
      const after = await call(h, 'GET', `${BASE}/applications`, cookie);
      assert.equal(after.status, 401);
      assert.match(after.json.message, /sign in again/);
      assert.equal((await call(h, 'GET', '/console/session', cookie)).status, 401);
    });
  });
});

describe('an expired sign-in code', () => {
  // A zero lifetime: every code has expired by the time it is presented.
  const { h, printedLink } = signInServer('signin-expired', 0);

  it('is 401 saying it expired and how to get a new link', async () => {
    const res = await open(h, printedLink());
    assert.equal(res.status, 401);
    assert.equal(res.cookie, '');
    assert.match(res.text, /expired/);
    assert.match(res.text, /yunjian console/);
    const code = (await cli(h, h.token, 'console')).out.trim().split('code=')[1];
    const posted = await postSession(h, { code });
    assert.equal(posted.status, 401);
    assert.match(((await posted.json()) as any).message, /expired; codes last 0 seconds/);
  });
});
