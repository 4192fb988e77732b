// The `yunjian` command tree. Every command resolves its arguments, makes its
// requests through YunjianClient and hands the answers to format.ts or
// describe.ts; all process access goes through CliIo so the whole tree runs
// in-process in unit tests.
import { stat } from 'node:fs/promises';
import { Argument, Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import pkg from '../../package.json' with { type: 'json' };
import { UnauthorizedError, ValidationError, YunjianError } from '../model/errors.ts';
import { DEFAULT_NAMESPACE, lookupKind, type KindInfo } from '../model/kinds.ts';
import type { AnyResource, Event } from '../model/schema.ts';
import type { ApplicationExplanation } from '../model/explanation.ts';
import { CHAOS_SCOPES, YunjianClient, type ChaosScope, type ResourceList } from './client.ts';
import {
  CONFIG_KEYS,
  configFilePath,
  defaultDataDir,
  loadConnection,
  normalizeServerUrl,
  readConfigFile,
  writeConfigFile,
  type ConfigKey,
  type Env,
} from './config.ts';
import { UDP_THREADS, type UdpThreads } from '../traffic/dns-native.ts';
import { registerTraffic } from './traffic.ts';
import { registerAgent } from './agent.ts';
import { registerAudit } from './audit.ts';
import { registerUsers } from './users.ts';
import { registerBench } from './bench.ts';
import { registerCluster } from './cluster.ts';
import { registerCompletion } from './completion.ts';
import { registerSecrets } from './secrets.ts';
import { describe, describeExplanation } from './describe.ts';
import { UsageError, formatError, unknownKindError, type ErrorContext } from './errors.ts';
import {
  ageSince,
  columnWidths,
  renderResources,
  renderRow,
  renderTable,
  resourceRef,
  tableHeader,
  tableRow,
  toJson,
  toYaml,
  type TableOptions,
} from './format.ts';
import { readManifests, sourceLabels, toYamlStream } from './manifest.ts';

const VERSION = pkg.version;

export interface CliIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  readStdin: () => Promise<string>;
  env: Env;
  home: string;
  now: () => number;
  fetch?: typeof fetch;
  /**
   * Aborts on SIGINT/SIGTERM. Only long-running commands (server, get --watch)
   * ask for it, so a Ctrl-C during any other command still ends the process at once.
   */
  interrupted: () => AbortSignal;
}

interface GlobalOptions {
  server?: string;
  token?: string;
}

type OutputFormat = 'wide' | 'json' | 'yaml' | 'name';
const OUTPUT_FORMATS: readonly OutputFormat[] = ['wide', 'json', 'yaml', 'name'];

interface GetOptions {
  namespace?: string;
  allNamespaces?: boolean;
  selector?: string;
  output?: OutputFormat;
  watch?: boolean;
  chunkSize: number;
}

/** Pause before re-opening a watch the server ended, so a restarting server is not hammered. */
const WATCH_RECONNECT_MS = 1000;

/** Runs one command line and returns the process exit code; never throws. */
export async function run(argv: readonly string[], io: CliIo): Promise<number> {
  const session: Session = { io, exitCode: 0, ctx: { dataDir: defaultDataDir(io.env, io.home) } };
  try {
    await buildProgram(session).parseAsync(argv, { from: 'user' });
    return session.exitCode;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode; // commander has printed its own message
    io.stderr(formatError(err, session.ctx) + '\n');
    return 1;
  }
}

interface Session {
  io: CliIo;
  /** Set by commands that report some failures and carry on (delete of several objects). */
  exitCode: number;
  /** Filled in as the command resolves its connection, for error advice. */
  ctx: ErrorContext;
}

function integerOption(what: string, min: number, max: number) {
  return (raw: string): number => {
    const n = Number(raw);
    if (!/^-?[0-9]+$/.test(raw.trim()) || n < min || n > max) {
      throw new InvalidArgumentError(`expected ${what}, got "${raw}".`);
    }
    return n;
  };
}

