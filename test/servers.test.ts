// Several control-plane addresses: when a request may move to another replica
// (table), the server list's order, the CLI's config accepting a list, and the
// CLI client against real sockets (a refused port, a replica answering 503,
// one that answers) moving only where the request is safe to send again.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { YunjianClient } from '../src/cli/client.ts';
import { normalizeServerUrl } from '../src/cli/config.ts';
import { ServerUnreachableError, UsageError } from '../src/cli/errors.ts';
import { allocatePort } from '../src/lib/net.ts';
import { ServerList, mayTryAnother, splitServers } from '../src/lib/servers.ts';
import { lookupKind } from '../src/model/kinds.ts';

const fetchFailed = (code: string) =>
  new TypeError('fetch failed', { cause: Object.assign(new Error(code), { code }) });

describe('when a failed request may go to another replica', () => {
  const cases: { name: string; err: unknown; idempotent: boolean; moves: boolean }[] = [
    { name: 'refused, a write', err: fetchFailed('ECONNREFUSED'), idempotent: false, moves: true },
    {
      name: 'no such host, a write',
      err: fetchFailed('ENOTFOUND'),
      idempotent: false,
      moves: true,
    },
    {
      name: 'connect timeout, a write',
      err: fetchFailed('UND_ERR_CONNECT_TIMEOUT'),
      idempotent: false,
      moves: true,
    },
    { name: 'reset, a read', err: fetchFailed('ECONNRESET'), idempotent: true, moves: true },
    {
      name: 'reset, a write (may have landed)',
      err: fetchFailed('ECONNRESET'),
      idempotent: false,
      moves: false,
    },
    {
      name: 'socket closed, a write',
      err: fetchFailed('UND_ERR_SOCKET'),
      idempotent: false,
      moves: false,
    },
    {
      name: 'our own timeout, a read',
      err: new DOMException('timed out', 'TimeoutError'),
      idempotent: true,
      moves: true,
    },
    {
      name: 'our own timeout, a write',
      err: new DOMException('timed out', 'TimeoutError'),
      idempotent: false,
      moves: false,
    },
    { name: 'an error with no code', err: new Error('boom'), idempotent: true, moves: false },
  ];
  for (const c of cases)
    it(`${c.moves ? 'moves' : 'stays'}: ${c.name}`, () => {
      assert.equal(mayTryAnother(c.err, c.idempotent), c.moves);
    });

  it('tries each replica once, from the current one, and stays on the one that answered', async () => {
    const list = new ServerList(['a', 'b', 'c']);
    const tried: string[] = [];
    const answer = await list.run(
      async (s) => {
        tried.push(s);
        if (s !== 'c') throw new Error(`down ${s}`);
        return s;
      },
      () => true,
    );
    assert.equal(answer, 'c');
    assert.deepEqual(tried, ['a', 'b', 'c']);
    assert.equal(list.current, 'c');
    tried.length = 0;
    await assert.rejects(
      list.run(
        async (s) => {
          tried.push(s);
          throw new Error(`down ${s}`);
        },
        () => true,
      ),
      /down b/,
    );
    assert.deepEqual(tried, ['c', 'a', 'b']);
  });

  it('does not move when the failure may not', async () => {
    const list = new ServerList(['a', 'b']);
    let calls = 0;
    await assert.rejects(
      list.run(
        async () => {
          calls++;
          throw new Error('no');
        },
        () => false,
      ),
    );
    assert.equal(calls, 1);
  });

  it('splits and normalizes a list in the CLI config, naming a bad entry', () => {
    assert.deepEqual(splitServers(' http://a:1, ,http://b:2 '), ['http://a:1', 'http://b:2']);
    assert.equal(
      normalizeServerUrl('http://a:1/,https://b:2//', '--server flag'),
      'http://a:1,https://b:2',
    );
    assert.throws(
      () => normalizeServerUrl('http://a:1,ftp://b', '--server flag'),
      (err: Error) => err instanceof UsageError && /"ftp:\/\/b".*--server flag/.test(err.message),
    );
    assert.throws(() => normalizeServerUrl(' , ', 'YUNJIAN_SERVER'), UsageError);
  });
});

describe('the CLI client with several control planes', () => {
  const CLUSTER = lookupKind('clusters')!;
  const seen: Record<string, string[]> = { busy: [], ok: [] };
  const servers: Server[] = [];
  let refused = '';
  let busy = '';
  let ok = '';
  const start = async (name: 'busy' | 'ok', status: number) => {
    const server = createServer((req, res) => {
      seen[name]!.push(`${req.method} ${req.url}`);
      res.statusCode = status;
      res.setHeader('content-type', 'application/json');
      res.end(
        status === 200
          ? JSON.stringify({
              kind: 'ClusterList',
              apiVersion: 'v',
              metadata: { resourceVersion: '1' },
              items: [],
              served: name,
            })
          : JSON.stringify({
              kind: 'Status',
              code: status,
              reason: 'Unavailable',
              message: 'store unavailable: etcd has no quorum',
            }),
      );
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    servers.push(server);
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  };
  before(async () => {
    refused = `http://127.0.0.1:${await allocatePort()}`; // nothing listens there
    busy = await start('busy', 503);
    ok = await start('ok', 200);
  });
  after(() => {
    for (const s of servers) s.close();
  });

  it('moves past a refused replica and a reading replica answering 503, then stays', async () => {
    const client = new YunjianClient({ server: `${refused},${busy},${ok}`, token: 't' });
    const list = (await client.list(CLUSTER)) as unknown as { served: string };
    assert.equal(list.served, 'ok');
    assert.equal(client.server, ok);
    assert.equal(seen['busy']!.length, 1);
    await client.list(CLUSTER);
    assert.equal(
      seen['busy']!.length,
      1,
      'the next request went straight to the replica that answered',
    );
  });

  it('sends a write past a refused replica but not past one that answered 503', async () => {
    seen['busy'] = [];
    seen['ok'] = [];
    const client = new YunjianClient({ server: `${refused},${busy},${ok}`, token: 't' });
    await assert.rejects(client.call('POST', '/api/v1alpha1/chaos', {}), (err: Error) => {
      assert.match(err.message, /etcd has no quorum/);
      return true;
    });
    assert.deepEqual(seen['busy'], ['POST /api/v1alpha1/chaos']);
    assert.deepEqual(seen['ok'], []);
  });

  it('names every replica when none can be reached', async () => {
    const other = `http://127.0.0.1:${await allocatePort()}`;
    const client = new YunjianClient({ server: `${refused},${other}`, token: 't' });
    await assert.rejects(client.list(CLUSTER), (err: Error) => {
      assert.ok(err instanceof ServerUnreachableError);
      assert.match(err.message, new RegExp(`${refused}, ${other}`));
      return true;
    });
  });
});
