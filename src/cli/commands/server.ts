// `yunjian server`: the control plane with its embedded fleet, in this process
// until SIGINT/SIGTERM.
import { stat } from 'node:fs/promises';
import { Option, type Command } from 'commander';
import { UDP_THREADS, type UdpThreads } from '../../traffic/dns-native.ts';
import { BACKEND_STATS_PATH } from '../../traffic/backendstats.ts';
import { defaultDataDir } from '../config.ts';
import { UsageError } from '../errors.ts';
import { collect, integerOption, nonNegativeNumber, positiveNumber } from '../options.ts';
import type { Session } from '../session.ts';
import { addEtcdOptions, etcdAccess, storeLocation, type EtcdFlags } from './store.ts';

/** The `server` command's flags, as commander parses them. */
interface ServeOptions extends EtcdFlags {
  store: string;
  port: number;
  host: string;
  data: string;
  fleet: string;
  fleetScale: number;
  clusterGraceSeconds: number;
  usageSampleSeconds: number;
  gatewayStats?: string[];
  simStartupSeconds?: number;
  dnsPort?: number;
  dnsWorkers?: number;
  dnsUdp?: UdpThreads;
  encryptionKeyFile?: string;
  adminTokenFile?: string;
  leaderLeaseSeconds: number;
  auditLog?: string;
  oidcIssuer?: string;
  oidcAudience?: string;
  oidcJwks?: string;
  oidcUsernameClaim: string;
  oidcUsernamePrefix: string;
}

export function registerServer(program: Command, session: Session): void {
  const { io } = session;
  const server = program
    .command('server')
    .description('run the control plane with the embedded simulated fleet')
    .option(
      '--port <port>',
      'TCP port (0 picks a free one)',
      integerOption('a port from 0 to 65535', 0, 65535),
      7080,
    )
    .option('--host <host>', 'address to listen on', '127.0.0.1')
    .option(
      '--dns-port <port>',
      'UDP+TCP port of the authoritative DNS server (default 5353; 0 picks a free one)',
      integerOption('a port from 0 to 65535', 0, 65535),
    )
    .option(
      '--dns-workers <n>',
      'UDP threads of the DNS server (default: available parallelism; 0 serves UDP on the main thread)',
      integerOption('a worker count from 0 to 256', 0, 256),
    )
    .addOption(
      new Option(
        '--dns-udp <threads>',
        'what serves UDP: native (batched syscalls; default when built) or workers (Node worker threads)',
      ).choices(UDP_THREADS),
    )
    .option('--data <dir>', 'data directory (store, admin.token)', defaultDataDir(io.env, io.home))
    .option(
      '--store <url>',
      'where objects live: sqlite (in the data directory), sqlite:DIR or etcd://host:port[,host:port...]',
      'sqlite',
    )
    .option(
      '--encryption-key-file <path>',
      'keys that encrypt Secrets at rest (env YUNJIAN_ENCRYPTION_KEY_FILE; default: created in the data directory)',
    )
    .option(
      '--admin-token-file <path>',
      'the admin token (default: admin.token in the data directory); control planes sharing a store share it',
    )
    .option(
      '--leader-lease-seconds <s>',
      'how long a standby control plane waits on a silent leader before it runs the controllers',
      positiveNumber,
      15,
    )
    .option('--fleet <fleet>', 'fleet to load: demo, none or a fleet YAML file', 'demo')
    .option('--audit-log <file>', 'also append every audit entry to this JSON-lines file')
    .option('--oidc-issuer <url>', 'accept OIDC ID tokens from this issuer (exact iss)')
    .option('--oidc-audience <client-id>', 'the aud OIDC tokens must carry (with --oidc-issuer)')
    .option(
      '--oidc-jwks <file-or-url>',
      "the issuer's JSON Web Key Set: a file or an https URL (with --oidc-issuer)",
    )
    .option('--oidc-username-claim <claim>', 'the claim that names an OIDC user', 'sub')
    .option(
      '--oidc-username-prefix <prefix>',
      'put before OIDC user names so they never equal a local user ("" for none)',
      'oidc.',
    )
    .option('--fleet-scale <n>', 'multiply the generated fleet size', positiveNumber, 1)
    .option(
      '--cluster-grace-seconds <s>',
      'seconds a cluster that stops answering stays Ready before failover',
      nonNegativeNumber,
      5,
    )
    .option(
      '--usage-sample-seconds <s>',
      'seconds between the cpu-use samples a colocated app learns its reservation from',
      positiveNumber,
      10,
    )
    .option(
      '--gateway-stats <url>',
      `a gateway's per-backend stats (http://GATEWAY${BACKEND_STATS_PATH}) for the migration gate; repeatable`,
      collect,
    )
    .addOption(
      new Option(
        '--sim-startup-seconds <s>',
        "override every simulated cluster's replica start-up time (benchmarks)",
      )
        .argParser(nonNegativeNumber)
        .hideHelp(),
    );
  addEtcdOptions(server).action(async (opts: ServeOptions) => {
    await serve(session, opts);
  });
}

