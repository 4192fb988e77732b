// `yunjian token create|list|revoke`: join tokens, with which agents become
// member clusters.
import { InvalidArgumentError, Option, type Command } from 'commander';
import type { AgentToken, JoinTokenRequest } from '../../model/schema.ts';
import { ageSince, renderTable } from '../format.ts';
import { connect, type Session } from '../session.ts';

const AGENT_PREFIX = '/api/v1alpha1/agent';

interface JoinTokenOpts {
  cluster?: string;
  clusterPrefix?: string;
  reusable?: boolean;
  replace?: boolean;
  ttl: number;
  description?: string;
}

const DURATION_UNITS = { s: 1, m: 60, h: 3600, d: 86_400 } as const;

/** A duration such as 90s, 30m, 24h or 7d, in seconds; the server checks its range. */
function durationOption(raw: string): number {
  const m = /^([0-9]+)(s|m|h|d)$/.exec(raw);
  if (m?.[1] === undefined || m[2] === undefined)
    throw new InvalidArgumentError(
      `expected a whole number of s, m, h or d such as 30m, 24h or 7d, got "${raw}".`,
    );
  return Number(m[1]) * DURATION_UNITS[m[2] as keyof typeof DURATION_UNITS];
}

/** How a join token may still be used, for `token list`. */
function joinTokenUse(t: AgentToken): string {
  const kind = t.spec.replace === true ? 'replace' : t.spec.reusable === true ? 'reusable' : 'once';
  const used = t.spec.consumed;
  return used === undefined || t.spec.reusable === true
    ? kind
    : `${kind}, used by ${used.cluster} from ${used.from}`;
}

export function registerToken(program: Command, session: Session): void {
  const { io } = session;
  const tokens = program.command('token').description('join tokens for agents');
  tokens
    .command('create')
    .description(
      'create a join token (printed once; only its hash is stored): bound to one cluster name or a name prefix, single-use unless --reusable',
    )
    .optionsGroup('Join token options (an agent joining as a cluster):')
    .option('--cluster <name>', 'the cluster name the token may join')
    .option('--cluster-prefix <prefix>', 'or: any cluster name that starts with this')
    .option('--reusable', 'let several joins use the token until it expires (default: single-use)')
    .option(
      '--replace',
      "let the token take over the cluster from its current agent (a re-installed host); the old agent's credential stops working",
    )
    .addOption(
      new Option('--ttl <duration>', 'lifetime such as 30m, 24h or 7d, at most 365d')
        .argParser(durationOption)
        .default(86_400, '24h'),
    )
    .optionsGroup('Common options:')
    .option('--description <text>', 'what the token is for')
    .action(async (opts: JoinTokenOpts, cmd: Command) => {
      const client = await connect(session, cmd);
      const created = await client.call<{ token: string; name: string; expires: string }>(
        'POST',
        `${AGENT_PREFIX}/tokens`,
        {
          ...(opts.cluster !== undefined ? { cluster: opts.cluster } : {}),
          ...(opts.clusterPrefix !== undefined ? { clusterPrefix: opts.clusterPrefix } : {}),
          ...(opts.reusable === true ? { reusable: true } : {}),
          ...(opts.replace === true ? { replace: true } : {}),
          ttlSeconds: opts.ttl,
          ...(opts.description !== undefined ? { description: opts.description } : {}),
        } satisfies JoinTokenRequest,
      );
      io.stdout(`${created.token}\n`);
      io.stderr(
        `token ${created.name} ${opts.reusable === true ? 'reusable' : 'single-use'}, expires ${created.expires}; it is not shown again\n`,
      );
    });
  tokens
    .command('list')
    .description('list join tokens (never their secrets)')
    .action(async (_opts: unknown, cmd: Command) => {
      const client = await connect(session, cmd);
      const { items } = await client.call<{ items: AgentToken[] }>('GET', `${AGENT_PREFIX}/tokens`);
      const now = io.now();
      io.stdout(
        renderTable(
          ['NAME', 'CLUSTERS', 'USE', 'EXPIRES', 'AGE', 'DESCRIPTION'],
          items.map((t) => [
            t.metadata.name,
            t.spec.cluster ??
              (t.spec.clusterPrefix !== undefined ? `${t.spec.clusterPrefix}*` : '(new only)'),
            joinTokenUse(t),
            t.spec.expires ?? 'never',
            t.metadata.creationTimestamp ? ageSince(t.metadata.creationTimestamp, now) : '',
            t.spec.description ?? '',
          ]),
        ),
      );
    });
  tokens
    .command('revoke')
    .description('delete a join token (agents that joined keep their credentials)')
    .argument('<name>', 'token name (join-ID) or ID')
    .action(async (name: string, _opts: unknown, cmd: Command) => {
      const client = await connect(session, cmd);
      const r = await client.call<{ revoked: string }>(
        'DELETE',
        `${AGENT_PREFIX}/tokens/${encodeURIComponent(name)}`,
      );
      io.stdout(`token ${r.revoked} revoked\n`);
    });
}
