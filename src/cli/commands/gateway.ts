// `yunjian gateway`: the cross-cloud HTTP reverse proxy, following a control
// plane's applications over the watch API.
import type { Command } from 'commander';
import { UsageError } from '../errors.ts';
import { connect, type Session } from '../session.ts';
import { apiFeedSource } from '../traffic.ts';

function parseListen(raw: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d+)$/.exec(raw);
  const port = Number(m?.[3]);
  const host = m?.[1] ?? m?.[2];
  if (host === undefined || !Number.isInteger(port) || port < 0 || port > 65535)
    throw new UsageError(`--listen: expected HOST:PORT such as 127.0.0.1:8088, got "${raw}"`);
  return { host, port };
}

export function registerGateway(program: Command, session: Session): void {
  const { io } = session;
  program
    .command('gateway')
    .description(
      'HTTP reverse proxy routing by Host to healthy endpoints in every cloud, retrying idempotent requests on another cloud',
    )
    .option('--listen <host:port>', 'address to serve on', '127.0.0.1:8088')
    .action(async (opts: { listen: string }, cmd: Command) => {
      const listen = parseListen(opts.listen);
      const c = await connect(session, cmd);
      const interrupted = io.interrupted();
      const { Gateway } = await import('../../traffic/gateway.ts');
      const gw = new Gateway({
        source: apiFeedSource(c),
        host: listen.host,
        port: listen.port,
        log: (line) => io.stderr(`${line}\n`),
      });
      await gw.start();
      io.stdout(`gateway serving on http://${listen.host}:${gw.port} (following ${c.server})\n`);
      if (!interrupted.aborted)
        await new Promise((r) => interrupted.addEventListener('abort', r, { once: true }));
      await gw.stop();
      const s = gw.stats;
      io.stdout(
        `gateway stopped: ${s.requests} requests, ${s.retries} retries, ${s.failed} failed\n`,
      );
    });
}
