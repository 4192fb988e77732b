// The console's server side (sessions, the cookie path through API auth, the
// static files) against a real listener, and its pure parts (fleet
// aggregation, field path to YAML line) without a browser.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { SessionStore, SignInCodes, TokenAuthenticator } from '../src/api/auth.ts';
import { consolePlugin } from '../src/api/console.ts';
import { createApiServer } from '../src/api/server.ts';
import { aggregateFleet } from '../src/console/aggregate.ts';
import { lineOfField, parseFieldPath } from '../src/console/yamlPaths.ts';
import type { Cloud, Cluster, Site } from '../src/model/schema.ts';
import { openSqliteStore } from '../src/store/index.ts';

const TOKEN = 'console-test-token-0123456789';

describe('SessionStore', () => {
  it('finds a session until it expires, never after, and forgets revoked ones', () => {
    let now = 1_000_000;
    const s = new SessionStore(60_000, () => now);
    const a = s.create({ name: 'admin', kind: 'User' });
    const b = s.create({ name: 'admin', kind: 'User' });
    assert.notEqual(a.id, b.id);
    assert.equal(s.lookup(a.id)?.principal.name, 'admin');
    assert.equal(s.lookup('not-a-session'), undefined);
    s.revoke(b.id);
    assert.equal(s.lookup(b.id), undefined);
    now += 59_999;
    assert.ok(s.lookup(a.id));
    now += 1;
    assert.equal(s.lookup(a.id), undefined);
  });

  it("ends a session with its credential: at the credential's expiry, and once it no longer holds", async () => {
    let now = 1_000_000;
    let valid = true;
    const s = new SessionStore(60_000, () => now);
    const bound = s.create(
      { name: 'ann', kind: 'User' },
      { expiresBy: now + 10_000, stillValid: () => Promise.resolve(valid) },
    );
    assert.equal(bound.expires.getTime(), now + 10_000);
    assert.equal((await s.resume(bound.id))?.principal.name, 'ann');
    valid = false;
    assert.equal(await s.resume(bound.id), undefined);
    valid = true;
    assert.equal(await s.resume(bound.id), undefined, 'a revoked session stays ended');
    const short = s.create({ name: 'ann', kind: 'User' }, { expiresBy: now + 10_000 });
    now += 10_000;
    assert.equal(s.lookup(short.id), undefined);
  });
});

describe('SignInCodes', () => {
  const admin = { name: 'admin', kind: 'User' as const, superuser: true };
  const cases: {
    name: string;
    steps: (c: SignInCodes, tick: (ms: number) => void) => unknown[];
    want: unknown[];
  }[] = [
    {
      name: 'a code signs in once',
      steps: (c) => {
        const { code } = c.issue(admin);
        return [c.redeem(code), c.redeem(code)];
      },
      want: [
        { ok: true, principal: admin },
        { ok: false, why: 'used' },
      ],
    },
    {
      name: 'a code expires at its TTL',
      steps: (c, tick) => {
        const { code } = c.issue(admin);
        tick(599_999);
        const other = c.issue(admin).code;
        tick(1);
        return [c.redeem(code), c.redeem(other)];
      },
      want: [
        { ok: false, why: 'expired' },
        { ok: true, principal: admin },
      ],
    },
    {
      name: 'codes never issued, and expired ones once forgotten, are unknown',
      steps: (c, tick) => {
        const { code } = c.issue(admin);
        tick(600_001);
        c.issue(admin);
        return [c.redeem('yjc_never-issued'), c.redeem(code)];
      },
      want: [
        { ok: false, why: 'unknown' },
        { ok: false, why: 'unknown' },
      ],
    },
    {
      name: 'past the limit the oldest code goes first',
      steps: (c) => [1, 2, 3, 4].map(() => c.issue(admin).code).map((code) => c.redeem(code).ok),
      want: [false, true, true, true],
    },
  ];
  for (const t of cases) {
    it(t.name, () => {
      let now = 5_000_000;
      const codes = new SignInCodes(600_000, () => now, 3);
      assert.deepEqual(
        t.steps(codes, (ms) => (now += ms)),
        t.want,
      );
    });
  }

  it('keeps only a digest, and says why a code failed and how to get another', () => {
    const codes = new SignInCodes();
    const { code } = codes.issue(admin);
    assert.match(code, /^yjc_[\w-]{32}$/);
    assert.match(
      codes.refusal('expired').message,
      /expired; codes last 10 minutes: run "yunjian console"/,
    );
    assert.equal(codes.refusal('used').reason, 'Unauthorized');
  });
});

