// Kubernetes label selectors, in both the string form used by list/watch
// (`tier=web,env in (prod,staging),!canary`) and the structured
// `{matchLabels, matchExpressions}` form used inside specs. Both reduce to one
// list of requirements that must all hold (an empty list matches everything).
//
// Pure: no I/O. Malformed input throws BadRequestError whose message names the
// 1-based character position and what was expected there.
import { BadRequestError } from './errors.ts';
import type { LabelSelector } from './schema.ts';

export type RequirementOperator = 'In' | 'NotIn' | 'Exists' | 'DoesNotExist';

/**
 * One clause of a selector. `a=b` is `In [b]` and `a!=b` is `NotIn [b]`; as in
 * Kubernetes, `NotIn` (and so `!=`) also matches objects without the label.
 */
export interface Requirement {
  key: string;
  operator: RequirementOperator;
  /** Non-empty for In/NotIn, empty for Exists/DoesNotExist. */
  values: string[];
}

// Label key: optional DNS-subdomain prefix and '/', then a name of at most 63
// characters. Label value: at most 63 characters, possibly empty.
const KEY_NAME = /^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;
const KEY_PREFIX = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const VALUE = /^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$/;

/** Returns why `key` is not a valid label key, or undefined when it is. */
export function labelKeyProblem(key: string): string | undefined {
  const slash = key.indexOf('/');
  const prefix = slash === -1 ? undefined : key.slice(0, slash);
  const name = slash === -1 ? key : key.slice(slash + 1);
  if (prefix !== undefined && (prefix.length > 253 || !KEY_PREFIX.test(prefix))) {
    return `label key prefix "${prefix}" must be a lower-case DNS subdomain of at most 253 characters`;
  }
  if (!KEY_NAME.test(name)) {
    return `label key "${key}" must be at most 63 characters of a-z, A-Z, 0-9, "-", "_" and ".", starting and ending alphanumeric, with an optional "prefix/"`;
  }
  return undefined;
}

/** Returns why `value` is not a valid label value, or undefined when it is. */
export function labelValueProblem(value: string): string | undefined {
  return VALUE.test(value)
    ? undefined
    : `label value "${value}" must be empty or at most 63 characters of a-z, A-Z, 0-9, "-", "_" and ".", starting and ending alphanumeric`;
}

// ---- string syntax ---------------------------------------------------------

type TokenKind = 'ident' | '!' | '=' | '==' | '!=' | ',' | '(' | ')' | 'end';

interface Token {
  kind: TokenKind;
  text: string;
  /** 0-based offset into the selector. */
  pos: number;
}

// Characters that end an identifier. `<` and `>` are not operators here but are
// listed so `a>1` reports "expected an operator" rather than a bad key.
const SPECIAL = new Set(['!', '=', ',', '(', ')', '<', '>']);
const isSpace = (c: string) => c === ' ' || c === '\t' || c === '\n' || c === '\r';

function tokenize(s: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < s.length) {
    const c = s.charAt(i);
    if (isSpace(c)) {
      i++;
    } else if (c === '=' || c === '!') {
      const two = s.slice(i, i + 2);
      if (two === '==' || two === '!=') {
        tokens.push({ kind: two, text: two, pos: i });
        i += 2;
      } else {
        tokens.push({ kind: c, text: c, pos: i });
        i++;
      }
    } else if (c === ',' || c === '(' || c === ')') {
      tokens.push({ kind: c, text: c, pos: i });
      i++;
    } else if (c === '<' || c === '>') {
      throw syntaxError(s, i, 'one of "=", "==", "!=", "in", "notin"', `"${c}"`);
    } else {
      const start = i;
      while (i < s.length && !isSpace(s.charAt(i)) && !SPECIAL.has(s.charAt(i))) i++;
      tokens.push({ kind: 'ident', text: s.slice(start, i), pos: start });
    }
  }
  tokens.push({ kind: 'end', text: '', pos: s.length });
  return tokens;
}

function syntaxError(s: string, pos: number, expected: string, found: string): BadRequestError {
  return new BadRequestError(
    `invalid label selector "${s}": at position ${pos + 1}: expected ${expected}, found ${found}`,
  );
}

function describeToken(t: Token): string {
  return t.kind === 'end' ? 'end of selector' : `"${t.text}"`;
}

/**
 * Parses the Kubernetes string syntax: comma-separated requirements, each one of
 * `k=v`, `k==v`, `k!=v`, `k in (v1,v2)`, `k notin (v1)`, `k` (exists) or `!k`
 * (does not exist). The empty string (or only spaces) selects everything.
 */
