// `yunjian catalog list [--category C]` and `yunjian catalog show ITEM`: the
// platform catalog as the server holds it (built-in items and applied ones).
import type { Command } from 'commander';
import { memberKindsOf } from '../../model/catalog/members.ts';
import { lookupKind } from '../../model/kinds.ts';
import { CATALOG_CATEGORIES, type CatalogItem } from '../../model/schema.ts';
import { UsageError } from '../errors.ts';
import { NONE, renderTable } from '../format.ts';
import { choiceOption } from '../options.ts';
import { connect, type Session } from '../session.ts';

const KIND = lookupKind('CatalogItem');

/** Every category in catalog order, each with its items (an empty category shows as none). */
export function renderCatalogList(items: readonly CatalogItem[], category?: string): string {
  const rows: string[][] = [];
  for (const c of CATALOG_CATEGORIES) {
    if (category !== undefined && c !== category) continue;
    const inCategory = items
      .filter((i) => i.spec.category === c)
      .sort((a, b) => (a.metadata.name < b.metadata.name ? -1 : 1));
    if (inCategory.length === 0) rows.push([c, NONE, '', '', '']);
    for (const i of inCategory)
      rows.push([
        c,
        i.metadata.name,
        i.spec.displayName,
        i.spec.versions.map((v) => v.version).join(','),
        memberKindsOf(i).join(','),
      ]);
  }
  return renderTable(['CATEGORY', 'NAME', 'DISPLAY-NAME', 'VERSIONS', 'MEMBERS'], rows);
}

export function renderCatalogItem(item: CatalogItem): string {
  const s = item.spec;
  const out = [
    `Name:         ${item.metadata.name}`,
    `Display name: ${s.displayName}`,
    `Category:     ${s.category}`,
    `Members:      ${memberKindsOf(item).join(', ')}`,
    `Description:  ${s.description}`,
    `Lifecycle:    upgrade ${s.lifecycle.upgrade}, backup ${s.lifecycle.backup}, migration ${s.lifecycle.migration}, ${s.lifecycle.replicates ? 'replicates' : 'does not replicate'}`,
    'Plans:',
    ...s.plans.map(
      (p) =>
        `  ${p.name}: ${p.replicas} x (${String(p.resources.cpu)} cpu, ${String(p.resources.memory)}) ${p.description}`,
    ),
    `Dependencies: ${(s.dependencies ?? []).map((d) => `${d.item} ${d.versions}`).join(', ') || NONE}`,
    `Outputs:      ${Object.keys(s.outputs).join(', ')}`,
    'Versions:',
  ];
  for (const v of s.versions) {
    out.push(`  ${v.version}${v.deprecated === true ? ' (deprecated)' : ''}`);
    for (const [name, p] of Object.entries(v.parameters.properties)) {
      const bounds = [
        p.enum ? `one of ${p.enum.join('|')}` : '',
        p.minimum !== undefined ? `>= ${p.minimum}` : '',
        p.maximum !== undefined ? `<= ${p.maximum}` : '',
        p.pattern !== undefined ? `matching ${p.pattern}` : '',
      ].filter((b) => b !== '');
      out.push(
        `    ${name} (${p.type}${p.default !== undefined ? `, default ${JSON.stringify(p.default)}` : ''}${bounds.length > 0 ? `, ${bounds.join(', ')}` : ''}): ${p.description}`,
      );
    }
  }
  return out.join('\n') + '\n';
}

export function registerCatalog(program: Command, session: Session): void {
  const { io } = session;
  if (KIND === undefined) throw new Error('CatalogItem kind is not registered');
  const catalog = program
    .command('catalog')
    .description('the platform catalog: what instances can be made of');
  catalog
    .command('list')
    .description('catalog items by category (all sixteen categories)')
    .option('--category <category>', 'only this category', choiceOption(CATALOG_CATEGORIES))
    .action(async (opts: { category?: string }, cmd: Command) => {
      const client = await connect(session, cmd);
      const list = await client.list(KIND);
      io.stdout(renderCatalogList(list.items as CatalogItem[], opts.category));
    });
  catalog
    .command('show')
    .description('one item: versions with their parameters, plans, dependencies, outputs')
    .argument('<item>', 'catalog item name')
    .action(async (name: string, _opts: unknown, cmd: Command) => {
      if (name === '') throw new UsageError('catalog show needs an item name');
      const client = await connect(session, cmd);
      io.stdout(renderCatalogItem((await client.get(KIND, name)) as CatalogItem));
    });
}
