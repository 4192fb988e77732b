// The CLI's request timeout against real sockets on loopback: a replica that
// takes the connection and never answers (or stalls mid-body) must not hold a
// command forever. A read moves on to the next --server; a write stops with a
// ServerTimeoutError that says it may have been carried out, and is never sent
// twice; a watch is a stream and outlives the timeout. The real CLI prints the
// advice and exits non-zero.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { YunjianClient } from '../src/cli/client.ts';
import { ServerTimeoutError } from '../src/cli/errors.ts';
import { lookupKind, type KindInfo } from '../src/model/kinds.ts';

const CLOUDS = lookupKind('clouds') as KindInfo;
const MAIN = join(import.meta.dirname, '../src/cli/main.ts');
const LIST = JSON.stringify({
  kind: 'CloudList',
  apiVersion: 'yunjian.io/v1alpha1',
  metadata: { resourceVersion: '7' },
  items: [],
});

type Handler = (req: IncomingMessage, res: ServerResponse) => void;
interface Replica {
  url: string;
  requests: string[];
  server: Server;
}

async function replica(handler: Handler): Promise<Replica> {
  const requests: string[] = [];
  const server = createServer((req, res) => {
    requests.push(`${req.method} ${req.url}`);
    handler(req, res);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, requests, server };
}

describe('request timeout', () => {
  let hung: Replica; // takes the request, never answers
  let stalling: Replica; // sends the headers and half a body, then nothing
  let good: Replica;
  let slowWatch: Replica; // a watch whose first event comes after the timeout
  const open: ServerResponse[] = [];
  before(async () => {
    hung = await replica((_req, res) => void open.push(res));
    stalling = await replica((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write(LIST.slice(0, 20));
      open.push(res);
    });
    good = await replica((req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(req.method === 'POST' ? JSON.stringify({ kind: 'ApplyResult', items: [] }) : LIST);
    });
    slowWatch = await replica((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/x-ndjson' });
      res.write('\n');
      const event = { type: 'BOOKMARK', object: { metadata: { resourceVersion: '8' } } };
      setTimeout(() => res.end(`${JSON.stringify(event)}\n`), 600);
    });
  });
  after(async () => {
    for (const res of open) res.destroy();
    for (const r of [hung, stalling, good, slowWatch]) {
      r.server.closeAllConnections();
      await new Promise((done) => r.server.close(done));
    }
  });

  const client = (servers: Replica[]) =>
    new YunjianClient({ server: servers.map((s) => s.url).join(','), requestTimeoutMs: 300 });

  it('a read moves on from a replica that never answers', async () => {
    const list = await client([hung, good]).list(CLOUDS);
    assert.equal(list.metadata.resourceVersion, '7');
    assert.equal(hung.requests.length, 1);
    assert.equal(good.requests.length, 1);
  });

  const failures: {
    name: string;
    servers: () => Replica[];
    call: (c: YunjianClient) => Promise<unknown>;
    message: RegExp;
  }[] = [
    {
      name: 'a read with no other replica',
      servers: () => [hung],
      call: (c) => c.list(CLOUDS),
      message: /^no complete answer from http:\/\/127\.0\.0\.1:\d+ within 0\.3 s$/,
    },
    {
      name: 'a body that stops arriving',
      servers: () => [stalling],
      call: (c) => c.list(CLOUDS),
      message: /within 0\.3 s$/,
    },
    {
      name: 'a write, which is never sent to a second replica',
      servers: () => [hung, good],
      call: (c) => c.apply('kind: Cloud\n', { dryRun: false }),
      message: /within 0\.3 s; it may still have carried out the request$/,
    },
  ];
  for (const f of failures)
    it(`times out: ${f.name}`, async () => {
      const goodBefore = good.requests.length;
      await assert.rejects(f.call(client(f.servers())), (err: unknown) => {
        assert.ok(err instanceof ServerTimeoutError, String(err));
        assert.match(err.message, f.message);
        return true;
      });
      assert.equal(good.requests.length, goodBefore, 'nothing went to the good replica');
    });

  it('a watch is not bounded by the request timeout', async () => {
    const events = [];
    for await (const e of client([slowWatch]).watch(CLOUDS, { resourceVersion: '7' }))
      events.push(e);
    assert.deepEqual(events, [
      { type: 'BOOKMARK', object: { metadata: { resourceVersion: '8' } } },
    ]);
  });

  it('the CLI gives up with advice and a non-zero exit; a bad value is a usage error', async () => {
    const home = mkdtempSync(join(tmpdir(), 'yj-timeout-'));
    const yj = (args: string[]) =>
      new Promise<{ code: number; stderr: string }>((resolve) => {
        execFile(
          process.execPath,
          [MAIN, '--server', hung.url, ...args],
          { env: { PATH: process.env['PATH'] ?? '', HOME: home } },
          (err, _stdout, stderr) =>
            resolve({ code: typeof err?.code === 'number' ? err.code : 0, stderr }),
        );
      });
    try {
      const timedOut = await yj(['--request-timeout', '1', 'get', 'clouds']);
      assert.notEqual(timedOut.code, 0);
      assert.match(timedOut.stderr, /no complete answer from .* within 1 s/);
      assert.match(timedOut.stderr, /Raise --request-timeout/);
      const bad = await yj(['--request-timeout', 'soon', 'get', 'clouds']);
      assert.notEqual(bad.code, 0);
      assert.match(bad.stderr, /--request-timeout.*expected a duration such as 30s, 5m or 1h/);
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
  });
});
