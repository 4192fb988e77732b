// Kubernetes-style resource quantities. The schema accepts the same spellings
// (patterns below) so a quantity that validates always parses.

export const CPU_PATTERN = '^([0-9]+(\\.[0-9]+)?|[0-9]+m)$';
export const MEMORY_PATTERN = '^[0-9]+(\\.[0-9]+)?(Ki|Mi|Gi|Ti|Pi|k|M|G|T|P)?$';

const cpuRe = new RegExp(CPU_PATTERN);
const memoryRe = /^([0-9]+(?:\.[0-9]+)?)(Ki|Mi|Gi|Ti|Pi|k|M|G|T|P)?$/;

const memoryFactor: Record<string, number> = {
  '': 1,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
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
  return Math.round(Number(m[1]) * (memoryFactor[m[2] ?? ''] ?? 1));
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
