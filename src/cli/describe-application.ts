// `describe` of an Application: its components, placement and traffic in the
// words of the product, then status (placements, displaced replicas,
// colocation, scheduler reasons).
import { COLOCATION_DEFAULTS } from '../model/schema.ts';
import type { Application, Component, Placement } from '../model/schema.ts';
import { conditions, fields, subTable, type Field } from './describe-text.ts';
import { NONE, ageSince, formatLabels, listOrNone } from './format.ts';

function component(c: Component): string[] {
  const r = c.resources;
  const resources =
    r === undefined
      ? NONE
      : [
          r.cpu === undefined ? undefined : `cpu=${r.cpu}`,
          r.memory === undefined ? undefined : `memory=${r.memory}`,
          r.gpu === undefined
            ? undefined
            : `gpu=${r.gpu}${r.gpuModel === undefined ? '' : ` (${r.gpuModel})`}`,
        ]
          .filter((s) => s !== undefined)
          .join(' ') || NONE;
  const ports = (c.ports ?? []).map(
    (p) => `${p.name === undefined ? '' : `${p.name} `}${p.port}/${p.protocol ?? 'TCP'}`,
  );
  const health =
    c.healthCheck?.http !== undefined
      ? `http ${c.healthCheck.http.path}`
      : c.healthCheck?.tcp !== undefined
        ? 'tcp'
        : NONE;
  return [
    `  ${c.name}:`,
    ...fields(
      [
        ['Image', c.image],
        ['Platforms', listOrNone(c.platforms ?? [], ', ')],
        ['Replicas', String(c.replicas)],
        ['Resources', resources],
        ['Ports', listOrNone(ports, ', ')],
        ['Health Check', health],
        ...(c.dependsOn === undefined ? [] : [['Depends On', c.dependsOn.join(', ')] as const]),
      ],
      4,
    ),
  ];
}

function placementSummary(p: Placement | undefined): string[] {
  if (p === undefined) return ['Placement:  any cluster (no constraints)'];
  const a = p.clusterAffinity;
  const pairs: Field[] = [];
  const add = (label: string, values: readonly string[] | undefined) => {
    if (values !== undefined && values.length > 0) pairs.push([label, values.join(', ')]);
  };
  add('Clouds', a?.clouds);
  add('Sites', a?.sites);
  add('Clusters', a?.clusters);
  if (a?.labelSelector !== undefined) {
    const exprs = (a.labelSelector.matchExpressions ?? []).map(
      (e) => `${e.key} ${e.operator}${e.values === undefined ? '' : ` (${e.values.join(',')})`}`,
    );
    pairs.push([
      'Cluster Labels',
      [formatLabels(a.labelSelector.matchLabels), ...exprs].filter((s) => s !== NONE).join(', ') ||
        NONE,
    ]);
  }
  add('Exclude Clouds', a?.exclude?.clouds);
  add('Exclude Sites', a?.exclude?.sites);
  add('Exclude Clusters', a?.exclude?.clusters);
  add('Residency', p.residency?.countries);
  add(
    'Spread',
    p.spread?.map(
      (s) =>
        `by ${s.by}${s.min === undefined ? '' : ` min ${s.min}`}${s.max === undefined ? '' : ` max ${s.max}`}`,
    ),
  );
  add(
    'Tolerations',
    p.tolerations?.map(
      (t) =>
        `${t.key ?? '*'}${t.operator === 'Equal' ? `=${t.value ?? ''}` : ' exists'}${t.effect === undefined ? '' : `:${t.effect}`}`,
    ),
  );
  if (p.maxReplicasPerNode !== undefined)
    pairs.push(['Max Per Node', String(p.maxReplicasPerNode)]);
  add(
    'Anti-affinity',
    p.antiAffinity?.map((g) =>
      g.components === undefined ? 'all components' : g.components.join('+'),
    ),
  );
  const rs = p.replicaScheduling;
  if (rs !== undefined)
    pairs.push([
      'Replicas',
      `${rs.type}${rs.weighting === undefined ? '' : ` by ${rs.weighting}`}`,
    ]);
  if (p.preferences !== undefined) {
    const pref = p.preferences;
    add(
      'Preferences',
      [
        pref.cost === undefined ? undefined : `cost=${pref.cost}`,
        pref.packing === undefined ? undefined : `packing=${pref.packing}`,
        pref.balance === undefined ? undefined : `balance=${pref.balance}`,
        pref.proximity === undefined ? undefined : `proximity=${pref.proximity}`,
        pref.userRegions === undefined ? undefined : `userRegions=${pref.userRegions.join(',')}`,
      ].filter((s) => s !== undefined),
    );
  }
  if (p.colocation !== undefined) {
    const c = p.colocation;
    pairs.push([
      'Colocation',
      `reserve p${c.percentile ?? COLOCATION_DEFAULTS.percentile} of observed cpu after ${c.minSamples ?? COLOCATION_DEFAULTS.minSamples} samples, node limit ${Math.round((c.cpuLimit ?? COLOCATION_DEFAULTS.cpuLimit) * 100)} %`,
    ]);
  }
  return pairs.length === 0
    ? ['Placement:  any cluster (no constraints)']
    : ['Placement:', ...fields(pairs, 2)];
}

