// `yunjian store migrate --from URL --to URL`: copies every object from one
// store backend to another, then checks that each kind arrived whole (count
// and content hash); exit 1 on any mismatch. Also the etcd flags and the store
// opening that `server` and `backup` share with it. These commands open the
// store files or the etcd cluster themselves, not the API.
import { existsSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Command } from 'commander';
import {
  describeLocation,
  parseStoreUrl,
  type EtcdAccess,
  type StoreLocation,
} from '../../store/location.ts';
import { migrate } from '../../store/transfer.ts';
import type { BackendStore } from '../../store/types.ts';
import type { Env } from '../config.ts';
import { UsageError } from '../errors.ts';
import type { Session } from '../session.ts';

/** The etcd flags, as commander parses them. */
export interface EtcdFlags {
  etcdCacert?: string;
  etcdCert?: string;
  etcdKey?: string;
  etcdUser?: string;
  etcdPrefix?: string;
}

export const ETCD_PASSWORD_ENV = 'YUNJIAN_ETCD_PASSWORD';

export function addEtcdOptions(cmd: Command): Command {
  return cmd
    .option('--etcd-cacert <file>', 'CA bundle (PEM) that signed the etcd members (TLS)')
    .option('--etcd-cert <file>', 'client certificate (PEM) for etcd, with --etcd-key')
    .option('--etcd-key <file>', 'client key (PEM) for etcd, with --etcd-cert')
    .option('--etcd-user <name>', `etcd user; the password is read from ${ETCD_PASSWORD_ENV}`)
    .option('--etcd-prefix <prefix>', 'key prefix in etcd (default /yunjian/)');
}

/** TLS, user and prefix from the flags; a UsageError when they make no sense together. */
export function etcdAccess(
  flags: EtcdFlags,
  env: Env,
  locations: readonly StoreLocation[],
): EtcdAccess {
  const given = Object.entries(flags)
    .filter(([k, v]) => k.startsWith('etcd') && v !== undefined)
    .map(([k]) => `--${k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`);
  if (given.length > 0 && !locations.some((l) => l.type === 'etcd'))
    throw new UsageError(`${given.join(', ')}: only with an etcd:// store`);
  if ((flags.etcdCert === undefined) !== (flags.etcdKey === undefined))
    throw new UsageError('--etcd-cert and --etcd-key go together: give both or neither');
  const access: EtcdAccess = {};
  if (flags.etcdPrefix !== undefined) {
    if (!flags.etcdPrefix.endsWith('/'))
      throw new UsageError(`--etcd-prefix must end with /, got ${flags.etcdPrefix}`);
    access.prefix = flags.etcdPrefix;
  }
  if (flags.etcdCacert !== undefined || flags.etcdCert !== undefined)
    access.tls = { caFile: flags.etcdCacert, certFile: flags.etcdCert, keyFile: flags.etcdKey };
  if (flags.etcdUser !== undefined) {
    const password = env[ETCD_PASSWORD_ENV];
    if (password === undefined || password === '')
      throw new UsageError(`--etcd-user: set the password in ${ETCD_PASSWORD_ENV}`);
    access.auth = { username: flags.etcdUser, password };
  }
  return access;
}

/** A store URL as a location; a UsageError naming `flag` when it is malformed. */
export function storeLocation(flag: string, url: string, dataDir?: string): StoreLocation {
  try {
    return parseStoreUrl(url, dataDir);
  } catch (err) {
    throw new UsageError(`${flag}: ${(err as Error).message.replace(/^--store:? ?/, '')}`);
  }
}

/**
 * The backend a location names. Loaded on demand: every CLI call registers
 * this command, and only the ones that open a store should pay for the etcd
 * client.
 */
async function openBackend(location: StoreLocation, etcd: EtcdAccess): Promise<BackendStore> {
  const { openBackend: open } = await import('../../store/open.ts');
  return open(location, etcd);
}

/** Opens a store that must already hold data (a SQLite file that does not exist is a mistake). */
export async function openExisting(
  flag: string,
  location: StoreLocation,
  etcd: EtcdAccess,
): Promise<BackendStore> {
  if (location.type === 'sqlite' && !existsSync(location.path))
    throw new UsageError(`${flag}: no store at ${location.path}`);
  return openBackend(location, etcd);
}

/**
 * Opens a store to write into; a SQLite data directory in use by a running
 * server is refused (that server assumes it is the file's only writer).
 */
export async function openForWriting(
  flag: string,
  location: StoreLocation,
  etcd: EtcdAccess,
): Promise<BackendStore> {
  if (location.type === 'sqlite') {
    const lock = `${dirname(location.path)}/server.pid`;
    const pid = existsSync(lock) ? Number(readFileSync(lock, 'utf8').trim()) : NaN;
    if (Number.isInteger(pid) && pid > 0 && alive(pid))
      throw new UsageError(
        `${flag}: a Yunjian server (pid ${pid}) uses ${dirname(location.path)}; stop it first`,
      );
  }
  return openBackend(location, etcd);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

interface MigrateFlags extends EtcdFlags {
  from: string;
  to: string;
  force?: boolean;
}

export function registerStore(program: Command, session: Session): void {
  const { io } = session;
  const store = program.command('store').description('the store backend: move it');
  addEtcdOptions(
    store
      .command('migrate')
      .description(
        'copy every object from one store to another, then check each kind arrived (count and content hash)',
      )
      .requiredOption(
        '--from <url>',
        'source: sqlite:DIR (a data directory) or etcd://host:port,...',
      )
      .requiredOption('--to <url>', 'target: sqlite:DIR or etcd://host:port,... (must be empty)')
      .option('--force', 'replace whatever the target holds'),
  ).action(async (opts: MigrateFlags) => {
    const from = storeLocation('--from', opts.from);
    const to = storeLocation('--to', opts.to);
    const etcd = etcdAccess(opts, io.env, [from, to]);
    const source = await openExisting('--from', from, etcd);
    try {
      const target = await openForWriting('--to', to, etcd);
      try {
        const result = await migrate(source, target, { force: opts.force === true });
        io.stdout(
          `copied ${result.copied} objects at revision ${result.revision} from ${describeLocation(from)} to ${describeLocation(to)}\n`,
        );
        io.stdout('KIND                  FROM    TO      CHECK\n');
        for (const c of result.checks)
          io.stdout(
            `${c.kind.padEnd(22)}${String(c.from?.count ?? 0).padEnd(8)}${String(c.to?.count ?? 0).padEnd(8)}${c.ok ? 'ok' : 'MISMATCH'}\n`,
          );
        const bad = result.checks.filter((c) => !c.ok);
        if (bad.length > 0) {
          io.stderr(
            `error: ${bad.length} kind${bad.length === 1 ? '' : 's'} did not arrive intact: ${bad.map((c) => c.kind).join(', ')}\n`,
          );
          session.exitCode = 1;
        }
      } finally {
        await target.close();
      }
    } finally {
      await source.close();
    }
  });
}
