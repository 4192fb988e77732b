// What the benchmarks print and write: a table of candidate, baseline and their
// ratio; sparklines for values over time; JSON files under bench-results/.
import { mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism, totalmem } from 'node:os';
import { dirname, resolve } from 'node:path';

/** bench-results/ in the repository root (ignored by git). */
export const RESULTS_DIR = resolve(import.meta.dirname, '../../bench-results');

export type Progress = (line: string) => void;

export interface Row {
  metric: string;
  candidate: string;
  baseline: string;
  /** candidate / baseline, or a word ("n/a"). */
  ratio: string;
}

export function table(
  title: string,
  rows: readonly Row[],
  notes: readonly string[] = [],
  baselineName = 'kube-scheduler',
): string {
  const head: Row = {
    metric: 'metric',
    candidate: 'yunjian',
    baseline: baselineName,
    ratio: 'ratio',
  };
  const all = [head, ...rows];
  const w = (k: keyof Row) => Math.max(...all.map((r) => r[k].length));
  const widths = {
    metric: w('metric'),
    candidate: w('candidate'),
    baseline: w('baseline'),
    ratio: w('ratio'),
  };
  const line = (r: Row) =>
    `| ${r.metric.padEnd(widths.metric)} | ${r.candidate.padStart(widths.candidate)} | ` +
    `${r.baseline.padStart(widths.baseline)} | ${r.ratio.padStart(widths.ratio)} |`;
  const rule =
    `| ${'-'.repeat(widths.metric)} | ${'-'.repeat(widths.candidate - 1)}: | ` +
    `${'-'.repeat(widths.baseline - 1)}: | ${'-'.repeat(widths.ratio - 1)}: |`;
  return [
    `${title}\n`,
    line(head),
    rule,
    ...rows.map(line),
    ...(notes.length > 0 ? ['', ...notes.map((n) => `- ${n}`)] : []),
    '',
  ].join('\n');
}

/**
 * One candidate-versus-baseline row. `ratioOf` defaults to candidate / baseline;
 * `false` leaves the ratio empty where it would mislead (counts, shares near 0).
 */
export function compareRow(
  metric: string,
  candidate: number,
  baseline: number,
  fmt: (x: number) => string,
  ratioOf: ((c: number, b: number) => string) | false = (c, b) => ratio(c, b),
): Row {
  return {
    metric,
    candidate: fmt(candidate),
    baseline: fmt(baseline),
    ratio: ratioOf === false ? '' : ratioOf(candidate, baseline),
  };
}

/** candidate / baseline as "2.31x"; "n/a" when the baseline is 0. */
export function ratio(candidate: number, baseline: number, digits = 2): string {
  if (baseline === 0 || !Number.isFinite(baseline) || !Number.isFinite(candidate)) return 'n/a';
  return `${(candidate / baseline).toFixed(digits)}x`;
}

export function int(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

export function fixed(n: number, digits = 2): string {
  return n.toLocaleString('en-US', {
    minimumFractionDigits: digits,
    maximumFractionDigits: digits,
  });
}

export function percent(fraction: number, digits = 1): string {
  return `${(fraction * 100).toFixed(digits)} %`;
}

export function mib(bytes: number): string {
  return `${int(bytes / 2 ** 20)} MiB`;
}

export function ms(seconds: number): string {
  return seconds < 0.001 ? `${(seconds * 1e6).toFixed(0)} µs` : `${(seconds * 1000).toFixed(2)} ms`;
}

const BARS = '▁▂▃▄▅▆▇█';

/** Values in [0, 1] as a row of block characters, `width` wide (averaged into buckets). */
export function sparkline(values: readonly number[], width = 40): string {
  if (values.length === 0) return '';
  const out: string[] = [];
  const n = Math.min(width, values.length);
  for (let i = 0; i < n; i++) {
    const from = Math.floor((i * values.length) / n);
    const to = Math.max(from + 1, Math.floor(((i + 1) * values.length) / n));
    let sum = 0;
    for (let j = from; j < to; j++) sum += values[j]!;
    const v = Math.min(1, Math.max(0, sum / (to - from)));
    out.push(BARS[Math.min(BARS.length - 1, Math.floor(v * BARS.length))]!);
  }
  return out.join('');
}

/** The q-quantile (0..1) of the values, nearest rank; 0 for none. */
export function quantile(values: Float64Array | readonly number[], q: number): number {
  if (values.length === 0) return 0;
  const sorted = Float64Array.from(values).sort();
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[rank]!;
}

/** Peak resident set of this process so far, in bytes. */
export function peakRssBytes(): number {
  return process.resourceUsage().maxRSS * 1024;
}

export function writeJson(path: string, value: unknown): string {
  const full = resolve(path);
  mkdirSync(dirname(full), { recursive: true });
  writeFileSync(full, JSON.stringify(value, null, 2) + '\n');
  return full;
}

/** The machine a result was measured on, recorded in every JSON file. */
export function machine(): Record<string, string | number> {
  return {
    node: process.version,
    platform: `${process.platform} ${process.arch}`,
    cpus: availableParallelism(),
    memoryBytes: totalmem(),
  };
}
