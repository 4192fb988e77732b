// The building blocks of `describe` and `explain` text: aligned `Label: value`
// fields, nested tables and condition tables.
import type { Condition } from '../model/schema.ts';
import { NONE, ageSince, listOrNone, renderTable } from './format.ts';

export type Field = readonly [label: string, value: string];

/** `Label:  value` lines with values aligned; continuation lines of a value line up under it. */
export function fields(pairs: readonly Field[], indent = 0): string[] {
  const width = Math.max(...pairs.map(([label]) => label.length)) + 3;
  const pad = ' '.repeat(indent);
  return pairs.flatMap(([label, value]) => {
    const [first = '', ...rest] = value.split('\n');
    return [
      `${pad}${`${label}:`.padEnd(width)}${first}`.trimEnd(),
      ...rest.map((l) => `${pad}${' '.repeat(width)}${l}`),
    ];
  });
}

/** A nested table inside a section, or `<none>` on the heading line when empty. */
export function subTable(
  title: string,
  header: readonly string[],
  rows: readonly (readonly string[])[],
  indent: number,
): string[] {
  const pad = ' '.repeat(indent);
  if (rows.length === 0) return [`${pad}${title}:  ${NONE}`];
  const table = renderTable(header, rows).trimEnd().split('\n');
  return [`${pad}${title}:`, ...table.map((l) => `${pad}  ${l}`)];
}

/** One `key=value` per line: annotation values may themselves contain commas. */
export function keyValueLines(map: Readonly<Record<string, string>> | undefined): string {
  return listOrNone(
    Object.entries(map ?? {}).map(([k, v]) => `${k}=${v}`),
    '\n',
  );
}

export function conditions(
  list: readonly Condition[] | undefined,
  now: number,
  indent: number,
): string[] {
  return subTable(
    'Conditions',
    ['TYPE', 'STATUS', 'REASON', 'AGE', 'MESSAGE'],
    (list ?? []).map((c) => [
      c.type,
      c.status,
      c.reason ?? '',
      c.lastTransitionTime === undefined ? '' : ageSince(c.lastTransitionTime, now),
      c.message ?? '',
    ]),
    indent,
  );
}
