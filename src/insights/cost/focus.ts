// The cost lines as FinOps FOCUS rows (a subset of FOCUS 1.0's columns plus
// x_ extensions): one row per UTC day, cluster and component, and one per day
// and cluster for the idle capacity left unshared. Amounts are list prices
// (no discounts or commitments), so BilledCost = EffectiveCost = ListCost =
// ContractedCost; their sum over an export is the fleet's cost for the window.
import type { CostSampleSpec, IdleSharing } from '../../model/schema.ts';
import { formatMicros, sampleLines } from './allocate.ts';

/** The columns, in order; docs/cost.md says what each holds. */
export const FOCUS_COLUMNS = [
  'BilledCost',
  'EffectiveCost',
  'ListCost',
  'ContractedCost',
  'BillingCurrency',
  'BillingPeriodStart',
  'BillingPeriodEnd',
  'ChargePeriodStart',
  'ChargePeriodEnd',
  'ChargeCategory',
  'ChargeDescription',
  'ProviderName',
  'PublisherName',
  'InvoiceIssuerName',
  'ServiceCategory',
  'ServiceName',
  'RegionId',
  'ResourceId',
  'ResourceName',
  'ResourceType',
  'SubAccountId',
  'Tags',
  'x_CpuCost',
  'x_MemoryCost',
  'x_GpuCost',
  'x_IdleCost',
] as const;

interface Accumulated {
  day: string;
  cloud: string;
  site: string;
  cluster: string;
  workload?: { namespace: string; app: string; component: string; team: string };
  cpu: number;
  memory: number;
  gpu: number;
  idle: number;
}

const nextDay = (day: string) =>
  new Date(Date.parse(`${day}T00:00:00Z`) + 86_400_000).toISOString().slice(0, 10);
const monthStart = (day: string) => `${day.slice(0, 7)}-01T00:00:00Z`;
function monthEnd(day: string): string {
  const d = new Date(`${day.slice(0, 7)}-01T00:00:00Z`);
  return (
    new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1)).toISOString().slice(0, 19) + 'Z'
  );
}

/** FOCUS rows (column name to cell text), grouped per day, cluster and component. */
export function focusRows(
  samples: readonly CostSampleSpec[],
  idle: IdleSharing,
  only: { team?: string; cloud?: string } = {},
): Record<(typeof FOCUS_COLUMNS)[number], string>[] {
  const groups = new Map<string, Accumulated>();
  for (const sample of samples)
    for (const line of sampleLines(sample, idle).lines) {
      const w = line.workload;
      if (only.team !== undefined && w?.team !== only.team) continue;
      if (only.cloud !== undefined && line.cloud !== only.cloud) continue;
      const key = `${line.day}|${line.cluster}|${w ? `${w.namespace}/${w.app}/${w.component}` : ''}`;
      let g = groups.get(key);
      if (g === undefined) {
        g = {
          day: line.day,
          cloud: line.cloud,
          site: line.site,
          cluster: line.cluster,
          ...(w !== undefined ? { workload: w } : {}),
          cpu: 0,
          memory: 0,
          gpu: 0,
          idle: 0,
        };
        groups.set(key, g);
      }
      g.cpu += line.cpuMicros;
      g.memory += line.memoryMicros;
      g.gpu += line.gpuMicros;
      g.idle += line.idleMicros;
    }
  return [...groups.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([, g]) => {
      const total = formatMicros(g.cpu + g.memory + g.gpu + g.idle);
      const w = g.workload;
      const tags: Record<string, string> = { 'yunjian.io/cluster': g.cluster };
      if (w !== undefined) {
        tags['yunjian.io/team'] = w.team;
        tags['yunjian.io/namespace'] = w.namespace;
        tags['yunjian.io/app'] = w.app;
        tags['yunjian.io/component'] = w.component;
      }
      return {
        BilledCost: total,
        EffectiveCost: total,
        ListCost: total,
        ContractedCost: total,
        BillingCurrency: 'USD',
        BillingPeriodStart: monthStart(g.day),
        BillingPeriodEnd: monthEnd(g.day),
        ChargePeriodStart: `${g.day}T00:00:00Z`,
        ChargePeriodEnd: `${nextDay(g.day)}T00:00:00Z`,
        ChargeCategory: 'Usage',
        ChargeDescription:
          w !== undefined
            ? `${w.namespace}/${w.app} component ${w.component} on cluster ${g.cluster}`
            : `idle capacity of cluster ${g.cluster}`,
        ProviderName: g.cloud,
        PublisherName: g.cloud,
        InvoiceIssuerName: g.cloud,
        ServiceCategory: 'Compute',
        ServiceName: w !== undefined ? 'Yunjian workloads' : 'Yunjian idle capacity',
        RegionId: g.site,
        ResourceId:
          w !== undefined ? `${g.cluster}/${w.namespace}/${w.app}/${w.component}` : g.cluster,
        ResourceName: w !== undefined ? `${w.app}/${w.component}` : g.cluster,
        ResourceType: w !== undefined ? 'Component' : 'IdleCapacity',
        SubAccountId: w !== undefined ? w.team : '',
        Tags: JSON.stringify(tags),
        x_CpuCost: formatMicros(g.cpu),
        x_MemoryCost: formatMicros(g.memory),
        x_GpuCost: formatMicros(g.gpu),
        x_IdleCost: formatMicros(g.idle),
      };
    });
}

/** RFC 4180: a cell with a comma, quote or line break is quoted, quotes doubled. */
function cell(text: string): string {
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

export function focusCsv(rows: readonly Record<(typeof FOCUS_COLUMNS)[number], string>[]): string {
  const lines = [FOCUS_COLUMNS.join(',')];
  for (const r of rows) lines.push(FOCUS_COLUMNS.map((c) => cell(r[c])).join(','));
  return `${lines.join('\r\n')}\r\n`;
}
