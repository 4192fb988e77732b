// The native UDP fast path (src/traffic/native/udp-fastpath.c): an answer from
// a native thread's packet cache is the engine's answer with the query's ID,
// counted under the same key; `publish()` empties the caches; datagrams too
// short or too long to be queries are counted as malformed and not answered.
// Rotating answers are served from the native caches too, and every thread
// advances the host's one shared rotation counter, so any run of whole
// periods has exactly the weights, from one socket or many, and dig sees it.
import assert from 'node:assert/strict';
import { createSocket, type Socket } from 'node:dgram';
import { after, before, describe, test } from 'node:test';
import dnsPacket from 'dns-packet';
import type { Store } from '../src/store/types.ts';
import { storeFeedSource } from '../src/traffic/feed.ts';
import { TrafficManager } from '../src/traffic/manager.ts';
import {
  addClouds,
  dig,
  memoryStore,
  putApp,
  requireDig,
  udpThreadsSkip,
  until,
} from './traffic.helpers.ts';

const KEY = 'udp|failover|NOERROR';
const ROTATING_KEY = 'udp|weighted|NOERROR';
/** rot.example.com: weighted 3:1, so a period of 4 answers. */
const ROT = { host: 'rot.example.com', heavy: '127.0.7.1', light: '127.0.8.1', period: 4 };

function query(id: number, name = 'nat.example.com'): Buffer {
  return dnsPacket.encode({
    type: 'query',
    id,
    flags: dnsPacket.RECURSION_DESIRED,
    questions: [{ type: 'A', name }],
  });
}

function firstAddress(reply: Buffer): string {
  const a = dnsPacket.decode(reply).answers?.[0];
  return a?.type === 'A' ? a.data : '';
}

function tally(addresses: string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const a of addresses) out[a] = (out[a] ?? 0) + 1;
  return out;
}

/** One query from each of `n` fresh sockets at once: SO_REUSEPORT spreads them over the threads. */
async function fromManySockets(port: number, name: string, n: number): Promise<Buffer[]> {
  return Promise.all(
    Array.from({ length: n }, async (_, i) => {
      const sock = createSocket('udp4');
      try {
        await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
        const reply = new Promise<Buffer>((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error(`no answer to ${name}`)), 2000);
          sock.once('message', (m) => {
            clearTimeout(timer);
            resolve(m);
          });
        });
        sock.send(query(100 + i, name), port, '127.0.0.1');
        return await reply;
      } finally {
        sock.close();
      }
    }),
  );
}

