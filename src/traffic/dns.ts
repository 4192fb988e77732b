// The DNS server's transport: UDP and TCP on one port, a packet cache, and the
// limits that keep hostile input harmless. Answers come from `Authority`.
//
// Threads: UDP is served by `workers` threads, each with its own socket bound
// to the same port with SO_REUSEPORT, so the kernel spreads queries over them
// by the sender's address and port; TCP stays on the main thread. Two kinds:
// - native (the default when `dist/native` holds the built fast path,
//   src/traffic/dns-native.ts): native threads answer packet-cache hits with
//   batched syscalls and hand every miss to the main thread's engine, so the
//   answer state lives only on the main thread and a custom geo locator works;
// - Node worker threads (no C compiler at install, or `udp: 'workers'`): each
//   worker holds a copy of the answer state (route table, SOA serial, which
//   endpoints are down) that `publish()` pushes from the main thread.
// Either way `publish()` resolves only once every thread answers from the new
// state, so a change reported after it (an event, a status line) is already
// what every socket answers. The rotation counters of round robin and weighted
// live in one SharedArrayBuffer that every thread's authority advances
// atomically, so rotation is exact across threads. With `workers: 0` UDP is
// served on the main thread's dgram socket. The TCP listener on the same port
// has no SO_REUSEPORT, so a port another server already holds fails to bind
// instead of silently joining that server's UDP group.
//
// Malformed input: anything that does not decode gets FORMERR when its header
// is readable and it is a query, and is dropped otherwise (responses, runts);
// nothing thrown by the codec escapes a handler. TCP connections are bounded in
// number, idle time and message size, so a slow or garbage-sending client
// cannot hold the server. A worker that dies anyway is replaced.
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
import { createServer, type Server, type Socket as TcpSocket } from 'node:net';
import { Worker } from 'node:worker_threads';
import dnsPacket from 'dns-packet';
import type { DecodedPacket, Packet } from 'dns-packet';
import { type AnswerResult, type Authority, MAX_UDP_PAYLOAD, RCODE } from './answer.ts';
import { NativeUdp, nativeUdpUnavailable, type UdpThreads } from './dns-native.ts';
import type { TrafficRoute } from './routes.ts';
import { rotationAt } from './strategies.ts';

const HEADER = 12;
/** Queries up to this size have their answers cached (the native cache's key limit too). */
const CACHEABLE_QUERY = 512;
const CACHE_LIMIT = 10_000;
/** Bytes of distinct answers a cached rotation may hold; a bigger rotation is answered uncached. */
const ROTATION_BYTES = 256 * 1024;
const TCP_IDLE_MS = 10_000;
const TCP_MAX_CONNECTIONS = 256;
const WORKER_START_MS = 10_000;

export interface DnsServerOptions {
  authority: Authority;
  host: string;
  /** 0 picks a free port (UDP and TCP get the same one). */
  port: number;
  /** UDP threads; 0 serves UDP on the main thread. */
  workers: number;
  /**
   * Which threads: 'native' (the built fast path; an error when it is not
   * built) or 'workers' (Node worker threads). Default: native when built.
   */
  udp?: UdpThreads;
  log?: (line: string) => void;
}

/** Queries answered, by transport, strategy ('-' for none) and rcode name. */
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

interface WorkerSlot {
  worker: Worker;
  applied: number;
  stats: { counts: DnsCounts; received: number; malformed: number };
  /** Exited or failed: its last stats are kept, it gets no more state. */
  gone: boolean;
}

export class DnsServer {
  readonly engine: DnsEngine;
  readonly #o: DnsServerOptions;
  #port = 0;
  #udp: Socket | undefined;
  #native: NativeUdp | undefined;
  #tcp: Server | undefined;
  readonly #conns = new Set<TcpSocket>();
  readonly #workers: WorkerSlot[] = [];
  /** Stats of workers that were replaced, so totals never go backwards. */
  readonly #retired = { counts: new Map<string, number>(), received: 0, malformed: 0 };
  #version = 0;
  #sentTable: unknown;
  #closing = false;
  readonly #waiters = new Set<() => void>();

