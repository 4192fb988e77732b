// Turning resources into text: tables for `get`, names, JSON and YAML. Pure
// functions of their input and `now`, so every column is unit-testable and the
// commands only fetch and print.
import YAML from 'yaml';
import type { NodeStatus } from '../drivers/types.ts';
import type { AccessResource } from '../model/access.ts';
import { lookupKind, type KindInfo } from '../model/kinds.ts';
import { formatBytes, formatCpu } from '../model/quantity.ts';
import {
  API_VERSION,
  type AnyResource,
  type Application,
  type Cloud,
  type Cluster,
  type Condition,
  type KindName,
  type ObjectMeta,
  type ResourceAmounts,
  type Site,
  type Taint,
} from '../model/schema.ts';

export const NONE = '<none>';
const GROUP = API_VERSION.split('/')[0] ?? API_VERSION;

// ---------------------------------------------------------------- text helpers

/** Left-aligned columns three spaces apart, like kubectl; no trailing blanks. */
export function renderTable(
  header: readonly string[],
  rows: readonly (readonly string[])[],
): string {
  const widths = columnWidths([header, ...rows]);
  return [header, ...rows].map((r) => renderRow(r, widths)).join('\n') + '\n';
}

export function columnWidths(rows: readonly (readonly string[])[]): number[] {
  const widths: number[] = [];
  for (const row of rows)
    row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  return widths;
}

export function renderRow(row: readonly string[], widths: readonly number[]): string {
  return row
    .map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i] ?? 0)))
    .join('   ')
    .trimEnd();
}

/**
 * kubectl's HumanDuration: precise while short ("95s", "7m30s"), coarser as it
 * grows ("3h", "5d", "2y40d"), so a column stays narrow.
 */
export function formatAge(ms: number): string {
  const seconds = Math.trunc(ms / 1000);
  if (seconds < -1) return '<invalid>';
  if (seconds < 0) return '0s';
  if (seconds < 120) return `${seconds}s`;
  const minutes = Math.trunc(seconds / 60);
  if (minutes < 10) return seconds % 60 === 0 ? `${minutes}m` : `${minutes}m${seconds % 60}s`;
  if (minutes < 180) return `${minutes}m`;
  const hours = Math.trunc(minutes / 60);
  if (hours < 8) return minutes % 60 === 0 ? `${hours}h` : `${hours}h${minutes % 60}m`;
  if (hours < 48) return `${hours}h`;
  const days = Math.trunc(hours / 24);
  if (hours < 24 * 8) return hours % 24 === 0 ? `${days}d` : `${days}d${hours % 24}h`;
  if (hours < 24 * 365 * 2) return `${days}d`;
  const years = Math.trunc(days / 365);
  if (hours < 24 * 365 * 8) return days % 365 === 0 ? `${years}y` : `${years}y${days % 365}d`;
  return `${years}y`;
}

/** Age of a timestamp, `<unknown>` when absent or unparsable. */
export function ageSince(timestamp: string | undefined, now: number): string {
  const t = timestamp === undefined ? Number.NaN : Date.parse(timestamp);
  return Number.isNaN(t) ? '<unknown>' : formatAge(now - t);
}

/** Cores as a person reads them: "24", "0.5" is "500m", large fractions keep one decimal. */
export function formatCores(cores: number): string {
  if (Number.isInteger(cores)) return String(cores);
  if (cores < 1) return formatCpu(Math.round(cores * 1000));
  return String(Math.round(cores * 10) / 10);
}

export function formatLabels(labels: Readonly<Record<string, string>> | undefined): string {
  const pairs = Object.entries(labels ?? {}).map(([k, v]) => `${k}=${v}`);
  return pairs.length === 0 ? NONE : pairs.join(',');
}

export function formatTaint(t: Taint): string {
  return `${t.key}${t.value === undefined ? '' : `=${t.value}`}:${t.effect}`;
}

