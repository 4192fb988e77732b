// Reading the objects a member cluster reports: quantities, what pods hold on
// their nodes, readiness, and whether an object is ours.
import type { V1Node, V1ObjectMeta, V1Pod } from '@kubernetes/client-node';
import { QUANTITY_SUFFIX } from '../../model/quantity.ts';
import { ARCHES, type Arch } from '../../model/schema.ts';
import type { ResourceTotals, WorkloadKey } from '../types.ts';
import { ARCH_LABEL, GPU_RESOURCE, MANAGED_BY, MANAGED_BY_LABEL } from './manifests.ts';

/** A Kubernetes resource.Quantity in base units (cores, bytes, devices); 0 when absent or unreadable. */
export function quantity(q: string | undefined): number {
  if (q === undefined) return 0;
  const m = /^([+-]?[0-9.]+)(?:([eE][+-]?[0-9]+)|(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE])?)$/.exec(q.trim());
  if (!m) return 0;
  const base = Number(m[1]);
  if (m[2] !== undefined) return base * 10 ** Number(m[2].slice(1));
  return base * (QUANTITY_SUFFIX[m[3] ?? ''] ?? 1);
}

export function totals(list: Record<string, string> | undefined): ResourceTotals {
  return {
    cpu: quantity(list?.['cpu']),
    memory: quantity(list?.['memory']),
    gpu: quantity(list?.[GPU_RESOURCE]),
    pods: quantity(list?.['pods']),
  };
}

export function zero(): ResourceTotals {
  return { cpu: 0, memory: 0, gpu: 0, pods: 0 };
}

export function add(into: ResourceTotals, r: ResourceTotals): void {
  into.cpu += r.cpu;
  into.memory += r.memory;
  into.gpu += r.gpu;
  into.pods += r.pods;
}

/** What a pod holds on its node: the sum of its containers' requests (init containers ignored), one pod slot. */
export function podRequests(pod: V1Pod): ResourceTotals {
  const sum = zero();
  for (const c of pod.spec?.containers ?? []) {
    const req = c.resources?.requests as Record<string, string> | undefined;
    sum.cpu += quantity(req?.['cpu']);
    sum.memory += quantity(req?.['memory']);
    sum.gpu += quantity(req?.[GPU_RESOURCE]);
  }
  sum.pods = 1;
  return sum;
}

export function nodeArch(node: V1Node): Arch | undefined {
  const a = node.metadata?.labels?.[ARCH_LABEL] ?? node.status?.nodeInfo?.architecture;
  return ARCHES.find((x) => x === a);
}

export function nodeReady(node: V1Node): boolean {
  if (node.spec?.unschedulable === true) return false;
  return (node.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');
}

export function podReady(pod: V1Pod): boolean {
  return (pod.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');
}

export function unschedulableReason(pod: V1Pod): string | undefined {
  const c = (pod.status?.conditions ?? []).find(
    (x) => x.type === 'PodScheduled' && x.status === 'False',
  );
  return c ? (c.message ?? c.reason ?? 'unschedulable') : undefined;
}

export function live(pod: V1Pod): boolean {
  const phase = pod.status?.phase;
  return (
    pod.metadata?.deletionTimestamp === undefined && phase !== 'Succeeded' && phase !== 'Failed'
  );
}

export function ownedBy(meta: { labels?: Record<string, string> } | undefined): boolean {
  return meta?.labels?.[MANAGED_BY_LABEL] === MANAGED_BY;
}

export function sameKey(a: WorkloadKey, b: WorkloadKey): boolean {
  return a.namespace === b.namespace && a.app === b.app && a.component === b.component;
}

export function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

/** `desired` carrying `current`'s resourceVersion, so the replace fails if it changed since. */
export function withResourceVersion<T extends { metadata?: V1ObjectMeta }>(
  desired: T,
  current: T,
): T {
  return {
    ...desired,
    metadata: { ...desired.metadata, resourceVersion: current.metadata?.resourceVersion ?? '' },
  };
}
