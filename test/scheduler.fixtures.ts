// Small fleets and requests for the scheduler tests, and an independent check
// that a plan keeps every constraint and over-fills no node.
import assert from 'node:assert/strict';
import { matchesLabels, requirementsFromLabelSelector } from '../src/model/labels.ts';
import type { Placement } from '../src/model/schema.ts';
import { ARCHES } from '../src/model/schema.ts';
import {
  MAX_GPUS_PER_NODE,
  NodeState,
  type NodeInput,
  type PodRequest,
} from '../src/scheduler/index.ts';
import { tolerates } from '../src/scheduler/index.ts';
import type {
  AppRequest,
  ComponentRequest,
  ScheduleResult,
  Scheduler,
} from '../src/scheduler/index.ts';
import type { ClusterInfo, Snapshot } from '../src/scheduler/index.ts';

export function clusterInfo(name: string, over: Partial<ClusterInfo> = {}): ClusterInfo {
  const cloud = over.cloud ?? name.split('-')[0] ?? name;
  return {
    name,
    cloud,
    vendor: cloud,
    site: `${name}-site`,
    zone: 'z1',
    region: '',
    country: 'US',
    labels: {},
    taints: [],
    ready: true,
    prices: { cpuCoreHour: 0.03, memoryGiBHour: 0.004, gpuHour: 3 },
    ...over,
  };
}

export function node(over: Partial<NodeInput> = {}): NodeInput {
  return { arch: 'amd64', cpuMilli: 4000, memoryMiB: 16384, pods: 110, gpus: 0, ...over };
}

/** A snapshot of clusters, each with its nodes (node.cluster is set here). */
export function fleet(specs: { info: ClusterInfo; nodes: NodeInput[] }[]): Snapshot {
  const nodes: NodeInput[] = [];
  specs.forEach((s, c) => {
    for (const n of s.nodes) nodes.push({ ...n, cluster: c });
  });
  return { clusters: specs.map((s) => s.info), nodes: NodeState.fromNodes(nodes) };
}

export function pod(over: Partial<PodRequest> = {}): PodRequest {
  return { cpuMilli: 1000, memoryMiB: 1024, gpuCount: 0, gpuMilli: 0, ...over };
}

export function comp(
  name: string,
  replicas: number,
  p: Partial<PodRequest> = {},
  more: Partial<ComponentRequest> = {},
): ComponentRequest {
  return { name, replicas, pod: pod(p), ...more };
}

export function app(
  name: string,
  components: ComponentRequest[],
  placement?: Placement,
): AppRequest {
  return placement === undefined ? { name, components } : { name, components, placement };
}

/** Replicas per cluster name of one component's plan. */
export function perCluster(
  result: ScheduleResult,
  appIndex = 0,
  compIndex = 0,
): Record<string, number> {
  const out: Record<string, number> = {};
  for (const a of result.plans[appIndex]!.components[compIndex]!.assignments)
    out[a.cluster] = a.replicas;
  return out;
}

function groupOf(c: ClusterInfo, by: 'cloud' | 'site' | 'zone' | 'cluster'): string {
  if (by === 'zone') return `${c.site}/${c.zone}`;
  return by === 'cluster' ? c.name : c[by];
}

/** Whether cluster c passes the app's cluster-level constraints (filters 1-4). */
export function clusterAllowed(c: ClusterInfo, placement: Placement | undefined): boolean {
  if (!c.ready) return false;
  const aff = placement?.clusterAffinity;
  if (aff) {
    if (aff.clouds?.length && !aff.clouds.includes(c.cloud)) return false;
    if (aff.sites?.length && !aff.sites.includes(c.site)) return false;
    if (aff.clusters?.length && !aff.clusters.includes(c.name)) return false;
    if (
      aff.labelSelector &&
      !matchesLabels(requirementsFromLabelSelector(aff.labelSelector), c.labels)
    )
      return false;
    const ex = aff.exclude;
    if (
      ex?.clouds?.includes(c.cloud) ||
      ex?.sites?.includes(c.site) ||
      ex?.clusters?.includes(c.name)
    )
      return false;
  }
  const countries = placement?.residency?.countries;
  if (countries && !countries.includes(c.country)) return false;
  return c.taints.every(
    (t) => t.effect === 'PreferNoSchedule' || tolerates(placement?.tolerations, t),
  );
}