export function listOrNone(values: readonly string[], separator = ','): string {
  return values.length === 0 ? NONE : values.join(separator);
}

function findCondition(
  conditions: readonly Condition[] | undefined,
  type: string,
): Condition | undefined {
  return conditions?.find((c) => c.type === type);
}

/** `allocated/total` for one resource, or NONE before the cluster has reported. */
function usage(
  allocated: ResourceAmounts | undefined,
  total: ResourceAmounts | undefined,
  key: keyof ResourceAmounts,
  fmt: (n: number) => string,
): string {
  if (total === undefined) return NONE;
  return `${fmt(allocated?.[key] ?? 0)}/${fmt(total[key])}`;
}

function uniq(values: readonly string[]): string[] {
  return [...new Set(values)];
}

// ---------------------------------------------------------------- names and documents

/** `application.yunjian.io/shop`, the kubectl spelling of a resource reference. */
export function resourceRef(kind: string, name: string): string {
  const singular = lookupKind(kind)?.singular ?? kind.toLowerCase();
  return `${singular}.${GROUP}/${name}`;
}

export function toJson(value: unknown): string {
  return JSON.stringify(value, null, 2) + '\n';
}

export function toYaml(value: unknown): string {
  return YAML.stringify(value, { lineWidth: 0, aliasDuplicateObjects: false });
}

// ---------------------------------------------------------------- get tables

interface Column<T> {
  header: string;
  /** Shown only with `-o wide`. */
  wide?: boolean;
  cell: (o: T, now: number) => string;
}

type ColumnsByKind = {
  [K in KindName | AccessResource['kind']]: readonly Column<
    Extract<AnyResource | AccessResource, { kind: K }>
  >[];
};

const age = {
  header: 'AGE',
  cell: (o: { metadata: ObjectMeta }, now: number) => ageSince(o.metadata.creationTimestamp, now),
};
const name = { header: 'NAME', cell: (o: { metadata: ObjectMeta }) => o.metadata.name };

function cloudPrice(c: Cloud): string {
  const p = c.spec.prices;
  if (p?.cpuCoreHour === undefined) return NONE;
  return p.currency === undefined || p.currency === 'USD'
    ? String(p.cpuCoreHour)
    : `${p.cpuCoreHour} ${p.currency}`;
}

function clusterReady(c: Cluster): string {
  return findCondition(c.status?.conditions, 'Ready')?.status ?? 'Unknown';
}

/** Allocatable is what can be scheduled; capacity stands in before a driver reports it. */
function schedulable(c: Cluster): ResourceAmounts | undefined {
  return c.status?.allocatable ?? c.status?.capacity;
}

function appReady(a: Application): string {
  const r = a.status?.replicas;
  return r === undefined ? NONE : `${r.ready}/${r.desired}`;
}

/** The Ready condition's reason says why ("AllReplicasReady", "Unschedulable"); no status yet is Pending. */
function appStatus(a: Application): string {
  const ready = findCondition(a.status?.conditions, 'Ready');
  if (ready === undefined) return 'Pending';
  return ready.reason ?? (ready.status === 'True' ? 'Ready' : 'NotReady');
}

