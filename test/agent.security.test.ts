// Who may join as which agent cluster, and where the control plane connects:
// join tokens bound to a name or prefix and single-use by default, a cluster
// that keeps its credential against every token but one made to replace it,
// agent addresses validated, and logs fetched only from the registered
// address. The hub runs on a real SQLite store; the API cases go through an
// in-process control plane and a real agent process.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createServer as createTcpServer, type AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { runAgent } from '../src/agent/agent.ts';
import type { HeartbeatRequest, HostInfo, JoinRequest } from '../src/agent/protocol.ts';
import { applyDocuments, parseDocuments } from '../src/admission/apply.ts';
import { testWorkload } from '../src/drivers/conformance.ts';
import { AgentHub } from '../src/drivers/agent/index.ts';
import { JOIN_REFUSED_REASON } from '../src/drivers/agent/hub.ts';
import { sha256Hex } from '../src/lib/hash.ts';
import { createJoinToken } from '../src/drivers/agent/tokens.ts';
import {
  AlreadyExistsError,
  ConflictError,
  ForbiddenError,
  UnauthorizedError,
  ValidationError,
} from '../src/model/errors.ts';
import type { AgentToken, Event, JoinTokenRequest } from '../src/model/schema.ts';
import { openSqliteStore } from '../src/store/index.ts';
import { inProcessServer } from './server.harness.ts';

const ROOT = resolve(import.meta.dirname, '..');
const FLEET = join(ROOT, 'test/fixtures/agent/fleet.yaml');
const API_TOKEN = 'agent-api-token-0123456789';

function host(address = '127.0.0.1', apiPort = 7090): HostInfo {
  return { hostname: 'h', address, apiPort, arch: 'amd64', cpu: 2, memory: 2 ** 31, pods: 10 };
}

function joinRequest(cluster: string, address?: string, apiPort?: number): JoinRequest {
  return { cluster, site: 'alpha-1', host: host(address, apiPort), heartbeatSeconds: 1 };
}

function heartbeatRequest(cluster: string, address?: string, apiPort?: number): HeartbeatRequest {
  return {
    cluster,
    host: host(address, apiPort),
    heartbeatSeconds: 1,
    apiToken: API_TOKEN,
    workloads: [],
  };
}

const bearer = (secret: string) => `Bearer ${secret}`;

async function freePort(address: string): Promise<number> {
  const server = createTcpServer();
  await new Promise<void>((ok) => server.listen({ host: address, port: 0 }, ok));
  const { port } = server.address() as AddressInfo;
  await new Promise((ok) => server.close(ok));
  return port;
}

