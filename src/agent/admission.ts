// How many replicas of each desired workload this host takes: the agent's host
// is one node, so this is the node-level fit the sim twin does per node. Pure,
// so the agent and its tests agree. Workloads are admitted in name order; a
// workload that grows can push a later one's replicas out (documented).
import type { DesiredWorkload, HostInfo } from './protocol.ts';

export interface Admission {
  count: number;
  /** Why fewer than the desired replicas run; absent when all fit. */
  message?: string;
}

export function admit(desired: readonly DesiredWorkload[], host: HostInfo): Map<string, Admission> {
  const out = new Map<string, Admission>();
  let freeCpuMillis = Math.round(host.cpu * 1000);
  let freeMemory = host.memory;
  let freePods = host.pods;
  for (const w of [...desired].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
    const s = w.spec;
    const none = (message: string) =>
      out.set(w.name, s.replicas === 0 ? { count: 0 } : { count: 0, message });
    if (s.command.length === 0) {
      none(
        'the component has no command: the agent runs command and args (it does not pull images)',
      );
      continue;
    }
    if (!s.architectures.includes(host.arch)) {
      none(
        `${s.replicas} replicas unschedulable: no node of architecture ${s.architectures.join('/') || '(none)'} (this host is ${host.arch})`,
      );
      continue;
    }
    if (s.gpu > 0) {
      none(`${s.replicas} replicas unschedulable: insufficient gpu (this host offers none)`);
      continue;
    }
    const limits: [number, string][] = [
      [s.replicas, ''],
      [s.cpuMillis > 0 ? Math.floor(freeCpuMillis / s.cpuMillis) : Infinity, 'cpu'],
      [s.memoryBytes > 0 ? Math.floor(freeMemory / s.memoryBytes) : Infinity, 'memory'],
      [freePods, 'pods'],
      [s.maxReplicasPerNode ?? Infinity, 'maxReplicasPerNode'],
    ];
    let count = s.replicas;
    let short = '';
    for (const [limit, what] of limits) {
      if (limit < count) {
        count = Math.max(0, limit);
        short = what;
      }
    }
    freeCpuMillis -= count * s.cpuMillis;
    freeMemory -= count * s.memoryBytes;
    freePods -= count;
    out.set(
      w.name,
      count < s.replicas
        ? {
            count,
            message: `${s.replicas - count} replicas unschedulable: ${short === 'maxReplicasPerNode' ? 'at most ' + String(s.maxReplicasPerNode) + ' per node on this one-node cluster' : `insufficient ${short}`}`,
          }
        : { count },
    );
  }
  return out;
}
