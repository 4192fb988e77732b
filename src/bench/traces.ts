// Loaders for the real traces the scheduler benchmarks replay:
//
// - Alibaba GPU cluster trace 2023 ("Beware of Fragmentation", USENIX ATC'23),
//   node list `sn,cpu_milli,memory_mib,gpu,model` and pod lists
//   `name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec,qos,pod_phase,
//   creation_time,deletion_time,scheduled_time`. `gpu_spec`, when not empty,
//   restricts the GPU models a pod may run on ("V100M16|V100M32"). Only the
//   resource columns are required: a list without `gpu_spec` restricts no
//   model, and one without timing columns arrives in file order and never
//   leaves (`creation` is the line's index).
// - Bitbrains GWA-T-12 "Rnd" (July 2013): `2013-07-vms.csv` (`vm,cores,mem_mib`)
//   and `2013-07-usage-hourly.csv` (`vm,hour,cpu_cores_avg,cpu_cores_max,mem_mib_avg`).
//
// Columns are found by their header name, so extra columns and another order
// are fine; a missing column, a malformed number or an unknown VM is an error
// that names the file and the line. The files are read from ../shared/data
// beside the repository (DEFAULT_* below) or from any path given; they are
// never copied into the repository.
import { readdirSync, readFileSync } from 'node:fs';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { BadRequestError } from '../model/errors.ts';

const DATA = resolve(import.meta.dirname, '../../../shared/data');

export const DEFAULT_ALIBABA_GPU_DIR = resolve(DATA, 'alibaba-gpu-2023');
export const DEFAULT_ALIBABA_NODE_LIST = resolve(
  DEFAULT_ALIBABA_GPU_DIR,
  'openb_node_list_all_node.csv',
);
/** Where the packing benchmark looks for pod lists by default. */
export const DEFAULT_DATA_DIR = DATA;
export const DEFAULT_BITBRAINS_VMS = resolve(DATA, 'bitbrains-rnd/2013-07-vms.csv');
export const DEFAULT_BITBRAINS_USAGE = resolve(DATA, 'bitbrains-rnd/2013-07-usage-hourly.csv');

// ------------------------------------------------------------------ CSV

/** One data line: its fields by column name, and where it came from for errors. */
interface Row {
  /** The field of a column; '' for a column the file does not have. */
  get(column: string): string;
  line: number;
  text: string;
}

/**
 * Calls `each` for every non-empty data line of a simple CSV (no quoting: the
 * traces have none). The header must name every column in `required`.
 */
function readCsv(path: string, required: readonly string[], each: (row: Row) => void): void {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new BadRequestError(
      code === 'ENOENT' ? `${path}: no such file` : `${path}: cannot read (${String(err)})`,
    );
  }
  const lines = text.split(/\r?\n/);
  const header = (lines[0] ?? '').trim().replace(/^\uFEFF/, '');
  const names = header.split(',').map((h) => h.trim());
  const missing = required.filter((c) => !names.includes(c));
  if (header === '' || missing.length > 0) {
    throw new BadRequestError(
      `${path}:1: expected a header with the columns ${required.join(',')}; ` +
        `${header === '' ? 'the file is empty' : `missing ${missing.join(', ')} in "${header}"`}`,
    );
  }
  const index = new Map(names.map((n, i) => [n, i]));
  for (let i = 1; i < lines.length; i++) {
    const raw = lines[i]!;
    if (raw.trim() === '') continue;
    const fields = raw.split(',');
    if (fields.length !== names.length) {
      throw new BadRequestError(
        `${path}:${i + 1}: expected ${names.length} fields like the header, got ${fields.length} in "${raw}"`,
      );
    }
    each({
      get: (c) => {
        const k = index.get(c);
        return k === undefined ? '' : (fields[k] ?? '').trim();
      },
      line: i + 1,
      text: raw,
    });
  }
}

