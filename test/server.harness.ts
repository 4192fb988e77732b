// An in-process control plane for a test file or suite: `before` starts it on
// loopback with a fresh data directory (the demo fleet unless told), `after`
// closes it and removes the directory. Call it at the top of a file or inside
// a describe; read url/token/headers only inside tests.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before } from 'node:test';
import { runServer, type RunningServer, type ServerOptions } from '../src/cmd/server.ts';

export interface TestServer {
  readonly dataDir: string;
  readonly server: RunningServer;
  readonly url: string;
  /** The admin token the server wrote. */
  readonly token: string;
  /** Authorization header with the admin token. */
  readonly headers: Record<string, string>;
}

export function inProcessServer(name: string, options: Partial<ServerOptions> = {}): TestServer {
  const dataDir = mkdtempSync(join(tmpdir(), `yunjian-${name}-`));
  let running: { server: RunningServer; token: string } | undefined;
  const started = () => {
    if (!running) throw new Error('the test server is read before it started (outside a test)');
    return running;
  };
  before(async () => {
    const server = await runServer({
      port: 0,
      host: '127.0.0.1',
      dataDir,
      fleet: 'demo',
      fleetScale: 1,
      log: () => {},
      heartbeatSeconds: 1,
      ...options,
    });
    running = { server, token: readFileSync(server.adminTokenPath, 'utf8').trim() };
  });
  after(async () => {
    await running?.server.close();
    rmSync(dataDir, { recursive: true, force: true });
  });
  return {
    dataDir,
    get server() {
      return started().server;
    },
    get url() {
      return started().server.url;
    },
    get token() {
      return started().token;
    },
    get headers() {
      return { authorization: `Bearer ${started().token}` };
    },
  };
}