describe('agent hub: join tokens and cluster identity', () => {
  const dir = mkdtempSync(join(tmpdir(), 'yunjian-agent-security-'));
  const store = openSqliteStore({ path: join(dir, 'hub.db') });
  const hub = new AgentHub({ store });
  after(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });
  before(async () => {
    await applyDocuments(
      store,
      parseDocuments(
        readFileSync(FLEET, 'utf8') +
          `---
apiVersion: yunjian.io/v1alpha1
kind: Application
metadata: { name: logs, namespace: default }
spec:
  components:
    - { name: web, image: example/web:1, replicas: 1, resources: { cpu: 100m, memory: 32Mi } }
`,
      ),
      {},
    );
  });

  const token = async (request: JoinTokenRequest) =>
    (await createJoinToken(store, { ...request, now: Date.now() })).token;

  /** A token as stored before tokens were bound: no cluster, prefix, expiry or use. */
  const legacyToken = async (id: string) => {
    const secret = `yjt_${id}.legacy-secret-${id}`;
    const doc: AgentToken = {
      apiVersion: 'yunjian.io/v1alpha1',
      kind: 'AgentToken',
      metadata: { name: `join-${id}`, labels: { 'yunjian.io/token-purpose': 'join' } },
      spec: { purpose: 'join', tokenHash: sha256Hex(secret) },
    };
    await store.create(doc);
    return secret;
  };

  const refusals = async (cluster: string): Promise<Event[]> =>
    (
      await store.list('Event', {
        labelSelector: `yunjian.io/reason=${JOIN_REFUSED_REASON},yunjian.io/involved-name=${cluster}`,
      })
    ).items as Event[];

  test('a join token cannot take over a cluster that has an agent (409, recorded)', async () => {
    const owner = await hub.join(
      bearer(await token({ cluster: 'east' })),
      joinRequest('east'),
      '127.0.0.1',
    );
    const credential = owner.credential ?? assert.fail('the first join gets a credential');
    await hub
      .driver('east')
      .applyWorkload(
        testWorkload({ key: { namespace: 'default', app: 'secret', component: 'db' } }),
      );
    const attackers: { name: string; token: () => Promise<string> }[] = [
      { name: 'a second token for the name', token: () => token({ cluster: 'east' }) },
      { name: 'a reusable token', token: () => token({ cluster: 'east', reusable: true }) },
      { name: 'a prefix token', token: () => token({ clusterPrefix: 'ea' }) },
      { name: 'a token made before binding', token: () => legacyToken('0000e457') },
    ];
    for (const a of attackers) {
      const secret = await a.token();
      await assert.rejects(
        hub.join(bearer(secret), joinRequest('east', '127.0.9.9'), '10.66.0.1'),
        (e: unknown) => e instanceof AlreadyExistsError && e.httpStatus === 409,
        a.name,
      );
      // The attacker holds no credential: its heartbeats get nothing.
      await assert.rejects(
        hub.heartbeat(bearer(secret), heartbeatRequest('east', '127.0.9.9')),
        UnauthorizedError,
      );
    }
    const real = await hub.heartbeat(bearer(credential), heartbeatRequest('east'));
    assert.deepEqual(
      real.workloads?.map((w) => w.name),
      ['east.default.secret.db'],
    );
    const cluster = await store.get({ kind: 'Cluster', name: 'east' });
    assert.equal(
      (cluster.spec as { driver: { agent: { address: string } } }).driver.agent.address,
      '127.0.0.1',
      'the refused joins did not re-register the cluster',
    );
    const events = await refusals('east');
    assert.equal(events.length, attackers.length, JSON.stringify(events));
    for (const e of events) {
      assert.equal(e.spec.type, 'Warning');
      assert.match(
        e.spec.message,
        /join token join-[0-9a-f]{8} from 10\.66\.0\.1 claimed cluster east/,
      );
    }
  });

  test('a token joins only the names it is bound to (403 otherwise)', async () => {
    const cases: { token: JoinTokenRequest; cluster: string; joins: boolean }[] = [
      { token: { cluster: 'bound-east' }, cluster: 'bound-east', joins: true },
      { token: { cluster: 'bound-east' }, cluster: 'bound-west', joins: false },
      { token: { clusterPrefix: 'edge-' }, cluster: 'edge-1', joins: true },
      { token: { clusterPrefix: 'edge-' }, cluster: 'core-1', joins: false },
      { token: { clusterPrefix: 'edge-' }, cluster: 'edge', joins: false },
    ];
    for (const c of cases) {
      const attempt = hub.join(bearer(await token(c.token)), joinRequest(c.cluster), '10.0.0.7');
      if (c.joins) assert.match((await attempt).credential ?? '', /^yja_/, c.cluster);
      else {
        await assert.rejects(attempt, ForbiddenError, JSON.stringify(c));
        assert.equal((await refusals(c.cluster)).length, 1, c.cluster);
      }
    }
  });

  test('a token made before binding may only create a cluster that does not exist', async () => {
    const joined = await hub.join(
      bearer(await legacyToken('0000abcd')),
      joinRequest('legacy-new'),
      '127.0.0.1',
    );
    assert.match(joined.credential ?? '', /^yja_/);
    // A cluster declared by an admin (no agent has joined it yet) is not up for grabs either.
    await applyDocuments(
      store,
      parseDocuments(`apiVersion: yunjian.io/v1alpha1
kind: Cluster
metadata: { name: declared }
spec: { cloud: alpha, site: alpha-1, driver: { type: agent } }
`),
      {},
    );
    await assert.rejects(
      hub.join(bearer(await legacyToken('0000beef')), joinRequest('declared'), '127.0.0.1'),
      AlreadyExistsError,
    );
    const bound = await hub.join(
      bearer(await token({ cluster: 'declared' })),
      joinRequest('declared'),
      '127.0.0.1',
    );
    assert.match(bound.credential ?? '', /^yja_/);
  });

  test('a single-use token works once (then 401); a reusable one until it expires', async () => {
    const once = await token({ clusterPrefix: 'once-' });
    await hub.join(bearer(once), joinRequest('once-1'), '10.1.2.3');
    await assert.rejects(
      hub.join(bearer(once), joinRequest('once-2'), '10.1.2.3'),
      (e: unknown) => e instanceof UnauthorizedError && /already used/.test(e.message),
    );
    const tokens = (await store.list('AgentToken')).items as AgentToken[];
    const used = tokens.find((t) => t.spec.consumed?.cluster === 'once-1');
    assert.deepEqual(
      { cluster: used?.spec.consumed?.cluster, from: used?.spec.consumed?.from },
      { cluster: 'once-1', from: '10.1.2.3' },
    );

    const many = await token({ clusterPrefix: 'many-', reusable: true });
    for (const cluster of ['many-1', 'many-2'])
      assert.match(
        (await hub.join(bearer(many), joinRequest(cluster), '::1')).credential ?? '',
        /^yja_/,
      );
  });

  test('of concurrent joins with one single-use token exactly one succeeds', async () => {
    const once = await token({ clusterPrefix: 'burst-' });
    const results = await Promise.allSettled(
      Array.from({ length: 8 }, (_, i) =>
        hub.join(bearer(once), joinRequest(`burst-${i}`), '127.0.0.1'),
      ),
    );
    assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1);
    for (const r of results)
      if (r.status === 'rejected')
        assert.ok(r.reason instanceof UnauthorizedError, String(r.reason));
  });

  test('of concurrent first joins of one name exactly one gets a credential', async () => {
    // Declared first, so the joins race on the credential and not on creating the Cluster.
    await applyDocuments(
      store,
      parseDocuments(`apiVersion: yunjian.io/v1alpha1
kind: Cluster
metadata: { name: contested }
spec: { cloud: alpha, site: alpha-1, driver: { type: agent } }
`),
      {},
    );
    const secrets = await Promise.all(
      Array.from({ length: 6 }, () => token({ cluster: 'contested' })),
    );
    const results = await Promise.allSettled(
      secrets.map((s) => hub.join(bearer(s), joinRequest('contested'), '127.0.0.1')),
    );
    const winners = results.filter((r) => r.status === 'fulfilled');
    assert.equal(winners.length, 1);
    for (const r of results)
      if (r.status === 'rejected')
        assert.ok(r.reason instanceof AlreadyExistsError, String(r.reason));
    const credential = winners[0]?.value.credential ?? '';
    assert.ok((await hub.heartbeat(bearer(credential), heartbeatRequest('contested'))).revision);
  });

  test('a token made with replace moves the cluster to a new host; the old credential stops', async () => {
    const first = await hub.join(
      bearer(await token({ cluster: 'moved' })),
      joinRequest('moved'),
      '127.0.0.1',
    );
    const replace = await token({ cluster: 'moved', replace: true });
    const second = await hub.join(bearer(replace), joinRequest('moved', '127.0.0.2'), '127.0.0.2');
    assert.notEqual(second.credential, first.credential);
    await assert.rejects(
      hub.heartbeat(bearer(first.credential ?? ''), heartbeatRequest('moved')),
      UnauthorizedError,
    );
    assert.ok(
      (await hub.heartbeat(bearer(second.credential ?? ''), heartbeatRequest('moved', '127.0.0.2')))
        .revision,
    );
    await assert.rejects(
      hub.join(bearer(replace), joinRequest('moved', '127.0.0.3'), '127.0.0.3'),
      UnauthorizedError,
      'a replace token is single-use',
    );
  });

  test('agent addresses are one host: checked at join and heartbeat (field host.address)', async () => {
    const reusable = await token({ clusterPrefix: 'addr-', reusable: true });
    const { credential } = await hub.join(bearer(reusable), joinRequest('addr-ok'), '127.0.0.1');
    const cases: { address: string; valid: boolean }[] = [
      { address: '10.0.0.5', valid: true },
      { address: '::1', valid: true },
      { address: 'node-1.example.com', valid: true },
      { address: 'localhost', valid: true },
      { address: '169.254.169.254', valid: false },
      { address: '0.0.0.0', valid: false },
      { address: '224.0.0.1', valid: false },
      { address: 'fe80::1', valid: false },
      { address: '::', valid: false },
      { address: '::ffff:169.254.169.254', valid: false },
      { address: '[::1]', valid: false },
      { address: '127.0.0.1:80', valid: false },
      { address: 'evil.example.com/x?', valid: false },
      { address: 'user@evil.example.com', valid: false },
      { address: '2130706433', valid: false },
      { address: '0x7f.1', valid: false },
      { address: 'a b', valid: false },
    ];
    for (const [i, c] of cases.entries()) {
      const isAddressError = (e: unknown) =>
        e instanceof ValidationError && e.causes.some((x) => x.field === 'host.address');
      const joined = hub.join(bearer(reusable), joinRequest(`addr-${i}`, c.address), '127.0.0.1');
      if (c.valid) await joined;
      else {
        await assert.rejects(joined, isAddressError, c.address);
        await assert.rejects(
          hub.heartbeat(bearer(credential ?? ''), heartbeatRequest('addr-ok', c.address)),
          isAddressError,
          c.address,
        );
      }
    }
  });

  test('logs are fetched only from the registered address, without following redirects', async (t) => {
    const listen = (server: Server, address: string, port: number) =>
      new Promise<number>((ok, fail) => {
        server.once('error', fail);
        server.listen({ host: address, port }, () => ok((server.address() as AddressInfo).port));
      });
    let redirect = false;
    const seen: { url: string; authorization: string }[] = [];
    const agentApi = createServer((req, res) => {
      seen.push({ url: req.url ?? '', authorization: req.headers.authorization ?? '' });
      if (redirect) {
        res.writeHead(302, { location: `http://127.0.5.2:${port}/logs` }).end();
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end(
        JSON.stringify({
          items: [{ workload: 'logs-a.default.logs.web', replica: 'r0', lines: ['hello'] }],
        }),
      );
    });
    let elsewhere = 0;
    const target = createServer((_req, res) => {
      elsewhere++;
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"items":[]}');
    });
    const port = await listen(agentApi, '127.0.5.1', 0);
    await listen(target, '127.0.5.2', port);
    t.after(() => {
      agentApi.close();
      target.close();
    });

    const { credential } = await hub.join(
      bearer(await token({ cluster: 'logs-a' })),
      joinRequest('logs-a', '127.0.5.1', port),
      '127.0.5.1',
    );
    await hub
      .driver('logs-a')
      .applyWorkload(
        testWorkload({ key: { namespace: 'default', app: 'logs', component: 'web' } }),
      );
    await hub.heartbeat(bearer(credential ?? ''), heartbeatRequest('logs-a', '127.0.5.1', port));
    await assert.rejects(
      hub.heartbeat(bearer(credential ?? ''), heartbeatRequest('logs-a', '127.0.5.2', port)),
      ConflictError,
      'a heartbeat may not move the address the control plane connects to',
    );

    const logs = await hub.logs({ namespace: 'default', app: 'logs', tail: 5 });
    assert.deepEqual(logs.errors, []);
    assert.deepEqual(
      logs.items.map((i) => [i.cluster, i.replica, i.lines]),
      [['logs-a', 'r0', ['hello']]],
    );
    assert.equal(seen[0]?.authorization, `Bearer ${API_TOKEN}`);
    assert.match(seen[0]?.url ?? '', /^\/logs\?workload=logs-a\.default\.logs\.web&tail=5$/);

    redirect = true;
    const redirected = await hub.logs({ namespace: 'default', app: 'logs', tail: 5 });
    assert.deepEqual(redirected.items, []);
    assert.deepEqual(
      redirected.errors.map((e) => e.cluster),
      ['logs-a'],
    );
    assert.equal(elsewhere, 0, 'nothing reached any other address');

    // Joining again with the credential is how an agent moves.
    await hub.join(bearer(credential ?? ''), joinRequest('logs-a', '127.0.5.2', port), '127.0.5.2');
    redirect = false;
    await hub.heartbeat(bearer(credential ?? ''), heartbeatRequest('logs-a', '127.0.5.2', port));
    await hub.logs({ namespace: 'default', app: 'logs', tail: 5 });
    assert.equal(elsewhere, 1, 'after the re-join the registered address is the new one');
  });
});

