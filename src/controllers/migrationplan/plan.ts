// The wave planner: pure, (fleet, applications, plan spec) -> waves. No store,
// no clock. In this order:
//   1. select the applications (the plan's namespace, labels, clouds they run on);
//   2. give each a target (the first rule that matches its clouds) and find the
//      ones that cannot move there: already there, mid-migration, no Ready
//      cluster, residency, architecture;
//   3. make units (a group moves as one unit) and the dependencies between them
//      (applications' spec.dependsOn; a dependency outside the plan does not move
//      and orders nothing); a dependency cycle makes each unit on it unmovable;
//   4. in topological order (ties by name): a unit depending on an unmovable one
//      is unmovable; a unit that does not fit its target's capacity budget is
//      unmovable; otherwise it takes the first wave after all its dependencies'
//      waves that has room for it.
// Every selected application ends in exactly one wave or in `unmovable` with a
// reason.
import { parseCpuMillis, parseMemoryBytes } from '../../model/quantity.ts';
import {
  DEFAULT_CAPACITY_HEADROOM_PERCENT,
  DEFAULT_MIGRATION_PAUSE_SECONDS,
  DEFAULT_MIGRATION_STEPS,
  DEFAULT_WAVE_SIZE,
  DEFAULT_PLAN_CONCURRENCY,
  type Application,
  type Arch,
  type Cluster,
  type MigrationPlanSpec,
  type MigrationTarget,
  type Site,
} from '../../model/schema.ts';
import { isClusterReady } from '../../model/cluster.ts';
import { targetLabel } from '../../model/migrationplan.ts';
import { componentArchitectures } from '../../scheduler/index.ts';

/** A cluster as the planner sees it: where it is, whether it is Ready, its architectures and room. */
export interface PlanCluster {
  name: string;
  cloud: string;
  site: string;
  /** ISO 3166-1 alpha-2 code of its site; '' when unknown. */
  country: string;
  ready: boolean;
  arches: readonly Arch[];
  cpuMillis: { allocatable: number; allocated: number };
  memoryBytes: { allocatable: number; allocated: number };
}

export interface PlanInput {
  namespace: string;
  clusters: readonly PlanCluster[];
  apps: readonly Application[];
  spec: MigrationPlanSpec;
  /** Seconds a replica takes to start, for the estimate (the target's pre-scale, the source's drain). */
  startupSeconds?: number;
}

export interface PlannedApplication {
  name: string;
  wave: number;
  to: MigrationTarget;
}

/** What one target holds before the plan and what the plan adds to it. */
export interface TargetBudget {
  target: string;
  cpuMillis: { free: number; budget: number; planned: number };
  memoryBytes: { free: number; budget: number; planned: number };
}

export interface WavePlan {
  waves: string[][];
  applications: PlannedApplication[];
  unmovable: { name: string; reason: string }[];
  targets: TargetBudget[];
  predictedSeconds: number;
}

export function planClusters(clusters: readonly Cluster[], sites: readonly Site[]): PlanCluster[] {
  const country = new Map(sites.map((s) => [s.metadata.name, s.spec.country ?? '']));
  return clusters.map((c) => {
    const st = c.status;
    const room = st?.allocatable ?? st?.capacity;
    const byArch = st?.nodesByArch;
    return {
      name: c.metadata.name,
      cloud: c.spec.cloud,
      site: c.spec.site,
      country: country.get(c.spec.site) ?? '',
      ready: isClusterReady(c),
      arches:
        byArch === undefined
          ? []
          : (['amd64', 'arm64', 'riscv64'] as const).filter((a) => byArch[a] > 0),
      cpuMillis: {
        allocatable: (room?.cpu ?? 0) * 1000,
        allocated: (st?.allocated?.cpu ?? 0) * 1000,
      },
      memoryBytes: { allocatable: room?.memory ?? 0, allocated: st?.allocated?.memory ?? 0 },
    };
  });
}

function matchesTarget(c: PlanCluster, to: MigrationTarget): boolean {
  if ('cloud' in to) return c.cloud === to.cloud;
  if ('site' in to) return c.site === to.site;
  return c.name === to.cluster;
}

/** The clusters an application runs on now (placements not being drained). */
function currentClusters(app: Application): Set<string> {
  return new Set(
    (app.status?.placements ?? []).filter((p) => p.draining !== true).map((p) => p.cluster),
  );
}

function demand(app: Application): { cpuMillis: number; memoryBytes: number } {
  let cpuMillis = 0;
  let memoryBytes = 0;
  for (const c of app.spec.components) {
    const cpu = c.resources?.cpu;
    const memory = c.resources?.memory;
    if (cpu !== undefined) cpuMillis += c.replicas * parseCpuMillis(cpu);
    if (memory !== undefined) memoryBytes += c.replicas * parseMemoryBytes(memory);
  }
  return { cpuMillis, memoryBytes };
}

