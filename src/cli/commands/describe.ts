// `yunjian describe KIND NAME`: one object in detail, with its recent events.
import type { Command } from 'commander';
import { lookupKind } from '../../model/kinds.ts';
import type { Event } from '../../model/schema.ts';
import { describe } from '../describe.ts';
import { UsageError } from '../errors.ts';
import { connect, type Session } from '../session.ts';
import { namespaceFor, target } from '../targets.ts';

export function registerDescribe(program: Command, session: Session): void {
  const { io } = session;
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
}
