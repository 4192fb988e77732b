// `yunjian cluster join NAME --kubeconfig FILE [--context C] --site S`: makes
// an existing Kubernetes cluster a member. The kubeconfig is read here and made
// self-contained (certificate and token files inlined, relative to the
// kubeconfig's folder, as kubectl resolves them) because the control plane
// that stores it may run on another host.
import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import type { Command } from 'commander';
import { parse, stringify } from 'yaml';
import { ValidationError } from '../../model/errors.ts';
import { connect, type Session } from '../session.ts';

const JOIN_PATH = '/api/v1alpha1/kubernetes/join';

type Section = Record<string, unknown>;

/** Inlines `field` (a file path) as `field-data` (base64), or as `into` verbatim when given. */
async function inline(
  section: Section | undefined,
  field: string,
  base: string,
  into?: string,
): Promise<void> {
  const path = section?.[field];
  if (section === undefined || typeof path !== 'string') return;
  let content: Buffer;
  try {
    content = await readFile(resolve(base, path));
  } catch (err) {
    throw new ValidationError('kubeconfig', [
      { field, message: `expected a readable file at ${path}: ${(err as Error).message}` },
    ]);
  }
  delete section[field];
  if (into !== undefined) section[into] = content.toString('utf8').trim();
  else section[`${field}-data`] = content.toString('base64');
}

export async function selfContainedKubeconfig(path: string): Promise<string> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new ValidationError('command line', [
      { field: '--kubeconfig', message: `expected a readable file: ${(err as Error).message}` },
    ]);
  }
  const doc = parse(text) as {
    clusters?: { cluster?: Section }[];
    users?: { user?: Section }[];
  } | null;
  if (doc === null || typeof doc !== 'object')
    throw new ValidationError('command line', [
      { field: '--kubeconfig', message: `expected a kubeconfig document in ${path}` },
    ]);
  const base = dirname(resolve(path));
  for (const c of doc.clusters ?? []) await inline(c.cluster, 'certificate-authority', base);
  for (const u of doc.users ?? []) {
    await inline(u.user, 'client-certificate', base);
    await inline(u.user, 'client-key', base);
    await inline(u.user, 'tokenFile', base, 'token');
  }
  return stringify(doc);
}

interface JoinOptions {
  kubeconfig: string;
  context?: string;
  site: string;
  zone?: string;
}

export function registerCluster(program: Command, session: Session): void {
  const { io } = session;
  const cluster = program.command('cluster').description('manage member clusters');
  cluster
    .command('join')
    .description(
      'register an existing Kubernetes cluster as a member (checks it answers, stores the kubeconfig as a secret)',
    )
    .argument('<name>', 'name of the new Cluster')
    .requiredOption('--kubeconfig <file>', 'kubeconfig of the cluster')
    .option('--context <name>', "kubeconfig context (default: the kubeconfig's current-context)")
    .requiredOption('--site <name>', "Site the cluster runs in (its cloud is the Site's)")
    .option('--zone <name>', 'zone within the site')
    .action(async (name: string, opts: JoinOptions, cmd: Command) => {
      const kubeconfig = await selfContainedKubeconfig(opts.kubeconfig);
      const body = {
        name,
        site: opts.site,
        kubeconfig,
        ...(opts.context !== undefined ? { context: opts.context } : {}),
        ...(opts.zone !== undefined ? { zone: opts.zone } : {}),
      };
      const client = await connect(session, cmd);
      const result = await client.call<{
        nodes: number;
        cluster: {
          spec: {
            cloud: string;
            site: string;
            driver: { kubernetes?: { kubeconfigSecret?: string } };
          };
        };
      }>('POST', JOIN_PATH, body);
      const spec = result.cluster.spec;
      io.stdout(
        `cluster/${name} joined: ${result.nodes} node${result.nodes === 1 ? '' : 's'}, site ${spec.site} (cloud ${spec.cloud}); kubeconfig stored as secret/${spec.driver.kubernetes?.kubeconfigSecret ?? ''}\n`,
      );
    });
}