const COLUMNS: ColumnsByKind = {
  Cloud: [
    name,
    { header: 'VENDOR', cell: (c) => c.spec.vendor },
    { header: 'TYPE', cell: (c) => c.spec.type },
    { header: 'DISPLAY-NAME', cell: (c) => c.spec.displayName ?? NONE },
    { header: 'CPU$/CORE-H', cell: cloudPrice },
    age,
  ],
  Site: [
    name,
    { header: 'CLOUD', cell: (s: Site) => s.spec.cloud },
    { header: 'KIND', cell: (s) => s.spec.kind },
    { header: 'COUNTRY', cell: (s) => s.spec.country },
    { header: 'CITY', cell: (s) => s.spec.city },
    { header: 'ZONES', cell: (s) => String(s.spec.zones?.length ?? 0) },
    age,
    { header: 'REGION', wide: true, cell: (s) => s.spec.region ?? NONE },
    { header: 'LAT', wide: true, cell: (s) => String(s.spec.latitude) },
    { header: 'LON', wide: true, cell: (s) => String(s.spec.longitude) },
  ],
  Cluster: [
    name,
    { header: 'CLOUD', cell: (c) => c.spec.cloud },
    { header: 'SITE', cell: (c) => c.spec.site },
    { header: 'DRIVER', cell: (c) => c.spec.driver.type },
    { header: 'READY', cell: clusterReady },
    { header: 'NODES', cell: (c) => String(c.status?.nodeCount ?? 0) },
    {
      header: 'CPU(ALLOC/ALLOCATABLE)',
      cell: (c) => usage(c.status?.allocated, schedulable(c), 'cpu', formatCores),
    },
    age,
    { header: 'AMD64', wide: true, cell: (c) => String(c.status?.nodesByArch?.amd64 ?? 0) },
    { header: 'ARM64', wide: true, cell: (c) => String(c.status?.nodesByArch?.arm64 ?? 0) },
    { header: 'RISCV64', wide: true, cell: (c) => String(c.status?.nodesByArch?.riscv64 ?? 0) },
    {
      header: 'MEMORY',
      wide: true,
      cell: (c) => usage(c.status?.allocated, schedulable(c), 'memory', formatBytes),
    },
    {
      header: 'GPU',
      wide: true,
      cell: (c) => usage(c.status?.allocated, schedulable(c), 'gpu', String),
    },
    {
      header: 'TAINTS',
      wide: true,
      cell: (c) => listOrNone((c.spec.taints ?? []).map(formatTaint)),
    },
  ],
  Application: [
    name,
    { header: 'COMPONENTS', cell: (a) => String(a.spec.components.length) },
    { header: 'READY', cell: appReady },
    { header: 'STATUS', cell: appStatus },
    {
      header: 'CLOUDS',
      cell: (a) => listOrNone(uniq((a.status?.placements ?? []).map((p) => p.cloud))),
    },
    age,
    {
      header: 'CLUSTERS',
      wide: true,
      cell: (a) => listOrNone(uniq((a.status?.placements ?? []).map((p) => p.cluster))),
    },
    {
      header: 'PLACEMENTS',
      wide: true,
      cell: (a) =>
        listOrNone(
          (a.status?.placements ?? []).map(
            (p) =>
              `${p.component}@${p.cluster} ${p.ready}/${p.desired}${p.draining === true ? ' draining' : ''}`,
          ),
        ),
    },
  ],
  Event: [
    { header: 'LAST', cell: (e, now) => ageSince(e.spec.lastTimestamp, now) },
    { header: 'TYPE', cell: (e) => e.spec.type },
    { header: 'REASON', cell: (e) => e.spec.reason },
    {
      header: 'OBJECT',
      cell: (e) => {
        const o = e.spec.involvedObject;
        return `${o.kind.toLowerCase()}/${o.namespace ? `${o.namespace}/` : ''}${o.name}`;
      },
    },
    { header: 'COUNT', cell: (e) => String(e.spec.count) },
    { header: 'MESSAGE', cell: (e) => e.spec.message },
    { header: 'NAME', wide: true, cell: (e) => e.metadata.name },
  ],
  Lease: [
    name,
    { header: 'HOLDER', cell: (l) => l.spec.holderIdentity },
    { header: 'RENEWED', cell: (l, now) => ageSince(l.spec.renewTime, now) },
    { header: 'TRANSITIONS', cell: (l) => String(l.spec.leaseTransitions) },
    age,
  ],
  Workload: [
    name,
    { header: 'CLUSTER', cell: (w) => w.spec.cluster },
    { header: 'READY', cell: (w) => `${w.status?.ready ?? 0}/${w.spec.replicas}` },
    {
      header: 'UP-TO-DATE',
      cell: (w) => (w.status?.hash === w.spec.hash ? 'yes' : 'no'),
    },
    {
      header: 'ENDPOINTS',
      cell: (w) => listOrNone((w.status?.endpoints ?? []).map((e) => `${e.address}:${e.port}`)),
    },
    age,
    { header: 'MESSAGE', wide: true, cell: (w) => w.status?.message ?? '' },
  ],
  AgentToken: [
    name,
    { header: 'PURPOSE', cell: (t) => t.spec.purpose },
    { header: 'CLUSTER', cell: (t) => t.spec.cluster ?? '' },
    { header: 'EXPIRES', cell: (t) => t.spec.expires ?? 'never' },
    age,
    { header: 'DESCRIPTION', wide: true, cell: (t) => t.spec.description ?? '' },
  ],
  Secret: [name, { header: 'TYPE', cell: (s) => s.spec.type }, age],
  CatalogItem: [
    name,
    { header: 'CATEGORY', cell: (c) => c.spec.category },
    { header: 'VERSIONS', cell: (c) => c.spec.versions.map((v) => v.version).join(',') },
    { header: 'PLANS', cell: (c) => c.spec.plans.map((p) => p.name).join(',') },
    age,
    { header: 'DISPLAY-NAME', wide: true, cell: (c) => c.spec.displayName },
  ],
  Instance: [
    name,
    { header: 'ITEM', cell: (i) => i.spec.item },
    { header: 'VERSION', cell: (i) => i.status?.version ?? NONE },
    { header: 'PREVIOUS', cell: (i) => i.status?.previousVersion ?? NONE },
    { header: 'PLAN', cell: (i) => i.spec.plan },
    {
      header: 'READY',
      cell: (i) => findCondition(i.status?.conditions, 'Ready')?.status ?? 'Unknown',
    },
    age,
    {
      header: 'REASON',
      wide: true,
      cell: (i) => findCondition(i.status?.conditions, 'Ready')?.reason ?? NONE,
    },
  ],
  Binding: [
    name,
    { header: 'INSTANCE', cell: (b) => b.spec.instance },
    { header: 'APPLICATION', cell: (b) => b.spec.application },
    {
      header: 'READY',
      cell: (b) => findCondition(b.status?.conditions, 'Ready')?.status ?? 'Unknown',
    },
    age,
    { header: 'ENV', wide: true, cell: (b) => listOrNone(b.status?.env ?? []) },
  ],
  Migration: [
    name,
    { header: 'APPLICATION', cell: (m) => m.spec.application },
    {
      header: 'TO',
      cell: (m) =>
        Object.entries(m.spec.to)
          .map(([k, v]) => `${k}=${v}`)
          .join(','),
    },
    { header: 'PHASE', cell: (m) => m.status?.phase ?? 'Pending' },
    {
      header: 'WEIGHT',
      cell: (m) => (m.status?.weight === undefined ? NONE : `${m.status.weight}%`),
    },
    age,
  ],
  MigrationPlan: [
    name,
    { header: 'PHASE', cell: (p) => p.status?.phase ?? 'Pending' },
    {
      header: 'WAVE',
      cell: (p) =>
        p.status === undefined
          ? NONE
          : `${Math.min(p.status.currentWave + 1, p.status.waves.length)}/${p.status.waves.length}`,
    },
    {
      header: 'MOVED',
      cell: (p) =>
        p.status === undefined
          ? NONE
          : `${p.status.applications.filter((a) => a.phase === 'Succeeded').length}/${p.status.applications.length}`,
    },
    { header: 'UNMOVABLE', cell: (p) => String(p.status?.unmovable.length ?? 0) },
    age,
  ],
  DeliveryEvent: [
    name,
    { header: 'TYPE', cell: (d) => d.spec.type },
    { header: 'TEAM', cell: (d) => d.spec.team },
    { header: 'APP', cell: (d) => d.spec.app ?? NONE },
    { header: 'ENVIRONMENT', cell: (d) => d.spec.environment ?? NONE },
    { header: 'OUTCOME', cell: (d) => d.spec.outcome ?? NONE },
    { header: 'START', cell: (d) => d.spec.start },
    { header: 'SOURCE', cell: (d) => d.spec.source, wide: true },
  ],
  Tenant: [
    name,
    { header: 'NAMESPACES', cell: (t) => t.spec.namespaces.join(',') },
    {
      header: 'QUOTA',
      cell: (t) =>
        listOrNone(Object.entries(t.spec.quota ?? {}).map(([k, v]) => `${k}=${String(v)}`)),
    },
    age,
  ],
  RoleBinding: [
    name,
    { header: 'ROLE', cell: (b) => b.spec.role },
    { header: 'SUBJECT', cell: (b) => `${b.spec.subject.kind}/${b.spec.subject.name}` },
    age,
  ],
  ClusterRoleBinding: [
    name,
    { header: 'ROLE', cell: (b) => b.spec.role },
    { header: 'SUBJECT', cell: (b) => `${b.spec.subject.kind}/${b.spec.subject.name}` },
    age,
  ],
  CostSample: [
    name,
    { header: 'START', cell: (s) => s.spec.start },
    { header: 'SECONDS', cell: (s) => String(s.spec.seconds) },
    { header: 'CLUSTERS', cell: (s) => String(s.spec.clusters.length) },
  ],
  Budget: [
    name,
    { header: 'TEAM', cell: (b) => b.spec.team },
    { header: 'MONTHLY', cell: (b) => String(b.spec.monthlyAmount) },
    { header: 'PERIOD', cell: (b) => b.status?.period ?? NONE },
    {
      header: 'SPENT',
      cell: (b) =>
        b.status?.spentMicros === undefined ? NONE : (b.status.spentMicros / 1e6).toFixed(2),
    },
    age,
  ],
  UserToken: [
    name,
    { header: 'SUBJECT', cell: (t) => `${t.spec.subject.kind}/${t.spec.subject.name}` },
    { header: 'EXPIRES', cell: (t) => t.spec.expires },
    age,
  ],
};

