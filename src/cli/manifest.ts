// Reads the documents named by `-f` (files, directories, stdin) and checks
// their syntax locally, so a typo is reported with its file and line before
// anything reaches the server. Shape and field validation stay on the server:
// it owns the schema, and reports every field path.
import { readdir, readFile, stat } from 'node:fs/promises';
import { extname, join } from 'node:path';
import YAML from 'yaml';
import { UsageError } from './errors.ts';

const MANIFEST_EXTENSIONS: readonly string[] = ['.yaml', '.yml', '.json'];
const STDIN = '-';

export interface Manifest {
  /** File path, or `<stdin>`. */
  source: string;
  /** 1-based position among the documents of its source (after lists are flattened). */
  index: number;
  object: Record<string, unknown>;
}

/**
 * Documents from every `-f` argument in argument order; a directory adds its
 * .yaml/.yml/.json files, recursively, in sorted path order, so the same
 * directory always applies in the same order.
 */
export async function readManifests(
  args: readonly string[],
  readStdin: () => Promise<string>,
): Promise<Manifest[]> {
  if (args.filter((a) => a === STDIN).length > 1)
    throw new UsageError('"-f -" (standard input) can be given only once');
  const manifests: Manifest[] = [];
  for (const arg of args) {
    if (arg === STDIN) {
      manifests.push(...toManifests('<stdin>', parseYaml(await readStdin(), '<stdin>')));
      continue;
    }
    for (const file of await expand(arg)) {
      const text = await readFile(file, 'utf8');
      const docs =
        extname(file).toLowerCase() === '.json' ? [parseJson(text, file)] : parseYaml(text, file);
      manifests.push(...toManifests(file, docs));
    }
  }
  if (manifests.length === 0) throw new UsageError(`no objects found in ${args.join(', ')}`);
  return manifests;
}

async function expand(path: string): Promise<string[]> {
  let info;
  try {
    info = await stat(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new UsageError(
      code === 'ENOENT'
        ? `${path}: no such file or directory`
        : `cannot read ${path}: ${(err as Error).message}`,
    );
  }
  if (!info.isDirectory()) return [path];
  const entries = await readdir(path, { recursive: true, withFileTypes: true });
  const files = entries
    .filter((e) => e.isFile() && MANIFEST_EXTENSIONS.includes(extname(e.name).toLowerCase()))
    .map((e) => join(e.parentPath, e.name))
    .sort();
  if (files.length === 0)
    throw new UsageError(`${path}: no ${MANIFEST_EXTENSIONS.join('/')} files in this directory`);
  return files;
}

/** A `kind: ...List` with `items`, or a top-level array, stands for its items. */
function toManifests(source: string, docs: readonly unknown[]): Manifest[] {
  const objects = docs.flatMap((doc): unknown[] => {
    if (Array.isArray(doc)) return doc;
    if (
      isRecord(doc) &&
      typeof doc['kind'] === 'string' &&
      doc['kind'].endsWith('List') &&
      Array.isArray(doc['items'])
    ) {
      return doc['items'] as unknown[];
    }
    return doc === null || doc === undefined ? [] : [doc];
  });
  return objects.map((object, i) => {
    if (!isRecord(object))
      throw new UsageError(
        `${source}: document ${i + 1} is not a mapping (got ${JSON.stringify(object)})`,
      );
    return { source, index: i + 1, object };
  });
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Every syntax error of every document, each as `file:line:col: message` with the offending line. */
export function parseYaml(text: string, source: string): unknown[] {
  const docs = YAML.parseAllDocuments(text, { prettyErrors: true });
  if (!Array.isArray(docs)) return []; // an empty stream: nothing but comments or whitespace
  const errors = docs.flatMap((d) => d.errors);
  if (errors.length > 0) {
    throw new UsageError(errors.map((e) => locate(source, e.linePos?.[0], e.message)).join('\n'));
  }
  return docs.map((d) => d.toJS() as unknown);
}

/** yaml's pretty message is `what at line L, column C:\n\n<line>\n<caret>\n`. */
function locate(
  source: string,
  pos: { line: number; col: number } | undefined,
  message: string,
): string {
  const [head = message, snippet = ''] = message.split(/:\n\n/, 2);
  const what = head.replace(/ at line \d+, column \d+$/, '');
  const where = pos === undefined ? source : `${source}:${pos.line}:${pos.col}`;
  const context = snippet
    .trimEnd()
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => `    ${l}`);
  return [`syntax error in ${where}: ${what}`, ...context].join('\n');
}

/**
 * JSON files are parsed strictly (YAML would accept `{"a": }`). V8 names the
 * position of only some errors, so the first bad character is found by
 * bisection: a prefix is "viable" while parsing fails only for running out of
 * input, and every prefix of a viable prefix is viable.
 */
export function parseJson(text: string, source: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    const message = (err as Error).message.split('\n')[0] ?? '';
    const offset = firstBadOffset(text);
    const before = text.slice(0, offset).split('\n');
    const line = before.length;
    const col = (before.at(-1)?.length ?? 0) + 1;
    const lineText = text.split('\n')[line - 1] ?? '';
    const what = message.replace(/,? ".*$/, '').replace(/ in JSON at position \d+.*$/, '');
    throw new UsageError(
      `syntax error in ${source}:${line}:${col}: ${what}\n    ${lineText}\n    ${' '.repeat(col - 1)}^`,
    );
  }
}

function firstBadOffset(text: string): number {
  if (viablePrefix(text)) return text.length; // truncated: the error is at the end
  let lo = 0; // viable
  let hi = text.length; // not viable: the whole text failed to parse
  while (hi - lo > 1) {
    const mid = (lo + hi) >>> 1;
    if (viablePrefix(text.slice(0, mid))) lo = mid;
    else hi = mid;
  }
  return hi - 1;
}

function viablePrefix(prefix: string): boolean {
  try {
    JSON.parse(prefix);
    return true;
  } catch (err) {
    const message = (err as Error).message;
    if (message.includes('end of JSON input')) return true;
    const at = / at position (\d+)/.exec(message);
    return at !== null && Number(at[1]) >= prefix.length;
  }
}

/** How each manifest is named to people: its file, plus its position when the file holds several. */
export function sourceLabels(manifests: readonly Manifest[]): string[] {
  const counts = new Map<string, number>();
  for (const m of manifests) counts.set(m.source, (counts.get(m.source) ?? 0) + 1);
  return manifests.map((m) =>
    (counts.get(m.source) ?? 0) > 1 ? `${m.source}, document ${m.index}` : m.source,
  );
}

/**
 * One multi-document YAML stream for the apply request. Documents are
 * re-serialised from their parsed form, so lists arrive flattened and every
 * document is a single object; the `# source:` comment is for people reading
 * server logs and changes nothing.
 */
export function toYamlStream(manifests: readonly Manifest[]): string {
  const labels = sourceLabels(manifests);
  return manifests
    .map((m, i) => {
      const yaml = YAML.stringify(m.object, { lineWidth: 0, aliasDuplicateObjects: false });
      return `---\n# source: ${(labels[i] ?? m.source).replace(/[\r\n]/g, ' ')}\n${yaml}`;
    })
    .join('');
}
