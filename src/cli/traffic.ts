// `yunjian gateway` (the cross-cloud HTTP reverse proxy) and
// `yunjian traffic status|endpoints` (what the DNS traffic manager sees).
import type { Command } from 'commander';
import { lookupKind } from '../model/kinds.ts';
import type { StoredObject } from '../store/types.ts';
import type { FeedSource } from '../traffic/feed.ts';
import type { TrafficStatus } from '../traffic/index.ts';
import { YunjianClient, API_PREFIX } from './client.ts';
import { loadConnection } from './config.ts';
import { UsageError } from './errors.ts';
import { renderTable } from './format.ts';
import type { CliIo } from './program.ts';

interface Globals {
  server?: string;
  token?: string;
}

async function client(io: CliIo, cmd: Command): Promise<YunjianClient> {
  const { server, token } = cmd.optsWithGlobals<Globals>();
  const conn = await loadConnection({ server, token }, io.env, io.home);
  return new YunjianClient({
    server: conn.server.value,
    token: conn.token?.value,
    ...(io.fetch !== undefined ? { fetch: io.fetch } : {}),
  });
}

/** The watch API as the traffic manager's feed: list, then watch from the list's revision. */
export function apiFeedSource(c: YunjianClient): FeedSource {
  const kind = (name: string) => {
    const k = lookupKind(name);
    if (k === undefined) throw new Error(`unknown kind ${name}`);
    return k;
  };
  return {
    async list(name) {
      const r = await c.listAll(kind(name), {}, 500);
      return { items: r.items, revision: r.metadata.resourceVersion };
    },
    async *watch(name, fromRevision, signal) {
      for await (const ev of c.watch(kind(name), { resourceVersion: fromRevision, signal }))
        yield { type: ev.type, object: ev.object as StoredObject };
    },
  };
}

function udpThreads(dns: TrafficStatus['dns']): string {
  if (dns.udp === 'main') return 'main thread';
  return `${dns.workers} ${dns.udp === 'native' ? 'native' : 'worker'} threads`;
}

function parseListen(raw: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d+)$/.exec(raw);
  const port = Number(m?.[3]);
  const host = m?.[1] ?? m?.[2];
  if (host === undefined || !Number.isInteger(port) || port < 0 || port > 65535)
    throw new UsageError(`--listen: expected HOST:PORT such as 127.0.0.1:8088, got "${raw}"`);
  return { host, port };
}

export function registerTraffic(program: Command, io: CliIo): void {
  program
    .command('gateway')
    .description(
      'HTTP reverse proxy routing by Host to healthy endpoints in every cloud, retrying idempotent requests on another cloud',
    )
    .option('--listen <host:port>', 'address to serve on', '127.0.0.1:8088')
    .action(async (opts: { listen: string }, cmd: Command) => {
      const listen = parseListen(opts.listen);
      const c = await client(io, cmd);
      const interrupted = io.interrupted();
      const { Gateway } = await import('../traffic/gateway.ts');
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

  const traffic = program.command('traffic').description('the global traffic manager (DNS GSLB)');
  const fetchStatus = async (cmd: Command): Promise<TrafficStatus> => {
    const { server, token } = cmd.optsWithGlobals<Globals>();
    const conn = await loadConnection({ server, token }, io.env, io.home);
    const res = await (io.fetch ?? fetch)(`${conn.server.value}${API_PREFIX}/traffic`, {
      headers: conn.token ? { authorization: `Bearer ${conn.token.value}` } : {},
    });
    if (res.status === 404)
      throw new UsageError('the server runs no traffic manager (start it with --dns-port)');
    if (!res.ok)
      throw new Error(`GET ${API_PREFIX}/traffic: HTTP ${res.status} ${await res.text()}`);
    return (await res.json()) as TrafficStatus;
  };
  traffic
    .command('status')
    .description('hosts, strategy, the clouds serving each, answers per strategy and recent events')
    .option('-o, --output <format>', 'json for the full document')
    .action(async (opts: { output?: string }, cmd: Command) => {
      const st = await fetchStatus(cmd);
      if (opts.output === 'json') return io.stdout(`${JSON.stringify(st, null, 2)}\n`);
      io.stdout(
        renderTable(
          ['HOST', 'APPLICATION', 'STRATEGY', 'TTL', 'HEALTHY', 'SERVING', 'FAILOVERS'],
          st.routes.map((r) => [
            r.host,
            r.application,
            r.strategy,
            String(r.ttl),
            `${r.endpoints.filter((e) => e.healthy).length}/${r.endpoints.length}`,
            r.serving,
            String(r.failovers),
          ]),
        ),
      );
      io.stdout(
        `\nDNS port ${st.dns.port} (UDP: ${udpThreads(st.dns)}): ${st.dns.received} packets, ${st.dns.malformed} malformed, ${st.dns.dropped} dropped\n`,
      );
      if (st.answers.length > 0)
        io.stdout(
          `\n${renderTable(
            ['TRANSPORT', 'STRATEGY', 'RCODE', 'ANSWERS'],
            st.answers.map((a) => [a.transport, a.strategy, a.rcode, String(a.count)]),
          )}`,
        );
      const recent = st.events.slice(-10);
      if (recent.length > 0)
        io.stdout(
          `\n${renderTable(
            ['TIME', 'REASON', 'MESSAGE'],
            recent.map((e) => [e.at, e.reason, e.message]),
          )}`,
        );
    });
  traffic
    .command('endpoints [host]')
    .description('every endpoint with its health as each vantage point sees it')
    .action(async (host: string | undefined, _opts: unknown, cmd: Command) => {
      const st = await fetchStatus(cmd);
      const rows: string[][] = [];
      for (const r of st.routes) {
        if (host !== undefined && r.host !== host) continue;
        for (const e of r.endpoints)
          rows.push([
            r.host,
            e.cluster,
            e.cloud,
            `${e.address}:${e.port}`,
            e.healthy ? 'up' : 'down',
            e.probe === 'simulated'
              ? 'simulated (cluster readiness)'
              : e.vantagePoints
                  .map((v) => `${v.name}=${v.state}${v.error !== undefined ? ` (${v.error})` : ''}`)
                  .join(' '),
          ]);
      }
      io.stdout(
        renderTable(['HOST', 'CLUSTER', 'CLOUD', 'ADDRESS', 'HEALTH', 'VANTAGE POINTS'], rows),
      );
    });
}
