// `yunjian apply -f FILE...`: every document in one request, validated by the
// server all or nothing; errors name the file each document came from.
import type { Command } from 'commander';
import { ValidationError } from '../../model/errors.ts';
import { resourceRef } from '../format.ts';
import { readManifests, sourceLabels, toYamlStream } from '../manifest.ts';
import { collect } from '../options.ts';
import { connect, type Session } from '../session.ts';

export function registerApply(program: Command, session: Session): void {
  const { io } = session;
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
