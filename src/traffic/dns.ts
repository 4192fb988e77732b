// The DNS server's transport: UDP and TCP on one port, a packet cache, and the
// limits that keep hostile input harmless. Answers come from `Authority`.
//
// Malformed input: anything that does not decode gets FORMERR when its header
// is readable and it is a query, and is dropped otherwise (responses, runts);
// nothing thrown by the codec escapes a handler. TCP connections are bounded in
// number, idle time and message size, so a slow or garbage-sending client
// cannot hold the server.
//
// Packet cache: a query's bytes after the ID (flags, question, EDNS options
// including the client subnet) fully determine a stable answer, so those bytes
// key a cache of encoded UDP responses; a hit only patches the ID. Answers that
// rotate (roundRobin, weighted) or depend on the sender's address (geo without
// ECS) are never cached. `invalidate()` empties it whenever routes or health
// change, so a cached answer is never staler than the table.
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { createServer, type Server, type Socket as TcpSocket } from 'node:net';
import dnsPacket from 'dns-packet';
import type { DecodedPacket, Packet } from 'dns-packet';
import { type Authority, MAX_UDP_PAYLOAD, RCODE } from './answer.ts';

const HEADER = 12;
const CACHE_LIMIT = 10_000;
const TCP_IDLE_MS = 10_000;
const TCP_MAX_CONNECTIONS = 256;

export interface DnsServerOptions {
  authority: Authority;
  host: string;
  /** 0 picks a free port (UDP and TCP get the same one). */
  port: number;
}

/** Queries answered, by transport, strategy ('-' for none) and rcode name. */
export type DnsCounts = Map<string, number>;

const RCODE_NAME = Object.fromEntries(Object.entries(RCODE).map(([k, v]) => [v, k]));

interface CacheEntry {
  response: Buffer;
  countKey: string;
}

export class DnsServer {
  readonly counts: DnsCounts = new Map();
  /** Packets that did not decode (answered FORMERR or dropped). */
  malformed = 0;
  /** UDP datagrams and TCP frames received. */
  received = 0;
  readonly #o: DnsServerOptions;
  #udp: Socket | undefined;
  #tcp: Server | undefined;
  readonly #conns = new Set<TcpSocket>();
  #cache = new Map<string, CacheEntry>();

  constructor(o: DnsServerOptions) {
    this.#o = o;
  }

  get port(): number {
    return this.#udp?.address().port ?? 0;
  }

