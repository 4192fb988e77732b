// API hardening (issue 13): watch streams end with their client and with the
// server, names and namespaces in the path are checked, parser abuse and
// oversized applies are 400 and change nothing, a multi-document apply is all
// or nothing, every 5xx is logged under the id its response carries, idle
// connections are closed, and the database files are the owner's alone.
import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Registry } from 'prom-client';
import { TokenAuthenticator } from '../src/api/auth.ts';
import { MAX_APPLY_DOCUMENTS, MAX_DOCUMENT_DEPTH } from '../src/admission/apply.ts';
import { createApiServer, type ApiTimeouts } from '../src/api/server.ts';
import { openSqliteStore } from '../src/store/index.ts';
import type { Store } from '../src/store/types.ts';
import { inProcessServer } from './server.harness.ts';

const TOKEN = 'hardening-token-0123456789abcdef';
const API = '/api/v1alpha1';

const cloud = (name: string, extra: Record<string, unknown> = {}) => ({
  apiVersion: 'yunjian.io/v1alpha1',
  kind: 'Cloud',
  metadata: { name, ...extra },
  spec: { vendor: 'aws', type: 'public' },
});
const app = (name: string, namespace?: string) => ({
  apiVersion: 'yunjian.io/v1alpha1',
  kind: 'Application',
  metadata: { name, ...(namespace !== undefined ? { namespace } : {}) },
  spec: { components: [{ name: 'web', image: 'r/web:1', replicas: 1 }] },
});

interface Answer {
  status: number;
  body: Record<string, any>;
}

async function call(
  base: string,
  token: string,
  method: string,
  path: string,
  body?: unknown,
  contentType = 'application/json',
): Promise<Answer> {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      ...(body !== undefined ? { 'content-type': contentType } : {}),
    },
    ...(body !== undefined ? { body: typeof body === 'string' ? body : JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  let parsed: Record<string, any>;
  try {
    parsed = JSON.parse(text) as Record<string, any>;
  } catch {
    parsed = { text };
  }
  return { status: res.status, body: parsed };
}

/** Polls `condition` every 20 ms until it holds; fails after `ms`. */
async function eventually(condition: () => boolean | Promise<boolean>, ms: number, what: string) {
  const deadline = Date.now() + ms;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`not within ${ms} ms: ${what}`);
    await sleep(20);
  }
}

/** Resolves with `promise`, or fails once `ms` have passed. */
async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`not within ${ms} ms: ${what}`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

// ---- a bare API server: watches, timeouts, 5xx logging --------------------------

interface BareApi {
  base: string;
  store: Store;
  logs: string[];
  /** The server side of every connection, in accept order. */
  connections: Socket[];
  openWatches(): Promise<number>;
  close(): Promise<void>;
}

async function startBareApi(timeouts: Partial<ApiTimeouts> = {}): Promise<BareApi> {
  const store = openSqliteStore({ path: ':memory:' });
  const auth = new TokenAuthenticator();
  auth.addToken(TOKEN, { name: 'admin' });
  const registry = new Registry();
  const logs: string[] = [];
  const server = createApiServer({
    store,
    auth,
    registry,
    version: 'test',
    watchBookmarkSeconds: 3600,
    timeouts,
    log: (line) => logs.push(line),
    plugins: [
      {
        name: 'fault',
        publicPaths: ['/broken'],
        register(a) {
          a.get('/broken', () => {
            throw new TypeError('a bug that escaped every check');
          });
        },
      },
    ],
  });
  const connections: Socket[] = [];
  server.server.on('connection', (socket: Socket) => connections.push(socket));
  await server.listen({ port: 0, host: '127.0.0.1' });
  const base = `http://127.0.0.1:${(server.server.address() as AddressInfo).port}`;
  return {
    base,
    store,
    logs,
    connections,
    async openWatches() {
      const metric = await registry.getSingleMetric('yunjian_api_watches')?.get();
      return metric?.values[0]?.value ?? NaN;
    },
    async close() {
      await server.close();
      await store.close();
    },
  };
}

/**
 * A watch over a raw socket that reads nothing after the response headers,
 * so once enough is written the server's writes wait for a drain that never comes.
 */
async function stalledWatch(base: string, path: string): Promise<Socket> {
  const { port } = new URL(base);
  const socket = connect({ host: '127.0.0.1', port: Number(port) });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve).once('error', reject);
  });
  socket.write(`GET ${path} HTTP/1.1\r\nhost: 127.0.0.1\r\nauthorization: Bearer ${TOKEN}\r\n\r\n`);
  await new Promise<void>((resolve, reject) => {
    socket.once('data', () => resolve()).once('error', reject);
  });
  socket.pause();
  return socket;
}

