// Watch streams: newline-delimited JSON over a hijacked reply, for the REST
// watch (server.ts) and the console's merged watch (console.ts). One place
// owns the lifetime of a stream, so none outlives its client or the server:
//
// - The stream ends when any of these happens: the client's connection closes
//   (also mid-write, while a write waits for the socket to drain), a source
//   ends or fails (an ERROR line is written first), or the server closes
//   (`closeAll`, run before the HTTP server stops accepting).
// - Ending closes every source watch (releasing its store subscription),
//   releases any write waiting for 'drain', stops the keep-alive timer and
//   decrements the open-stream gauge, exactly once.
// - At most one 'drain' listener is registered per stream, however many
//   writers wait; an idle line is skipped while the socket is backed up.
// - The response carries `Connection: close`, so the socket goes away with the
//   stream instead of lingering as an idle keep-alive connection.
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Gauge } from 'prom-client';
import type { YunjianError } from '../model/errors.ts';
import type { Watch, WatchEvent } from '../store/types.ts';

export interface WatchSource {
  watch: Watch;
  /** The line for one event; undefined skips it. */
  line(event: WatchEvent): string | undefined;
  /** The last line of a stream whose source failed. */
  errorLine(err: YunjianError): string;
}

export interface WatchStreamSpec {
  /** What the stream is, for the log (`watch of clusters`). */
  what: string;
  sources: readonly WatchSource[];
  /** Milliseconds between idle lines (bookmarks, keep-alives). */
  idleEveryMs: number;
  idleLine(): string | Promise<string>;
}

export interface WatchStreamsOptions {
  gauge: Gauge;
  /**
   * Milliseconds a stream's socket may go without activity on top of its
   * idle-line interval (every idle line is activity) before it is dropped:
   * its client stopped reading.
   */
  idleTimeoutMs: number;
  /** Reports a failure that ends a stream; a 5xx is logged (see errors.ts). */
  reportError(err: unknown, what: string): YunjianError;
}

export class WatchStreams {
  readonly #options: WatchStreamsOptions;
  /** How to end each open stream. */
  readonly #open = new Set<() => void>();

  constructor(options: WatchStreamsOptions) {
    this.#options = options;
  }

  /** Ends every open stream; the server runs this before it stops. */
  closeAll(): void {
    for (const end of [...this.#open]) end();
  }

  /** Streams until the stream ends (see the header); never rejects. */
  async serve(request: FastifyRequest, reply: FastifyReply, spec: WatchStreamSpec): Promise<void> {
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, {
      'content-type': 'application/x-ndjson',
      'cache-control': 'no-store',
      'x-content-type-options': 'nosniff',
      connection: 'close',
    });
    res.flushHeaders();
    res.socket?.setTimeout(spec.idleEveryMs + this.#options.idleTimeoutMs);

    let ended = false;
    let drained: { promise: Promise<void>; resolve: () => void } | undefined;
    const onDrain = () => {
      const d = drained;
      drained = undefined;
      res.off('drain', onDrain);
      d?.resolve();
    };
    const end = () => {
      if (ended) return;
      ended = true;
      for (const s of spec.sources) s.watch.close();
      onDrain();
    };
    const write = async (line: string): Promise<void> => {
      if (ended || res.write(`${line}\n`)) return;
      if (drained === undefined) {
        const d = Promise.withResolvers<void>();
        drained = d;
        res.on('drain', onDrain);
      }
      await drained.promise;
    };

    this.#open.add(end);
    this.#options.gauge.inc();
    res.on('close', end);
    // A client that left before the stream was set up gets no 'close' any more.
    if (res.destroyed || request.raw.destroyed) end();
    const idle = setInterval(() => {
      if (ended || drained !== undefined) return;
      void (async () => write(await spec.idleLine()))().catch((err: unknown) => {
        this.#options.reportError(err, spec.what);
        end();
      });
    }, spec.idleEveryMs);
    try {
      await Promise.all(
        spec.sources.map(async (source) => {
          try {
            for await (const event of source.watch) {
              const line = source.line(event);
              if (line !== undefined) await write(line);
            }
          } catch (err) {
            await write(source.errorLine(this.#options.reportError(err, spec.what)));
          }
          // One source over (failed, or closed by its store) ends them all:
          // the client relists and watches again.
          end();
        }),
      );
    } finally {
      clearInterval(idle);
      end();
      this.#open.delete(end);
      this.#options.gauge.dec();
      res.off('close', end);
      res.end();
    }
  }
}
