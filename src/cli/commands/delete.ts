// `yunjian delete KIND NAME...` or `delete -f FILE...`: each object deleted on
// its own, so one failure does not leave the rest in place.
import type { Command } from 'commander';
import { UnauthorizedError, YunjianError } from '../../model/errors.ts';
import type { KindInfo } from '../../model/kinds.ts';
import { UsageError, formatError } from '../errors.ts';
import { resourceRef } from '../format.ts';
import { readManifests } from '../manifest.ts';
import { collect } from '../options.ts';
import { connect, type Session } from '../session.ts';
import { namespaceFor, resolveKind, target } from '../targets.ts';

interface DeleteOptions {
  filename?: string[];
  namespace?: string;
}

export function registerDelete(program: Command, session: Session): void {
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
      async (kindArg: string | undefined, names: string[], opts: DeleteOptions, cmd: Command) => {
        await remove(session, cmd, kindArg, names, opts);
      },
    );
}

async function remove(
  session: Session,
  cmd: Command,
  kindArg: string | undefined,
  names: readonly string[],
  opts: DeleteOptions,
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
