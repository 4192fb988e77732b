// Capacity that appears on a cluster (nodes added, replicas gone) is offered
// to the apps that could not be placed: the automatic half of rebalance.
import type { Cluster, ResourceAmounts } from '../../model/schema.ts';

/** What a cluster can still take: allocatable (else capacity) minus allocated. */
function free(c: Cluster): ResourceAmounts | undefined {
  const total = c.status?.allocatable ?? c.status?.capacity;
  const used = c.status?.allocated;
  if (!total) return undefined;
  return {
    cpu: total.cpu - (used?.cpu ?? 0),
    memory: total.memory - (used?.memory ?? 0),
    gpu: total.gpu - (used?.gpu ?? 0),
    pods: total.pods - (used?.pods ?? 0),
  };
}

/** True when any free resource is larger after the update than before it. */
export function freedCapacity(before: Cluster, after: Cluster): boolean {
  const was = free(before);
  const is = free(after);
  if (!is) return false;
  if (!was) return true;
  return is.cpu > was.cpu || is.memory > was.memory || is.gpu > was.gpu || is.pods > was.pods;
}