function positiveNumber(raw: string): number {
  const n = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(n) || n <= 0)
    throw new InvalidArgumentError(`expected a number > 0, got "${raw}".`);
  return n;
}

/** The application a verb that works only on applications (explain, rebalance) names. */
function appTarget(
  verb: string,
  kindArg: string,
  nameArg: string | undefined,
  namespace: string | undefined,
): { name: string; namespace: string } {
  const { kind, name } = target(kindArg, nameArg);
  if (kind.kind !== 'Application')
    throw new UsageError(`${verb} works on applications, not ${kind.plural}`);
  if (name === undefined) throw new UsageError(`${verb} needs a name: yunjian ${verb} app NAME`);
  return { name, namespace: namespaceFor(kind, namespace) ?? DEFAULT_NAMESPACE };
}

function nonNegativeNumber(raw: string): number {
  const n = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(n) || n < 0)
    throw new InvalidArgumentError(`expected a number >= 0, got "${raw}".`);
  return n;
}

function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

function resolveKind(name: string): KindInfo {
  const kind = lookupKind(name);
  if (kind === undefined) throw unknownKindError(name);
  return kind;
}

/** `KIND NAME` or kubectl's `KIND/NAME`. */
function target(
  kindArg: string,
  nameArg: string | undefined,
): { kind: KindInfo; name: string | undefined } {
  const slash = kindArg.indexOf('/');
  if (slash < 0) return { kind: resolveKind(kindArg), name: nameArg };
  if (nameArg !== undefined)
    throw new UsageError(
      `give either KIND/NAME or KIND NAME, not both ("${kindArg}" and "${nameArg}")`,
    );
  return { kind: resolveKind(kindArg.slice(0, slash)), name: kindArg.slice(slash + 1) };
}

/** The namespace a namespaced kind is addressed in; undefined for cluster-scoped kinds and for -A. */
function namespaceFor(
  kind: KindInfo,
  namespace: string | undefined,
  all = false,
): string | undefined {
  if (!kind.namespaced || all) return undefined;
  return namespace ?? DEFAULT_NAMESPACE;
}

async function connect(session: Session, cmd: Command): Promise<YunjianClient> {
  const { server, token } = cmd.optsWithGlobals<GlobalOptions>();
  const conn = await loadConnection({ server, token }, session.io.env, session.io.home);
  session.ctx.server = conn.server.value;
  session.ctx.tokenSource = conn.token?.source;
  return new YunjianClient({
    server: conn.server.value,
    token: conn.token?.value,
    ...(session.io.fetch === undefined ? {} : { fetch: session.io.fetch }),
  });
}