/** One large Cloud written straight to the store (under the API's validation limits is not the point). */
const bulky = (name: string, kib: number) => ({
  ...cloud(name),
  spec: { vendor: 'aws', type: 'public', padding: 'x'.repeat(kib * 1024) },
});

/** Writes large objects until every server-side watch socket holds unsent bytes. */
async function fillUntilStalled(api: BareApi, sockets: Socket[]): Promise<void> {
  const serverSides = () => api.connections.slice(-sockets.length);
  for (let i = 0; i < 400; i++) {
    if (serverSides().every((s) => s.writableLength > 0)) return;
    await api.store.create(bulky(`bulk-${i}`, 256));
    await sleep(5);
  }
  assert.fail('the watch streams never backed up after 100 MiB of events');
}

void describe('watch streams end with their client and with the server', () => {
  void it('clients that disconnect while a write waits for drain: the gauge returns to 0', async () => {
    const api = await startBareApi();
    try {
      const sockets = [];
      for (let i = 0; i < 4; i++)
        sockets.push(await stalledWatch(api.base, `${API}/clouds?watch=true`));
      assert.equal(await api.openWatches(), 4);
      await fillUntilStalled(api, sockets);
      for (const s of sockets) s.destroy();
      await eventually(async () => (await api.openWatches()) === 0, 10_000, 'the gauge is 0');
      // Still serving, and a new watch is counted again.
      const again = await stalledWatch(api.base, `${API}/clouds?watch=true`);
      await eventually(async () => (await api.openWatches()) === 1, 10_000, 'a new watch counts');
      again.destroy();
      await eventually(async () => (await api.openWatches()) === 0, 10_000, 'the gauge is 0');
    } finally {
      await api.close();
    }
  });

  void it('server close ends open watches, stalled and idle, promptly', async () => {
    const api = await startBareApi();
    let closed = false;
    const sockets: Socket[] = [];
    try {
      sockets.push(await stalledWatch(api.base, `${API}/clouds?watch=true`));
      await fillUntilStalled(api, sockets);
      sockets.push(
        await stalledWatch(api.base, `${API}/namespaces/default/applications?watch=true`),
      );
      assert.equal(await api.openWatches(), 2);
      await within(api.close(), 10_000, 'the server closes with two watches open');
      closed = true;
      assert.equal(await api.openWatches(), 0);
    } finally {
      for (const s of sockets) s.destroy();
      if (!closed) await api.close();
    }
  });
});

void describe('connections and errors', () => {
  void it('an idle connection that sends nothing is closed after the idle timeout', async () => {
    const api = await startBareApi({ idle: 1, keepAlive: 0.5, headers: 1, request: 1 });
    try {
      const { port } = new URL(api.base);
      const socket = connect({ host: '127.0.0.1', port: Number(port) });
      socket.on('error', () => undefined);
      const ended = new Promise<void>((resolve) => socket.once('close', () => resolve()));
      await within(ended, 10_000, 'the server closes an idle connection');
    } finally {
      await api.close();
    }
  });

  void it('a 500 is logged with the error id its response carries', async () => {
    const api = await startBareApi();
    try {
      const r = await call(api.base, TOKEN, 'GET', '/broken');
      assert.equal(r.status, 500);
      assert.equal(r.body['reason'], 'InternalError');
      const id = /error id ([0-9a-f]+)/.exec(String(r.body['message']))?.[1];
      assert.ok(id, `the message names an error id: ${r.body['message']}`);
      assert.doesNotMatch(String(r.body['message']), /escaped/, 'the detail stays in the log');
      const line = api.logs.find((l) => l.includes(id));
      assert.ok(line, `a log line carries ${id}: ${JSON.stringify(api.logs)}`);
      assert.match(line, /GET \/broken/);
      assert.match(line, /a bug that escaped every check/);
    } finally {
      await api.close();
    }
  });

  void it('rejects timeouts that cannot work', () => {
    for (const timeouts of [{ idle: 0 }, { headers: 30, request: 10 }])
      assert.throws(
        () =>
          createApiServer({
            store: openSqliteStore({ path: ':memory:' }),
            auth: new TokenAuthenticator(),
            version: 'test',
            timeouts,
          }),
        RangeError,
      );
  });
});

// ---- the whole control plane: paths, parsers, applies, files ----------------