describe('authenticateRequest', () => {
  const auth = new TokenAuthenticator();
  auth.addToken(TOKEN, { name: 'admin' });
  const session = auth.sessions.create({ name: 'admin', kind: 'User', superuser: true });
  const cookie = `other=1; yunjian_session=${session.id}`;
  const host = 'localhost:7080';
  const cases: {
    name: string;
    c: Parameters<TokenAuthenticator['authenticateRequest']>[0];
    reason?: string;
  }[] = [
    { name: 'bearer token', c: { method: 'POST', authorization: `Bearer ${TOKEN}` } },
    {
      name: 'bearer wins over a cookie',
      c: { method: 'GET', authorization: 'Bearer x', cookie },
      reason: 'Unauthorized',
    },
    { name: 'session read', c: { method: 'GET', cookie, host } },
    {
      name: 'session write without the header',
      c: { method: 'POST', cookie, host },
      reason: 'Forbidden',
    },
    {
      name: 'session write with the header',
      c: { method: 'PUT', cookie, host, csrf: '1', origin: 'http://localhost:7080' },
    },
    { name: 'session write, no Origin sent', c: { method: 'DELETE', cookie, host, csrf: '1' } },
    {
      name: 'session write from another origin',
      c: { method: 'POST', cookie, host, csrf: '1', origin: 'http://evil.example' },
      reason: 'Forbidden',
    },
    {
      name: 'unknown session',
      c: { method: 'GET', cookie: 'yunjian_session=nope', host },
      reason: 'Unauthorized',
    },
    { name: 'nothing', c: { method: 'GET' }, reason: 'Unauthorized' },
  ];
  for (const t of cases) {
    it(`${t.name} -> ${t.reason ?? 'admin'}`, async () => {
      if (t.reason === undefined) assert.equal((await auth.authenticateRequest(t.c)).name, 'admin');
      else
        await assert.rejects(
          () => auth.authenticateRequest(t.c),
          (err: any) => err.reason === t.reason,
        );
    });
  }
});