function buildProgram(session: Session): Command {
  const { io } = session;
  const program = new Command('yunjian')
    .description('Yunjian (云舰): one control plane for many clouds, data centres and edge sites')
    .option(
      '--server <url>',
      'API server URL (env YUNJIAN_SERVER, then config file, then http://localhost:7080)',
    )
    .option(
      '--token <token>',
      'bearer token (env YUNJIAN_TOKEN, then config file, then the local admin token)',
    )
    .version(`yunjian ${VERSION}`, '--version', 'print the CLI version')
    .exitOverride()
    .configureOutput({ writeOut: io.stdout, writeErr: io.stderr })
    .showHelpAfterError('(run with --help for usage)');

  program
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
      '--encryption-key-file <path>',
      'keys that encrypt Secrets at rest (env YUNJIAN_ENCRYPTION_KEY_FILE; default: created in the data directory)',
    )
    .option('--fleet <fleet>', 'fleet to load: demo, none or a fleet YAML file', 'demo')
    .option('--audit-log <file>', 'also append every audit entry to this JSON-lines file')
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
    .addOption(
      new Option(
        '--sim-startup-seconds <s>',
        "override every simulated cluster's replica start-up time (benchmarks)",
      )
        .argParser(nonNegativeNumber)
        .hideHelp(),
    )
    .action(async (opts: ServeOptions) => {
      await serve(session, opts);
    });

  program
    .command('apply')
    .description('create or update resources from files, directories or standard input (-)')
    .requiredOption(
      '-f, --filename <path>',
      'file, directory (recursive) or - for stdin; repeatable',
      collect,
    )
    // As kubectl: without -n a document keeps its own metadata.namespace (the
    // server puts those naming none in "default"); with -n every document must
    // name that namespace or none.
    .option('-n, --namespace <ns>', 'namespace of every document (those naming none are put in it)')
    .option('--dry-run', 'validate and report what would change without storing anything')
    .action(
      async (opts: { filename: string[]; namespace?: string; dryRun?: boolean }, cmd: Command) => {
        const manifests = await readManifests(opts.filename, io.readStdin);
        const client = await connect(session, cmd);
        const dryRun = opts.dryRun === true;
        const result = await client
          .apply(toYamlStream(manifests), {
            ...(opts.namespace !== undefined ? { namespace: opts.namespace } : {}),
            dryRun,
          })
          .catch((err: unknown) => {
            throw err instanceof ValidationError ? withSources(err, sourceLabels(manifests)) : err;
          });
        const suffix = dryRun ? ' (server dry run)' : '';
        for (const item of result.items)
          io.stdout(`${resourceRef(item.kind, item.name)} ${item.action}${suffix}\n`);
      },
    );

  program
    .command('get')
    .description('list resources, or show one')
    .argument('<kind>', 'clouds, sites, clusters, applications (or KIND/NAME)')
    .argument('[name]', 'one resource')
    .option('-n, --namespace <ns>', 'namespace (namespaced kinds)')
    .option('-A, --all-namespaces', 'list across all namespaces')
    .option('-l, --selector <selector>', 'label selector, e.g. tier=prod,env!=dev')
    .addOption(new Option('-o, --output <format>', 'output format').choices(OUTPUT_FORMATS))
    .option('-w, --watch', 'after listing, print changes as they happen')
    .option(
      '--chunk-size <n>',
      'page size for listing (0: all at once)',
      integerOption('an integer >= 0', 0, Number.MAX_SAFE_INTEGER),
      500,
    )
    .action(
      async (kindArg: string, nameArg: string | undefined, opts: GetOptions, cmd: Command) => {
        await get(session, cmd, kindArg, nameArg, opts);
      },
    );

  program
    .command('describe')
    .description('show one resource in detail')
    .argument('<kind>', 'clouds, sites, clusters, applications (or KIND/NAME)')
    .argument('[name]', 'resource name')
    .option('-n, --namespace <ns>', 'namespace (namespaced kinds)')
    .action(
      async (
        kindArg: string,
        nameArg: string | undefined,
        opts: { namespace?: string },
        cmd: Command,
      ) => {
        const { kind, name } = target(kindArg, nameArg);
        if (name === undefined)
          throw new UsageError(`describe needs a name: yunjian describe ${kind.plural} NAME`);
        const client = await connect(session, cmd);
        const obj = await client.get(kind, name, namespaceFor(kind, opts.namespace));
        // Recent events of the object (Kubernetes' describe shows them last too).
        const events =
          kind.kind === 'Event'
            ? []
            : (
                await client.list(lookupKind('events')!, {
                  labelSelector: `yunjian.io/involved-kind=${kind.kind.toLowerCase()},yunjian.io/involved-name=${name}`,
                })
              ).items.filter(
                (e) =>
                  e.kind === 'Event' &&
                  (e.spec.involvedObject.namespace ?? undefined) ===
                    (obj.metadata.namespace ?? undefined),
              );
        io.stdout(describe(obj, io.now(), events as Event[]));
      },
    );

  program
    .command('explain')
    .description(
      'why an application is placed where it is: each cloud and cluster, chosen or rejected',
    )
    .argument('<kind>', 'applications (or app/NAME)')
    .argument('[name]', 'application name')
    .option('-n, --namespace <ns>', 'namespace')
    .addOption(new Option('-o, --output <format>', 'output format').choices(['json', 'yaml']))
    .action(
      async (
        kindArg: string,
        nameArg: string | undefined,
        opts: { namespace?: string; output?: 'json' | 'yaml' },
        cmd: Command,
      ) => {
        const { name, namespace } = appTarget('explain', kindArg, nameArg, opts.namespace);
        const client = await connect(session, cmd);
        const x = (await client.explain(name, namespace)) as ApplicationExplanation;
        if (opts.output === 'json') io.stdout(toJson(x));
        else if (opts.output === 'yaml') io.stdout(toYaml(x));
        else io.stdout(describeExplanation(x));
      },
    );

  program
    .command('rebalance')
    .description(
      'place an application afresh on the current fleet; replicas move make-before-break',
    )
    .argument('<kind>', 'applications (or app/NAME)')
    .argument('[name]', 'application name')
    .option('-n, --namespace <ns>', 'namespace')
    .action(
      async (
        kindArg: string,
        nameArg: string | undefined,
        opts: { namespace?: string },
        cmd: Command,
      ) => {
        const { name, namespace } = appTarget('rebalance', kindArg, nameArg, opts.namespace);
        const client = await connect(session, cmd);
        await client.rebalance(name, namespace);
        io.stdout(
          `application.yunjian.io/${name} rebalance requested; watch it with: yunjian describe app ${name}\n`,
        );
      },
    );

  program
    .command('delete')
    .description('delete resources by kind and name, or those described in files')
    .argument('[kind]', 'clouds, sites, clusters, applications (or KIND/NAME)')
    .argument('[names...]', 'resource names')
    .option(
      '-f, --filename <path>',
      'file, directory (recursive) or - for stdin; repeatable',
      collect,
    )
    .option('-n, --namespace <ns>', 'namespace (namespaced kinds)')
    .action(
      async (
        kindArg: string | undefined,
        names: string[],
        opts: { filename?: string[]; namespace?: string },
        cmd: Command,
      ) => {
        await remove(session, cmd, kindArg, names, opts);
      },
    );

  const chaos = program
    .command('chaos')
    .description('inject or clear simulated failures in the fleet');
  for (const action of ['fail', 'recover'] as const) {
    chaos
      .command(action)
      .description(
        action === 'fail'
          ? 'fail a cloud, site, cluster or node'
          : 'recover a failed cloud, site, cluster or node',
      )
      .addArgument(new Argument('<scope>', 'what to act on').choices(CHAOS_SCOPES))
      .argument('<name>', 'its name')
      .action(async (scope: ChaosScope, name: string, _opts: unknown, cmd: Command) => {
        const client = await connect(session, cmd);
        const r = await client.chaos({ action, scope, name });
        const shown =
          r.clusters.slice(0, 5).join(', ') +
          (r.clusters.length > 5 ? `, +${r.clusters.length - 5} more` : '');
        io.stdout(
          `${r.scope}/${r.name} ${action === 'fail' ? 'failed' : 'recovered'}: ` +
            `${r.clusters.length} cluster${r.clusters.length === 1 ? '' : 's'}${shown === '' ? '' : ` (${shown})`}, ` +
            `${r.nodes} node${r.nodes === 1 ? '' : 's'} affected\n`,
        );
      });
  }
  chaos
    .command('list')
    .description('list the failures in force')
    .action(async (_opts: unknown, cmd: Command) => {
      const client = await connect(session, cmd);
      const { items } = await client.chaosList();
      if (items.length === 0) {
        io.stderr('No failures injected.\n');
        return;
      }
      const now = io.now();
      io.stdout(
        renderTable(
          ['SCOPE', 'NAME', 'AGE'],
          items.map((f) => [f.scope, f.name, ageSince(f.since, now)]),
        ),
      );
    });

  const config = program.command('config').description('show or change the CLI configuration');
  config
    .command('view')
    .description('show the settings in effect and where each comes from')
    .option('--raw', 'show the token instead of REDACTED')
    .action(async (opts: { raw?: boolean }, cmd: Command) => {
      const { server, token } = cmd.optsWithGlobals<GlobalOptions>();
      const conn = await loadConnection({ server, token }, io.env, io.home);
      const shownToken =
        conn.token === undefined ? '""' : opts.raw === true ? conn.token.value : 'REDACTED';
      io.stdout(
        [
          `# config file: ${configFilePath(io.env, io.home)}`,
          `server: ${conn.server.value} # from ${conn.server.source}`,
          `token: ${shownToken} # ${conn.token === undefined ? 'none found' : `from ${conn.token.source}`}`,
        ].join('\n') + '\n',
      );
    });
  config
    .command('set')
    .description('set server or token in the config file (written with mode 0600)')
    .addArgument(new Argument('<key>', 'setting').choices(CONFIG_KEYS))
    .argument('<value>', 'new value')
    .action(async (key: ConfigKey, value: string) => {
      const path = configFilePath(io.env, io.home);
      const file = await readConfigFile(path);
      file[key] = key === 'server' ? normalizeServerUrl(value, 'the command line') : value;
      await writeConfigFile(path, file);
      io.stdout(`${key} set in ${path}\n`);
    });

  registerBench(program, io);
  registerAgent(program, io);
  registerCluster(program, io);
  registerTraffic(program, io);
  registerAudit(program, io);
  registerUsers(program, io);
  registerCompletion(program, io, (cmd) => connect(session, cmd));
  registerSecrets(program, io);

  program
    .command('version')
    .description('print the CLI version')
    .action(() => {
      io.stdout(`yunjian ${VERSION} (node ${process.version})\n`);
    });

  return program;
}