export function parseLabelSelector(s: string): Requirement[] {
  const tokens = tokenize(s);
  let i = 0;
  const peek = (): Token => tokens[i] ?? tokens[tokens.length - 1]!;
  const take = (): Token => {
    const t = peek();
    if (t.kind !== 'end') i++;
    return t;
  };

  const expectKey = (): string => {
    const t = take();
    if (t.kind !== 'ident') throw syntaxError(s, t.pos, 'a label key', describeToken(t));
    const problem = labelKeyProblem(t.text);
    if (problem !== undefined)
      throw new BadRequestError(
        `invalid label selector "${s}": at position ${t.pos + 1}: ${problem}`,
      );
    return t.text;
  };
  const checkValue = (t: Token): string => {
    const problem = labelValueProblem(t.text);
    if (problem !== undefined)
      throw new BadRequestError(
        `invalid label selector "${s}": at position ${t.pos + 1}: ${problem}`,
      );
    return t.text;
  };

  const reqs: Requirement[] = [];
  if (peek().kind === 'end') return reqs;
  for (;;) {
    if (peek().kind === '!') {
      take();
      reqs.push({ key: expectKey(), operator: 'DoesNotExist', values: [] });
    } else {
      const key = expectKey();
      const op = peek();
      if (op.kind === ',' || op.kind === 'end') {
        reqs.push({ key, operator: 'Exists', values: [] });
      } else if (op.kind === '=' || op.kind === '==' || op.kind === '!=') {
        take();
        // `k=` (nothing before the next comma) selects the empty value.
        const v = peek();
        let value = '';
        if (v.kind === 'ident') value = checkValue(take());
        else if (v.kind !== ',' && v.kind !== 'end')
          throw syntaxError(s, v.pos, 'a label value', describeToken(v));
        reqs.push({ key, operator: op.kind === '!=' ? 'NotIn' : 'In', values: [value] });
      } else if (op.kind === 'ident' && (op.text === 'in' || op.text === 'notin')) {
        take();
        const open = take();
        if (open.kind !== '(')
          throw syntaxError(s, open.pos, `"(" after "${op.text}"`, describeToken(open));
        const values: string[] = [];
        for (;;) {
          const v = take();
          if (v.kind !== 'ident') throw syntaxError(s, v.pos, 'a label value', describeToken(v));
          values.push(checkValue(v));
          const sep = take();
          if (sep.kind === ')') break;
          if (sep.kind !== ',') throw syntaxError(s, sep.pos, '"," or ")"', describeToken(sep));
        }
        reqs.push({ key, operator: op.text === 'in' ? 'In' : 'NotIn', values });
      } else {
        throw syntaxError(
          s,
          op.pos,
          'one of "=", "==", "!=", "in", "notin", "," or end of selector',
          describeToken(op),
        );
      }
    }
    const sep = take();
    if (sep.kind === 'end') return reqs;
    if (sep.kind !== ',')
      throw syntaxError(s, sep.pos, '"," or end of selector', describeToken(sep));
  }
}

// ---- structured form -------------------------------------------------------

/**
 * Converts `{matchLabels, matchExpressions}` to requirements. Throws
 * BadRequestError for In/NotIn without values or Exists/DoesNotExist with values.
 * An absent or empty selector selects everything.
 */
export function requirementsFromLabelSelector(sel: LabelSelector | undefined): Requirement[] {
  const reqs: Requirement[] = [];
  if (sel === undefined) return reqs;
  for (const [key, value] of Object.entries(sel.matchLabels ?? {})) {
    const problem = labelKeyProblem(key) ?? labelValueProblem(value);
    if (problem !== undefined)
      throw new BadRequestError(`invalid label selector: matchLabels: ${problem}`);
    reqs.push({ key, operator: 'In', values: [value] });
  }
  (sel.matchExpressions ?? []).forEach((e, idx) => {
    const where = `invalid label selector: matchExpressions[${idx}]`;
    const problem =
      labelKeyProblem(e.key) ??
      (e.values ?? []).map(labelValueProblem).find((p) => p !== undefined);
    if (problem !== undefined) throw new BadRequestError(`${where}: ${problem}`);
    const values = e.values ?? [];
    const needsValues = e.operator === 'In' || e.operator === 'NotIn';
    if (needsValues && values.length === 0) {
      throw new BadRequestError(`${where}: operator ${e.operator} expects at least one value`);
    }
    if (!needsValues && values.length > 0) {
      throw new BadRequestError(`${where}: operator ${e.operator} expects no values`);
    }
    reqs.push({ key: e.key, operator: e.operator, values: [...values] });
  });
  return reqs;
}

// ---- matching and formatting -----------------------------------------------

/** True when every requirement holds for `labels` (absent labels are `{}`). */
export function matchesLabels(
  reqs: readonly Requirement[],
  labels: Record<string, string> | undefined,
): boolean {
  for (const r of reqs) {
    const has = labels !== undefined && Object.hasOwn(labels, r.key);
    const value = has ? labels[r.key] : undefined;
    switch (r.operator) {
      case 'Exists':
        if (!has) return false;
        break;
      case 'DoesNotExist':
        if (has) return false;
        break;
      case 'In':
        if (value === undefined || !r.values.includes(value)) return false;
        break;
      case 'NotIn':
        if (value !== undefined && r.values.includes(value)) return false;
        break;
    }
  }
  return true;
}

/** The string syntax for `reqs`; `parseLabelSelector` of the result gives `reqs` back. */
export function formatLabelSelector(reqs: readonly Requirement[]): string {
  return reqs
    .map((r) => {
      switch (r.operator) {
        case 'Exists':
          return r.key;
        case 'DoesNotExist':
          return `!${r.key}`;
        case 'In':
          return r.values.length === 1
            ? `${r.key}=${r.values[0]}`
            : `${r.key} in (${r.values.join(',')})`;
        case 'NotIn':
          return r.values.length === 1
            ? `${r.key}!=${r.values[0]}`
            : `${r.key} notin (${r.values.join(',')})`;
      }
    })
    .join(',');
}