const GiB = 1024 ** 3;
const cores = (m: number) => `${(m / 1000).toFixed(1)} cores`;
const gib = (b: number) => `${(b / GiB).toFixed(1)} GiB`;

/** Why `app` cannot run on the target's clusters, or undefined when it can. */
function feasibility(
  app: Application,
  to: MigrationTarget,
  clusters: readonly PlanCluster[],
): string | undefined {
  const label = targetLabel(to);
  if (app.spec.migration !== undefined) return `Migration ${app.spec.migration.name} is moving it`;
  const current = currentClusters(app);
  if (current.size === 0) return 'it is not placed on any cluster yet';
  const matching = clusters.filter((c) => matchesTarget(c, to));
  if (matching.length > 0 && [...current].every((name) => matching.some((c) => c.name === name)))
    return `it already runs on ${label}`;
  let eligible = matching.filter((c) => c.ready);
  if (eligible.length === 0) return `no Ready cluster matches ${label}`;
  const countries = app.spec.placement?.residency?.countries;
  if (countries !== undefined) {
    const allowed = eligible.filter((c) => countries.includes(c.country));
    if (allowed.length === 0)
      return `residency: it may run in ${countries.join(', ')} only; ${label} is in ${[...new Set(eligible.map((c) => c.country || 'an unknown country'))].join(', ')}`;
    eligible = allowed;
  }
  for (const component of app.spec.components) {
    const arches = componentArchitectures(component);
    if (!eligible.some((c) => c.arches.some((a) => arches.includes(a))))
      return `architecture: component ${component.name} runs on ${arches.join(', ')} only; ${label} has ${[...new Set(eligible.flatMap((c) => c.arches))].join(', ') || 'no nodes'}`;
  }
  return undefined;
}

interface Unit {
  /** The group's name, or the application's. */
  name: string;
  apps: string[];
  deps: Set<string>;
}

/** Finds one cycle through `start` inside `members` (a strongly connected set): a -> b -> a. */
function cycleThrough(start: string, members: Set<string>, units: Map<string, Unit>): string[] {
  const path = [start];
  const seen = new Map([[start, 0]]);
  let at = start;
  for (;;) {
    const next = [...(units.get(at)?.deps ?? [])].filter((d) => members.has(d)).sort()[0];
    if (next === undefined) return path;
    const index = seen.get(next);
    if (index !== undefined) return [...path.slice(index), next];
    seen.set(next, path.length);
    path.push(next);
    at = next;
  }
}

/** Strongly connected components (Tarjan), iteratively so deep chains cannot overflow the stack. */
function stronglyConnected(units: Map<string, Unit>): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const onStack = new Set<string>();
  const stack: string[] = [];
  const out: string[][] = [];
  let counter = 0;
  for (const root of [...units.keys()].sort()) {
    if (index.has(root)) continue;
    const work: { node: string; deps: string[]; i: number }[] = [];
    const enter = (node: string) => {
      index.set(node, counter);
      low.set(node, counter);
      counter++;
      stack.push(node);
      onStack.add(node);
      work.push({ node, deps: [...(units.get(node)?.deps ?? [])].sort(), i: 0 });
    };
    enter(root);
    while (work.length > 0) {
      const frame = work[work.length - 1];
      if (frame === undefined) break;
      const dep = frame.deps[frame.i++];
      if (dep !== undefined) {
        if (!index.has(dep)) enter(dep);
        else if (onStack.has(dep))
          low.set(frame.node, Math.min(low.get(frame.node) ?? 0, index.get(dep) ?? 0));
        continue;
      }
      work.pop();
      const parent = work[work.length - 1];
      if (parent !== undefined)
        low.set(parent.node, Math.min(low.get(parent.node) ?? 0, low.get(frame.node) ?? 0));
      if (low.get(frame.node) === index.get(frame.node)) {
        const component: string[] = [];
        for (;;) {
          const n = stack.pop();
          if (n === undefined) break;
          onStack.delete(n);
          component.push(n);
          if (n === frame.node) break;
        }
        out.push(component);
      }
    }
  }
  return out;
}

/** Seconds one migration takes: every step's pause, the target's start-up and the source's drain. */
export function migrationSeconds(spec: MigrationPlanSpec, startupSeconds: number): number {
  const steps = spec.migration?.steps ?? DEFAULT_MIGRATION_STEPS;
  const pause = spec.migration?.pauseSeconds ?? DEFAULT_MIGRATION_PAUSE_SECONDS;
  return steps.length * pause + 2 * startupSeconds;
}

