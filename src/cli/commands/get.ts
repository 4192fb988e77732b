// `yunjian get KIND [NAME]`: a table, names, JSON or YAML of stored objects,
// optionally followed by a watch; and `get nodes --cluster NAME`, a cluster's
// nodes as its driver reports them (nodes are not stored, so no watch).
import { Option, type Command } from 'commander';
import { DEFAULT_NAMESPACE, type KindInfo } from '../../model/kinds.ts';
import type { AnyResource } from '../../model/schema.ts';
import type { ResourceList } from '../client.ts';
import { UsageError } from '../errors.ts';
import {
  columnWidths,
  renderNodes,
  renderResources,
  renderRow,
  resourceRef,
  tableHeader,
  tableRow,
  toJson,
  toYaml,
  type TableOptions,
} from '../format.ts';
import { integerOption } from '../options.ts';
import { connect, type CliIo, type Session } from '../session.ts';
import { namesNodes, namespaceFor, target } from '../targets.ts';

type OutputFormat = 'wide' | 'json' | 'yaml' | 'name';
const OUTPUT_FORMATS: readonly OutputFormat[] = ['wide', 'json', 'yaml', 'name'];

interface GetOptions {
  namespace?: string;
  allNamespaces?: boolean;
  selector?: string;
  output?: OutputFormat;
  watch?: boolean;
  chunkSize: number;
  cluster?: string;
}

/** Pause before re-opening a watch the server ended, so a restarting server is not hammered. */
const WATCH_RECONNECT_MS = 1000;

export function registerGet(program: Command, session: Session): void {
  program
    .command('get')
    .description('list resources, or show one')
    .argument('<kind>', 'clouds, sites, clusters, applications, nodes (or KIND/NAME)')
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
    .option('--cluster <name>', 'the cluster whose nodes to list (get nodes)')
    .action(
      async (kindArg: string, nameArg: string | undefined, opts: GetOptions, cmd: Command) => {
        if (namesNodes(kindArg)) await getNodes(session, cmd, kindArg, nameArg, opts);
        else await get(session, cmd, kindArg, nameArg, opts);
      },
    );
}

async function getNodes(
  session: Session,
  cmd: Command,
  kindArg: string,
  nameArg: string | undefined,
  opts: GetOptions,
): Promise<void> {
  const { io } = session;
  if (nameArg !== undefined || kindArg.includes('/'))
    throw new UsageError(
      'get nodes lists every node of one cluster and takes no node name: yunjian get nodes --cluster NAME',
    );
  if (opts.cluster === undefined)
    throw new UsageError(
      'get nodes needs --cluster NAME (a fleet has too many nodes to list at once): yunjian get nodes --cluster NAME',
    );
  if (opts.watch === true || opts.selector !== undefined)
    throw new UsageError(
      `get nodes takes no ${opts.watch === true ? '--watch' : '--selector'}: nodes are read from the cluster's driver, not stored`,
    );
  const client = await connect(session, cmd);
  const list = await client.nodes(opts.cluster);
  switch (opts.output) {
    case 'json':
      return io.stdout(toJson(list));
    case 'yaml':
      return io.stdout(toYaml(list));
    case 'name':
      return io.stdout(list.items.map((n) => `node/${n.name}\n`).join(''));
    case 'wide':
    case undefined:
      if (list.items.length === 0) return io.stderr(`No nodes found in cluster ${opts.cluster}.\n`);
      return io.stdout(renderNodes(list.items, opts.output === 'wide'));
  }
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
  if (opts.cluster !== undefined)
    throw new UsageError(
      `--cluster selects the cluster of get nodes; ${kind.plural} take no --cluster`,
    );
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

/**
 * `get [NAME]` under a kind's own command group (`yunjian migration get`): the
 * same table as `yunjian get KIND`, in one namespace.
 */
export function registerGetOf(
  group: Command,
  session: Session,
  kind: KindInfo,
  noun: string,
): void {
  group
    .command('get')
    .description(`list ${kind.plural}, or show one`)
    .argument('[name]', `${noun} name`)
    .option('-n, --namespace <ns>', 'namespace')
    .action(async (name: string | undefined, opts: { namespace?: string }, cmd: Command) => {
      const client = await connect(session, cmd);
      const namespace = opts.namespace ?? DEFAULT_NAMESPACE;
      const items =
        name === undefined
          ? (await client.list(kind, { namespace })).items
          : [await client.get(kind, name, namespace)];
      session.io.stdout(
        renderResources(kind, items, { wide: false, namespaceColumn: false }, session.io.now()),
      );
    });
}
