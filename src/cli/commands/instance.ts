// `yunjian instance create|get|delete|upgrade|rollback|diff`: instances of
// catalog items. Writes go through apply (server-side validation: 422 with
// `spec.parameters.<name>` for a bad --set); upgrade and rollback change
// spec.version compare-and-set on the resourceVersion read.
import type { Command } from 'commander';
import { canonical } from '../../model/canonical.ts';
import { DEFAULT_NAMESPACE, lookupKind, type KindInfo } from '../../model/kinds.ts';
import {
  API_VERSION,
  type Application,
  type CatalogItem,
  type Component,
  type Instance,
  type Override,
  type PlacementStatus,
  type Workload,
} from '../../model/schema.ts';
import { UsageError } from '../errors.ts';
import { renderResources, toJson, toYaml } from '../format.ts';
import { choiceOption, collect } from '../options.ts';
import { connect, type Session } from '../session.ts';

function kind(name: string): KindInfo {
  const k = lookupKind(name);
  if (k === undefined) throw new Error(`${name} kind is not registered`);
  return k;
}

/** `k=v` pairs typed by the version's parameter schema (a name it lacks stays a string; the server refuses it). */
export function parseSets(
  sets: readonly string[],
  item: CatalogItem,
  version: string,
): Record<string, string | number | boolean> {
  const props = item.spec.versions.find((v) => v.version === version)?.parameters.properties ?? {};
  const out: Record<string, string | number | boolean> = {};
  for (const s of sets) {
    const eq = s.indexOf('=');
    if (eq <= 0) throw new UsageError(`--set expects NAME=VALUE, got "${s}"`);
    const name = s.slice(0, eq);
    const raw = s.slice(eq + 1);
    const type = props[name]?.type;
    if (
      (type === 'integer' || type === 'number') &&
      raw.trim() !== '' &&
      Number.isFinite(Number(raw))
    )
      out[name] = Number(raw);
    else if (type === 'boolean' && (raw === 'true' || raw === 'false')) out[name] = raw === 'true';
    else out[name] = raw;
  }
  return out;
}

interface Member {
  cluster: string;
  cloud: string;
  component: string;
  effective: { image: string; env: Record<string, string>; command: string[]; args: string[] };
  declared: string[];
  flagged: string[];
}

function overrideTargets(o: Override, p: PlacementStatus): boolean {
  const t = o.target;
  return (
    (t.clusters?.includes(p.cluster) ?? true) &&
    (t.clouds?.includes(p.cloud) ?? true) &&
    (p.site === undefined || (t.sites?.includes(p.site) ?? true)) &&
    (t.components?.includes(p.component) ?? true)
  );
}

/**
 * Per member: the deployment in effect there (the agent's Workload where there
 * is one, else the component with the overrides that target the member), the
 * differences from the instance's version that a pin declares, and every other
 * difference, flagged.
 */
export function instanceDiff(
  instance: Instance,
  app: Application,
  workloads: readonly Workload[],
): Member[] {
  const pinned = new Set((instance.spec.pins ?? []).flatMap((p) => p.clusters));
  const members: Member[] = [];
  for (const p of app.status?.placements ?? []) {
    const base = app.spec.components.find((c) => c.name === p.component);
    if (base === undefined) continue;
    const fields = ['image', 'env', 'command', 'args'] as const;
    const pick = (c: Partial<Component>) => ({
      image: c.image ?? '',
      env: c.env ?? {},
      command: c.command ?? [],
      args: c.args ?? [],
    });
    let expected = pick(base);
    const declared: string[] = [];
    const flagged: string[] = [];
    for (const o of app.spec.overrides ?? []) {
      if (!overrideTargets(o, p)) continue;
      const fromPin = o.target.clusters?.every((c) => pinned.has(c)) ?? false;
      const patched = { ...expected };
      if (o.patches.image !== undefined) patched.image = o.patches.image;
      if (o.patches.env !== undefined) patched.env = { ...patched.env, ...o.patches.env };
      for (const f of fields)
        if (canonical(patched[f]) !== canonical(expected[f]))
          (fromPin ? declared : flagged).push(
            fromPin ? `${f} (version pin)` : `${f}: override not declared by the instance`,
          );
      expected = patched;
    }
    const w = workloads.find(
      (x) =>
        x.spec.cluster === p.cluster &&
        x.spec.key.app === app.metadata.name &&
        x.spec.key.namespace === (app.metadata.namespace ?? DEFAULT_NAMESPACE) &&
        x.spec.key.component === p.component,
    );
    const effective = w ? pick(w.spec) : expected;
    for (const f of fields)
      if (canonical(effective[f]) !== canonical(expected[f]))
        flagged.push(`${f}: the member runs something else than the application says`);
    members.push({
      cluster: p.cluster,
      cloud: p.cloud,
      component: p.component,
      effective,
      declared,
      flagged,
    });
  }
  return members;
}

