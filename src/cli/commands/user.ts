// `yunjian user token create --user U [--role R [--namespace N]] [--ttl D]`:
// a bearer token for a user or service account, printed once, with the
// RoleBinding (in N) or ClusterRoleBinding that grants R. Tokens are listed
// with `yunjian get usertokens` and revoked with `yunjian delete usertoken NAME`.
import type { Command } from 'commander';
import type { CreatedUserToken } from '../../api/identity.ts';
import { connect, type Session } from '../session.ts';

interface CreateOpts {
  user?: string;
  serviceAccount?: string;
  role?: string;
  namespace?: string;
  ttl?: string;
  description?: string;
}

export function registerUser(program: Command, session: Session): void {
  const { io } = session;
  const user = program.command('user').description('users and service accounts');
  user
    .command('token')
    .description('bearer tokens of users and service accounts')
    .command('create')
    .description('create a token (printed once; only its hash is stored) and the binding of --role')
    .option('--user <name>', 'the user the token authenticates')
    .option('--service-account <name>', 'the service account the token authenticates')
    .option(
      '--role <role>',
      'viewer, editor, tenant-admin (with --namespace), cluster-admin or agent',
    )
    .option('--namespace <ns>', 'grant the role in this namespace (tenant-admin: its whole tenant)')
    .option('--ttl <duration>', 'lifetime from 1m to 366d, e.g. 24h or 90d (30d)')
    .option('--description <text>', 'what the token is for')
    .action(async (opts: CreateOpts, cmd: Command) => {
      const client = await connect(session, cmd);
      const created = await client.call<CreatedUserToken>('POST', '/api/v1alpha1/tokens', {
        ...(opts.user !== undefined ? { user: opts.user } : {}),
        ...(opts.serviceAccount !== undefined ? { serviceAccount: opts.serviceAccount } : {}),
        ...(opts.role !== undefined ? { role: opts.role } : {}),
        ...(opts.namespace !== undefined ? { namespace: opts.namespace } : {}),
        ...(opts.ttl !== undefined ? { ttl: opts.ttl } : {}),
        ...(opts.description !== undefined ? { description: opts.description } : {}),
      });
      io.stdout(`${created.token}\n`);
      const grant =
        created.binding === undefined
          ? 'no role bound'
          : `${created.binding.kind} ${created.binding.namespace !== undefined ? `${created.binding.namespace}/` : ''}${created.binding.name}`;
      io.stderr(
        `token ${created.name} for ${created.subject.kind} ${created.subject.name} (${grant}), expires ${created.expires}; it is not shown again\n`,
      );
    });
}
