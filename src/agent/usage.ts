// Cpu use of replicas, measured from Linux /proc. Each replica is its own
// process group (the supervisor spawns it detached), so a replica's use is the
// cpu time of every process in the group: one scan of /proc/*/stat per
// sampling round finds them. Use is the cpu time gained between two samples of
// the same group over the time between them; a group seen once has no value
// yet. Elsewhere (no /proc) nothing is measured and nothing throws.
//
// Invariants:
// - A value covers at least `windowMs`: between windows the last value is
//   reported again, so a heartbeat's status changes (and the control plane
//   writes it) at most once a window, not on every heartbeat.
// - Processes are told apart by pid and start time: a reused pid is a new
//   process, and a reused group id (its leader started at another time) starts
//   the group's samples over.
// - Only utime + stime of live members count: a member that exited within a
//   window loses that window's time. Reaped children's time (cutime/cstime)
//   is not added: while alive they were counted from their own entries, so
//   adding it would count them twice.
import { readFileSync, readdirSync } from 'node:fs';

/**
 * Clock ticks per second of /proc/<pid>/stat times. The kernel reports them
 * in USER_HZ, fixed at 100 on every architecture the agent runs on (amd64,
 * arm64, riscv64; see `hostArch`) whatever the kernel's own HZ, and
 * sysconf(_SC_CLK_TCK) returns that constant; Node cannot call sysconf.
 */
export const USER_HZ = 100;

export interface ProcStat {
  pid: number;
  pgid: number;
  /** utime + stime, in clock ticks. */
  ticks: number;
  /** Start time after boot, in clock ticks: tells a reused pid from the old process. */
  startTime: string;
}

const INTEGER = /^\d+$/;

/**
 * Parses /proc/<pid>/stat. The command name (field 2) is in parentheses and
 * may itself hold spaces and parentheses, so fields are counted after the
 * last ')'.
 */
export function parseStat(text: string): ProcStat | undefined {
  const open = text.indexOf(' (');
  const close = text.lastIndexOf(')');
  if (open < 1 || close < open) return undefined;
  const pid = text.slice(0, open);
  // f[0] is field 3 (state): pgrp is field 5, utime 14, stime 15, starttime 22.
  const f = text.slice(close + 2).split(' ');
  const [pgid, utime, stime, startTime] = [f[2], f[11], f[12], f[19]];
  if (
    !INTEGER.test(pid) ||
    pgid === undefined ||
    utime === undefined ||
    stime === undefined ||
    startTime === undefined ||
    ![pgid, utime, stime, startTime].every((x) => INTEGER.test(x))
  )
    return undefined;
  return { pid: Number(pid), pgid: Number(pgid), ticks: Number(utime) + Number(stime), startTime };
}

/** Millicores used by `ticks` of cpu time over `elapsedMs`. */
export function millicores(ticks: number, elapsedMs: number, hz = USER_HZ): number {
  if (elapsedMs <= 0) return 0;
  return Math.round((ticks / hz / (elapsedMs / 1000)) * 1000);
}

export interface CpuSamplerOptions {
  /** Where proc is mounted; tests point it at a directory of fake stat files. */
  procDir?: string;
  /** Shortest time a value covers, ms. */
  windowMs?: number;
  /** Monotonic clock, ms. */
  now?: () => number;
  hz?: number;
}

interface GroupSample {
  atMs: number;
  leaderStart: string;
  /** Ticks per member, keyed `pid@startTime`. */
  ticks: Map<string, number>;
  millis?: number;
}

export class CpuSampler {
  readonly #procDir: string;
  readonly #windowMs: number;
  readonly #now: () => number;
  readonly #hz: number;
  readonly #groups = new Map<number, GroupSample>();

  constructor(options: CpuSamplerOptions = {}) {
    this.#procDir = options.procDir ?? '/proc';
    this.#windowMs = options.windowMs ?? 5000;
    this.#now = options.now ?? (() => performance.now());
    this.#hz = options.hz ?? USER_HZ;
  }

  /**
   * Millicores each of `pgids` (process groups led by a replica) used over its
   * last window; groups without a value yet are absent. Groups not asked for
   * are forgotten.
   */
  sample(pgids: readonly number[]): Map<number, number> {
    const wanted = new Set(pgids);
    for (const g of this.#groups.keys()) if (!wanted.has(g)) this.#groups.delete(g);
    const now = this.#now();
    const due = new Set(
      [...wanted].filter((g) => {
        const s = this.#groups.get(g);
        return s === undefined || now - s.atMs >= this.#windowMs;
      }),
    );
    if (due.size > 0) {
      const members = this.#scan(due);
      for (const g of due) {
        const current = members.get(g);
        const leaderStart = current?.leaderStart;
        if (current === undefined || leaderStart === undefined) {
          // The leader is gone (or there is no /proc): no sample.
          this.#groups.delete(g);
          continue;
        }
        const prev = this.#groups.get(g);
        const next: GroupSample = { atMs: now, leaderStart, ticks: current.ticks };
        if (prev !== undefined && prev.leaderStart === leaderStart) {
          let gained = 0;
          // A member new since the last sample started within the window: all its time counts.
          for (const [key, t] of current.ticks)
            gained += Math.max(0, t - (prev.ticks.get(key) ?? 0));
          next.millis = millicores(gained, now - prev.atMs, this.#hz);
        }
        this.#groups.set(g, next);
      }
    }
    const out = new Map<number, number>();
    for (const [g, s] of this.#groups) if (s.millis !== undefined) out.set(g, s.millis);
    return out;
  }

  /** One pass over the process table: the members of each wanted group. */
  #scan(
    wanted: ReadonlySet<number>,
  ): Map<number, { leaderStart?: string; ticks: Map<string, number> }> {
    const groups = new Map<number, { leaderStart?: string; ticks: Map<string, number> }>();
    let entries: string[];
    try {
      entries = readdirSync(this.#procDir);
    } catch {
      return groups;
    }
    for (const name of entries) {
      if (!INTEGER.test(name)) continue;
      let text: string;
      try {
        text = readFileSync(`${this.#procDir}/${name}/stat`, 'utf8');
      } catch {
        continue; // exited since the directory was read
      }
      const st = parseStat(text);
      if (st === undefined || !wanted.has(st.pgid)) continue;
      let g = groups.get(st.pgid);
      if (g === undefined) {
        g = { ticks: new Map() };
        groups.set(st.pgid, g);
      }
      g.ticks.set(`${st.pid}@${st.startTime}`, st.ticks);
      if (st.pid === st.pgid) g.leaderStart = st.startTime;
    }
    return groups;
  }
}