export function renderDiff(members: readonly Member[]): string {
  if (members.length === 0) return 'no members yet\n';
  const out: string[] = [];
  for (const m of members) {
    out.push(
      `${m.component}@${m.cluster} (cloud ${m.cloud})${m.flagged.length > 0 ? '  DIFFERS' : ''}`,
    );
    out.push(`  image:   ${m.effective.image}`);
    if (m.effective.command.length > 0)
      out.push(`  command: ${JSON.stringify(m.effective.command)}`);
    if (m.effective.args.length > 0) out.push(`  args:    ${JSON.stringify(m.effective.args)}`);
    for (const [k, v] of Object.entries(m.effective.env).sort())
      out.push(`  env:     ${k}=${/PASSWORD|URL/.test(k) ? '<redacted>' : v}`);
    for (const d of m.declared) out.push(`  declared: ${d}`);
    for (const f of m.flagged) out.push(`  FLAG: ${f}`);
  }
  return out.join('\n') + '\n';
}

export function registerInstance(program: Command, session: Session): void {
  const { io } = session;
  const INSTANCE = kind('Instance');
  const instance = program.command('instance').description('instances of catalog items');
  const ns = (o: { namespace?: string }) => o.namespace ?? DEFAULT_NAMESPACE;

  async function setVersion(
    cmd: Command,
    name: string,
    namespace: string,
    version: (i: Instance) => string,
  ): Promise<void> {
    const client = await connect(session, cmd);
    const current = (await client.get(INSTANCE, name, namespace)) as Instance;
    const to = version(current);
    const { status: _status, ...rest } = current;
    await client.apply(JSON.stringify({ ...rest, spec: { ...current.spec, version: to } }), {
      namespace,
      dryRun: false,
    });
    io.stdout(`instance.yunjian.io/${name} ${current.spec.version} -> ${to}\n`);
  }

  instance
    .command('create')
    .description('create an instance of a catalog item')
    .argument('<name>', 'instance name (also the name of the application it becomes)')
    .requiredOption('--item <item>', 'catalog item')
    .requiredOption('--plan <plan>', 'plan (yunjian catalog show ITEM)')
    .option(
      '--item-version <version>',
      "version of the item (default: the newest; --version is the CLI's own flag)",
    )
    .option('--set <name=value>', 'a parameter (repeatable)', collect)
    .option('--cloud <cloud>', 'run only on this cloud (repeatable)', collect)
    .option(
      '--member-kind <kind>',
      'agent, kubernetes or sim',
      choiceOption(['agent', 'kubernetes', 'sim'] as const),
    )
    .option('--fleet-wide', 'run on every allowed cluster, including clusters that join later')
    .option('-n, --namespace <ns>', 'namespace')
    .action(
      async (
        name: string,
        opts: {
          item: string;
          plan: string;
          itemVersion?: string;
          set?: string[];
          cloud?: string[];
          memberKind?: 'agent' | 'kubernetes' | 'sim';
          fleetWide?: boolean;
          namespace?: string;
        },
        cmd: Command,
      ) => {
        const client = await connect(session, cmd);
        const item = (await client.get(kind('CatalogItem'), opts.item)) as CatalogItem;
        const version = opts.itemVersion ?? item.spec.versions.at(-1)?.version ?? '';
        const parameters = parseSets(opts.set ?? [], item, version);
        const doc: Instance = {
          apiVersion: API_VERSION,
          kind: 'Instance',
          metadata: { name, namespace: ns(opts) },
          spec: {
            item: opts.item,
            version,
            plan: opts.plan,
            ...(Object.keys(parameters).length > 0 ? { parameters } : {}),
            ...(opts.memberKind ? { memberKind: opts.memberKind } : {}),
            ...(opts.cloud ? { placement: { clusterAffinity: { clouds: opts.cloud } } } : {}),
            ...(opts.fleetWide === true ? { fleetWide: true } : {}),
          },
        };
        await client.apply(JSON.stringify(doc), { namespace: ns(opts), dryRun: false });
        io.stdout(
          `instance.yunjian.io/${name} created (${opts.item} ${version}, plan ${opts.plan})\n`,
        );
      },
    );
  instance
    .command('get')
    .description('show instances, or one')
    .argument('[name]', 'instance name')
    .option('-o, --output <format>', 'yaml or json', choiceOption(['yaml', 'json'] as const))
    .option('-n, --namespace <ns>', 'namespace')
    .action(
      async (
        name: string | undefined,
        opts: { output?: 'yaml' | 'json'; namespace?: string },
        cmd: Command,
      ) => {
        const client = await connect(session, cmd);
        const items =
          name === undefined
            ? (await client.list(INSTANCE, { namespace: ns(opts) })).items
            : [await client.get(INSTANCE, name, ns(opts))];
        const value = name === undefined ? items : items[0];
        if (opts.output === 'json') io.stdout(toJson(value));
        else if (opts.output === 'yaml') io.stdout(toYaml(value));
        else
          io.stdout(
            renderResources(INSTANCE, items, { wide: true, namespaceColumn: false }, Date.now()),
          );
      },
    );
  instance
    .command('delete')
    .description('delete an instance and the application it became')
    .argument('<name>', 'instance name')
    .option('-n, --namespace <ns>', 'namespace')
    .action(async (name: string, opts: { namespace?: string }, cmd: Command) => {
      const client = await connect(session, cmd);
      await client.delete(INSTANCE, name, ns(opts));
      io.stdout(`instance.yunjian.io/${name} deleted\n`);
    });
  instance
    .command('upgrade')
    .description('move an instance to another version (rolling; the old one is kept for rollback)')
    .argument('<name>', 'instance name')
    .requiredOption('--to <version>', 'target version')
    .option('-n, --namespace <ns>', 'namespace')
    .action(async (name: string, opts: { to: string; namespace?: string }, cmd: Command) =>
      setVersion(cmd, name, ns(opts), () => opts.to),
    );
  instance
    .command('rollback')
    .description('return an instance to the version before its last upgrade')
    .argument('<name>', 'instance name')
    .option('-n, --namespace <ns>', 'namespace')
    .action(async (name: string, opts: { namespace?: string }, cmd: Command) =>
      setVersion(cmd, name, ns(opts), (i) => {
        const previous = i.status?.previousVersion;
        if (previous === undefined)
          throw new UsageError(`instance ${name} has no previous version to roll back to`);
        return previous;
      }),
    );
  instance
    .command('diff')
    .description(
      'per member: the deployment in effect, and any difference that is not a declared pin',
    )
    .argument('<name>', 'instance name')
    .option('-n, --namespace <ns>', 'namespace')
    .action(async (name: string, opts: { namespace?: string }, cmd: Command) => {
      const client = await connect(session, cmd);
      const i = (await client.get(INSTANCE, name, ns(opts))) as Instance;
      const app = (await client.get(
        kind('Application'),
        i.status?.application ?? name,
        ns(opts),
      )) as Application;
      const workloads = (await client.list(kind('Workload'))).items as Workload[];
      const members = instanceDiff(i, app, workloads);
      io.stdout(renderDiff(members));
      if (members.some((m) => m.flagged.length > 0)) process.exitCode = 1;
    });
}