/**
 * The server numbers documents in request order ("document 3 Application ..."),
 * or says just "document" for a single one; name the file each came from.
 */
function withSources(err: ValidationError, labels: readonly string[]): ValidationError {
  const named = new ValidationError('apply', err.causes, err.details);
  named.message = err.message.replace(
    /^(document(?: (\d+))?\b.*?)(:?)$/gm,
    (whole, head: string, n: string | undefined, colon: string) => {
      const label = labels[Number(n ?? '1') - 1];
      return label === undefined ? whole : `${head} (from ${label})${colon}`;
    },
  );
  return named;
}

/** The `server` command's flags, as commander parses them. */
interface ServeOptions {
  port: number;
  host: string;
  data: string;
  fleet: string;
  fleetScale: number;
  clusterGraceSeconds: number;
  usageSampleSeconds: number;
  simStartupSeconds?: number;
  dnsPort?: number;
  dnsWorkers?: number;
  dnsUdp?: UdpThreads;
  encryptionKeyFile?: string;
  auditLog?: string;
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
  // Listen for signals before starting, so a Ctrl-C during start-up still
  // closes the store cleanly once the server is up.
  const interrupted = io.interrupted();
  // Loaded on demand: the server pulls in the store, API and controllers, which
  // every other command does without.
  const { runServer } = await import('../cmd/server.ts');
  const keyFile = opts.encryptionKeyFile ?? io.env.YUNJIAN_ENCRYPTION_KEY_FILE;
  const server = await runServer({
    port: opts.port,
    host: opts.host,
    dnsPort: opts.dnsPort ?? 5353,
    dnsPortRequired: opts.dnsPort !== undefined,
    ...(opts.dnsWorkers !== undefined ? { dnsWorkers: opts.dnsWorkers } : {}),
    ...(opts.dnsUdp !== undefined ? { dnsUdp: opts.dnsUdp } : {}),
    dataDir: opts.data,
    ...(keyFile !== undefined && keyFile !== '' ? { encryptionKeyFile: keyFile } : {}),
    fleet: opts.fleet,
    fleetScale: opts.fleetScale,
    ...(opts.auditLog !== undefined ? { auditLog: opts.auditLog } : {}),
    clusterGraceSeconds: opts.clusterGraceSeconds,
    usageSampleSeconds: opts.usageSampleSeconds,
    ...(opts.simStartupSeconds !== undefined ? { simStartupSeconds: opts.simStartupSeconds } : {}),
    log: (line) => io.stdout(`${line}\n`),
  });
  if (!interrupted.aborted) {
    await new Promise((resolve) => interrupted.addEventListener('abort', resolve, { once: true }));
  }
  io.stdout(`received ${String(interrupted.reason)}, shutting down\n`);
  await server.close();
}