async function serve(session: Session, opts: ServeOptions): Promise<void> {
  const { io } = session;
  if (opts.fleet !== 'demo' && opts.fleet !== 'none') {
    const info = await stat(opts.fleet).catch(() => undefined);
    if (info?.isFile() !== true)
      throw new UsageError(
        `--fleet: no fleet file at ${opts.fleet} (use demo, none or the path of a fleet YAML file)`,
      );
  }
  const oidcFlags = { issuer: opts.oidcIssuer, audience: opts.oidcAudience, jwks: opts.oidcJwks };
  const oidcGiven = Object.entries(oidcFlags).filter(([, v]) => v !== undefined);
  if (oidcGiven.length > 0 && oidcGiven.length < 3) {
    const missing = Object.entries(oidcFlags).find(([, v]) => v === undefined)?.[0] ?? '';
    throw new UsageError(
      `--oidc-${missing}: required with ${oidcGiven.map(([k]) => `--oidc-${k}`).join(' and ')}`,
    );
  }
  // Listen for signals before starting, so a Ctrl-C during start-up still
  // closes the store cleanly once the server is up.
  const interrupted = io.interrupted();
  // Loaded on demand: the server pulls in the store, API and controllers, which
  // every other command does without.
  const { runServer } = await import('../../cmd/server.ts');
  const keyFile = opts.encryptionKeyFile ?? io.env.YUNJIAN_ENCRYPTION_KEY_FILE;
  const location = storeLocation('--store', opts.store, opts.data);
  const etcd = etcdAccess(opts, io.env, [location]);
  const server = await runServer({
    port: opts.port,
    host: opts.host,
    dnsPort: opts.dnsPort ?? 5353,
    dnsPortRequired: opts.dnsPort !== undefined,
    ...(opts.dnsWorkers !== undefined ? { dnsWorkers: opts.dnsWorkers } : {}),
    ...(opts.dnsUdp !== undefined ? { dnsUdp: opts.dnsUdp } : {}),
    dataDir: opts.data,
    store: opts.store,
    etcd,
    ...(keyFile !== undefined && keyFile !== '' ? { encryptionKeyFile: keyFile } : {}),
    ...(opts.adminTokenFile !== undefined ? { adminTokenFile: opts.adminTokenFile } : {}),
    leaseSeconds: opts.leaderLeaseSeconds,
    fleet: opts.fleet,
    fleetScale: opts.fleetScale,
    ...(opts.auditLog !== undefined ? { auditLog: opts.auditLog } : {}),
    ...(opts.oidcIssuer !== undefined &&
    opts.oidcAudience !== undefined &&
    opts.oidcJwks !== undefined
      ? {
          oidc: {
            issuer: opts.oidcIssuer,
            audience: opts.oidcAudience,
            jwks: opts.oidcJwks,
            usernameClaim: opts.oidcUsernameClaim,
            usernamePrefix: opts.oidcUsernamePrefix,
          },
        }
      : {}),
    clusterGraceSeconds: opts.clusterGraceSeconds,
    usageSampleSeconds: opts.usageSampleSeconds,
    ...(opts.gatewayStats !== undefined ? { gatewayStats: opts.gatewayStats } : {}),
    ...(opts.simStartupSeconds !== undefined ? { simStartupSeconds: opts.simStartupSeconds } : {}),
    log: (line) => io.stdout(`${line}\n`),
  });
  if (!interrupted.aborted) {
    await new Promise((resolve) => interrupted.addEventListener('abort', resolve, { once: true }));
  }
  io.stdout(`received ${String(interrupted.reason)}, shutting down\n`);
  await server.close();
}
