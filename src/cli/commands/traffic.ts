// `yunjian traffic status|endpoints`: what the DNS traffic manager (GSLB) sees.
import type { Command } from 'commander';
import { NotFoundError } from '../../model/errors.ts';
import type { TrafficStatus } from '../../traffic/index.ts';
import { API_PREFIX } from '../client.ts';
import { UsageError } from '../errors.ts';
import { renderTable } from '../format.ts';
import { connect, type Session } from '../session.ts';

function udpThreads(dns: TrafficStatus['dns']): string {
  if (dns.udp === 'main') return 'main thread';
  return `${dns.workers} ${dns.udp === 'native' ? 'native' : 'worker'} threads`;
}

export function registerTraffic(program: Command, session: Session): void {
  const { io } = session;
  const traffic = program.command('traffic').description('the global traffic manager (DNS GSLB)');
  const fetchStatus = async (cmd: Command): Promise<TrafficStatus> => {
    const client = await connect(session, cmd);
    return client.call<TrafficStatus>('GET', `${API_PREFIX}/traffic`).catch((err: unknown) => {
      if (err instanceof NotFoundError)
        throw new UsageError('the server runs no traffic manager (start it with --dns-port)');
      throw err;
    });
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