describe('native UDP fast path', { skip: udpThreadsSkip('native') }, () => {
  let store: Store;
  let manager: TrafficManager;
  let client: Socket;
  const replies = new Map<number, Buffer>();

  before(async () => {
    store = memoryStore();
    await addClouds(store, [
      { cloud: 'aws', site: 'us-east', latitude: 38.9, longitude: -77 },
      // Sim members: health is the cluster's readiness, so no probe changes the table mid-test.
      { cloud: 'sa', site: 'sa-1', latitude: 0, longitude: 0, type: 'sim' },
      { cloud: 'sb', site: 'sb-1', latitude: 0, longitude: 0, type: 'sim' },
    ]);
    await putApp(
      store,
      'rot',
      {
        host: ROT.host,
        strategy: 'weighted',
        weights: [
          { cloud: 'sa', weight: 3 },
          { cloud: 'sb', weight: 1 },
        ],
      },
      [
        { cloud: 'sa', address: ROT.heavy, port: 80 },
        { cloud: 'sb', address: ROT.light, port: 80 },
      ],
    );
    await putApp(
      store,
      'nat',
      {
        host: 'nat.example.com',
        strategy: 'failover',
        failover: { order: [{ cloud: 'aws' }] },
        healthCheck: { tcp: {}, intervalSeconds: 60 },
      },
      [{ cloud: 'aws', address: '127.0.6.1', port: 80 }],
    );
    manager = new TrafficManager({
      source: storeFeedSource(store),
      dnsHost: '127.0.0.1',
      dnsPort: 0,
      dnsUdp: 'native',
      dnsWorkers: 2,
    });
    await manager.start();
    await until('routes', () => (manager.table.routes.size === 2 ? true : undefined));
    // One client socket: SO_REUSEPORT sends all its queries to the same thread.
    client = createSocket('udp4');
    await new Promise<void>((r) => client.bind(0, '127.0.0.1', () => r()));
    client.on('message', (m) => replies.set(m.readUInt16BE(0), m));
  });
  after(async () => {
    client?.close();
    await manager?.stop();
    await store?.close();
  });

  const ask = async (id: number, name?: string): Promise<Buffer> => {
    client.send(query(id, name), manager.dns.port, '127.0.0.1');
    return until(`reply ${id}`, () => replies.get(id));
  };
  const engineCount = () => manager.dns.engine.counts().get(KEY) ?? 0;
  const totalCount = () => manager.dns.counts.get(KEY) ?? 0;

  test('a cache hit is the miss answer with the query ID, counted under the same key', async () => {
    assert.equal(manager.dns.udpThreads, 'native');
    const engineBefore = engineCount();
    const totalBefore = totalCount();
    const first = await ask(1);
    const second = await ask(2);
    assert.equal(second.readUInt16BE(0), 2);
    assert.deepEqual(second.subarray(2), first.subarray(2));
    assert.deepEqual(
      dnsPacket.decode(second).answers?.map((a) => ('data' in a ? a.data : undefined)),
      ['127.0.6.1'],
    );
    // The engine (JavaScript) answered the first only; the native cache the second.
    assert.equal(engineCount() - engineBefore, 1);
    assert.equal(totalCount() - totalBefore, 2);
  });

  test('publish empties the caches: the next query is answered by the engine again', async () => {
    await ask(3);
    const engineBefore = engineCount();
    await ask(4);
    assert.equal(engineCount(), engineBefore, 'a hit');
    await manager.dns.publish();
    await ask(5);
    assert.equal(engineCount() - engineBefore, 1, 'a miss after publish');
  });

  test('runts and oversized datagrams are counted as malformed and never answered', async () => {
    const malformedBefore = manager.dns.malformed;
    const receivedBefore = manager.dns.received;
    const runt = Buffer.from([0, 9, 1, 0, 0]);
    const oversized = Buffer.concat([query(10), Buffer.alloc(5000)]);
    client.send(runt, manager.dns.port, '127.0.0.1');
    client.send(oversized, manager.dns.port, '127.0.0.1');
    // Same socket, same thread, in order: once 11 is answered the two were read.
    await ask(11);
    assert.equal(manager.dns.received - receivedBefore, 3);
    assert.equal(manager.dns.malformed - malformedBefore, 2);
    assert.equal(replies.has(9), false);
    assert.equal(replies.has(10), false);
  });
  test('a rotation is answered from the native cache and follows the weights exactly', async () => {
    const engineBefore = manager.dns.engine.counts().get(ROTATING_KEY) ?? 0;
    const totalBefore = manager.dns.counts.get(ROTATING_KEY) ?? 0;
    // From one socket (one thread): the first is a miss that installs the period, the rest hits.
    const seen: string[] = [];
    for (let i = 0; i < 3 * ROT.period; i++) seen.push(firstAddress(await ask(200 + i, ROT.host)));
    assert.equal((manager.dns.engine.counts().get(ROTATING_KEY) ?? 0) - engineBefore, 1);
    assert.equal((manager.dns.counts.get(ROTATING_KEY) ?? 0) - totalBefore, 3 * ROT.period);
    // Consecutive answers of one client: every window of a period has the weights.
    for (let start = 0; start + ROT.period <= seen.length; start++)
      assert.deepEqual(tally(seen.slice(start, start + ROT.period)), {
        [ROT.heavy]: 3,
        [ROT.light]: 1,
      });
    // From many sockets at once (every thread): one shared counter, so whole periods stay exact.
    const many = await fromManySockets(manager.dns.port, ROT.host, 4 * ROT.period);
    assert.deepEqual(tally(many.map(firstAddress)), { [ROT.heavy]: 12, [ROT.light]: 4 });
  });

  test('dig sees the rotation (each dig its own socket)', async (t) => {
    if (!(await requireDig(t))) return;
    const seen: string[] = [];
    for (let i = 0; i < 2 * ROT.period; i++)
      seen.push((await dig(manager.dns.port, ROT.host, 'A')).answers[0]?.data ?? '');
    assert.deepEqual(tally(seen), { [ROT.heavy]: 6, [ROT.light]: 2 });
  });
});
