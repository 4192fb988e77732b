// The agent's ingress: for each component port it listens on
// `<agent address>:<component port>` and spreads TCP connections round-robin
// over the workload's ready replicas (chosen when the connection arrives, so
// a replica that stops being ready gets no new connections). Three agents on
// 127.0.1.1, 127.0.2.1 and 127.0.3.1 can all serve port 8080.
import { createConnection, createServer, type Server, type Socket } from 'node:net';

export interface Route {
  /** Listen port (the component's declared port). */
  port: number;
  /** Ready backend ports on the agent's address, asked per connection. */
  backends: () => number[];
}

interface Listener {
  server: Server;
  route: Route;
  next: number;
  sockets: Set<Socket>;
  /** Set when listening failed (port in use). */
  error?: string;
  listening: boolean;
}

export class Ingress {
  readonly #address: string;
  readonly #listeners = new Map<number, Listener>();

  constructor(address: string) {
    this.#address = address;
  }

  /** Makes `routes` the set served: new ports are opened, missing ones closed. */
  sync(routes: readonly Route[]): void {
    const wanted = new Map(routes.map((r) => [r.port, r]));
    for (const [port, l] of this.#listeners) {
      if (!wanted.has(port)) void this.#close(port, l);
    }
    for (const route of routes) {
      const existing = this.#listeners.get(route.port);
      if (existing !== undefined && existing.error === undefined) {
        existing.route = route;
        continue;
      }
      if (existing !== undefined) void this.#close(route.port, existing);
      this.#open(route);
    }
  }

  /** Whether the port is being served, or why not. */
  state(port: number): { listening: boolean; error?: string } {
    const l = this.#listeners.get(port);
    if (l === undefined) return { listening: false };
    return l.error !== undefined
      ? { listening: false, error: l.error }
      : { listening: l.listening };
  }

  async close(): Promise<void> {
    await Promise.all([...this.#listeners].map(([port, l]) => this.#close(port, l)));
  }

  #open(route: Route): void {
    const sockets = new Set<Socket>();
    const l: Listener = { server: createServer(), route, next: 0, sockets, listening: false };
    l.server.on('connection', (client) => this.#proxy(l, client));
    l.server.on('error', (err: NodeJS.ErrnoException) => {
      l.error = `ingress ${this.#address}:${route.port}: ${err.code ?? err.message}`;
    });
    l.server.listen({ host: this.#address, port: route.port }, () => {
      l.listening = true;
    });
    this.#listeners.set(route.port, l);
  }

  #proxy(l: Listener, client: Socket): void {
    const backends = l.route.backends();
    if (backends.length === 0) {
      client.destroy();
      return;
    }
    const port = backends[l.next++ % backends.length]!;
    const upstream = createConnection({ host: this.#address, port });
    l.sockets.add(client).add(upstream);
    const done = () => {
      client.destroy();
      upstream.destroy();
      l.sockets.delete(client);
      l.sockets.delete(upstream);
    };
    client.on('error', done).on('close', done);
    upstream.on('error', done).on('close', done);
    client.pipe(upstream).pipe(client);
  }

  #close(port: number, l: Listener): Promise<void> {
    this.#listeners.delete(port);
    for (const s of l.sockets) s.destroy();
    return new Promise((resolve) => {
      if (!l.listening) {
        resolve();
        return;
      }
      l.server.close(() => resolve());
    });
  }
}