async function get(
  session: Session,
  cmd: Command,
  kindArg: string,
  nameArg: string | undefined,
  opts: GetOptions,
): Promise<void> {
  const { io } = session;
  const { kind, name } = target(kindArg, nameArg);
  if (name !== undefined && opts.allNamespaces === true) {
    throw new UsageError(
      'a resource cannot be retrieved by name across all namespaces; drop -A or give -n NAMESPACE',
    );
  }
  const namespace = namespaceFor(kind, opts.namespace, opts.allNamespaces);
  const table: TableOptions = {
    wide: opts.output === 'wide',
    namespaceColumn: kind.namespaced && namespace === undefined,
  };
  const client = await connect(session, cmd);

  let items: AnyResource[];
  let resourceVersion: string;
  if (name === undefined) {
    const list = await client.listAll(
      kind,
      { namespace, labelSelector: opts.selector },
      opts.chunkSize,
    );
    if (opts.watch !== true) return printList(io, kind, list, opts.output, table, namespace);
    items = list.items;
    resourceVersion = list.metadata.resourceVersion;
  } else {
    const obj = await client.get(kind, name, namespace);
    if (opts.watch !== true) return printOne(io, kind, obj, opts.output, table);
    items = [obj];
    resourceVersion = obj.metadata.resourceVersion ?? '0';
  }

  // Watch: the current state first (as ADDED events), then every change after
  // the revision that state was read at, so nothing in between is lost. When
  // the server ends a stream, resume from the last revision seen.
  const print = watchPrinter(io, kind, opts.output, table, items);
  for (const o of items) print('ADDED', o);
  const signal = io.interrupted();
  try {
    while (!signal.aborted) {
      for await (const event of client.watch(kind, {
        namespace,
        labelSelector: opts.selector,
        resourceVersion,
        signal,
      })) {
        resourceVersion = event.object.metadata.resourceVersion ?? resourceVersion;
        if (event.type === 'BOOKMARK') continue;
        if (name === undefined || event.object.metadata.name === name)
          print(event.type, event.object);
      }
      await sleep(WATCH_RECONNECT_MS, signal);
    }
  } catch (err) {
    if (!signal.aborted) throw err;
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => (clearTimeout(timer), resolve()), { once: true });
  });
}

