// `describe`: one resource as human-readable sections — metadata, a summary of
// the spec in the words of the product, then status — and `explain`'s text.
// Only printing; the commands fetch the objects.
import { formatBytes } from '../model/quantity.ts';
import type {
  Event,
  AnyResource,
  Cloud,
  Cluster,
  ObjectMeta,
  ResourceAmounts,
  Site,
  Workload,
} from '../model/schema.ts';
import type { ApplicationExplanation } from '../model/explanation.ts';
import { describeApplication } from './describe-application.ts';
import { conditions, fields, keyValueLines, subTable, type Field } from './describe-text.ts';
import { NONE, ageSince, formatCores, formatTaint, listOrNone } from './format.ts';

function metadata(o: AnyResource, now: number): string[] {
  const m: ObjectMeta = o.metadata;
  const created =
    m.creationTimestamp === undefined
      ? NONE
      : `${m.creationTimestamp} (${ageSince(m.creationTimestamp, now)} ago)`;
  const pairs: Field[] = [
    ['Name', m.name],
    ...(m.namespace === undefined ? [] : [['Namespace', m.namespace] as const]),
    ['Kind', o.kind],
    ['Labels', keyValueLines(m.labels)],
    ['Annotations', keyValueLines(m.annotations)],
    ['Created', created],
    ['Generation', m.generation === undefined ? NONE : String(m.generation)],
    ['Resource Version', m.resourceVersion ?? NONE],
  ];
  return fields(pairs);
}

// ---------------------------------------------------------------- per kind

function describeCloud(c: Cloud, now: number): string[] {
  const p = c.spec.prices;
  const currency = p?.currency ?? 'USD';
  const prices =
    p === undefined
      ? NONE
      : [
          p.cpuCoreHour === undefined ? undefined : `${p.cpuCoreHour} ${currency}/core-hour`,
          p.memoryGiBHour === undefined ? undefined : `${p.memoryGiBHour} ${currency}/GiB-hour`,
          p.gpuHour === undefined ? undefined : `${p.gpuHour} ${currency}/GPU-hour`,
        ]
          .filter((s) => s !== undefined)
          .join(', ') || NONE;
  return [
    'Spec:',
    ...fields(
      [
        ['Vendor', c.spec.vendor],
        ['Type', c.spec.type],
        ['Display Name', c.spec.displayName ?? NONE],
        ['Prices', prices],
      ],
      2,
    ),
    'Status:',
    ...conditions(c.status?.conditions, now, 2),
  ];
}

function describeSite(s: Site, now: number): string[] {
  return [
    'Spec:',
    ...fields(
      [
        ['Cloud', s.spec.cloud],
        ['Kind', s.spec.kind],
        ['Region', s.spec.region ?? NONE],
        ['Location', `${s.spec.city}, ${s.spec.country} (${s.spec.latitude}, ${s.spec.longitude})`],
        ['Zones', listOrNone(s.spec.zones ?? [], ', ')],
      ],
      2,
    ),
    'Status:',
    ...conditions(s.status?.conditions, now, 2),
  ];
}

function amounts(a: ResourceAmounts | undefined): string {
  if (a === undefined) return NONE;
  return `cpu ${formatCores(a.cpu)}, memory ${formatBytes(a.memory)}, gpu ${a.gpu}, pods ${a.pods}`;
}

/** Allocated as a share of allocatable: the number operators watch for packing. */
function allocatedShare(
  allocated: ResourceAmounts | undefined,
  allocatable: ResourceAmounts | undefined,
): string {
  if (allocated === undefined) return NONE;
  const pct = (used: number, total: number) =>
    total > 0 ? ` (${Math.round((used / total) * 1000) / 10}%)` : '';
  return [
    `cpu ${formatCores(allocated.cpu)}${pct(allocated.cpu, allocatable?.cpu ?? 0)}`,
    `memory ${formatBytes(allocated.memory)}${pct(allocated.memory, allocatable?.memory ?? 0)}`,
    `gpu ${allocated.gpu}${pct(allocated.gpu, allocatable?.gpu ?? 0)}`,
    `pods ${allocated.pods}${pct(allocated.pods, allocatable?.pods ?? 0)}`,
  ].join(', ');
}