  invalidate(): void {
    if (this.#cache.size > 0) this.#cache = new Map();
  }

  async listen(): Promise<void> {
    const { host } = this.#o;
    const type = host.includes(':') ? 'udp6' : 'udp4';
    for (let attempt = 0; ; attempt++) {
      const udp = createSocket({ type });
      await new Promise<void>((resolve, reject) => {
        udp.once('error', reject);
        udp.bind({ port: this.#o.port, address: host }, () => {
          udp.off('error', reject);
          resolve();
        });
      });
      const tcp = createServer({ pauseOnConnect: false }, (s) => this.#onTcp(s));
      tcp.maxConnections = TCP_MAX_CONNECTIONS;
      try {
        await new Promise<void>((resolve, reject) => {
          tcp.once('error', reject);
          tcp.listen({ port: udp.address().port, host }, () => {
            tcp.off('error', reject);
            resolve();
          });
        });
      } catch (err) {
        udp.close();
        // With a random port, TCP may be taken where UDP was free: try another.
        if (this.#o.port === 0 && attempt < 5) continue;
        throw err;
      }
      udp.on('message', (msg, rinfo) => this.#onUdp(udp, msg, rinfo));
      udp.on('error', () => undefined);
      this.#udp = udp;
      this.#tcp = tcp;
      return;
    }
  }

  async close(): Promise<void> {
    const udp = this.#udp;
    const tcp = this.#tcp;
    this.#udp = undefined;
    this.#tcp = undefined;
    for (const c of this.#conns) c.destroy();
    await Promise.all([
      udp ? new Promise<void>((r) => udp.close(() => r())) : undefined,
      tcp ? new Promise<void>((r) => tcp.close(() => r())) : undefined,
    ]);
  }

  #count(key: string): void {
    this.counts.set(key, (this.counts.get(key) ?? 0) + 1);
  }

  #onUdp(udp: Socket, msg: Buffer, rinfo: RemoteInfo): void {
    this.received++;
    if (msg.length < HEADER) {
      this.malformed++;
      return;
    }
    const key = msg.toString('latin1', 2);
    const hit = this.#cache.get(key);
    if (hit !== undefined) {
      const out = Buffer.from(hit.response);
      out[0] = msg[0] ?? 0;
      out[1] = msg[1] ?? 0;
      this.#count(hit.countKey);
      udp.send(out, rinfo.port, rinfo.address);
      return;
    }
    const res = this.#respond(msg, rinfo.address, 'udp');
    if (res === undefined) return;
    if (res.cacheable && msg.length <= 512) {
      if (this.#cache.size >= CACHE_LIMIT) this.#cache = new Map();
      this.#cache.set(key, { response: res.bytes, countKey: res.countKey });
    }
    udp.send(res.bytes, rinfo.port, rinfo.address);
  }

  #onTcp(sock: TcpSocket): void {
    this.#conns.add(sock);
    sock.setTimeout(TCP_IDLE_MS, () => sock.destroy());
    sock.on('close', () => this.#conns.delete(sock));
    sock.on('error', () => undefined);
    let pending: Buffer = Buffer.alloc(0);
    sock.on('data', (chunk: Buffer) => {
      pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
      while (pending.length >= 2) {
        const len = pending.readUInt16BE(0);
        if (pending.length < 2 + len) break;
        const msg = pending.subarray(2, 2 + len);
        pending = pending.subarray(2 + len);
        this.received++;
        if (len < HEADER) {
          this.malformed++;
          sock.destroy();
          return;
        }
        const res = this.#respond(msg, sock.remoteAddress ?? '', 'tcp');
        if (res === undefined) continue;
        const frame = Buffer.alloc(2 + res.bytes.length);
        frame.writeUInt16BE(res.bytes.length, 0);
        res.bytes.copy(frame, 2);
        sock.write(frame);
      }
    });
  }

  /** Never throws: a query that breaks the codec is answered FORMERR (or dropped). */
  #respond(
    msg: Buffer,
    address: string,
    transport: 'udp' | 'tcp',
  ): { bytes: Buffer; cacheable: boolean; countKey: string } | undefined {
    let query: DecodedPacket;
    try {
      // Cheap header checks first: the codec trusts section counts (it sizes
      // arrays by them and reads past the end as NaN), so absurd counts would
      // cost milliseconds each. A query has one question, no answer or
      // authority records, and at most OPT and a TSIG in the additional section.
      const counts = msg.readUInt32BE(4);
      if (counts !== 0x00010000 || msg.readUInt16BE(8) !== 0 || msg.readUInt16BE(10) > 2)
        throw new Error('bad section counts');
      query = dnsPacket.decode(msg);
      if (query.type !== 'query' || dnsPacket.decode.bytes > msg.length)
        throw new Error('not a well-formed query');
    } catch {
      this.malformed++;
      const flags = msg.readUInt16BE(2);
      if ((flags & 0x8000) !== 0) return undefined;
      const bytes = Buffer.alloc(HEADER);
      msg.copy(bytes, 0, 0, 2);
      // QR, the query's opcode and RD, FORMERR; no sections.
      bytes.writeUInt16BE(0x8000 | (flags & 0x7900) | RCODE.FORMERR, 2);
      const countKey = `${transport}|-|FORMERR`;
      this.#count(countKey);
      return { bytes, cacheable: false, countKey };
    }
    try {
      const result = this.#o.authority.answer(query, { address, transport });
      let bytes = dnsPacket.encode(result.packet);
      if (transport === 'udp') {
        const opt = query.additionals?.find((a) => a.type === 'OPT');
        const limit =
          opt?.type === 'OPT'
            ? Math.max(512, Math.min(opt.udpPayloadSize || 512, MAX_UDP_PAYLOAD))
            : 512;
        if (bytes.length > limit) bytes = dnsPacket.encode(truncated(result.packet));
      }
      const rcode = (result.packet.flags ?? 0) & 0xf;
      const countKey = `${transport}|${result.strategy ?? '-'}|${RCODE_NAME[rcode] ?? rcode}`;
      this.#count(countKey);
      return { bytes, cacheable: transport === 'udp' && result.stable, countKey };
    } catch {
      const bytes = Buffer.alloc(HEADER);
      msg.copy(bytes, 0, 0, 4);
      bytes.writeUInt16BE(0x8000 | (msg.readUInt16BE(2) & 0x7900) | RCODE.SERVFAIL, 2);
      const countKey = `${transport}|-|SERVFAIL`;
      this.#count(countKey);
      return { bytes, cacheable: false, countKey };
    }
  }
}

/** The answer with TC set and only the question and OPT: the client retries over TCP. */
function truncated(p: Packet): Packet {
  return {
    ...p,
    flags: (p.flags ?? 0) | dnsPacket.TRUNCATED_RESPONSE,
    answers: [],
    authorities: [],
  };
}
