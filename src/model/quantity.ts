// Kubernetes-style resource quantities. The schema accepts the same spellings
// (patterns below) so a quantity that validates always parses.

export const CPU_PATTERN = '^([0-9]+(\\.[0-9]+)?|[0-9]+m)$';
export const MEMORY_PATTERN = '^[0-9]+(\\.[0-9]+)?(Ki|Mi|Gi|Ti|Pi|k|M|G|T|P)?$';

/** Longest quantity string: enough for any bounded value with a fraction and a suffix. */
export const MAX_QUANTITY_LENGTH = 32;

// Upper bounds of what one replica may request and one node may offer. They are
// above today's largest machines (448 vCPU, 24 TiB on AWS u-* instances; 8-16
// GPUs per node) and far below values that overflow the scheduler's sums.
export const MAX_CPU_CORES = 1024;
export const MAX_MEMORY_BYTES = 16 * 2 ** 40;
export const MAX_GPUS = 64;
export const MAX_NODE_CPU_CORES = 4096;
export const MAX_NODE_MEMORY_BYTES = 64 * 2 ** 40;

const cpuRe = new RegExp(CPU_PATTERN);
const memoryRe = /^([0-9]+(?:\.[0-9]+)?)(Ki|Mi|Gi|Ti|Pi|k|M|G|T|P)?$/;

/** Every suffix of a Kubernetes resource.Quantity and its factor; our patterns accept a subset. */
export const QUANTITY_SUFFIX: Readonly<Record<string, number>> = {
  n: 1e-9,
  u: 1e-6,
  m: 1e-3,
  '': 1,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
  Ei: 2 ** 60,
};

/** CPU quantity ("500m", "2", 1.5) to integer millicores. */
export function parseCpuMillis(q: string | number): number {
  if (typeof q === 'number') return Math.round(q * 1000);
  if (!cpuRe.test(q)) throw new RangeError(`invalid CPU quantity ${JSON.stringify(q)}`);
  if (q.endsWith('m')) return Number(q.slice(0, -1));
  return Math.round(Number(q) * 1000);
}

/** Memory quantity ("512Mi", "1G", 1073741824) to bytes. */
export function parseMemoryBytes(q: string | number): number {
  if (typeof q === 'number') return Math.round(q);
  const m = memoryRe.exec(q);
  if (!m) throw new RangeError(`invalid memory quantity ${JSON.stringify(q)}`);
  return Math.round(Number(m[1]) * (QUANTITY_SUFFIX[m[2] ?? ''] ?? 1));
}

/**
 * Why a CPU quantity that matches CPU_PATTERN is out of bounds, or undefined
 * when it is within [0, maxCores]. Numbers are bounded by the schema; strings
 * of digits can spell any magnitude ("1" and 400 zeros parses to Infinity).
 */
export function cpuOutOfBounds(q: string | number, maxCores: number): string | undefined {
  const millis = parseCpuMillis(q);
  return millis <= maxCores * 1000
    ? undefined
    : `expected a CPU quantity of at most ${maxCores} cores, got ${JSON.stringify(q)}`;
}

/** Why a memory quantity that matches MEMORY_PATTERN is above maxBytes, or undefined. */
export function memoryOutOfBounds(q: string | number, maxBytes: number): string | undefined {
  const bytes = parseMemoryBytes(q);
  return bytes <= maxBytes
    ? undefined
    : `expected a memory quantity of at most ${formatBytes(maxBytes)}, got ${JSON.stringify(q)}`;
}

export function formatCpu(millis: number): string {
  return millis % 1000 === 0 ? String(millis / 1000) : `${millis}m`;
}

/** Bytes to the largest binary unit that keeps at most one decimal, e.g. "1.5Ti". */
export function formatBytes(bytes: number): string {
  const units = ['', 'Ki', 'Mi', 'Gi', 'Ti', 'Pi'];
  let value = bytes;
  let i = 0;
  while (value >= 1024 && i < units.length - 1) {
    value /= 1024;
    i++;
  }
  const rounded = Math.round(value * 10) / 10;
  return `${rounded}${units[i] ?? ''}`;
}