/** The estimate: each wave's migrations in rounds of `concurrency`, one after another. */
export function predictSeconds(
  waves: readonly (readonly string[])[],
  spec: MigrationPlanSpec,
  startupSeconds: number,
): number {
  const perMigration = migrationSeconds(spec, startupSeconds);
  const concurrency = spec.concurrency ?? DEFAULT_PLAN_CONCURRENCY;
  return waves.reduce((s, w) => s + Math.ceil(w.length / concurrency) * perMigration, 0);
}

export function planWaves(input: PlanInput): WavePlan {
  const { spec, clusters } = input;
  const unmovable = new Map<string, string>();
  const selector = spec.selector;
  const apps = input.apps
    .filter((a) => (a.metadata.namespace ?? 'default') === input.namespace)
    .filter((a) =>
      Object.entries(selector?.matchLabels ?? {}).every(([k, v]) => a.metadata.labels?.[k] === v),
    )
    .filter((a) => {
      const clouds = selector?.clouds;
      if (clouds === undefined) return true;
      return (a.status?.placements ?? []).some(
        (p) => p.draining !== true && clouds.includes(p.cloud),
      );
    })
    .sort((a, b) => a.metadata.name.localeCompare(b.metadata.name));
  const byName = new Map(apps.map((a) => [a.metadata.name, a]));

  // 2. targets and feasibility
  const target = new Map<string, MigrationTarget>();
  for (const app of apps) {
    const name = app.metadata.name;
    const clouds = new Set((app.status?.placements ?? []).map((p) => p.cloud));
    const rule = spec.targets.find((r) => r.fromCloud === undefined || clouds.has(r.fromCloud));
    if (rule === undefined) {
      unmovable.set(
        name,
        `no target rule matches its clouds (${[...clouds].join(', ') || 'none'})`,
      );
      continue;
    }
    target.set(name, rule.to);
    const why = feasibility(app, rule.to, clusters);
    if (why !== undefined) unmovable.set(name, why);
  }

  // 3. units and their dependencies
  const unitOf = new Map<string, string>();
  const units = new Map<string, Unit>();
  for (const g of spec.groups ?? []) {
    const members = g.applications.filter((a) => byName.has(a));
    if (members.length === 0) continue;
    const key = `group:${g.name}`;
    units.set(key, { name: `group ${g.name}`, apps: members, deps: new Set() });
    for (const a of members) unitOf.set(a, key);
  }
  for (const app of apps) {
    const name = app.metadata.name;
    if (!unitOf.has(name)) {
      units.set(name, { name, apps: [name], deps: new Set() });
      unitOf.set(name, name);
    }
  }
  for (const [key, unit] of units)
    for (const a of unit.apps)
      for (const d of byName.get(a)?.spec.dependsOn ?? []) {
        const depUnit = unitOf.get(d);
        if (depUnit !== undefined && depUnit !== key) unit.deps.add(depUnit);
      }
  const blocked = new Map<string, string>();
  for (const [key, unit] of units) {
    const stuck = unit.apps.find((a) => unmovable.has(a));
    if (stuck !== undefined && unit.apps.length > 1)
      blocked.set(key, `${unit.name}: ${stuck} cannot move (${unmovable.get(stuck)})`);
    else if (stuck !== undefined) blocked.set(key, unmovable.get(stuck) ?? '');
  }
  for (const scc of stronglyConnected(units)) {
    if (scc.length < 2) continue;
    const members = new Set(scc);
    const first = [...members].sort()[0] ?? '';
    const cycle = cycleThrough(first, members, units).map((k) => units.get(k)?.name ?? k);
    for (const k of scc) blocked.set(k, `dependency cycle: ${cycle.join(' -> ')}`);
  }

  // 4. topological order (Kahn, ties by name); cycle members never become ready.
  const waitingOn = new Map<string, number>();
  const dependents = new Map<string, string[]>();
  for (const [key, unit] of units) {
    waitingOn.set(key, unit.deps.size);
    for (const d of unit.deps) dependents.set(d, [...(dependents.get(d) ?? []), key]);
  }
  const order: string[] = [];
  let ready = [...units.keys()].filter((k) => waitingOn.get(k) === 0).sort();
  while (ready.length > 0) {
    const next: string[] = [];
    for (const k of ready) {
      order.push(k);
      for (const d of dependents.get(k) ?? []) {
        const left = (waitingOn.get(d) ?? 0) - 1;
        waitingOn.set(d, left);
        if (left === 0) next.push(d);
      }
    }
    ready = next.sort();
  }
  // Units behind a cycle never became ready: they wait on it.
  const ordered = new Set(order);
  for (const key of units.keys())
    if (!ordered.has(key) && !blocked.has(key)) {
      const dep = [...(units.get(key)?.deps ?? [])]
        .sort()
        .find((d) => !ordered.has(d) || blocked.has(d));
      blocked.set(key, `depends on ${units.get(dep ?? '')?.name ?? dep}, which cannot move`);
    }

  const headroom = (spec.capacityHeadroomPercent ?? DEFAULT_CAPACITY_HEADROOM_PERCENT) / 100;
  const budgets = new Map<string, TargetBudget>();
  const budgetOf = (to: MigrationTarget): TargetBudget => {
    const label = targetLabel(to);
    let b = budgets.get(label);
    if (b === undefined) {
      const ready = clusters.filter((c) => c.ready && matchesTarget(c, to));
      const sum = (f: (c: PlanCluster) => number) => ready.reduce((s, c) => s + f(c), 0);
      const freeCpu = sum((c) => c.cpuMillis.allocatable - c.cpuMillis.allocated);
      const freeMemory = sum((c) => c.memoryBytes.allocatable - c.memoryBytes.allocated);
      b = {
        target: label,
        cpuMillis: {
          free: freeCpu,
          budget: freeCpu - headroom * sum((c) => c.cpuMillis.allocatable),
          planned: 0,
        },
        memoryBytes: {
          free: freeMemory,
          budget: freeMemory - headroom * sum((c) => c.memoryBytes.allocatable),
          planned: 0,
        },
      };
      budgets.set(label, b);
    }
    return b;
  };

  const waveSize = spec.waveSize ?? DEFAULT_WAVE_SIZE;
  const waves: string[][] = [];
  const waveOf = new Map<string, number>();
  const applications: PlannedApplication[] = [];
  for (const key of order) {
    const unit = units.get(key);
    if (unit === undefined) continue;
    const blockedDep = [...unit.deps].sort().find((d) => blocked.has(d));
    if (!blocked.has(key) && blockedDep !== undefined)
      blocked.set(
        key,
        `depends on ${units.get(blockedDep)?.name ?? blockedDep}, which cannot move`,
      );
    if (!blocked.has(key) && unit.apps.length > waveSize)
      blocked.set(
        key,
        `${unit.name} has ${unit.apps.length} applications, more than waveSize ${waveSize}`,
      );
    if (blocked.has(key)) continue;
    // Capacity: the unit moves whole or not at all.
    const wanted = new Map<TargetBudget, { cpuMillis: number; memoryBytes: number }>();
    for (const a of unit.apps) {
      const app = byName.get(a);
      const to = target.get(a);
      if (app === undefined || to === undefined) continue;
      const b = budgetOf(to);
      const w = wanted.get(b) ?? { cpuMillis: 0, memoryBytes: 0 };
      const d = demand(app);
      wanted.set(b, {
        cpuMillis: w.cpuMillis + d.cpuMillis,
        memoryBytes: w.memoryBytes + d.memoryBytes,
      });
    }
    const short = [...wanted].find(
      ([b, w]) =>
        b.cpuMillis.planned + w.cpuMillis > b.cpuMillis.budget ||
        b.memoryBytes.planned + w.memoryBytes > b.memoryBytes.budget,
    );
    if (short !== undefined) {
      const [b, w] = short;
      blocked.set(
        key,
        `capacity: needs ${cores(w.cpuMillis)} and ${gib(w.memoryBytes)} on ${b.target}, which has ${cores(Math.max(0, b.cpuMillis.budget - b.cpuMillis.planned))} and ${gib(Math.max(0, b.memoryBytes.budget - b.memoryBytes.planned))} left within its ${Math.round(headroom * 100)} % headroom`,
      );
      continue;
    }
    for (const [b, w] of wanted) {
      b.cpuMillis.planned += w.cpuMillis;
      b.memoryBytes.planned += w.memoryBytes;
    }
    let wave = Math.max(-1, ...[...unit.deps].map((d) => waveOf.get(d) ?? -1)) + 1;
    while ((waves[wave]?.length ?? 0) + unit.apps.length > waveSize) wave++;
    waveOf.set(key, wave);
    while (waves.length <= wave) waves.push([]);
    waves[wave]?.push(...unit.apps);
    for (const a of unit.apps) {
      const to = target.get(a);
      if (to !== undefined) applications.push({ name: a, wave, to });
    }
  }

  const unmovableList: { name: string; reason: string }[] = [];
  for (const [key, reason] of blocked)
    for (const a of units.get(key)?.apps ?? [])
      unmovableList.push({ name: a, reason: unmovable.get(a) ?? reason });
  unmovableList.sort((a, b) => a.name.localeCompare(b.name));

  const predictedSeconds = predictSeconds(waves, spec, input.startupSeconds ?? 5);
  return {
    waves,
    applications,
    unmovable: unmovableList,
    targets: [...budgets.values()],
    predictedSeconds,
  };
}