describe('agent tokens and joins through the HTTP API', () => {
  const cp = inProcessServer('agent-security', { fleet: FLEET });

  const post = async (path: string, body: unknown, authorization: string) => {
    const res = await fetch(`${cp.url}/api/v1alpha1/agent${path}`, {
      method: 'POST',
      headers: { authorization, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    return {
      status: res.status,
      body: (await res.json()) as {
        token?: string;
        name?: string;
        expires?: string;
        credential?: string;
        reason?: string;
        details?: { causes?: { field: string; message: string }[] };
      },
    };
  };
  const createToken = (body: unknown) => post('/tokens', body, cp.headers.authorization ?? '');

  test('token requests are validated: binding and ttlSeconds (1 s .. 365 days)', async () => {
    const cases: { body: unknown; field?: string }[] = [
      { body: { cluster: 'east', ttlSeconds: 3600 } },
      { body: { clusterPrefix: 'edge-', reusable: true } },
      { body: { cluster: 'east', replace: true } },
      { body: { cluster: 'east', ttlSeconds: 1e300 }, field: 'ttlSeconds' },
      { body: { cluster: 'east', ttlSeconds: 365 * 86_400 + 1 }, field: 'ttlSeconds' },
      { body: { cluster: 'east', ttlSeconds: 0 }, field: 'ttlSeconds' },
      { body: { cluster: 'east', ttlSeconds: -5 }, field: 'ttlSeconds' },
      { body: { cluster: 'east', ttlSeconds: 1.5 }, field: 'ttlSeconds' },
      { body: { cluster: 'east', ttlSeconds: '1h' }, field: 'ttlSeconds' },
      { body: {}, field: 'cluster' },
      { body: { cluster: 'East' }, field: 'cluster' },
      { body: { cluster: 'east', clusterPrefix: 'e' }, field: 'clusterPrefix' },
      { body: { clusterPrefix: '-x' }, field: 'clusterPrefix' },
      { body: { clusterPrefix: 'edge-', replace: true }, field: 'replace' },
      { body: { cluster: 'east', replace: true, reusable: true }, field: 'reusable' },
    ];
    for (const c of cases) {
      const { status, body } = await createToken(c.body);
      if (c.field === undefined) {
        assert.equal(status, 201, JSON.stringify({ c, body }));
        assert.match(body.token ?? '', /^yjt_[0-9a-f]{8}\./);
        assert.ok(Date.parse(body.expires ?? '') > Date.now(), 'every token expires');
      } else {
        assert.equal(status, 422, JSON.stringify({ c, body }));
        assert.equal(body.reason, 'Invalid');
        assert.ok(
          body.details?.causes?.some((x) => x.field === c.field),
          JSON.stringify({ c, body }),
        );
      }
    }
    const day = await createToken({ cluster: 'east' });
    const ttl = (Date.parse(day.body.expires ?? '') - Date.now()) / 1000;
    assert.ok(ttl > 86_000 && ttl <= 86_400, `default ttl ${ttl} s`);
  });

  test('a hijack with a valid token gets 409 and a Warning event; the owner keeps heartbeating', async () => {
    const admin = cp.headers.authorization ?? '';
    const owner = (await createToken({ cluster: 'west' })).body.token ?? '';
    const joined = await post('/join', joinRequest('west', '127.0.8.1'), bearer(owner));
    assert.equal(joined.status, 200);
    const credential = joined.body.credential ?? '';
    const attacker = (await createToken({ cluster: 'west' })).body;
    const hijack = await post(
      '/join',
      joinRequest('west', '127.0.8.66'),
      bearer(attacker.token ?? ''),
    );
    assert.equal(hijack.status, 409, JSON.stringify(hijack.body));
    assert.equal(hijack.body.reason, 'AlreadyExists');
    assert.equal(hijack.body.credential, undefined);
    const replay = await post('/join', joinRequest('west', '127.0.8.1'), bearer(owner));
    assert.equal(replay.status, 401, 'the owner token was used up');
    const beat = await post(
      '/heartbeat',
      heartbeatRequest('west', '127.0.8.1'),
      bearer(credential),
    );
    assert.equal(beat.status, 200);

    const events = (await (
      await fetch(`${cp.url}/api/v1alpha1/events`, { headers: { authorization: admin } })
    ).json()) as { items: Event[] };
    const refused = events.items.filter(
      (e) => e.spec.reason === JOIN_REFUSED_REASON && e.spec.involvedObject.name === 'west',
    );
    assert.equal(refused.length, 1, JSON.stringify(events.items.map((e) => e.spec)));
    assert.equal(refused[0]?.spec.type, 'Warning');
    assert.match(
      refused[0]?.spec.message ?? '',
      new RegExp(`join token ${attacker.name ?? '?'} from 127\\.0\\.0\\.1 claimed cluster west`),
    );
  });

  test('an agent keeps its credential (0600) and rejoins with it; its token cannot be replayed', async (t) => {
    const dataDir = mkdtempSync(join(tmpdir(), 'yunjian-agent-keeper-'));
    t.after(() => rmSync(dataDir, { recursive: true, force: true }));
    const joinToken = (await createToken({ cluster: 'keeper' })).body.token ?? '';
    const apiPort = await freePort('127.0.7.1');
    const start = () =>
      runAgent({
        server: cp.url,
        token: joinToken,
        cluster: 'keeper',
        site: 'alpha-1',
        address: '127.0.7.1',
        apiPort,
        cpu: 1,
        memory: 2 ** 30,
        pods: 5,
        arch: 'amd64',
        dataDir,
        heartbeatSeconds: 0.2,
        log: () => undefined,
      });
    const first = await start();
    await first.synced;
    await first.close();
    assert.equal(statSync(join(dataDir, 'credential.json')).mode & 0o777, 0o600);

    const restarted = await start();
    await restarted.synced;
    await restarted.close();

    const replay = await post('/join', joinRequest('keeper', '127.0.7.2'), bearer(joinToken));
    assert.equal(replay.status, 401, JSON.stringify(replay.body));
  });
});
