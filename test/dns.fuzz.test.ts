// Hostile input: 100,000+ malformed packets over UDP (random, truncated valid
// queries, compression-pointer loops, oversized, absurd section counts) and a
// stream of garbage frames over TCP. The server must stay up, must not hang,
// and must still answer a valid query afterwards. Bounded in count and time.
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { connect } from 'node:net';
import { test } from 'node:test';
import dnsPacket from 'dns-packet';
import { storeFeedSource } from '../src/traffic/feed.ts';
import { UDP_THREADS } from '../src/traffic/dns-native.ts';
import { TrafficManager } from '../src/traffic/manager.ts';
import { addClouds, memoryStore, putApp, udpThreadsSkip, until } from './traffic.helpers.ts';

const PACKETS = 100_000;
const TIME_BUDGET_MS = 60_000;

/** Deterministic PRNG (mulberry32) so a failure replays. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const valid = dnsPacket.encode({
  type: 'query',
  id: 7,
  flags: dnsPacket.RECURSION_DESIRED,
  questions: [{ type: 'A', name: 'fz.example.com' }],
  additionals: [
    {
      type: 'OPT',
      name: '.',
      udpPayloadSize: 4096,
      extendedRcode: 0,
      ednsVersion: 0,
      flags: 0,
      flag_do: false,
      options: [
        { code: 8, family: 1, sourcePrefixLength: 24, scopePrefixLength: 0, ip: '198.51.100.0' },
      ],
    },
  ],
});

function malformed(i: number, rand: () => number): Buffer {
  const kind = i % 6;
  const byte = () => Math.floor(rand() * 256);
  switch (kind) {
    case 0: // random bytes, random length
      return Buffer.from(Array.from({ length: Math.floor(rand() * 300) }, byte));
    case 1: // a valid query cut short
      return valid.subarray(0, Math.floor(rand() * valid.length));
    case 2: {
      // compression pointer loop: the question name points at itself / forward
      const b = Buffer.from(valid.subarray(0, 12));
      b.writeUInt16BE(1, 4);
      const ptr = Buffer.from([0xc0, rand() < 0.5 ? 12 : 14, 0, 1, 0, 1, 0xc0, 12]);
      return Buffer.concat([b, ptr]);
    }
    case 3: {
      // oversized: 2-8 KB of labels, now and then close to 64 KB
      const size = i % 60 === 3 ? 60_000 : 2000 + Math.floor(rand() * 6000);
      const b = Buffer.alloc(size, 63);
      valid.copy(b, 0, 0, 12);
      return b;
    }
    case 4: {
      // absurd section counts on a valid query
      const b = Buffer.from(valid);
      for (let o = 4; o < 12; o += 2) b.writeUInt16BE(Math.floor(rand() * 65536), o);
      return b;
    }
    default: {
      // a valid query with random bytes flipped
      const b = Buffer.from(valid);
      for (let k = 0; k < 1 + Math.floor(rand() * 6); k++)
        b[Math.floor(rand() * b.length)] = byte();
      return b;
    }
  }
}

for (const udp of UDP_THREADS)
  test(
    `100,000 malformed packets never crash or hang the DNS server (UDP on ${udp} threads)`,
    { skip: udpThreadsSkip(udp) },
    async (t) => {
      const store = memoryStore();
      await addClouds(store, [{ cloud: 'aws', site: 'us-east', latitude: 38.9, longitude: -77 }]);
      await putApp(
        store,
        'fz',
        {
          host: 'fz.example.com',
          strategy: 'failover',
          failover: { order: [{ cloud: 'aws' }] },
          healthCheck: { tcp: {}, intervalSeconds: 60 },
        },
        [{ cloud: 'aws', address: '127.0.5.1', port: 80 }],
      );
      const manager = new TrafficManager({
        source: storeFeedSource(store),
        dnsHost: '127.0.0.1',
        dnsPort: 0,
        dnsUdp: udp,
      });
      await manager.start();
      t.after(async () => {
        await manager.stop();
        await store.close();
      });
      const port = manager.dns.port;
      await until('route', () => (manager.table.routes.size === 1 ? true : undefined));

      const sock = createSocket('udp4');
      await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
      t.after(() => sock.close());
      const replies: Buffer[] = [];
      sock.on('message', (m) => {
        if (m.readUInt16BE(0) === 0xbeef) replies.push(m);
      });
      const rand = rng(42);
      const started = Date.now();
      let sent = 0;
      // Bursts, each waiting until the server has read most of the previous one, so
      // the packets reach the parser instead of overflowing the socket buffer.
      // Counted by what reached the parser, not what was sent: the kernel drops
      // datagrams when the socket buffer is full, and native threads drop misses
      // when the main thread is behind; neither reaches the parser.
      const parsed = () => manager.dns.received - manager.dns.dropped;
      const base = parsed();
      while (parsed() - base < PACKETS && Date.now() - started < TIME_BUDGET_MS) {
        const before = parsed();
        let burst = 0;
        for (; burst < 200; burst++, sent++) sock.send(malformed(sent, rand), port, '127.0.0.1');
        const waitUntil = Date.now() + 20;
        while (parsed() - before < burst / 2 && Date.now() < waitUntil)
          await new Promise((r) => setImmediate(r));
      }
      const read = parsed() - base;
      assert.ok(
        read >= PACKETS,
        `the server parsed ${read} of ${sent} malformed packets in the time budget`,
      );

      // TCP: garbage frames, a frame claiming 65535 bytes then silence, a runt.
      for (let c = 0; c < 50; c++) {
        const s = connect(port, '127.0.0.1');
        s.on('error', () => undefined);
        await new Promise<void>((r) => s.once('connect', () => r()));
        const pkt = malformed(c, rand);
        const frame = Buffer.alloc(2 + pkt.length);
        frame.writeUInt16BE(pkt.length & 0xffff, 0);
        pkt.copy(frame, 2);
        s.write(c % 5 === 0 ? Buffer.from([0xff, 0xff, 1, 2, 3]) : frame);
        s.destroy();
      }

      // Still alive over UDP ...
      const probe = Buffer.from(valid);
      probe.writeUInt16BE(0xbeef, 0);
      await until('a valid UDP answer', () => {
        sock.send(probe, port, '127.0.0.1');
        return replies.length > 0 ? true : undefined;
      });
      const answer = dnsPacket.decode(replies[0] ?? Buffer.alloc(0));
      assert.equal((answer.flags ?? -1) & 0xf, 0, 'NOERROR');
      assert.deepEqual(
        answer.answers?.map((a) => ('data' in a ? a.data : undefined)),
        ['127.0.5.1'],
      );
      // ... and over TCP.
      const tcpAnswer = await new Promise<Buffer>((resolve, reject) => {
        const s = connect(port, '127.0.0.1', () => {
          const frame = Buffer.alloc(2 + valid.length);
          frame.writeUInt16BE(valid.length, 0);
          valid.copy(frame, 2);
          s.write(frame);
        });
        let buf = Buffer.alloc(0);
        s.on('data', (d: Buffer) => {
          buf = Buffer.concat([buf, d]);
          if (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
            s.destroy();
            resolve(buf.subarray(2));
          }
        });
        s.on('error', reject);
      });
      assert.equal((dnsPacket.decode(tcpAnswer).flags ?? -1) & 0xf, 0, 'NOERROR over TCP');
      assert.ok(manager.dns.malformed > 50_000, `counted ${manager.dns.malformed} malformed`);
    },
  );
