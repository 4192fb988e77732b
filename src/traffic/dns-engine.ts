// The DNS engine: one thread's answering of a query's bytes (decode, answer
// from `Authority`, encode, truncate over UDP) and its packet cache; the
// server (dns.ts) runs one per thread.
//
// Packet cache: a query's bytes after the ID (flags, question, EDNS options
// including the client subnet) fully determine a stable answer, so those bytes
// key a cache of encoded UDP responses; a hit only patches the ID. An answer
// that rotates (roundRobin, weighted) is a function of the host's rotation
// counter modulo the rotation's period, so its entry holds the whole period:
// the distinct encoded answers and which one each position gives; a hit
// advances the same shared counter a miss would and sends the answer at its
// position, so cached and uncached answers continue one sequence per host
// across every thread. Answers that depend on the sender's address (geo
// without ECS) are never cached. The cache is emptied whenever routes or
// health change, so a cached answer is never staler than the table.
import { createSocket, type Socket } from 'node:dgram';
import dnsPacket from 'dns-packet';
import type { DecodedPacket, Packet } from 'dns-packet';
import { type AnswerResult, type Authority, MAX_UDP_PAYLOAD, RCODE } from './answer.ts';
import type { TrafficRoute } from './routes.ts';
import { rotationAt } from './strategies.ts';

const HEADER = 12;
/** Queries up to this size have their answers cached (the native cache's key limit too). */
const CACHEABLE_QUERY = 512;
const CACHE_LIMIT = 10_000;
/** Bytes of distinct answers a cached rotation may hold; a bigger rotation is answered uncached. */
const ROTATION_BYTES = 256 * 1024;

export type DnsCounts = Map<string, number>;

const RCODE_NAME = Object.fromEntries(Object.entries(RCODE).map(([k, v]) => [v, k]));

export interface EncodedAnswer {
  bytes: Buffer;
  /** UDP only: every sender of the same bytes after the ID gets these bytes (with its ID). */
  cacheable: boolean;
  countKey: string;
  /** UDP only: every answer these query bytes get, by rotation position (`bytes` is one). */
  rotation?: EncodedRotation;
}

/** A rotation's whole period, encoded: position n answers `responses[sequence[n % sequence.length]]`. */
export interface EncodedRotation {
  /** Whose rotation counter drives it. */
  host: string;
  /** The distinct answers, in the order positions first give them. */
  responses: Buffer[];
  sequence: Uint16Array;
}

interface CacheEntry {
  /** A stable answer; absent for a rotation. */
  response?: Buffer;
  rotation?: EncodedRotation;
  countKey: string;
  /** Answers sent from this entry since it was cached (folded into counts when dropped). */
  hits: number;
}

/** What a worker needs to answer exactly as the main thread's authority does. */
export interface AnswerState {
  version: number;
  /** Absent when the table is the one the worker already holds. */
  routes?: TrafficRoute[];
  zones?: string[];
  serial: number;
  /** `${host}|${endpoint.key}` of every endpoint the authority considers unhealthy. */
  down: string[];
}

/** Worker-to-main messages. */
export type WorkerMessage =
  | { type: 'ready' }
  | { type: 'applied'; version: number }
  | { type: 'stats'; counts: [string, number][]; received: number; malformed: number };

/**
 * Packet handling without sockets: decode, answer, encode, cache and count.
 * One per thread that reads packets.
 */
export class DnsEngine {
  /** Packets that did not decode (answered FORMERR or dropped). */
  malformed = 0;
  /** UDP datagrams and TCP frames received. */
  received = 0;
  readonly authority: Authority;
  readonly #counts: DnsCounts = new Map();
  #cache = new Map<string, CacheEntry>();

  constructor(authority: Authority) {
    this.authority = authority;
  }