function driverSummary(c: Cluster): string {
  const d = c.spec.driver;
  switch (d.type) {
    case 'sim': {
      const pools = d.sim?.nodePools ?? [];
      const lines = pools.map(
        (p) =>
          `${p.name}: ${p.count} x ${p.arch} (cpu ${p.cpu}, memory ${p.memory}${p.gpu ? `, ${p.gpu} ${p.gpuModel ?? 'GPU'}` : ''})`,
      );
      return [`sim (${pools.length} node pool${pools.length === 1 ? '' : 's'})`, ...lines].join(
        '\n',
      );
    }
    case 'agent':
      return d.agent?.address === undefined ? 'agent' : `agent at ${d.agent.address}`;
    case 'kubernetes':
      return d.kubernetes?.context === undefined
        ? 'kubernetes'
        : `kubernetes (context ${d.kubernetes.context})`;
  }
}

function describeCluster(c: Cluster, now: number): string[] {
  const st = c.status;
  const arch = st?.nodesByArch;
  const nodes =
    st?.nodeCount === undefined
      ? NONE
      : `${st.nodeCount}${arch === undefined ? '' : ` (amd64 ${arch.amd64}, arm64 ${arch.arm64}, riscv64 ${arch.riscv64})`}`;
  const gpuModels = Object.entries(st?.gpuModels ?? {}).map(([m, n]) => `${m} x${n}`);
  return [
    'Spec:',
    ...fields(
      [
        ['Cloud', c.spec.cloud],
        ['Site', c.spec.site],
        ['Zone', c.spec.zone ?? NONE],
        ['Driver', driverSummary(c)],
        ['Taints', listOrNone((c.spec.taints ?? []).map(formatTaint), '\n')],
      ],
      2,
    ),
    'Status:',
    ...fields(
      [
        ['Nodes', nodes],
        ['GPU Models', listOrNone(gpuModels, ', ')],
        ['Capacity', amounts(st?.capacity)],
        ['Allocatable', amounts(st?.allocatable)],
        ['Allocated', allocatedShare(st?.allocated, st?.allocatable ?? st?.capacity)],
        [
          'Last Heartbeat',
          st?.lastHeartbeatTime === undefined
            ? NONE
            : `${st.lastHeartbeatTime} (${ageSince(st.lastHeartbeatTime, now)} ago)`,
        ],
      ],
      2,
    ),
    ...conditions(st?.conditions, now, 2),
  ];
}

export function describe(o: AnyResource, now: number, events: readonly Event[] = []): string {
  const body = (() => {
    switch (o.kind) {
      case 'Cloud':
        return describeCloud(o, now);
      case 'Site':
        return describeSite(o, now);
      case 'Cluster':
        return describeCluster(o, now);
      case 'Application':
        return describeApplication(o, now);
      case 'Event':
      case 'Lease':
      case 'AgentToken':
      case 'DeliveryEvent':
        return ['Spec:', ...fields(specFields(o.spec), 2)];
      case 'Secret':
        return ['Spec:', ...fields([['Type', o.spec.type]], 2)];
      case 'Workload':
        return describeWorkload(o);
      case 'Migration':
      case 'MigrationPlan':
      case 'CatalogItem':
      case 'Instance':
      case 'Binding':
      case 'CostSample':
      case 'Budget':
        return [
          'Spec:',
          ...fields(specFields(o.spec), 2),
          ...(o.status !== undefined ? ['Status:', ...fields(specFields(o.status), 2)] : []),
        ];
      default: {
        // A kind added to the registry without a case here fails to compile.
        const unhandled: never = o;
        throw new Error(`cannot describe ${(unhandled as { kind: string }).kind}`);
      }
    }
  })();
  const recent = [...events]
    .sort((a, b) => a.spec.lastTimestamp.localeCompare(b.spec.lastTimestamp))
    .slice(-15);
  const eventLines = subTable(
    'Events',
    ['LAST', 'TYPE', 'REASON', 'COUNT', 'MESSAGE'],
    recent.map((e) => [
      ageSince(e.spec.lastTimestamp, now),
      e.spec.type,
      e.spec.reason,
      String(e.spec.count),
      e.spec.message,
    ]),
    0,
  );
  return [...metadata(o, now), ...body, ...eventLines].join('\n') + '\n';
}