function printList(
  io: CliIo,
  kind: KindInfo,
  list: ResourceList,
  output: OutputFormat | undefined,
  table: TableOptions,
  namespace: string | undefined,
): void {
  switch (output) {
    case 'json':
      return io.stdout(toJson(list));
    case 'yaml':
      return io.stdout(toYaml(list));
    case 'name':
      return io.stdout(list.items.map((o) => `${resourceRef(o.kind, o.metadata.name)}\n`).join(''));
    case 'wide':
    case undefined:
      if (list.items.length === 0) {
        return io.stderr(
          namespace === undefined
            ? 'No resources found.\n'
            : `No resources found in ${namespace} namespace.\n`,
        );
      }
      return io.stdout(renderResources(kind, list.items, table, io.now()));
  }
}

function printOne(
  io: CliIo,
  kind: KindInfo,
  obj: AnyResource,
  output: OutputFormat | undefined,
  table: TableOptions,
): void {
  switch (output) {
    case 'json':
      return io.stdout(toJson(obj));
    case 'yaml':
      return io.stdout(toYaml(obj));
    case 'name':
      return io.stdout(`${resourceRef(obj.kind, obj.metadata.name)}\n`);
    case 'wide':
    case undefined:
      return io.stdout(renderResources(kind, [obj], table, io.now()));
  }
}