void describe('the control plane', () => {
  const cp = inProcessServer('hardening', { fleet: 'none' });
  const req = (method: string, path: string, body?: unknown, contentType?: string) =>
    call(cp.url, cp.token, method, path, body, contentType);
  const absent = async (path: string) => assert.equal((await req('GET', path)).status, 404, path);

  void it('namespaces in the path are DNS labels: ../.., UPPER and dotted ones are 400 and store nothing', async () => {
    for (const ns of ['..%2F..', 'UPPER', 'a.b', 'a..b', '-x', 'x'.repeat(64)]) {
      const path = `${API}/namespaces/${ns}/applications`;
      const created = await req('POST', path, app('shop'));
      assert.equal(created.status, 400, `${ns}: ${JSON.stringify(created.body)}`);
      assert.equal(created.body['reason'], 'BadRequest');
      assert.equal(created.body['details']?.causes?.[0]?.field, 'namespace', ns);
      assert.match(created.body['message'], /DNS label/);
      assert.equal((await req('GET', path)).status, 400, `${ns}: list`);
    }
    const all = await req('GET', `${API}/applications`);
    assert.deepEqual(all.body['items'], []);
    // The same rule for a namespace given in the document.
    const inDoc = await req('POST', `${API}/apply`, app('shop', 'UPPER'));
    assert.equal(inDoc.status, 422);
    assert.equal(inDoc.body['details']?.causes?.[0]?.field, 'metadata.namespace');
  });

  void it('a 200-character name is created and fetched; a name over every limit is 400, not 414', async () => {
    const long = `n${'a'.repeat(198)}z`;
    assert.equal((await req('POST', `${API}/clouds`, cloud(long))).status, 201);
    const got = await req('GET', `${API}/clouds/${long}`);
    assert.equal(got.status, 200);
    assert.equal(got.body['metadata']?.name, long);
    const tooLongForTheSchema = 'a'.repeat(254);
    const refused = await req('POST', `${API}/clouds`, cloud(tooLongForTheSchema));
    assert.equal(refused.status, 422);
    assert.equal(refused.body['details']?.causes?.[0]?.field, 'metadata.name');
    const overTheRouter = await req('GET', `${API}/clouds/${'a'.repeat(2000)}`);
    assert.equal(overTheRouter.status, 400);
    assert.equal(overTheRouter.body['reason'], 'BadRequest');
    const badName = await req('GET', `${API}/clouds/Bad_Name`);
    assert.equal(badName.status, 400);
    assert.equal(badName.body['details']?.causes?.[0]?.field, 'name');
  });

  void it('parser abuse is 400 BadRequest and stores nothing', async () => {
    const bomb = [
      'apiVersion: yunjian.io/v1alpha1',
      'kind: Cloud',
      'metadata: {name: bomb}',
      'spec:',
      '  a: &a ["x","x","x","x","x","x","x","x","x"]',
      '  b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]',
      '  c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]',
      '  d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]',
      '  e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]',
      '  f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]',
      '  g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]',
    ].join('\n');
    /** A Cloud whose spec nests `n` objects, as JSON text (too deep for JSON.stringify). */
    const deep = (n: number) =>
      JSON.stringify(cloud('deep')).replace(
        /"spec":\{[^}]*\}/,
        `"spec":${'{"x":'.repeat(n)}1${'}'.repeat(n)}`,
      );
    const cases: [string, string, unknown, string, RegExp][] = [
      ['an alias bomb', `${API}/apply`, bomb, 'application/yaml', /alias/],
      ['10k-deep JSON (apply)', `${API}/apply`, deep(10_000), 'application/json', /nested/],
      ['10k-deep JSON (create)', `${API}/clouds`, deep(10_000), 'application/json', /nested/],
      [
        '10k-deep YAML',
        `${API}/apply`,
        `${'['.repeat(10_000)}${']'.repeat(10_000)}`,
        'application/yaml',
        /nested|YAML/,
      ],
      [
        'one level too deep',
        `${API}/apply`,
        deep(MAX_DOCUMENT_DEPTH),
        'application/json',
        /at most 64 levels/,
      ],
    ];
    for (const [what, path, body, type, message] of cases) {
      const r = await req('POST', path, body, type);
      assert.equal(r.status, 400, `${what}: ${JSON.stringify(r.body).slice(0, 300)}`);
      assert.equal(r.body['reason'], 'BadRequest', what);
      assert.match(r.body['message'], message, what);
    }
    await absent(`${API}/clouds/bomb`);
    await absent(`${API}/clouds/deep`);
  });

  void it('a key twice in one YAML map is 400 naming its path, for apply and create', async () => {
    const twice = [
      'apiVersion: yunjian.io/v1alpha1',
      'kind: Cloud',
      'metadata:',
      '  name: twice',
      '  labels: {tier: a, zone: b, tier: c}',
      'spec: {vendor: aws, type: public}',
    ].join('\n');
    for (const path of [`${API}/apply`, `${API}/clouds`]) {
      const r = await req('POST', path, twice, 'application/yaml');
      assert.equal(r.status, 400, `${path}: ${JSON.stringify(r.body)}`);
      assert.equal(r.body['reason'], 'BadRequest');
      assert.match(r.body['message'], /line 5, column \d+\): duplicate key metadata\.labels\.tier/);
      assert.equal(r.body['details']?.causes?.[0]?.field, 'metadata.labels.tier');
    }
    await absent(`${API}/clouds/twice`);
  });

  // Issue 13: the yaml package's duplicate-key check compared every key with
  // every other; one such body held the event loop for minutes.
  void it(
    'a YAML map of 100,000 keys is answered, and /healthz meanwhile',
    { timeout: 60_000 },
    async () => {
      const keys = Array.from({ length: 100_000 }, (_, i) => `  k${i}: v`);
      for (const [what, extra, status] of [
        ['distinct keys', [], 422],
        ['the last one twice', ['  k0: again'], 400],
      ] as const) {
        const body = [
          'apiVersion: yunjian.io/v1alpha1',
          'kind: Cloud',
          'metadata:',
          ...keys,
          ...extra,
        ]
          .concat(['spec: {vendor: aws, type: public}'])
          .join('\n');
        const [applied, health] = await Promise.all([
          req('POST', `${API}/apply`, body, 'application/yaml'),
          req('GET', '/healthz'),
        ]);
        assert.equal(
          applied.status,
          status,
          `${what}: ${JSON.stringify(applied.body).slice(0, 300)}`,
        );
        assert.equal(health.status, 200, what);
      }
    },
  );

  void it('a body over the limit is 413 RequestEntityTooLarge', async () => {
    const r = await req('POST', `${API}/apply`, 'x'.repeat(17 * 1024 * 1024), 'application/yaml');
    assert.equal(r.status, 413);
    assert.equal(r.body['reason'], 'RequestEntityTooLarge');
    assert.match(r.body['message'], /at most 16777216 bytes/);
  });

  void it(`an apply of more than ${MAX_APPLY_DOCUMENTS} documents is 400 and stores nothing`, async () => {
    const docs = Array.from({ length: MAX_APPLY_DOCUMENTS + 1 }, (_, i) => cloud(`many-${i}`));
    const yaml = docs.map((d) => JSON.stringify(d)).join('\n---\n');
    for (const [body, type] of [
      [docs, 'application/json'],
      [yaml, 'application/yaml'],
    ] as const) {
      const r = await req('POST', `${API}/apply`, body, type);
      assert.equal(r.status, 400, type);
      assert.match(r.body['message'], new RegExp(`at most ${MAX_APPLY_DOCUMENTS}`), type);
    }
    await absent(`${API}/clouds/many-0`);
    const exactly = await req('POST', `${API}/apply`, docs.slice(0, MAX_APPLY_DOCUMENTS));
    assert.equal(exactly.status, 200);
    assert.equal(exactly.body['items'].length, MAX_APPLY_DOCUMENTS);
  });

  void it('an apply whose last document fails at write time (stale resourceVersion) stores none of it', async () => {
    const existing = await req('POST', `${API}/clouds`, cloud('held'));
    assert.equal(existing.status, 201);
    const stale = Number(existing.body['metadata'].resourceVersion) - 1;
    const r = await req('POST', `${API}/apply`, [
      cloud('batch-1'),
      cloud('batch-2'),
      {
        ...cloud('held', { resourceVersion: String(stale) }),
        spec: { vendor: 'gcp', type: 'public' },
      },
    ]);
    assert.equal(r.status, 409, JSON.stringify(r.body));
    assert.equal(r.body['reason'], 'Conflict');
    await absent(`${API}/clouds/batch-1`);
    await absent(`${API}/clouds/batch-2`);
    assert.equal((await req('GET', `${API}/clouds/held`)).body['spec'].vendor, 'aws');
    // The same documents with a current resourceVersion go in together.
    const ok = await req('POST', `${API}/apply`, [
      cloud('batch-1'),
      cloud('batch-2'),
      {
        ...cloud('held', { resourceVersion: existing.body['metadata'].resourceVersion }),
        spec: { vendor: 'gcp', type: 'public' },
      },
    ]);
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
    assert.deepEqual(
      ok.body['items'].map((i: { action: string }) => i.action),
      ['created', 'created', 'configured'],
    );
  });

  void it('the database, its -wal and -shm are 0600 and the data directory 0700', () => {
    const mode = (path: string) => (statSync(path).mode & 0o777).toString(8);
    assert.equal(mode(cp.dataDir), '700');
    for (const file of ['yunjian.db', 'yunjian.db-wal', 'yunjian.db-shm'])
      assert.equal(mode(join(cp.dataDir, file)), '600', file);
  });
});