function describeWorkload(w: Workload): string[] {
  const st = w.status;
  return [
    ...fields([
      ['Cluster', w.spec.cluster],
      ['Application', `${w.spec.key.namespace}/${w.spec.key.app}`],
      ['Component', w.spec.key.component],
      ['Command', listOrNone([...w.spec.command, ...w.spec.args], ' ')],
      ['Image', `${w.spec.image} (recorded; the agent runs the command)`],
      [
        'Replicas',
        `${st?.ready ?? 0} ready / ${st?.scheduled ?? 0} running / ${w.spec.replicas} desired`,
      ],
      [
        'Hash',
        `${w.spec.hash}${st?.hash === w.spec.hash ? '' : ` (agent at ${st?.hash ?? NONE})`}`,
      ],
      ['Endpoints', listOrNone((st?.endpoints ?? []).map((e) => `${e.address}:${e.port}`))],
      ['Message', st?.message ?? NONE],
    ]),
    ...subTable(
      'Processes',
      ['REPLICA', 'STATE', 'READY', 'PID', 'PORT', 'RESTARTS', 'LAST EXIT'],
      (st?.replicas ?? []).map((r) => [
        r.id,
        r.state,
        r.ready ? 'yes' : 'no',
        r.pid === undefined ? NONE : String(r.pid),
        r.port === undefined ? NONE : String(r.port),
        String(r.restarts),
        r.lastExit ?? NONE,
      ]),
      0,
    ),
  ];
}

/** Flat specs (Event, Lease) as label/value pairs; nested values as compact JSON. */
function specFields(spec: object): Field[] {
  return Object.entries(spec).map(([k, v]) => [
    k.charAt(0).toUpperCase() + k.slice(1),
    typeof v === 'object' ? JSON.stringify(v) : String(v),
  ]);
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

/** `yunjian explain app NAME`: per component, why each cloud and cluster was chosen or rejected. */
export function describeExplanation(x: ApplicationExplanation): string {
  const lines: string[] = [
    ...fields([
      ['Application', `${x.namespace}/${x.application}`],
      [
        'Weights',
        Object.entries(x.weights)
          .map(([k, v]) => `${k} ${v}`)
          .join(', '),
      ],
    ]),
  ];
  for (const c of x.components) {
    const placed = c.chosen.reduce((n, k) => n + k.replicas, 0);
    lines.push(
      '',
      `Component ${c.component}: ${plural(c.replicas, 'replica')}, image for ${c.architectures.join('/')}; ` +
        `${c.clusters} clusters, ${c.feasible} feasible, ${plural(c.chosen.length, 'chosen cluster')}` +
        (c.unplaced > 0 ? `, ${c.unplaced} unplaced` : ''),
    );
    const scoreNames = [...new Set(c.chosen.flatMap((k) => Object.keys(k.scores)))];
    lines.push(
      ...subTable(
        'Chosen',
        ['CLUSTER', 'CLOUD', 'REPLICAS', 'SCORE', ...scoreNames.map((n) => n.toUpperCase())],
        c.chosen.map((k) => [
          k.cluster,
          k.cloud,
          String(k.replicas),
          k.score.toFixed(3),
          ...scoreNames.map((n) => (k.scores[n] ?? 0).toFixed(3)),
        ]),
        2,
      ),
    );
    if (placed < c.replicas && c.unplaced === 0)
      lines.push(`  (${c.replicas - placed} replicas run elsewhere by overrides)`);
    lines.push(
      ...subTable(
        'By cloud',
        ['CLOUD', 'VERDICT', 'CLUSTERS', 'WHY'],
        c.clouds.map((cloud) => {
          const why: string[] = cloud.chosen.map(
            (k) => `${k.cluster} (${plural(k.replicas, 'replica')}, score ${k.score.toFixed(2)})`,
          );
          if (cloud.feasible > 0) {
            const best = cloud.bestFeasible;
            why.push(
              `${cloud.feasible} feasible, not needed` +
                (best ? ` (best: ${best.cluster}, score ${best.score.toFixed(2)})` : ''),
            );
          }
          for (const r of cloud.rejected) why.push(`${plural(r.count, 'cluster')}: ${r.reason}`);
          return [cloud.cloud, cloud.verdict, String(cloud.clusters), why.join('; ')];
        }),
        2,
      ),
    );
    lines.push(
      ...subTable(
        'Rejected',
        ['CLUSTERS', 'REASON'],
        c.rejected.map((r) => [String(r.count), r.reason]),
        2,
      ),
    );
    if (c.notes.length > 0) lines.push('  Notes:', ...c.notes.map((n) => `    ${n}`));
  }
  return lines.join('\n') + '\n';
}