  constructor(o: DnsServerOptions) {
    this.#o = o;
    this.engine = new DnsEngine(o.authority);
  }

  get port(): number {
    return this.#port;
  }

  /** Threads serving UDP besides the main thread. */
  get workers(): number {
    if (this.#native !== undefined) return this.#o.workers;
    return this.#workers.filter((w) => !w.gone).length;
  }

  /** What serves UDP: native threads, Node worker threads or the main thread. */
  get udpThreads(): UdpThreads | 'main' {
    if (this.#native !== undefined) return 'native';
    return this.#workers.length > 0 ? 'workers' : 'main';
  }

  get received(): number {
    return (
      this.engine.received + this.#sum((s) => s.received) + (this.#native?.stats().received ?? 0)
    );
  }

  get malformed(): number {
    return (
      this.engine.malformed + this.#sum((s) => s.malformed) + (this.#native?.stats().runts ?? 0)
    );
  }

  /** Queries the native threads read but dropped because the main thread was behind. */
  get dropped(): number {
    return this.#native?.stats().dropped ?? 0;
  }

  /** Queries answered, over every thread (workers report every 50 ms). */
  get counts(): DnsCounts {
    const out = this.engine.counts();
    for (const s of [this.#retired, ...this.#workers.map((w) => w.stats)])
      for (const [k, v] of s.counts) out.set(k, (out.get(k) ?? 0) + v);
    for (const [k, v] of this.#native?.stats().hits ?? []) out.set(k, (out.get(k) ?? 0) + v);
    return out;
  }

  #sum(f: (s: { received: number; malformed: number }) => number): number {
    return this.#workers.reduce((n, w) => n + f(w.stats), f(this.#retired));
  }

  async listen(): Promise<void> {
    const { host } = this.#o;
    for (let attempt = 0; ; attempt++) {
      const udp = await bindUdp(host, this.#o.port, this.engine);
      const port = udp.address().port;
      const tcp = createServer({ pauseOnConnect: false }, (s) => this.#onTcp(s));
      tcp.maxConnections = TCP_MAX_CONNECTIONS;
      try {
        await new Promise<void>((resolve, reject) => {
          tcp.once('error', reject);
          tcp.listen({ port, host }, () => {
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
      this.#port = port;
      this.#udp = udp;
      this.#tcp = tcp;
      break;
    }
    if (this.#o.workers <= 0) return;
    try {
      if (this.#useNative()) {
        this.#native = new NativeUdp(this.engine, host, this.#port, this.#o.workers, this.#o.log);
      } else {
        await Promise.all(Array.from({ length: this.#o.workers }, () => this.#spawn()));
      }
    } catch (err) {
      await this.close();
      throw err;
    }
    // The threads share the port now; the main thread keeps only TCP.
    const udp = this.#udp;
    this.#udp = undefined;
    await new Promise<void>((r) => udp?.close(() => r()));
  }

  #useNative(): boolean {
    const unavailable = nativeUdpUnavailable();
    if (this.#o.udp === 'workers') return false;
    if (this.#o.udp === 'native' && unavailable !== undefined) throw new Error(unavailable);
    if (unavailable !== undefined)
      this.#o.log?.(`dns: ${unavailable}; serving UDP with worker threads`);
    return unavailable === undefined;
  }

  async #spawn(): Promise<void> {
    const worker = new Worker(new URL('./dns-worker.ts', import.meta.url), {
      workerData: {
        host: this.#o.host,
        port: this.#port,
        nameServers: this.#o.authority.nameServers,
        counters: this.#o.authority.counters,
      },
    });
    const slot: WorkerSlot = {
      worker,
      applied: -1,
      stats: { counts: new Map(), received: 0, malformed: 0 },
      gone: false,
    };
    const ready = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error('DNS worker did not start')),
        WORKER_START_MS,
      );
      worker.on('message', (m: WorkerMessage) => {
        if (m.type === 'ready') {
          clearTimeout(timer);
          resolve();
        } else if (m.type === 'applied') {
          slot.applied = m.version;
          this.#wake();
        } else
          slot.stats = { counts: new Map(m.counts), received: m.received, malformed: m.malformed };
      });
      worker.once('error', (err: Error) => {
        clearTimeout(timer);
        reject(err);
      });
    });
    worker.on('error', (err) => this.#o.log?.(`dns: worker failed: ${String(err)}`));
    worker.once('exit', () => {
      slot.gone = true;
      this.#wake();
      if (this.#closing) return;
      this.#retire(slot);
      this.#o.log?.('dns: a worker exited; starting a replacement');
      void this.#spawn().then(
        () => this.publish(),
        (err: unknown) => this.#o.log?.(`dns: replacement worker failed: ${String(err)}`),
      );
    });
    this.#workers.push(slot);
    await ready;
    // Its first state is the whole table.
    this.#post(slot, this.#state(true));
    await this.#until(() => slot.gone || slot.applied >= this.#version);
  }

  #retire(slot: WorkerSlot): void {
    this.#workers.splice(this.#workers.indexOf(slot), 1);
    this.#retired.received += slot.stats.received;
    this.#retired.malformed += slot.stats.malformed;
    for (const [k, v] of slot.stats.counts)
      this.#retired.counts.set(k, (this.#retired.counts.get(k) ?? 0) + v);
  }

  #state(withTable: boolean): AnswerState {
    const a = this.#o.authority;
    const down: string[] = [];
    for (const r of a.table.routes.values())
      for (const e of r.endpoints) if (!a.healthy(e)) down.push(`${r.host}|${e.key}`);
    return {
      version: this.#version,
      serial: a.serial,
      down,
      ...(withTable ? { routes: [...a.table.routes.values()], zones: a.table.zones } : {}),
    };
  }

  #post(slot: WorkerSlot, state: AnswerState): void {
    if (!slot.gone) slot.worker.postMessage(state);
  }

  /**
   * Makes every thread answer from the authority's current table and health:
   * the main thread at once, the workers when the returned promise resolves.
   */
  publish(): Promise<void> {
    this.engine.invalidate();
    this.#native?.clear();
    if (this.#workers.length === 0) return Promise.resolve();
    this.#version++;
    const table = this.#o.authority.table;
    const withTable = this.#sentTable !== table;
    this.#sentTable = table;
    const state = this.#state(withTable);
    for (const slot of this.#workers) this.#post(slot, state);
    const version = this.#version;
    return this.#until(() => this.#workers.every((w) => w.gone || w.applied >= version));
  }

  #until(done: () => boolean): Promise<void> {
    if (done()) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const check = () => {
        if (!done()) return;
        this.#waiters.delete(check);
        resolve();
      };
      this.#waiters.add(check);
    });
  }

  #wake(): void {
    for (const w of [...this.#waiters]) w();
  }

  async close(): Promise<void> {
    this.#closing = true;
    const udp = this.#udp;
    const tcp = this.#tcp;
    this.#udp = undefined;
    this.#tcp = undefined;
    this.#native?.close();
    for (const c of this.#conns) c.destroy();
    await Promise.all([
      udp ? new Promise<void>((r) => udp.close(() => r())) : undefined,
      tcp ? new Promise<void>((r) => tcp.close(() => r())) : undefined,
      ...this.#workers.map((w) => w.worker.terminate()),
    ]);
    this.#wake();
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
        const res = this.engine.tcp(msg, sock.remoteAddress ?? '');
        if (res === null) {
          sock.destroy();
          return;
        }
        if (res === undefined) continue;
        const frame = Buffer.alloc(2 + res.length);
        frame.writeUInt16BE(res.length, 0);
        res.copy(frame, 2);
        sock.write(frame);
      }
    });
  }
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