  counts(): DnsCounts {
    const out = new Map(this.#counts);
    for (const e of this.#cache.values())
      if (e.hits > 0) out.set(e.countKey, (out.get(e.countKey) ?? 0) + e.hits);
    return out;
  }

  invalidate(): void {
    if (this.#cache.size === 0) return;
    for (const e of this.#cache.values()) if (e.hits > 0) this.#count(e.countKey, e.hits);
    this.#cache = new Map();
  }

  #count(key: string, n = 1): void {
    this.#counts.set(key, (this.#counts.get(key) ?? 0) + n);
  }

  /** The reply datagram, or undefined to drop. The hot path: a cache hit allocates one key and one copy. */
  udp(msg: Buffer, address: string): Buffer | undefined {
    this.received++;
    if (msg.length < HEADER) {
      this.malformed++;
      return undefined;
    }
    const key = msg.toString('latin1', 2);
    const hit = this.#cache.get(key);
    if (hit !== undefined) {
      const rot = hit.rotation;
      const response =
        hit.response ??
        (rot &&
          rot.responses[
            rot.sequence[this.authority.state.next(rot.host) % rot.sequence.length] ?? 0
          ]);
      if (response === undefined) return undefined;
      const out = Buffer.allocUnsafe(response.length);
      response.copy(out, 2, 2);
      out[0] = msg[0] ?? 0;
      out[1] = msg[1] ?? 0;
      hit.hits++;
      return out;
    }
    const res = this.answerUdp(msg, address);
    if (res === undefined) return undefined;
    if (res.cacheable || res.rotation !== undefined) {
      if (this.#cache.size >= CACHE_LIMIT) this.invalidate();
      this.#cache.set(
        key,
        res.rotation !== undefined
          ? { rotation: res.rotation, countKey: res.countKey, hits: 0 }
          : { response: res.bytes, countKey: res.countKey, hits: 0 },
      );
    }
    return res.bytes;
  }

  /**
   * The answer to a UDP query of at least a header's length, counted but
   * neither cached nor counted as received (the caller's cache does both).
   * `cacheable` and `rotation` only for queries small enough to key a cache entry.
   */
  answerUdp(msg: Buffer, address: string): EncodedAnswer | undefined {
    const res = this.#respond(msg, address, 'udp', msg.length <= CACHEABLE_QUERY);
    if (res === undefined) return undefined;
    this.#count(res.countKey);
    return msg.length <= CACHEABLE_QUERY ? res : { ...res, cacheable: false };
  }

  /** The reply message (unframed), or undefined to drop; a runt closes the connection (null). */
  tcp(msg: Buffer, address: string): Buffer | undefined | null {
    this.received++;
    if (msg.length < HEADER) {
      this.malformed++;
      return null;
    }
    const res = this.#respond(msg, address, 'tcp', false);
    if (res === undefined) return undefined;
    this.#count(res.countKey);
    return res.bytes;
  }

  /**
   * Never throws: a query that breaks the codec is answered FORMERR (or dropped).
   * `withRotation`: encode a rotating answer's whole period too.
   */
  #respond(
    msg: Buffer,
    address: string,
    transport: 'udp' | 'tcp',
    withRotation: boolean,
  ): EncodedAnswer | undefined {
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
      return { bytes, cacheable: false, countKey: `${transport}|-|FORMERR` };
    }
    try {
      const ctx = { address, transport };
      const result = this.authority.answer(query, ctx);
      const bytes = encodeFor(query, result, transport);
      const rcode = (result.packet.flags ?? 0) & 0xf;
      const countKey = `${transport}|${result.strategy ?? '-'}|${RCODE_NAME[rcode] ?? rcode}`;
      const rotation =
        withRotation && result.rotation !== undefined
          ? this.#rotation(query, ctx, result.rotation)
          : undefined;
      return {
        bytes,
        cacheable: transport === 'udp' && result.stable,
        countKey,
        ...(rotation !== undefined ? { rotation } : {}),
      };
    } catch {
      const bytes = Buffer.alloc(HEADER);
      msg.copy(bytes, 0, 0, 4);
      bytes.writeUInt16BE(0x8000 | (msg.readUInt16BE(2) & 0x7900) | RCODE.SERVFAIL, 2);
      return { bytes, cacheable: false, countKey: `${transport}|-|SERVFAIL` };
    }
  }

  /**
   * The query's answers at every position of its rotation (the live answer's
   * counter already moved; these use fixed positions and move nothing), or
   * undefined when the distinct answers would exceed ROTATION_BYTES.
   */
  #rotation(
    query: DecodedPacket,
    ctx: { address: string; transport: 'udp' | 'tcp' },
    rotation: { host: string; period: number },
  ): EncodedRotation | undefined {
    const responses: Buffer[] = [];
    const sequence = new Uint16Array(rotation.period);
    // Positions that select the same endpoints give the same bytes: encode each once.
    const byEndpoints = new Map<string, number>();
    let bytes = 0;
    for (let n = 0; n < rotation.period; n++) {
      const result = this.authority.answer(query, ctx, rotationAt(n));
      const chosen = (result.selection?.endpoints ?? []).map((e) => e.address).join(',');
      let index = byEndpoints.get(chosen);
      if (index === undefined) {
        const response = encodeFor(query, result, 'udp');
        bytes += response.length;
        if (bytes > ROTATION_BYTES || responses.length > 0xffff) return undefined;
        index = responses.length;
        responses.push(response);
        byEndpoints.set(chosen, index);
      }
      sequence[n] = index;
    }
    return { host: rotation.host, responses, sequence };
  }
}

/** A UDP socket on `port` with SO_REUSEPORT, answering through `engine`. */
export async function bindUdp(host: string, port: number, engine: DnsEngine): Promise<Socket> {
  const udp = createSocket({ type: host.includes(':') ? 'udp6' : 'udp4', reusePort: true });
  await new Promise<void>((resolve, reject) => {
    udp.once('error', reject);
    udp.bind({ port, address: host }, () => {
      udp.off('error', reject);
      resolve();
    });
  });
  udp.on('message', (msg, rinfo) => {
    const out = engine.udp(msg, rinfo.address);
    if (out !== undefined) udp.send(out, rinfo.port, rinfo.address);
  });
  udp.on('error', () => undefined);
  return udp;
}

/** The encoded answer; over UDP truncated (TC) when bigger than the client accepts. */
function encodeFor(query: DecodedPacket, result: AnswerResult, transport: 'udp' | 'tcp'): Buffer {
  const bytes = dnsPacket.encode(result.packet);
  if (transport === 'tcp') return bytes;
  const opt = query.additionals?.find((a) => a.type === 'OPT');
  const limit =
    opt?.type === 'OPT' ? Math.max(512, Math.min(opt.udpPayloadSize || 512, MAX_UDP_PAYLOAD)) : 512;
  return bytes.length > limit ? dnsPacket.encode(truncated(result.packet)) : bytes;
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