type WatchPrinter = (type: 'ADDED' | 'MODIFIED' | 'DELETED', obj: AnyResource) => void;

/**
 * Tables gain an EVENT column and print their header once; column widths come
 * from the initial state and only grow, so later rows stay roughly aligned
 * without re-printing what is already on screen.
 */
function watchPrinter(
  io: CliIo,
  kind: KindInfo,
  output: OutputFormat | undefined,
  table: TableOptions,
  initial: readonly AnyResource[],
): WatchPrinter {
  switch (output) {
    case 'json':
      return (_type, obj) => io.stdout(toJson(obj));
    case 'yaml':
      return (_type, obj) => io.stdout(`---\n${toYaml(obj)}`);
    case 'name':
      return (_type, obj) => io.stdout(`${resourceRef(obj.kind, obj.metadata.name)}\n`);
    case 'wide':
    case undefined: {
      const header = ['EVENT', ...tableHeader(kind, table)];
      const now = io.now();
      const widths = columnWidths([
        header,
        ['MODIFIED'],
        ...initial.map((o) => ['ADDED', ...tableRow(o, table, now)]),
      ]);
      io.stdout(renderRow(header, widths) + '\n');
      return (type, obj) => {
        const row = [type, ...tableRow(obj, table, io.now())];
        row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
        io.stdout(renderRow(row, widths) + '\n');
      };
    }
  }
}

async function remove(
  session: Session,
  cmd: Command,
  kindArg: string | undefined,
  names: readonly string[],
  opts: { filename?: string[]; namespace?: string },
): Promise<void> {
  const { io } = session;
  const targets: { kind: KindInfo; name: string; namespace: string | undefined }[] = [];
  if (opts.filename !== undefined) {
    if (kindArg !== undefined) throw new UsageError('give either -f FILE or KIND NAME, not both');
    for (const m of await readManifests(opts.filename, io.readStdin)) {
      const kindName = m.object['kind'];
      const meta = m.object['metadata'] as { name?: unknown; namespace?: unknown } | undefined;
      if (typeof kindName !== 'string' || typeof meta?.name !== 'string') {
        throw new UsageError(
          `${m.source}: document ${m.index} needs kind and metadata.name to be deleted`,
        );
      }
      const kind = resolveKind(kindName);
      const ns = typeof meta.namespace === 'string' ? meta.namespace : opts.namespace;
      targets.push({ kind, name: meta.name, namespace: namespaceFor(kind, ns) });
    }
  } else {
    if (kindArg === undefined) throw new UsageError('delete needs KIND NAME or -f FILE');
    const { kind, name } = target(kindArg, undefined);
    const all = name === undefined ? names : [name, ...names];
    if (all.length === 0)
      throw new UsageError(`delete needs a name: yunjian delete ${kind.plural} NAME`);
    for (const n of all)
      targets.push({ kind, name: n, namespace: namespaceFor(kind, opts.namespace) });
  }
  // Each delete is independent: report a failure and go on, so one missing
  // object does not leave the rest in place; the exit code still says it failed.
  const client = await connect(session, cmd);
  for (const t of targets) {
    try {
      await client.delete(t.kind, t.name, t.namespace);
      io.stdout(`${resourceRef(t.kind.kind, t.name)} deleted\n`);
    } catch (err) {
      // Transport and authentication failures would fail every other delete the same way.
      if (
        targets.length === 1 ||
        !(err instanceof YunjianError) ||
        err instanceof UnauthorizedError
      )
        throw err;
      io.stderr(formatError(err, session.ctx) + '\n');
      session.exitCode = 1;
    }
  }
}