export interface TableOptions {
  wide: boolean;
  /** Prepend NAMESPACE (listing a namespaced kind across namespaces). */
  namespaceColumn: boolean;
}

function visible<T extends { wide?: boolean }>(columns: readonly T[], wide: boolean): T[] {
  return columns.filter((c) => wide || c.wide !== true);
}

export function tableHeader(kind: KindInfo, options: TableOptions): string[] {
  const columns: readonly { header: string; wide?: boolean }[] = COLUMNS[kind.kind];
  const headers = visible(columns, options.wide).map((c) => c.header);
  return options.namespaceColumn ? ['NAMESPACE', ...headers] : headers;
}

export function tableRow(
  o: AnyResource | AccessResource,
  options: TableOptions,
  now: number,
): string[] {
  const cells = (() => {
    switch (o.kind) {
      case 'Cloud':
        return visible(COLUMNS.Cloud, options.wide).map((c) => c.cell(o, now));
      case 'Site':
        return visible(COLUMNS.Site, options.wide).map((c) => c.cell(o, now));
      case 'Cluster':
        return visible(COLUMNS.Cluster, options.wide).map((c) => c.cell(o, now));
      case 'Application':
        return visible(COLUMNS.Application, options.wide).map((c) => c.cell(o, now));
      case 'Event':
        return visible(COLUMNS.Event, options.wide).map((c) => c.cell(o, now));
      case 'Lease':
        return visible(COLUMNS.Lease, options.wide).map((c) => c.cell(o, now));
      case 'Workload':
        return visible(COLUMNS.Workload, options.wide).map((c) => c.cell(o, now));
      case 'AgentToken':
        return visible(COLUMNS.AgentToken, options.wide).map((c) => c.cell(o, now));
      case 'Secret':
        return visible(COLUMNS.Secret, options.wide).map((c) => c.cell(o, now));
      case 'Migration':
        return visible(COLUMNS.Migration, options.wide).map((c) => c.cell(o, now));
      case 'MigrationPlan':
        return visible(COLUMNS.MigrationPlan, options.wide).map((c) => c.cell(o, now));
      case 'DeliveryEvent':
        return visible(COLUMNS.DeliveryEvent, options.wide).map((c) => c.cell(o, now));
      case 'Tenant':
        return visible(COLUMNS.Tenant, options.wide).map((c) => c.cell(o, now));
      case 'RoleBinding':
        return visible(COLUMNS.RoleBinding, options.wide).map((c) => c.cell(o, now));
      case 'ClusterRoleBinding':
        return visible(COLUMNS.ClusterRoleBinding, options.wide).map((c) => c.cell(o, now));
      case 'UserToken':
        return visible(COLUMNS.UserToken, options.wide).map((c) => c.cell(o, now));
      case 'CostSample':
        return visible(COLUMNS.CostSample, options.wide).map((c) => c.cell(o, now));
      case 'Budget':
        return visible(COLUMNS.Budget, options.wide).map((c) => c.cell(o, now));
      case 'CatalogItem':
        return visible(COLUMNS.CatalogItem, options.wide).map((c) => c.cell(o, now));
      case 'Instance':
        return visible(COLUMNS.Instance, options.wide).map((c) => c.cell(o, now));
      case 'Binding':
        return visible(COLUMNS.Binding, options.wide).map((c) => c.cell(o, now));
      default: {
        // A kind added to the registry without a case here fails to compile.
        const unhandled: never = o;
        throw new Error(`no table columns for ${(unhandled as { kind: string }).kind}`);
      }
    }
  })();
  return options.namespaceColumn ? [o.metadata.namespace ?? '', ...cells] : cells;
}

