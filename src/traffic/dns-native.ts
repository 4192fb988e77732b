// The DNS server's native UDP fast path (src/traffic/native/udp-fastpath.c,
// built by scripts/build-native.ts into dist/native): native threads answer
// packet-cache hits with batched syscalls; every miss comes here, on the main
// thread, where the same `DnsEngine` that serves TCP answers it, and a stable
// answer is installed in the cache of the thread that missed; so is a rotating
// one, as its whole period, driven by the authority's shared rotation counter
// for the host (native hits and JavaScript misses advance the same counter).
//
// Counting: the engine counts the misses it answers (by transport, strategy
// and rcode); the native side counts hits per count key id, assigned here.
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import type { DnsCounts, DnsEngine, EncodedRotation } from './dns-engine.ts';
import { counterSlot } from './strategies.ts';

/** What serves a DNS server's UDP besides the main thread. */
export const UDP_THREADS = ['native', 'workers'] as const;
export type UdpThreads = (typeof UDP_THREADS)[number];

/** dist/native/udp-fastpath.node, relative to this file. */
const ADDON = fileURLToPath(new URL('../../dist/native/udp-fastpath.node', import.meta.url));
/** Count key ids the native side keeps (COUNTERS in the C source). */
const COUNTERS = 1024;

declare const handleBrand: unique symbol;
type Handle = { readonly [handleBrand]: true };

interface Addon {
  open(
    host: string,
    port: number,
    threads: number,
    onMiss: (query: Buffer, thread: number, address: string, sender: Buffer) => void,
    counters?: Int32Array,
  ): Handle;
  port(h: Handle): number;
  reply(h: Handle, thread: number, response: Buffer, sender: Buffer): void;
  install(h: Handle, thread: number, query: Buffer, response: Buffer, counter: number): void;
  installRotation(
    h: Handle,
    thread: number,
    query: Buffer,
    responses: Buffer,
    offsets: Uint32Array,
    sequence: Uint16Array,
    slot: number,
    counter: number,
  ): void;
  clear(h: Handle): void;
  stats(h: Handle): { received: number; runts: number; dropped: number; hits: Float64Array };
  close(h: Handle): void;
}

let loaded: { addon: Addon } | { error: string } | undefined;

function load(): { addon: Addon } | { error: string } {
  if (loaded !== undefined) return loaded;
  try {
    loaded = { addon: createRequire(import.meta.url)(ADDON) as Addon };
  } catch (err) {
    const why =
      (err as NodeJS.ErrnoException).code === 'MODULE_NOT_FOUND' ? 'not built' : String(err);
    loaded = {
      error: `native UDP fast path unavailable (${why}; npm ci builds it with a C compiler)`,
    };
  }
  return loaded;
}

/** Why the fast path cannot be used here, or undefined when it can. */
export function nativeUdpUnavailable(): string | undefined {
  const l = load();
  return 'error' in l ? l.error : undefined;
}

export interface NativeUdpStats {
  received: number;
  /** Datagrams shorter than a DNS header, or longer than the receive slot. */
  runts: number;
  /** Misses dropped because the main thread was behind. */
  dropped: number;
  /** Answers sent from the native caches, by count key. */
  hits: DnsCounts;
}

export class NativeUdp {
  readonly #addon: Addon;
  readonly #handle: Handle;
  readonly #engine: DnsEngine;
  readonly #log: ((line: string) => void) | undefined;
  /** The authority's shared rotation counters; without them rotations are answered uncached. */
  readonly #counters: Int32Array | undefined;
  readonly #counterIds = new Map<string, number>();
  readonly #counterKeys: string[] = [];
  /** Set by close(): the totals at that moment. */
  #final: NativeUdpStats | undefined;

  /** Binds `threads` sockets to host:port with SO_REUSEPORT (port 0 picks one) and starts serving. */
  constructor(
    engine: DnsEngine,
    host: string,
    port: number,
    threads: number,
    log?: (line: string) => void,
  ) {
    const l = load();
    if ('error' in l) throw new Error(l.error);
    this.#addon = l.addon;
    this.#engine = engine;
    this.#log = log;
    this.#counters = engine.authority.counters;
    this.#handle = l.addon.open(
      host,
      port,
      threads,
      (query, thread, address, sender) => this.#miss(query, thread, address, sender),
      this.#counters,
    );
  }

  get port(): number {
    return this.#addon.port(this.#handle);
  }

  #miss(query: Buffer, thread: number, address: string, sender: Buffer): void {
    if (this.#final !== undefined) return;
    try {
      const res = this.#engine.answerUdp(query, address);
      if (res === undefined) return;
      this.#addon.reply(this.#handle, thread, res.bytes, sender);
      // The engine marks only queries the native key fits (MAX_KEY + 2 bytes) cacheable.
      const rotation = this.#counters !== undefined ? res.rotation : undefined;
      if (!res.cacheable && rotation === undefined) return;
      const counter = this.#counterId(res.countKey);
      if (counter === undefined) return;
      if (res.cacheable) this.#addon.install(this.#handle, thread, query, res.bytes, counter);
      else if (rotation !== undefined && this.#counters !== undefined)
        this.#installRotation(thread, query, rotation, this.#counters, counter);
    } catch (err) {
      this.#log?.(`dns: native UDP miss failed: ${String(err)}`);
    }
  }

  #installRotation(
    thread: number,
    query: Buffer,
    rotation: EncodedRotation,
    counters: Int32Array,
    counter: number,
  ): void {
    const offsets = new Uint32Array(rotation.responses.length + 1);
    rotation.responses.forEach((r, i) => (offsets[i + 1] = (offsets[i] ?? 0) + r.length));
    this.#addon.installRotation(
      this.#handle,
      thread,
      query,
      Buffer.concat(rotation.responses),
      offsets,
      rotation.sequence,
      counterSlot(rotation.host, counters),
      counter,
    );
  }

  #counterId(key: string): number | undefined {
    let id = this.#counterIds.get(key);
    if (id === undefined && this.#counterKeys.length < COUNTERS) {
      id = this.#counterKeys.length;
      this.#counterKeys.push(key);
      this.#counterIds.set(key, id);
    }
    return id;
  }

  /** Empties every thread's cache; once it returns no thread answers from an old entry. */
  clear(): void {
    if (this.#final === undefined) this.#addon.clear(this.#handle);
  }

  stats(): NativeUdpStats {
    if (this.#final !== undefined) return this.#final;
    const s = this.#addon.stats(this.#handle);
    const hits: DnsCounts = new Map();
    this.#counterKeys.forEach((key, id) => {
      const n = s.hits[id] ?? 0;
      if (n > 0) hits.set(key, n);
    });
    return { received: s.received, runts: s.runts, dropped: s.dropped, hits };
  }

  /** Stops the threads and closes the sockets; stats() keeps the totals from then on. */
  close(): void {
    if (this.#final !== undefined) return;
    this.#final = this.stats();
    this.#addon.close(this.#handle);
  }
}