/** The header line's column names ([] for an unreadable or empty file). */
function headerOf(path: string): string[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8').slice(0, 4096);
  } catch {
    return [];
  }
  const header = (text.split(/\r?\n/)[0] ?? '').trim().replace(/^\uFEFF/, '');
  return header === '' ? [] : header.split(',').map((h) => h.trim());
}

function fail(path: string, row: Row, what: string): never {
  throw new BadRequestError(`${path}:${row.line}: ${what}, in "${row.text}"`);
}

/** A finite number >= 0 (integer when asked); `empty` is returned for an empty field when given. */
function num(
  path: string,
  row: Row,
  column: string,
  opts: { integer?: boolean; empty?: number } = {},
): number {
  const raw = row.get(column);
  if (raw === '' && opts.empty !== undefined) return opts.empty;
  const n = Number(raw);
  if (raw === '' || !Number.isFinite(n) || n < 0 || (opts.integer === true && !Number.isInteger(n)))
    fail(
      path,
      row,
      `${column} must be ${opts.integer === true ? 'an integer' : 'a number'} >= 0, got "${raw}"`,
    );
  return n;
}

// ------------------------------------------------------------------ Alibaba GPU 2023

export interface AlibabaNode {
  name: string;
  cpuMilli: number;
  memoryMiB: number;
  gpus: number;
  /** GPU model ("V100M16", "T4", "G2", ...); undefined on CPU-only nodes. */
  model: string | undefined;
}

export interface AlibabaPod {
  name: string;
  cpuMilli: number;
  memoryMiB: number;
  /** GPUs asked for; 0 = CPU only. */
  numGpu: number;
  /** Per GPU, 1000 = a whole one; below 1000 a share of one GPU. */
  gpuMilli: number;
  /** GPU models the pod may run on; empty = any. */
  gpuModels: string[];
  qos: string;
  phase: string;
  /** Seconds from the start of the trace. */
  creation: number;
  /** Seconds; Infinity when the pod was never deleted. */
  deletion: number;
  /** Seconds; undefined when the pod was never scheduled in the original cluster. */
  scheduled: number | undefined;
}

const NODE_COLUMNS = ['sn', 'cpu_milli', 'memory_mib', 'gpu', 'model'] as const;
/** The columns a pod list must have; gpu_spec, qos, pod_phase and the times are optional. */
const POD_COLUMNS = ['name', 'cpu_milli', 'memory_mib', 'num_gpu', 'gpu_milli'] as const;
/** Without creation_time the list has no timing: file order is arrival order. */
const CREATION_COLUMN = 'creation_time';

/** A pod list as read: its pods in file order and what the file says beyond resources. */
export interface AlibabaPodList {
  pods: AlibabaPod[];
  /** The file has creation and deletion times (pods can leave). */
  timed: boolean;
  /** Pods that name GPU models (gpu_spec). */
  podsNamingGpuModels: number;
}

export function loadAlibabaNodes(path: string = DEFAULT_ALIBABA_NODE_LIST): AlibabaNode[] {
  const nodes: AlibabaNode[] = [];
  readCsv(path, NODE_COLUMNS, (row) => {
    const name = row.get('sn');
    if (name === '') fail(path, row, 'sn (the node name) is empty');
    const gpus = num(path, row, 'gpu', { integer: true });
    const model = row.get('model');
    if (gpus > 0 && model === '') fail(path, row, `a node with ${gpus} GPUs needs a model`);
    nodes.push({
      name,
      cpuMilli: num(path, row, 'cpu_milli', { integer: true }),
      memoryMiB: num(path, row, 'memory_mib', { integer: true }),
      gpus,
      model: gpus > 0 ? model : undefined,
    });
  });
  if (nodes.length === 0) throw new BadRequestError(`${path}: no nodes`);
  return nodes;
}

/** The pods in file order; `sortByCreation` gives them in creation order (stable). */
export function loadAlibabaPods(path: string): AlibabaPod[] {
  return loadAlibabaPodList(path).pods;
}

/**
 * The pod list in file order. A list without creation_time gets creation =
 * the pod's index (file order is arrival order) and no deletion.
 */