function trafficSummary(a: Application): string[] {
  const t = a.spec.traffic;
  if (t === undefined) return [`Traffic:  ${NONE}`];
  const where = (x: { cloud?: string; site?: string }) => x.site ?? x.cloud ?? '?';
  const pairs: Field[] = [
    ['Host', t.host],
    ['Strategy', `${t.strategy}${t.ttl === undefined ? '' : ` (ttl ${t.ttl}s)`}`],
  ];
  if (t.failover !== undefined)
    pairs.push(['Failover Order', t.failover.order.map(where).join(' > ')]);
  if (t.weights !== undefined)
    pairs.push(['Weights', t.weights.map((w) => `${where(w)}=${w.weight}`).join(', ')]);
  if (t.units !== undefined)
    pairs.push([
      'Units',
      `${t.units.key}: ${t.units.cells.map((c) => `${c.name}->${where(c)}`).join(', ')}`,
    ]);
  if (t.whenAllDown !== undefined) pairs.push(['When All Down', t.whenAllDown]);
  const f = a.spec.failover;
  if (f !== undefined) {
    const failback =
      f.failback?.enabled === false
        ? 'no failback'
        : `failback after ${f.failback?.stabilizationSeconds ?? 'default'}s stable`;
    pairs.push([
      'Failover',
      f.enabled === false
        ? 'disabled'
        : `enabled, grace ${f.gracePeriodSeconds ?? 'default'}s, ${failback}`,
    ]);
  }
  return ['Traffic:', ...fields(pairs, 2)];
}

export function describeApplication(a: Application, now: number): string[] {
  const st = a.status;
  const overrides = (a.spec.overrides ?? []).map((o) => {
    const target =
      [...(o.target.clouds ?? []), ...(o.target.sites ?? []), ...(o.target.clusters ?? [])].join(
        ',',
      ) || 'all clusters';
    const comps = o.target.components === undefined ? '' : ` [${o.target.components.join(',')}]`;
    return `${target}${comps}: ${Object.keys(o.patches).join(', ')}`;
  });
  const generation =
    st?.observedGeneration === undefined || a.metadata.generation === undefined
      ? NONE
      : `${st.observedGeneration}${st.observedGeneration < a.metadata.generation ? ` (spec generation ${a.metadata.generation} not yet processed)` : ''}`;
  return [
    'Components:',
    ...a.spec.components.flatMap(component),
    ...placementSummary(a.spec.placement),
    ...(overrides.length === 0 ? [] : ['Overrides:', ...overrides.map((o) => `  ${o}`)]),
    ...trafficSummary(a),
    'Status:',
    ...fields(
      [
        [
          'Replicas',
          st?.replicas === undefined ? NONE : `${st.replicas.ready}/${st.replicas.desired} ready`,
        ],
        ['Observed Generation', generation],
      ],
      2,
    ),
    ...conditions(st?.conditions, now, 2),
    ...subTable(
      'Placements',
      ['COMPONENT', 'CLUSTER', 'CLOUD', 'DESIRED', 'READY', 'STATE', 'ENDPOINTS'],
      (st?.placements ?? []).map((p) => [
        p.component,
        p.cluster,
        p.cloud,
        String(p.desired),
        String(p.ready),
        p.draining === true
          ? 'Draining'
          : p.assigned !== undefined && p.desired > p.assigned
            ? `Surging (to ${p.assigned})`
            : 'Active',
        listOrNone((p.endpoints ?? []).map((e) => `${e.address}:${e.port}`)),
      ]),
      2,
    ),
    ...subTable(
      'Displaced (fail back when Ready again)',
      ['COMPONENT', 'FROM', 'REPLICAS', 'TO', 'SINCE'],
      (st?.displaced ?? []).map((d) => [
        d.component,
        d.cluster,
        String(d.replicas),
        listOrNone(d.replacedBy),
        ageSince(d.since, now),
      ]),
      2,
    ),
    ...(st?.colocation === undefined
      ? []
      : subTable(
          `Colocation (highest node overload risk ${st.colocation.maxOverloadProbability === undefined ? NONE : `${(st.colocation.maxOverloadProbability * 100).toFixed(1)} %`})`,
          ['COMPONENT', 'REQUEST', 'RESERVED', 'OBSERVED', 'PREDICTED', 'SAMPLES'],
          st.colocation.components.map((c) => [
            c.component,
            `${c.requestCpuMillis}m`,
            `${c.reservedCpuMillis}m`,
            c.observedCpuMillis === undefined ? NONE : `${c.observedCpuMillis}m`,
            c.predictedCpuMillis === undefined ? NONE : `${c.predictedCpuMillis}m`,
            String(c.samples),
          ]),
          2,
        )),
    ...subTable(
      'Reasons',
      ['COMPONENT', 'COUNT', 'REASON'],
      (st?.reasons ?? []).map((r) => [r.component ?? '*', String(r.count), r.reason]),
      2,
    ),
  ];
}