describe('console plugin', () => {
  const dir = mkdtempSync(join(tmpdir(), 'yunjian-console-plugin-'));
  const store = openSqliteStore({ path: ':memory:' });
  const auth = new TokenAuthenticator();
  auth.addToken(TOKEN, { name: 'admin' });
  const app = createApiServer({
    store,
    auth,
    version: 'test',
    plugins: [consolePlugin({ auth, store, dir })],
  });
  let base = '';
  let host = '';

  before(async () => {
    mkdirSync(join(dir, 'assets'));
    writeFileSync(join(dir, 'index.html'), '<!doctype html><title>console</title>');
    writeFileSync(join(dir, 'assets', 'index-abc.js'), 'console.log(1)');
    await app.listen({ port: 0, host: '127.0.0.1' });
    host = `127.0.0.1:${(app.server.address() as AddressInfo).port}`;
    base = `http://${host}`;
  });
  after(async () => {
    await app.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const signIn = (headers: Record<string, string>, token = TOKEN) =>
    fetch(`${base}/console/session`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify({ token }),
    });

  it('serves the page and hashed assets without a token, with a strict CSP', async () => {
    const page = await fetch(`${base}/`);
    assert.equal(page.status, 200);
    assert.match(await page.text(), /<title>console/);
    assert.equal(page.headers.get('content-type'), 'text/html; charset=utf-8');
    assert.match(
      page.headers.get('content-security-policy') ?? '',
      /default-src 'none'.*connect-src 'self'/,
    );
    assert.equal(page.headers.get('referrer-policy'), 'no-referrer');
    const js = await fetch(`${base}/assets/index-abc.js`);
    assert.equal(js.status, 200);
    assert.match(js.headers.get('content-type') ?? '', /javascript/);
    assert.match(js.headers.get('cache-control') ?? '', /immutable/);
    assert.equal((await fetch(`${base}/assets/..%2Findex.html`)).status, 404);
    assert.equal((await fetch(`${base}/assets/missing.js`)).status, 404);
  });

  it('turns a sign-in link with a code into a session cookie and a redirect to the bare address, once', async () => {
    const { code } = auth.codes.issue({ name: 'admin', kind: 'User', superuser: true });
    const res = await fetch(`${base}/?code=${code}`, { redirect: 'manual' });
    assert.equal(res.status, 303);
    assert.equal(res.headers.get('location'), '/');
    const cookie = (res.headers.get('set-cookie') ?? '').split(';')[0]!;
    assert.match(cookie, /^yunjian_session=/);
    assert.equal((await fetch(`${base}/api/v1alpha1/clouds`, { headers: { cookie } })).status, 200);
    const again = await fetch(`${base}/?code=${code}`, { redirect: 'manual' });
    assert.equal(again.status, 401);
    assert.equal(again.headers.get('set-cookie'), null);
  });

  it('never takes a token from a link', async () => {
    const res = await fetch(`${base}/?token=${TOKEN}`, { redirect: 'manual' });
    assert.equal(res.status, 400);
    assert.equal(res.headers.get('set-cookie'), null);
    assert.match(await res.text(), /Tokens are not accepted in links/);
  });

  it('keeps the API closed to requests without a token or session', async () => {
    assert.equal((await fetch(`${base}/api/v1alpha1/clouds`)).status, 401);
    assert.equal((await fetch(`${base}/console/session`)).status, 401);
  });

  it('refuses a bad token and a cross-site sign-in', async () => {
    assert.equal((await signIn({ 'x-yunjian-csrf': '1' }, 'wrong')).status, 401);
    assert.equal((await signIn({})).status, 403);
    assert.equal(
      (await signIn({ 'x-yunjian-csrf': '1', origin: 'http://evil.example' })).status,
      403,
    );
  });

  it('exchanges the token for an HttpOnly SameSite=Strict session that reads and, with the header, writes', async () => {
    const res = await signIn({ 'x-yunjian-csrf': '1', origin: base });
    assert.equal(res.status, 201);
    const setCookie = res.headers.get('set-cookie') ?? '';
    assert.match(setCookie, /^yunjian_session=[\w-]{40,};/);
    assert.match(setCookie, /HttpOnly/);
    assert.match(setCookie, /SameSite=Strict/);
    const cookie = setCookie.split(';')[0]!;

    const who = await fetch(`${base}/console/session`, { headers: { cookie } });
    assert.equal(((await who.json()) as any).user, 'admin');
    assert.equal((await fetch(`${base}/api/v1alpha1/clouds`, { headers: { cookie } })).status, 200);

    const cloud = JSON.stringify({
      apiVersion: 'yunjian.io/v1alpha1',
      kind: 'Cloud',
      metadata: { name: 'c1' },
      spec: { vendor: 'aws', type: 'public' },
    });
    const post = (headers: Record<string, string>) =>
      fetch(`${base}/api/v1alpha1/clouds`, {
        method: 'POST',
        headers: { cookie, 'content-type': 'application/json', ...headers },
        body: cloud,
      });
    const forged = await post({ origin: 'http://evil.example', 'x-yunjian-csrf': '1' });
    assert.equal(forged.status, 403);
    assert.equal(((await forged.json()) as any).reason, 'Forbidden');
    assert.equal((await post({})).status, 403);
    assert.equal((await post({ 'x-yunjian-csrf': '1', origin: base })).status, 201);

    const out = await fetch(`${base}/console/session`, {
      method: 'DELETE',
      headers: { cookie, 'x-yunjian-csrf': '1' },
    });
    assert.equal(out.status, 200);
    assert.match(out.headers.get('set-cookie') ?? '', /Max-Age=0/);
    assert.equal((await fetch(`${base}/api/v1alpha1/clouds`, { headers: { cookie } })).status, 401);
  });

  it('streams several kinds on one merged watch, each from its own revision', async () => {
    const headers = { authorization: `Bearer ${TOKEN}` };
    assert.equal((await fetch(`${base}/console/watch`, { headers })).status, 400);
    assert.equal((await fetch(`${base}/console/watch?nope=1`, { headers })).status, 400);
    const rv = String(await store.revision());
    const ctrl = new AbortController();
    const res = await fetch(`${base}/console/watch?clouds=${rv}&sites=${rv}`, {
      headers,
      signal: ctrl.signal,
    });
    assert.equal(res.status, 200);
    await store.create({
      apiVersion: 'yunjian.io/v1alpha1',
      kind: 'Cloud',
      metadata: { name: 'merged' },
      spec: { vendor: 'gcp', type: 'public' },
    });
    await store.create({
      apiVersion: 'yunjian.io/v1alpha1',
      kind: 'Site',
      metadata: { name: 'merged-1' },
      spec: {
        cloud: 'merged',
        kind: 'region',
        country: 'BE',
        city: 'Brussels',
        latitude: 50.8,
        longitude: 4.4,
      },
    });
    const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
    let text = '';
    while (text.split('\n').filter((l) => l.trim() !== '').length < 2) {
      const { value, done } = await reader.read();
      if (done) break;
      text += value;
    }
    ctrl.abort();
    const events = text
      .split('\n')
      .filter((l) => l.trim() !== '')
      .map((l) => JSON.parse(l));
    assert.deepEqual(events.map((e) => [e.type, e.object.kind, e.object.metadata.name]).sort(), [
      ['ADDED', 'Cloud', 'merged'],
      ['ADDED', 'Site', 'merged-1'],
    ]);
  });

  it('says how to build the console when the bundle is missing', async () => {
    rmSync(join(dir, 'index.html'));
    const res = await fetch(`${base}/`);
    assert.equal(res.status, 503);
    assert.match(await res.text(), /npm run build:console/);
  });
});

describe('aggregateFleet', () => {
  const meta = (name: string) => ({ name });
  const cloud = (name: string, price?: number): Cloud => ({
    apiVersion: 'yunjian.io/v1alpha1',
    kind: 'Cloud',
    metadata: meta(name),
    spec: {
      vendor: 'aws',
      type: 'public',
      ...(price !== undefined ? { prices: { cpuCoreHour: price } } : {}),
    },
  });
  const site = (name: string, c: string, kind: 'region' | 'edge'): Site => ({
    apiVersion: 'yunjian.io/v1alpha1',
    kind: 'Site',
    metadata: meta(name),
    spec: { cloud: c, kind, country: 'DE', city: 'Frankfurt', latitude: 50, longitude: 8 },
  });
  const cluster = (
    name: string,
    c: string,
    s: string,
    ready: boolean,
    pools: { arch: 'amd64' | 'arm64'; count: number; cpu: number }[],
    allocated: number,
    price?: number,
  ): Cluster => {
    const cores = pools.reduce((n, p) => n + p.count * p.cpu, 0);
    const nodes = pools.reduce((n, p) => n + p.count, 0);
    const zero = { cpu: 0, memory: 0, gpu: 0, pods: 0 };
    return {
      apiVersion: 'yunjian.io/v1alpha1',
      kind: 'Cluster',
      metadata: meta(name),
      spec: {
        cloud: c,
        site: s,
        driver: {
          type: 'sim',
          sim: { nodePools: pools.map((p, i) => ({ name: `p${i}`, memory: '1Gi', ...p })) },
        },
        ...(price !== undefined ? { prices: { cpuCoreHour: price } } : {}),
      },
      status: {
        conditions: [{ type: 'Ready', status: ready ? 'True' : 'False' }],
        capacity: { ...zero, cpu: cores },
        allocated: { ...zero, cpu: allocated },
        nodeCount: nodes,
        nodesByArch: {
          amd64: pools.filter((p) => p.arch === 'amd64').reduce((n, p) => n + p.count, 0),
          arm64: pools.filter((p) => p.arch === 'arm64').reduce((n, p) => n + p.count, 0),
          riscv64: 0,
        },
      },
    };
  };
  const clouds = [cloud('a', 0.04), cloud('b')];
  const sites = [site('a-1', 'a', 'region'), site('a-2', 'a', 'edge'), site('b-1', 'b', 'region')];
  const clusters = [
    cluster('a-1-x', 'a', 'a-1', true, [{ arch: 'amd64', count: 10, cpu: 8 }], 40),
    cluster(
      'a-1-y',
      'a',
      'a-1',
      false,
      [
        { arch: 'amd64', count: 2, cpu: 16 },
        { arch: 'arm64', count: 4, cpu: 8 },
      ],
      16,
      0.02,
    ),
    cluster('a-2-x', 'a', 'a-2', false, [{ arch: 'arm64', count: 1, cpu: 4 }], 0),
    cluster('b-1-x', 'b', 'b-1', true, [{ arch: 'amd64', count: 5, cpu: 4 }], 10),
  ];
  const f = aggregateFleet(clouds, sites, clusters);

  it('totals the clusters', () => {
    assert.deepEqual(f.totals, {
      clouds: 2,
      sites: 3,
      clusters: 4,
      readyClusters: 2,
      nodes: 22,
      cores: 80 + 64 + 4 + 20,
      allocated: 66,
      gpus: 0,
    });
  });

  it('breaks down by cloud, site kind and architecture, each adding up to the totals', () => {
    for (const rows of [f.byCloud, f.bySiteKind, f.byArch]) {
      assert.equal(
        rows.reduce((n, r) => n + r.cores, 0),
        f.totals.cores,
      );
      assert.ok(Math.abs(rows.reduce((n, r) => n + r.allocated, 0) - f.totals.allocated) < 1e-9);
    }
    const a = f.byCloud.find((c) => c.key === 'a')!;
    assert.equal(a.readyClusters, 1);
    assert.equal(a.listPrice, 0.04);
    // Capacity-weighted: 84 cores at the cloud's 0.04, 64 at the cluster's own 0.02.
    assert.ok(Math.abs(a.averagePrice! - (84 * 0.04 + 64 * 0.02) / 148) < 1e-12);
    assert.equal(f.byCloud.find((c) => c.key === 'b')!.averagePrice, undefined);
    // The mixed cluster splits by pool cores: 32 amd64, 32 arm64.
    const arm = f.byArch.find((x) => x.key === 'arm64')!;
    assert.equal(arm.cores, 32 + 4);
    assert.equal(arm.nodes, 5);
    assert.deepEqual(
      f.bySiteKind.map((k) => [k.key, k.cores]),
      [
        ['region', 164],
        ['edge', 4],
      ],
    );
  });

  it('colours sites by the share of ready clusters', () => {
    const health = Object.fromEntries(f.sites.map((s) => [s.name, s.health]));
    assert.deepEqual(health, { 'a-1': 'degraded', 'a-2': 'down', 'b-1': 'healthy' });
  });
});

describe('field path to YAML line', () => {
  const bad = readFileSync(
    join(import.meta.dirname, '..', 'examples/invalid/bad-app.yaml'),
    'utf8',
  );
  const lineWith = (s: string) => bad.split('\n').findIndex((l) => l.includes(s)) + 1;
  const cases = [
    { field: '[0].spec.components[0].resources.cpu', line: lineWith('cpu: abc') },
    { field: '[0].spec.components[0].ports[0].port', line: lineWith('port: -1') },
    { field: '[0].spec.components[0].colour', line: lineWith('colour: blue') },
    // A missing field points at its parent: the component.
    { field: '[0].spec.components[0].replicas', line: lineWith('- name: web') },
    { field: '[1].kind', line: lineWith('Applicaton') },
    { field: '[7].kind', line: undefined },
  ];
  for (const c of cases) {
    it(`${c.field} -> line ${c.line}`, () => assert.equal(lineOfField(bad, c.field), c.line));
  }
  it('reads single-document paths too', () => {
    assert.deepEqual(parseFieldPath('spec.components[2].name'), {
      doc: 0,
      path: ['spec', 'components', 2, 'name'],
    });
  });
});
