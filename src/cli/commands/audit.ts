// `yunjian audit [--user U] [--since 1h|TIME] [--kind K] [--limit N]`: the
// control plane's audit trail, newest first (cluster-admins see every entry,
// tenant-admins those of their tenant's namespaces).
import type { Command } from 'commander';
import type { AuditEntry } from '../../api/audit.ts';
import { renderTable } from '../format.ts';
import { connect, type Session } from '../session.ts';

interface AuditOpts {
  user?: string;
  since?: string;
  kind?: string;
  limit?: string;
  output?: string;
}

export function registerAudit(program: Command, session: Session): void {
  const { io } = session;
  program
    .command('audit')
    .description('show the audit trail: writes and refused requests, newest first')
    .option('--user <name>', 'only requests of this user or service account')
    .option('--since <when>', 'only entries since a duration ago (15m, 2h, 7d) or an RFC 3339 time')
    .option('--kind <kind>', 'only requests on this kind (application, secret, ...) or resource')
    .option('--limit <n>', 'at most this many entries (500)')
    .option('-o, --output <format>', 'table (default) or json')
    .action(async (opts: AuditOpts, cmd: Command) => {
      const query = new URLSearchParams();
      for (const key of ['user', 'since', 'kind', 'limit'] as const) {
        const value = opts[key];
        if (value !== undefined) query.set(key, value);
      }
      const client = await connect(session, cmd);
      const list = await client.call<{ items: AuditEntry[] }>(
        'GET',
        `/api/v1alpha1/audit${query.size > 0 ? `?${query.toString()}` : ''}`,
      );
      if (opts.output === 'json') {
        io.stdout(`${JSON.stringify(list.items, null, 2)}\n`);
        return;
      }
      io.stdout(
        renderTable(
          ['TIME', 'USER', 'VERB', 'RESOURCE', 'NAMESPACE', 'NAME', 'CODE', 'SOURCE'],
          list.items.map((e) => [
            e.time,
            e.user,
            e.verb,
            e.resource,
            e.namespace ?? '',
            e.name ?? '',
            String(e.code),
            e.source,
          ]),
        ),
      );
    });
}
