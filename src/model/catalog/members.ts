// Which kinds of member an item can run on. Kept apart from rendering and
// parameter validation so the CLI can list the catalog without loading them.
import type { CatalogItem } from '../schema/catalog.ts';

export type MemberKind = 'agent' | 'kubernetes' | 'sim';

/** The member kinds an item can be rendered for: agents only when every component has a process form. */
export function memberKindsOf(item: CatalogItem): MemberKind[] {
  const agent = item.spec.template.components.every((c) => c.agent !== undefined);
  return agent ? ['agent', 'kubernetes', 'sim'] : ['kubernetes', 'sim'];
}
