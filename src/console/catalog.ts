// The marketplace's pure parts: items by category in catalog order (every one
// of the sixteen, even when empty) and an instance's bindings and health.
import type { Binding, CatalogCategory, CatalogItem, Instance } from '../model/schema/catalog.ts';

/**
 * The categories with the words the page shows. Typed against the schema's
 * CatalogCategory: adding or removing a category there fails the console's
 * typecheck until this table follows.
 */
export const CATEGORY_LABELS = {
  databases: 'Databases',
  middleware: 'Middleware',
  microservices: 'Microservices',
  monitoring: 'Monitoring',
  security: 'Security',
  'big-data': 'Big data',
  ai: 'AI',
  blockchain: 'Blockchain',
  iot: 'IoT',
  video: 'Video',
  collaboration: 'Collaboration',
  devops: 'DevOps',
  mobile: 'Mobile',
  'low-code': 'Low-code',
  storage: 'Storage',
  networking: 'Networking',
} as const satisfies Record<CatalogCategory, string>;

export const CATEGORIES = Object.keys(CATEGORY_LABELS) as CatalogCategory[];

export interface CategoryGroup {
  category: CatalogCategory;
  label: string;
  items: CatalogItem[];
}

/** Every category in order with its items sorted by name; `only` keeps one. */
export function byCategory(items: readonly CatalogItem[], only?: string): CategoryGroup[] {
  return CATEGORIES.filter((c) => only === undefined || only === '' || c === only).map((c) => ({
    category: c,
    label: CATEGORY_LABELS[c],
    items: items
      .filter((i) => i.spec.category === c)
      .sort((a, b) => (a.metadata.name < b.metadata.name ? -1 : 1)),
  }));
}

/** Whether every component of an item has a process form (it runs on agents for real). */
export function runsOnAgents(item: CatalogItem): boolean {
  return item.spec.template.components.every((c) => c.agent !== undefined);
}

export interface InstanceSummary {
  instance: Instance;
  ready: 'True' | 'False' | 'Unknown';
  reason: string;
  bindings: Binding[];
}

export function summarize(instance: Instance, bindings: readonly Binding[]): InstanceSummary {
  const c = instance.status?.conditions?.find((x) => x.type === 'Ready');
  return {
    instance,
    ready: c?.status ?? 'Unknown',
    reason: c?.reason ?? (c === undefined ? 'Pending' : ''),
    bindings: bindings.filter(
      (b) =>
        b.metadata.namespace === instance.metadata.namespace &&
        b.spec.instance === instance.metadata.name,
    ),
  };
}