export function loadAlibabaPodList(path: string): AlibabaPodList {
  const pods: AlibabaPod[] = [];
  const timed = headerOf(path).includes(CREATION_COLUMN);
  let podsNamingGpuModels = 0;
  readCsv(path, POD_COLUMNS, (row) => {
    const name = row.get('name');
    if (name === '') fail(path, row, 'name is empty');
    const numGpu = num(path, row, 'num_gpu', { integer: true });
    const gpuMilli = num(path, row, 'gpu_milli', { integer: true });
    if (numGpu > 0 && gpuMilli === 0) fail(path, row, 'a pod with num_gpu > 0 needs gpu_milli > 0');
    if (numGpu === 0 && gpuMilli > 0) fail(path, row, 'a pod with gpu_milli > 0 needs num_gpu > 0');
    if (gpuMilli > 1000) fail(path, row, `gpu_milli is per GPU and at most 1000, got ${gpuMilli}`);
    if (numGpu > 1 && gpuMilli < 1000)
      fail(path, row, 'a share of a GPU (gpu_milli < 1000) needs num_gpu = 1');
    const creation = timed ? num(path, row, CREATION_COLUMN) : pods.length;
    const deletion = timed ? num(path, row, 'deletion_time', { empty: Infinity }) : Infinity;
    if (deletion < creation) fail(path, row, 'deletion_time is before creation_time');
    const scheduledRaw = num(path, row, 'scheduled_time', { empty: -1 });
    const spec = row.get('gpu_spec');
    if (spec !== '') podsNamingGpuModels++;
    pods.push({
      name,
      cpuMilli: num(path, row, 'cpu_milli', { integer: true }),
      memoryMiB: num(path, row, 'memory_mib', { integer: true }),
      numGpu,
      gpuMilli: numGpu === 0 ? 0 : gpuMilli,
      gpuModels: spec === '' ? [] : spec.split('|').map((s) => s.trim()),
      qos: row.get('qos'),
      phase: row.get('pod_phase'),
      creation,
      deletion,
      scheduled: scheduledRaw < 0 ? undefined : scheduledRaw,
    });
  });
  return { pods, timed, podsNamingGpuModels };
}

/** A pod list found on disk and the node list it runs on. */
export interface PodListFile {
  /** Short name: the file name without "openb_pod_list_" and ".csv" (the path below `dir` if two collide). */
  name: string;
  path: string;
  nodes: string;
}

/** Folders below the data folder searched for pod lists. */
const MAX_DEPTH = 3;

/**
 * Every Alibaba GPU pod list under `dir` (a .csv whose header has the pod
 * columns), by name. Each runs on the node list of its own folder (a .csv
 * whose header has the node columns), else on `defaultNodes`.
 */
export function findAlibabaPodLists(
  dir: string = DATA,
  defaultNodes: string = DEFAULT_ALIBABA_NODE_LIST,
): PodListFile[] {
  const found: { path: string; nodes: string }[] = [];
  const walk = (folder: string, depth: number) => {
    let entries;
    try {
      entries = readdirSync(folder, { withFileTypes: true });
    } catch {
      return;
    }
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    const csvs = entries.filter((e) => e.isFile() && e.name.endsWith('.csv'));
    const headers = csvs.map((e) => ({
      path: join(folder, e.name),
      header: headerOf(join(folder, e.name)),
    }));
    const nodes = headers.find((h) => NODE_COLUMNS.every((c) => h.header.includes(c)))?.path;
    for (const h of headers)
      if (POD_COLUMNS.every((c) => h.header.includes(c)))
        found.push({ path: h.path, nodes: nodes ?? defaultNodes });
    if (depth < MAX_DEPTH)
      for (const e of entries) if (e.isDirectory()) walk(join(folder, e.name), depth + 1);
  };
  walk(dir, 0);
  const short = (path: string) => basename(path, '.csv').replace(/^openb_pod_list_/, '');
  const counts = new Map<string, number>();
  for (const f of found) counts.set(short(f.path), (counts.get(short(f.path)) ?? 0) + 1);
  return found.map((f) => ({
    name:
      counts.get(short(f.path)) === 1
        ? short(f.path)
        : join(relative(dir, dirname(f.path)), short(f.path)),
    path: f.path,
    nodes: f.nodes,
  }));
}

