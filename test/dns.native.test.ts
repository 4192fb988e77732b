// The native UDP fast path (src/traffic/native/udp-fastpath.c): an answer from
// a native thread's packet cache is the engine's answer with the query's ID,
// counted under the same key; `publish()` empties the caches; datagrams too
// short or too long to be queries are counted as malformed and not answered.
import assert from 'node:assert/strict';
import { createSocket, type Socket } from 'node:dgram';
import { after, before, describe, test } from 'node:test';
import dnsPacket from 'dns-packet';
import type { Store } from '../src/store/types.ts';
import { storeFeedSource } from '../src/traffic/feed.ts';
import { TrafficManager } from '../src/traffic/manager.ts';
import { addClouds, memoryStore, putApp, udpThreadsSkip, until } from './traffic.helpers.ts';

const KEY = 'udp|failover|NOERROR';

function query(id: number): Buffer {
  return dnsPacket.encode({
    type: 'query',
    id,
    flags: dnsPacket.RECURSION_DESIRED,
    questions: [{ type: 'A', name: 'nat.example.com' }],
  });
}

describe('native UDP fast path', { skip: udpThreadsSkip('native') }, () => {
  let store: Store;
  let manager: TrafficManager;
  let client: Socket;
  const replies = new Map<number, Buffer>();

  before(async () => {
    store = memoryStore();
    await addClouds(store, [{ cloud: 'aws', site: 'us-east', latitude: 38.9, longitude: -77 }]);
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
    await until('route', () => (manager.table.routes.size === 1 ? true : undefined));
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

  const ask = async (id: number): Promise<Buffer> => {
    client.send(query(id), manager.dns.port, '127.0.0.1');
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
});
