// Maps the server's validation field paths ("[1].spec.components[0].resources.cpu")
// to lines of the YAML the user typed, so each error sits next to its line.
// A path whose node is missing (a required field) points at its nearest
// existing parent.
import { LineCounter, isMap, isNode, isSeq, parseAllDocuments, type Node } from 'yaml';

export type PathSegment = string | number;

/** `[i].` prefixes a multi-document apply; the rest is `a.b[2].c`. */
export function parseFieldPath(field: string): { doc: number; path: PathSegment[] } {
  let rest = field;
  let doc = 0;
  const m = /^\[(\d+)\]\.?/.exec(rest);
  if (m) {
    doc = Number(m[1]);
    rest = rest.slice(m[0].length);
  }
  const path: PathSegment[] = [];
  for (const part of rest.match(/[^.[\]]+|\[\d+\]/g) ?? []) {
    path.push(part.startsWith('[') ? Number(part.slice(1, -1)) : part);
  }
  return { doc, path };
}

function child(node: unknown, key: PathSegment): Node | undefined {
  if (isMap(node)) {
    for (const pair of node.items) {
      const k = isNode(pair.key) ? (pair.key as { value?: unknown }).value : pair.key;
      if (k === key)
        return isNode(pair.value) ? pair.value : isNode(pair.key) ? pair.key : undefined;
    }
  }
  if (isSeq(node) && typeof key === 'number') {
    const item = node.items[key];
    return isNode(item) ? item : undefined;
  }
  return undefined;
}

/** 1-based line of each field path in `text`, or undefined when even the document is absent. */
export function lineOfField(text: string, field: string): number | undefined {
  const lines = new LineCounter();
  const docs = parseAllDocuments(text, { lineCounter: lines });
  if (!Array.isArray(docs)) return undefined;
  const { doc, path } = parseFieldPath(field);
  const d = docs[doc];
  if (!d) return undefined;
  let node: Node | undefined = isNode(d.contents) ? d.contents : undefined;
  let best = node?.range?.[0] ?? d.range[0];
  for (const seg of path) {
    node = child(node, seg);
    if (!node?.range) break;
    best = node.range[0];
  }
  return lines.linePos(best).line;
}
