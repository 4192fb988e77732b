// Duplicate keys in a parsed YAML document, found in one pass. The yaml
// package's own check (`uniqueKeys`) compares every key of a map with every
// other: a body whose map has 100,000 keys held the event loop for minutes.
// Callers parse with `uniqueKeys: false` and ask this instead.
import { isAlias, isMap, isScalar, isSeq, type Node } from 'yaml';

export interface DuplicateKey {
  /** Where the key is, e.g. `metadata.labels.tier` or `spec.components[1].name`. */
  path: string;
  /** The second occurrence's offset in the text, for a line and column. */
  offset: number;
}

/**
 * The first key that appears twice in one map of `root`, or undefined. Keys
 * are compared as the object they become would name them (`1` and `"1"` are
 * one key); keys that are themselves maps or lists are not compared. Aliases
 * are not followed: what they point at is checked where it is defined.
 */
export function findDuplicateKey(root: unknown): DuplicateKey | undefined {
  // Depth-first with an explicit stack: nesting is limited only after parsing.
  const pending: [unknown, string][] = [[root, '']];
  for (let next = pending.pop(); next !== undefined; next = pending.pop()) {
    const [node, path] = next;
    if (isAlias(node)) continue;
    if (isSeq(node)) node.items.forEach((item, i) => pending.push([item, `${path}[${i}]`]));
    else if (isMap(node)) {
      const seen = new Set<string>();
      for (const pair of node.items) {
        const key = isScalar(pair.key) ? String(pair.key.value) : undefined;
        if (key === undefined) continue;
        const keyPath = path === '' ? key : `${path}.${key}`;
        if (seen.has(key)) return { path: keyPath, offset: (pair.key as Node).range?.[0] ?? 0 };
        seen.add(key);
        pending.push([pair.value, keyPath]);
      }
    }
  }
  return undefined;
}