/** A copy in creation order; pods created at the same second keep their file order. */
export function sortByCreation(pods: readonly AlibabaPod[]): AlibabaPod[] {
  return pods
    .map((p, i) => [p, i] as const)
    .sort((a, b) => a[0].creation - b[0].creation || a[1] - b[1])
    .map(([p]) => p);
}

// ------------------------------------------------------------------ Bitbrains

export interface BitbrainsVm {
  name: string;
  /** Provisioned (requested) cores. */
  cores: number;
  memoryMiB: number;
}

export interface BitbrainsTrace {
  vms: BitbrainsVm[];
  /** Hours covered: 0 .. hours-1 (the largest hour in the usage file + 1). */
  hours: number;
  /**
   * Per VM (same order as `vms`), per hour, at vm * hours + hour. An hour with
   * no sample has present = 0 and zeros elsewhere.
   */
  present: Uint8Array;
  cpuAvg: Float64Array;
  cpuMax: Float64Array;
  memAvgMiB: Float64Array;
}

export function loadBitbrains(
  vmsPath: string = DEFAULT_BITBRAINS_VMS,
  usagePath: string = DEFAULT_BITBRAINS_USAGE,
): BitbrainsTrace {
  const vms: BitbrainsVm[] = [];
  const byName = new Map<string, number>();
  readCsv(vmsPath, ['vm', 'cores', 'mem_mib'], (row) => {
    const name = row.get('vm');
    if (name === '') fail(vmsPath, row, 'vm (the name) is empty');
    if (byName.has(name)) fail(vmsPath, row, `VM ${name} is listed twice`);
    const cores = num(vmsPath, row, 'cores');
    if (cores <= 0) fail(vmsPath, row, 'cores must be > 0');
    byName.set(name, vms.length);
    vms.push({ name, cores, memoryMiB: num(vmsPath, row, 'mem_mib') });
  });
  if (vms.length === 0) throw new BadRequestError(`${vmsPath}: no VMs`);

  const samples: { vm: number; hour: number; avg: number; max: number; mem: number }[] = [];
  let hours = 0;
  readCsv(usagePath, ['vm', 'hour', 'cpu_cores_avg', 'cpu_cores_max', 'mem_mib_avg'], (row) => {
    const name = row.get('vm');
    const vm = byName.get(name);
    if (vm === undefined) fail(usagePath, row, `VM ${name} is not in ${vmsPath}`);
    const hour = num(usagePath, row, 'hour', { integer: true });
    if (hour > 100_000) fail(usagePath, row, `hour ${hour} is past any month`);
    const avg = num(usagePath, row, 'cpu_cores_avg');
    const max = num(usagePath, row, 'cpu_cores_max');
    if (max + 1e-9 < avg) fail(usagePath, row, 'cpu_cores_max is below cpu_cores_avg');
    samples.push({ vm, hour, avg, max, mem: num(usagePath, row, 'mem_mib_avg') });
    hours = Math.max(hours, hour + 1);
  });
  if (samples.length === 0) throw new BadRequestError(`${usagePath}: no usage samples`);
  const size = vms.length * hours;
  const trace: BitbrainsTrace = {
    vms,
    hours,
    present: new Uint8Array(size),
    cpuAvg: new Float64Array(size),
    cpuMax: new Float64Array(size),
    memAvgMiB: new Float64Array(size),
  };
  for (const s of samples) {
    const k = s.vm * hours + s.hour;
    if (trace.present[k] === 1)
      throw new BadRequestError(
        `${usagePath}: VM ${vms[s.vm]!.name} has two samples for hour ${s.hour}`,
      );
    trace.present[k] = 1;
    trace.cpuAvg[k] = s.avg;
    trace.cpuMax[k] = s.max;
    trace.memAvgMiB[k] = s.mem;
  }
  return trace;
}
