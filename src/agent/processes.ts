// The process groups the agent starts for replicas: each replica is the leader
// of its own group, so a signal to the group reaches whatever it spawned. The
// agent records the groups it runs (pid and /proc start time) so that a later
// run can kill what an earlier one left behind without hitting a process that
// merely reuses the pid.
import { readFileSync } from 'node:fs';

/** A process group the agent started; `startTime` tells a reused pid from ours. */
export interface RecordedProcess {
  pid: number;
  startTime?: string;
}

export function processStartTime(pid: number): string | undefined {
  try {
    // Field 22 of /proc/PID/stat, counted after the parenthesised command name.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

/** Kills process groups a previous agent run left behind, unless their pid now names another process. */
export function killRecorded(processes: readonly RecordedProcess[]): number {
  let killed = 0;
  for (const p of processes) {
    const now = processStartTime(p.pid);
    if (now === undefined || (p.startTime !== undefined && now !== p.startTime)) continue;
    try {
      process.kill(-p.pid, 'SIGKILL');
      killed++;
    } catch {
      // already gone
    }
  }
  return killed;
}

/** Signals a whole process group; one already gone is not an error. */
export function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // the group is already gone
  }
}