/**
 * Checks a result against its input, independently of the scheduler's code:
 * every new replica on a node of an allowed cluster, of a matching
 * architecture and GPU model, within maxReplicasPerNode and anti-affinity;
 * spread maxima kept; replica counts add up; and no node over-filled (sums of
 * what the plan put on each node plus what was there, against capacity, and
 * the scheduler's own state consistent with them). In colocation mode, replicas
 * with a cpu profile are checked by profile instead: on every node that took
 * one, the constant part (what was there plus replicas without profile) plus
 * the summed profiles stays within capacity in every slot and within the cpu
 * limit in all but floor(profileBudget x slots) slots.
 */
export function assertPlanValid(
  snapshot: Snapshot,
  apps: readonly AppRequest[],
  result: ScheduleResult,
  scheduler?: Scheduler,
  mode: 'requests' | 'colocation' = 'requests',
  limits: { cpu: number; memory: number } = { cpu: 1, memory: 1 },
  profileBudget = 0.01,
): void {
  const s = snapshot.nodes;
  const cpu = Float64Array.from(s.cpuUsed);
  const mem = Float64Array.from(s.memUsed);
  const pods = Int32Array.from(s.podsUsed);
  const gpuMilli = Float64Array.from(s.gpuFreeTotal, (f, i) => s.gpuCount[i]! * 1000 - f);
  const gpuWhole = Float64Array.from(s.gpuWhole, (w, i) => s.gpuCount[i]! - w);
  const profiles = new Map<number, number[]>();
  assert.equal(result.plans.length, apps.length);
  result.plans.forEach((plan, ai) => {
    const a = apps[ai]!;
    const placement = a.placement;
    const groupNodes = (placement?.antiAffinity ?? []).map(() => new Map<number, number>());
    plan.components.forEach((cp, ci) => {
      const c = a.components[ci]!;
      assert.equal(cp.component, c.name);
      const archs = c.pod.architectures ?? [...ARCHES];
      const total = cp.assignments.reduce((n, x) => n + x.replicas, 0);
      if (placement?.replicaScheduling?.type === 'Duplicated') {
        for (const x of cp.assignments)
          assert.ok(x.replicas <= c.replicas, 'duplicated: at most replicas per cluster');
      } else {
        assert.equal(total + cp.unplaced, c.replicas, `${a.name}/${c.name}: replicas add up`);
      }
      const perNode = new Map<number, number>();
      for (const x of cp.assignments) {
        const info = snapshot.clusters[x.clusterIndex]!;
        assert.equal(info.name, x.cluster);
        assert.ok(
          clusterAllowed(info, placement),
          `${a.name}/${c.name} on ${x.cluster}: cluster constraints`,
        );
        assert.equal(x.nodes.length, x.replicas - x.kept);
        for (const i of x.nodes) {
          assert.equal(s.cluster[i], x.clusterIndex, 'node in its cluster');
          assert.equal(s.healthy[i], 1, 'healthy node');
          assert.ok(archs.includes(ARCHES[s.arch[i]!]!), `${a.name}/${c.name}: node architecture`);
          if (c.pod.gpuModel !== undefined)
            assert.equal(s.gpuModels[s.gpuModel[i]!], c.pod.gpuModel);
          if (c.pod.gpuCount > 0) assert.ok(s.gpuCount[i]! > 0, 'GPU request on a GPU node');
          const profile = mode === 'colocation' ? c.usage?.cpuProfileMilli : undefined;
          if (profile !== undefined) {
            const sum = profiles.get(i) ?? new Array<number>(profile.length).fill(0);
            profile.forEach((x, t) => (sum[t]! += x));
            profiles.set(i, sum);
          }
          const useCpu =
            profile !== undefined
              ? 0
              : mode === 'colocation' && c.usage
                ? c.usage.cpuMilli
                : c.pod.cpuMilli;
          const useMem =
            mode === 'colocation' && c.usage?.memoryMiB !== undefined
              ? c.usage.memoryMiB
              : c.pod.memoryMiB;
          cpu[i]! += useCpu;
          mem[i]! += useMem;
          pods[i]!++;
          if (c.pod.gpuCount > 0) {
            const whole = !(c.pod.gpuMilli > 0 && c.pod.gpuMilli < 1000);
            gpuMilli[i]! += whole ? 1000 * c.pod.gpuCount : c.pod.gpuMilli;
            if (whole) gpuWhole[i]! += c.pod.gpuCount;
          }
          perNode.set(i, (perNode.get(i) ?? 0) + 1);
          (placement?.antiAffinity ?? []).forEach((g, gi) => {
            if ((g.components ?? a.components.map((x) => x.name)).includes(c.name))
              groupNodes[gi]!.set(i, (groupNodes[gi]!.get(i) ?? 0) + 1);
          });
        }
      }
      const max = c.maxReplicasPerNode ?? placement?.maxReplicasPerNode;
      if (max !== undefined)
        for (const [i, n] of perNode)
          assert.ok(n <= max, `${a.name}/${c.name}: ${n} replicas on node ${i} > ${max}`);
      for (const sp of placement?.spread ?? []) {
        const groups = new Set(
          cp.assignments.map((x) => groupOf(snapshot.clusters[x.clusterIndex]!, sp.by)),
        );
        if (sp.max !== undefined)
          assert.ok(groups.size <= sp.max, `${a.name}/${c.name}: spread max by ${sp.by}`);
        const min = sp.min ?? 1;
        if (groups.size < min && total > 0)
          assert.ok(
            plan.explanation[ci]!.notes.some((n) => n.startsWith('spread:')),
            `${a.name}/${c.name}: an unmet spread minimum is reported`,
          );
      }
    });
    for (const g of groupNodes)
      for (const [i, n] of g) assert.ok(n <= 1, `${a.name}: anti-affinity on node ${i}`);
  });
  for (let i = 0; i < s.count; i++) {
    const cpuCap = s.cpuCap[i]! * limits.cpu;
    const memCap = s.memCap[i]! * limits.memory;
    // What was over capacity in the snapshot already is not the plan's doing.
    if (cpu[i]! > s.cpuUsed[i]!)
      assert.ok(cpu[i]! <= cpuCap + 1e-6, `node ${i}: cpu ${cpu[i]} > ${cpuCap}`);
    if (mem[i]! > s.memUsed[i]!)
      assert.ok(mem[i]! <= memCap + 1e-6, `node ${i}: memory ${mem[i]} > ${memCap}`);
    if (pods[i]! > s.podsUsed[i]!) assert.ok(pods[i]! <= s.podsCap[i]!, `node ${i}: pods`);
    assert.ok(gpuWhole[i]! <= s.gpuCount[i]!, `node ${i}: whole GPUs`);
    assert.ok(gpuMilli[i]! <= s.gpuCount[i]! * 1000, `node ${i}: GPU milli`);
    const sum = profiles.get(i);
    if (sum === undefined) continue;
    let over = 0;
    for (const x of sum) {
      assert.ok(cpu[i]! + x <= s.cpuCap[i]! + 1e-6, `node ${i}: profile ${cpu[i]! + x} > capacity`);
      if (cpu[i]! + x > cpuCap + 1e-6) over++;
    }
    const budget = Math.floor(profileBudget * sum.length);
    assert.ok(over <= budget, `node ${i}: ${over} slots over the cpu limit, budget ${budget}`);
  }
  if (scheduler) {
    const t = scheduler.state;
    for (let i = 0; i < t.count; i++) {
      // Profiled replicas add their peaks, clipped at the limit, on top of the constant part.
      if (profiles.has(i))
        assert.ok(
          t.cpuUsed[i]! >= cpu[i]! - 1e-6 &&
            t.cpuUsed[i]! <= Math.max(cpu[i]!, s.cpuCap[i]! * limits.cpu) + 1e-6,
          `node ${i}: scheduler cpu bookkeeping (profiles)`,
        );
      else
        assert.ok(Math.abs(t.cpuUsed[i]! - cpu[i]!) < 1e-6, `node ${i}: scheduler cpu bookkeeping`);
      assert.ok(
        Math.abs(t.memUsed[i]! - mem[i]!) < 1e-6,
        `node ${i}: scheduler memory bookkeeping`,
      );
      assert.equal(t.podsUsed[i], pods[i], `node ${i}: scheduler pod bookkeeping`);
      let free = 0;
      for (let g = 0; g < t.gpuCount[i]!; g++) {
        const f = t.gpuFree[i * MAX_GPUS_PER_NODE + g]!;
        assert.ok(f >= 0 && f <= 1000, `node ${i} GPU ${g}: free ${f}`);
        free += f;
      }
      assert.equal(t.gpuCount[i]! * 1000 - free, gpuMilli[i], `node ${i}: GPU bookkeeping`);
    }
  }
}
