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
// cannot hold the server. A worker that dies anyway is replaced. The engine
// each thread answers with, and the packet cache, are in dns-engine.ts.
import { type Socket } from 'node:dgram';
import { createServer, type Server, type Socket as TcpSocket } from 'node:net';
import { Worker } from 'node:worker_threads';
import type { Authority } from './answer.ts';
import {
  bindUdp,
  DnsEngine,
  type AnswerState,
  type DnsCounts,
  type WorkerMessage,
} from './dns-engine.ts';
import { NativeUdp, nativeUdpUnavailable, type UdpThreads } from './dns-native.ts';

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
