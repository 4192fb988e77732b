// How many replicas of each desired workload this host takes: the agent's host
// is one node, so this is the node-level fit the sim twin does per node. Pure,
// so the agent and its tests agree.
//
// Order: first every workload keeps the replicas it was admitted last time
// (as far as they still fit its spec), then workloads grow, each in name
// order. So a workload that grows takes only what is free and never pushes
// another workload's running replicas out; with nothing admitted before (a
// fresh agent) it is plain name order.
import type { DesiredWorkload, HostInfo } from './protocol.ts';

export interface Admission {
  count: number;
  /** Why fewer than the desired replicas run; absent when all fit. */
  message?: string;
}

export function admit(
  desired: readonly DesiredWorkload[],
  host: HostInfo,
  /** Replicas of each workload admitted last time. */
  running: ReadonlyMap<string, number> = new Map(),
): Map<string, Admission> {
  const out = new Map<string, Admission>();
  const free = { cpu: Math.round(host.cpu * 1000), memory: host.memory, pods: host.pods };
  const byName = [...desired].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const admissible: DesiredWorkload[] = [];
  for (const w of byName) {
    const s = w.spec;
    const refuse = (message: string) =>
      out.set(w.name, s.replicas === 0 ? { count: 0 } : { count: 0, message });
    if (s.command.length === 0)
      refuse(
        'the component has no command: the agent runs command and args (it does not pull images)',
      );
    else if (!s.architectures.includes(host.arch))
      refuse(
        `${s.replicas} replicas unschedulable: no node of architecture ${s.architectures.join('/') || '(none)'} (this host is ${host.arch})`,
      );
    else if (s.gpu > 0)
      refuse(`${s.replicas} replicas unschedulable: insufficient gpu (this host offers none)`);
    else admissible.push(w);
  }

  /** Takes up to `want` more replicas of w from what is free; returns how many and the binding limit. */
  const take = (w: DesiredWorkload, want: number, have: number): [number, string] => {
    const s = w.spec;
    const limits: [number, string][] = [
      [want, ''],
      [s.cpuMillis > 0 ? Math.floor(free.cpu / s.cpuMillis) : Infinity, 'cpu'],
      [s.memoryBytes > 0 ? Math.floor(free.memory / s.memoryBytes) : Infinity, 'memory'],
      [free.pods, 'pods'],
      [(s.maxReplicasPerNode ?? Infinity) - have, 'maxReplicasPerNode'],
    ];
    let count = want;
    let short = '';
    for (const [limit, what] of limits) {
      if (limit < count) {
        count = Math.max(0, limit);
        short = what;
      }
    }
    free.cpu -= count * s.cpuMillis;
    free.memory -= count * s.memoryBytes;
    free.pods -= count;
    return [count, short];
  };

  const counts = new Map<string, number>();
  for (const w of admissible)
    counts.set(w.name, take(w, Math.min(w.spec.replicas, running.get(w.name) ?? 0), 0)[0]);
  for (const w of admissible) {
    const s = w.spec;
    const kept = counts.get(w.name) ?? 0;
    const [more, short] = take(w, s.replicas - kept, kept);
    const count = kept + more;
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