export function renderResources(
  kind: KindInfo,
  items: readonly AnyResource[],
  options: TableOptions,
  now: number,
): string {
  return renderTable(
    tableHeader(kind, options),
    items.map((o) => tableRow(o, options, now)),
  );
}

// ---------------------------------------------------------------- nodes

/** `allocated/capacity` of one resource of a node. */
function nodeUsage(n: NodeStatus, key: keyof NodeStatus['capacity'], fmt: (v: number) => string) {
  return `${fmt(n.allocated[key])}/${fmt(n.capacity[key])}`;
}

const NODE_COLUMNS: readonly { header: string; wide?: boolean; cell: (n: NodeStatus) => string }[] =
  [
    { header: 'NAME', cell: (n) => n.name },
    { header: 'STATUS', cell: (n) => (n.healthy ? 'Ready' : 'NotReady') },
    { header: 'ARCH', cell: (n) => n.arch },
    { header: 'CPU(ALLOC/CAP)', cell: (n) => nodeUsage(n, 'cpu', formatCores) },
    { header: 'MEMORY(ALLOC/CAP)', cell: (n) => nodeUsage(n, 'memory', formatBytes) },
    { header: 'GPU', cell: (n) => nodeUsage(n, 'gpu', String) },
    { header: 'PODS', cell: (n) => nodeUsage(n, 'pods', String) },
    { header: 'ZONE', wide: true, cell: (n) => n.zone ?? NONE },
    { header: 'GPU-MODEL', wide: true, cell: (n) => n.gpuModel ?? NONE },
  ];

/** `get nodes`: one row per node of a cluster, as its driver reports it. */
export function renderNodes(nodes: readonly NodeStatus[], wide: boolean): string {
  const columns = visible(NODE_COLUMNS, wide);
  return renderTable(
    columns.map((c) => c.header),
    nodes.map((n) => columns.map((c) => c.cell(n))),
  );
}
