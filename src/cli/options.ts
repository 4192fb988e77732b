// Parsers of option values, shared by every command: each rejects a bad value
// before anything is sent, with commander's "option '--x <v>' argument 'raw'
// is invalid. expected ..." message.
import { InvalidArgumentError } from 'commander';

/**
 * A whole number from `min` to `max`. Digits may be grouped with underscores
 * (`10_000_000`), as large counts are easier to read that way.
 */
export function integerOption(
  what: string,
  min = Number.MIN_SAFE_INTEGER,
  max = Number.MAX_SAFE_INTEGER,
): (raw: string) => number {
  return (raw) => {
    const n = Number(raw.replace(/_/g, ''));
    if (!/^-?[0-9][0-9_]*$/.test(raw.trim()) || !Number.isSafeInteger(n) || n < min || n > max)
      throw new InvalidArgumentError(`expected ${what}, got "${raw}".`);
    return n;
  };
}

/** A finite number from `min` to `max`, both included. */
export function numberOption(what: string, min: number, max: number): (raw: string) => number {
  return (raw) => {
    const n = Number(raw);
    if (raw.trim() === '' || !Number.isFinite(n) || n < min || n > max)
      throw new InvalidArgumentError(`expected ${what}, got "${raw}".`);
    return n;
  };
}

export const nonNegativeNumber = numberOption('a number >= 0', 0, Number.MAX_VALUE);

export function positiveNumber(raw: string): number {
  const n = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(n) || n <= 0)
    throw new InvalidArgumentError(`expected a number > 0, got "${raw}".`);
  return n;
}

/** One of a few words, for values whose parser must also narrow the type. */
export function choiceOption<T extends string>(choices: readonly T[]): (raw: string) => T {
  const expected =
    choices.length === 1
      ? String(choices[0])
      : `${choices.slice(0, -1).join(', ')} or ${String(choices.at(-1))}`;
  return (raw) => {
    if (!(choices as readonly string[]).includes(raw))
      throw new InvalidArgumentError(`expected ${expected}, got "${raw}".`);
    return raw as T;
  };
}

/** A repeatable option's values, in order. */
export function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

const DURATION_UNITS = { s: 1, m: 60, h: 3600 } as const;

/** A duration such as 30s, 5m or 1h (or plain seconds), in seconds. */
export function secondsOption(raw: string): number {
  const m = /^([0-9]+)(s|m|h)?$/.exec(raw);
  if (m?.[1] === undefined)
    throw new InvalidArgumentError(`expected a duration such as 30s, 5m or 1h, got "${raw}".`);
  return Number(m[1]) * DURATION_UNITS[(m[2] ?? 's') as keyof typeof DURATION_UNITS];
}
