// Semantic versions and npm-style ranges, the subset the catalog's schemas
// accept (schema/catalog.ts SemVer, SemVerRange): comparators `>= <= > < =`,
// caret and tilde, `x` wildcards and `*`; space-separated comparators all hold.
// Pre-release tags order before their release and are otherwise compared as
// strings; a pre-release satisfies no range (npm's default), only `*`.

export interface Version {
  major: number;
  minor: number;
  patch: number;
  pre: string;
}

export function parseVersion(text: string): Version | undefined {
  const m = /^(\d+)\.(\d+)\.(\d+)(?:-([0-9A-Za-z.-]+))?$/.exec(text);
  if (!m) return undefined;
  return { major: Number(m[1]), minor: Number(m[2]), patch: Number(m[3]), pre: m[4] ?? '' };
}

export function compareVersions(a: Version, b: Version): number {
  const d = a.major - b.major || a.minor - b.minor || a.patch - b.patch;
  if (d !== 0) return d;
  if (a.pre === b.pre) return 0;
  if (a.pre === '') return 1;
  if (b.pre === '') return -1;
  return a.pre < b.pre ? -1 : 1;
}

/** Orders version strings, newest last; unparsable ones first. */
export function compareVersionText(a: string, b: string): number {
  const va = parseVersion(a);
  const vb = parseVersion(b);
  if (!va || !vb) return va ? 1 : vb ? -1 : 0;
  return compareVersions(va, vb);
}

type Bound = (v: Version) => boolean;

function comparator(term: string): Bound | undefined {
  const m = /^(\^|~|>=|<=|>|<|=)?(\d+)(?:\.(\d+|x))?(?:\.(\d+|x))?$/.exec(term);
  if (!m) return undefined;
  const op = m[1] ?? '';
  const major = Number(m[2]);
  const minor = m[3] === undefined || m[3] === 'x' ? undefined : Number(m[3]);
  const patch = m[4] === undefined || m[4] === 'x' ? undefined : Number(m[4]);
  const low: Version = { major, minor: minor ?? 0, patch: patch ?? 0, pre: '' };
  const cmp = (v: Version) => compareVersions(v, low);
  // The first version past a partial or caret/tilde range.
  const upper = (): Version => {
    if (op === '^') {
      if (major > 0 || minor === undefined)
        return { major: major + 1, minor: 0, patch: 0, pre: '' };
      if (minor > 0 || patch === undefined) return { major, minor: minor + 1, patch: 0, pre: '' };
      return { major, minor, patch: patch + 1, pre: '' };
    }
    if (minor === undefined) return { major: major + 1, minor: 0, patch: 0, pre: '' };
    if (op === '~' || patch === undefined) return { major, minor: minor + 1, patch: 0, pre: '' };
    return { major, minor, patch: patch + 1, pre: '' };
  };
  const below = (v: Version) => compareVersions(v, upper()) < 0;
  switch (op) {
    case '>=':
      return (v) => cmp(v) >= 0;
    case '>':
      return (v) => (patch === undefined ? !below(v) && cmp(v) > 0 : cmp(v) > 0);
    case '<':
      return (v) => cmp(v) < 0;
    case '<=':
      return (v) => (patch === undefined ? below(v) : cmp(v) <= 0);
    default:
      // `=`, bare, `^` and `~`: from the version up to (not including) the next step.
      return (v) => cmp(v) >= 0 && below(v);
  }
}

/** Whether `version` satisfies `range`; an unparsable version or range satisfies nothing. */
export function satisfies(version: string, range: string): boolean {
  const v = parseVersion(version);
  if (!v) return false;
  if (range.trim() === '*') return true;
  if (v.pre !== '') return false;
  const bounds = range.trim().split(/\s+/).map(comparator);
  return bounds.every((b) => b !== undefined && b(v));
}
