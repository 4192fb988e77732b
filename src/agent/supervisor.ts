// Runs replicas as real processes and keeps them converged to the desired
// workloads. Each replica is its own process group (so stopping it stops what
// it spawned), gets a port allocated on the agent's address (PORT, `${PORT}` in
// args), has its output kept in a rotating log, is restarted with exponential
// back-off when it exits, and is ready while its health check (health.ts)
// passes. Status reports each running replica's cpu use (usage.ts: its process
// group's cpu time from /proc) and their sum per workload.
//
// Ordering invariants:
// - A replica's ports are allocated before it is spawned and kept across its
//   restarts, so the ingress never learns a port nobody was told about.
// - A replica's version is its spec without the replica count (`revision`):
//   scaling a workload keeps every running replica; any other change rolls.
// - During a rollout (new revision) a new replica is started first and an old
//   one is stopped only when the number of ready new replicas plus remaining
//   old ones exceeds the target: the workload never drops below what was ready.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type {
  ReplicaStatus,
  WorkloadResourceSpec,
  WorkloadResourceStatus,
} from '../model/schema.ts';
import { allocatePort } from '../lib/net.ts';
import { canonical } from '../model/canonical.ts';
import { checkHealth } from './health.ts';
import { RotatingLog, tailLines } from './logs.ts';
import { processStartTime, signalGroup, type RecordedProcess } from './processes.ts';
import { CpuSampler } from './usage.ts';

const revisions = new WeakMap<WorkloadResourceSpec, string>();

/** The replica template: the spec without its count and hash, so scaling never restarts replicas. */
function revision(spec: WorkloadResourceSpec): string {
  let r = revisions.get(spec);
  if (r === undefined) {
    const { replicas: _replicas, hash: _hash, ...template } = spec;
    r = canonical(template);
    revisions.set(spec, r);
  }
  return r;
}

export interface BackoffOptions {
  initialMs: number;
  maxMs: number;
  /** A replica that ran this long before exiting restarts after `initialMs` again. */
  resetAfterMs: number;
}

export interface SupervisorOptions {
  /** Where replicas listen (HOST) and ports are allocated. */
  address: string;
  logDir: string;
  logMaxBytes?: number;
  backoff?: Partial<BackoffOptions>;
  /** SIGTERM, then SIGKILL after this long. */
  stopGraceMs?: number;
  /** Shortest interval a replica's reported cpu use covers (usage.ts), ms. */
  cpuWindowMs?: number;
  /** Called whenever the set of live process groups changes, to persist it. */
  onProcessesChanged?: (processes: RecordedProcess[]) => void;
}

export interface DesiredRun {
  name: string;
  spec: WorkloadResourceSpec;
  /** Replicas this host admitted (admission.ts). */
  admitted: number;
  message?: string;
}

interface Replica {
  id: string;
  spec: WorkloadResourceSpec;
  ports: number[];
  child?: ChildProcess;
  state: ReplicaStatus['state'];
  ready: boolean;
  restarts: number;
  /** Exits in a row without a stable run, for the back-off exponent. */
  crashes: number;
  lastExit?: string;
  startedAt?: number;
  healthFailures: number;
  /** Why the agent killed the running process, when it did (a liveness restart). */
  killedFor?: string;
  removed: boolean;
  timers: Set<NodeJS.Timeout>;
  log: RotatingLog;
  /** Resolves once the replica is stopped and its process gone. */
  exited: Promise<void>;
  markExited: () => void;
}

interface Run {
  name: string;
  spec: WorkloadResourceSpec;
  admitted: number;
  message?: string;
  replicas: Replica[];
  nextId: number;
  /** No longer desired: forgotten once its replicas are gone. */
  removing: boolean;
  /** Starting a replica is async (port allocation); one at a time per workload. */
  starting: boolean;
  startError?: string;
}

const DEFAULT_BACKOFF: BackoffOptions = { initialMs: 500, maxMs: 30_000, resetAfterMs: 10_000 };

function substitute(arg: string, env: Record<string, string>): string {
  return arg.replace(/\$\{([A-Z_][A-Z0-9_]*)\}/g, (whole, name: string) => env[name] ?? whole);
}

export class Supervisor {
  readonly #o: Required<
    Omit<SupervisorOptions, 'onProcessesChanged' | 'backoff' | 'cpuWindowMs'>
  > & {
    backoff: BackoffOptions;
  };
  readonly #onProcesses: ((p: RecordedProcess[]) => void) | undefined;
  readonly #runs = new Map<string, Run>();
  readonly #tick: NodeJS.Timeout;
  readonly #cpu: CpuSampler;
  #closed = false;

  constructor(options: SupervisorOptions) {
    this.#o = {
      address: options.address,
      logDir: options.logDir,
      logMaxBytes: options.logMaxBytes ?? 1024 * 1024,
      stopGraceMs: options.stopGraceMs ?? 3000,
      backoff: { ...DEFAULT_BACKOFF, ...options.backoff },
    };
    this.#onProcesses = options.onProcessesChanged;
    this.#cpu = new CpuSampler(
      options.cpuWindowMs !== undefined ? { windowMs: options.cpuWindowMs } : {},
    );
    mkdirSync(this.#o.logDir, { recursive: true, mode: 0o700 });
    // Level-based: every tick re-derives what to start and stop from the state.
    this.#tick = setInterval(() => this.#reconcileAll(), 200);
  }

  /** Makes `desired` the set of workloads to run; workloads not in it are stopped. */
  converge(desired: readonly DesiredRun[]): void {
    const names = new Set(desired.map((d) => d.name));
    for (const d of desired) {
      const run = this.#runs.get(d.name);
      if (run === undefined) {
        this.#runs.set(d.name, {
          name: d.name,
          spec: d.spec,
          admitted: d.admitted,
          ...(d.message !== undefined ? { message: d.message } : {}),
          replicas: [],
          nextId: 0,
          removing: false,
          starting: false,
        });
      } else {
        run.spec = d.spec;
        run.admitted = d.admitted;
        run.removing = false;
        if (d.message !== undefined) run.message = d.message;
        else delete run.message;
      }
    }
    for (const run of this.#runs.values()) {
      if (!names.has(run.name)) {
        run.admitted = 0;
        run.removing = true;
      }
    }
    this.#reconcileAll();
  }

  /** Status of every workload the agent runs or still stops. */
  status(): { name: string; status: WorkloadResourceStatus }[] {
    const runs = [...this.#runs.values()].filter((run) => !run.removing);
    const cpu = this.#cpu.sample(
      runs.flatMap((run) =>
        run.replicas.map((r) => runningPid(r)).filter((pid) => pid !== undefined),
      ),
    );
    return runs.map((run) => ({ name: run.name, status: this.#statusOf(run, cpu) }));
  }

  /** Ports of the ready replicas of a workload for its `index`th declared port (the ingress's backends). */
  readyBackends(name: string, index: number): number[] {
    const run = this.#runs.get(name);
    if (run === undefined) return [];
    return run.replicas
      .filter((r) => r.ready && !r.removed && r.state === 'running')
      .map((r) => r.ports[index])
      .filter((p): p is number => p !== undefined);
  }

  /** The last lines of each replica's log of the workload. */
  logs(name: string, tail: number): { replica: string; lines: string[] }[] {
    const run = this.#runs.get(name);
    if (run === undefined) return [];
    return run.replicas.map((r) => ({ replica: r.id, lines: tailLines(r.log.path, tail) }));
  }

  processes(): RecordedProcess[] {
    const out: RecordedProcess[] = [];
    for (const run of this.#runs.values())
      for (const r of run.replicas) {
        const pid = r.child?.pid;
        if (pid !== undefined && r.child?.exitCode === null && r.child.signalCode === null) {
          const startTime = processStartTime(pid);
          out.push(startTime === undefined ? { pid } : { pid, startTime });
        }
      }
    return out;
  }

  /** Stops every replica (SIGTERM, then SIGKILL) and waits for them to exit. */
  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#tick);
    const all = [...this.#runs.values()].flatMap((r) => r.replicas);
    for (const r of all) this.#stop(r);
    await Promise.all(all.map((r) => r.exited));
    for (const r of all) r.log.close();
  }

  /** Leaves replicas running (the agent is restarting and will kill them itself). */
  detach(): void {
    this.#closed = true;
    clearInterval(this.#tick);
    for (const run of this.#runs.values())
      for (const r of run.replicas) for (const t of r.timers) clearTimeout(t);
  }

  /** `cpu`: millicores by replica pid, for replicas measured over a full window. */
  #statusOf(run: Run, cpu: ReadonlyMap<number, number>): WorkloadResourceStatus {
    const live = run.replicas.filter((r) => !r.removed);
    const target = run.admitted;
    const current = live.filter((r) => revision(r.spec) === revision(run.spec));
    const ready = Math.min(target, live.filter((r) => r.ready).length);
    const scheduled = Math.min(target, live.length);
    const messages: string[] = [];
    if (run.message !== undefined) messages.push(run.message);
    if (run.startError !== undefined) messages.push(run.startError);
    const waiting = live.filter((r) => r.state === 'backoff');
    if (waiting.length > 0)
      messages.push(
        `${waiting.length} replicas restarting after exit (${waiting[0]?.lastExit ?? 'unknown'})`,
      );
    if (current.length < live.length)
      messages.push(`rolling out: ${current.length} of ${live.length} replicas updated`);
    if (messages.length === 0 && ready < target)
      messages.push(`${target - ready} replicas not ready yet`);
    const replicas = run.replicas.map((r): ReplicaStatus => {
      const pid = runningPid(r);
      const cpuMillis = pid !== undefined ? cpu.get(pid) : undefined;
      return {
        id: r.id,
        hash: r.spec.hash,
        state: r.removed ? 'stopping' : r.state,
        ready: r.ready,
        ...(r.child?.pid !== undefined && r.state !== 'backoff' ? { pid: r.child.pid } : {}),
        ...(r.ports[0] !== undefined ? { port: r.ports[0] } : {}),
        restarts: r.restarts,
        ...(cpuMillis !== undefined ? { cpuMillis } : {}),
        ...(r.lastExit !== undefined ? { lastExit: r.lastExit } : {}),
        ...(r.startedAt !== undefined ? { startedAt: new Date(r.startedAt).toISOString() } : {}),
      };
    });
    const measured = replicas.filter((r) => r.cpuMillis !== undefined);
    return {
      hash: run.spec.hash,
      desired: run.spec.replicas,
      scheduled,
      ready,
      ...(messages.length > 0 ? { message: messages.join('; ') } : {}),
      replicas,
      ...(measured.length > 0
        ? { cpuUsageMillis: measured.reduce((sum, r) => sum + (r.cpuMillis ?? 0), 0) }
        : {}),
    };
  }

  #reconcileAll(): void {
    if (this.#closed) return;
    for (const run of this.#runs.values()) this.#reconcile(run);
  }

  #reconcile(run: Run): void {
    // Exited replicas that were stopped leave the list (their log files stay).
    run.replicas = run.replicas.filter((r) => !(r.removed && r.child === undefined));
    const live = run.replicas.filter((r) => !r.removed);
    const current = live.filter((r) => revision(r.spec) === revision(run.spec));
    const old = live.filter((r) => revision(r.spec) !== revision(run.spec));
    const target = run.admitted;

    // Too many of the current version: drop the least useful first.
    const byUsefulness = (a: Replica, b: Replica) => Number(a.ready) - Number(b.ready);
    for (const r of [...current].sort(byUsefulness).slice(0, Math.max(0, current.length - target)))
      this.#stop(r);

    const readyCurrent = current.filter((r) => r.ready).length;
    let keepOld = Math.max(0, target - Math.min(target, readyCurrent));
    for (const r of [...old].sort((a, b) => -byUsefulness(a, b))) {
      if (keepOld > 0 && r.ready) keepOld--;
      else this.#stop(r);
    }

    if (run.removing && run.replicas.length === 0) {
      this.#runs.delete(run.name);
      return;
    }
    if (current.length < target && !run.starting) {
      run.starting = true;
      this.#start(run)
        .then(() => {
          delete run.startError;
        })
        .catch((err: unknown) => {
          run.startError = `cannot start a replica: ${err instanceof Error ? err.message : String(err)}`;
        })
        .finally(() => {
          run.starting = false;
        });
    }
  }

  async #start(run: Run): Promise<void> {
    const spec = run.spec;
    const ports: number[] = [];
    for (let i = 0; i < Math.max(1, spec.ports.length); i++)
      ports.push(await allocatePort(this.#o.address));
    if (this.#closed || spec !== run.spec) return;
    const id = `${run.name.split('.').at(-1) ?? 'replica'}-${run.nextId++}`;
    const log = new RotatingLog(join(this.#o.logDir, `${run.name}.${id}.log`), this.#o.logMaxBytes);
    let markExited: () => void = () => undefined;
    const replica: Replica = {
      id,
      spec,
      ports,
      state: 'starting',
      ready: false,
      restarts: 0,
      crashes: 0,
      healthFailures: 0,
      removed: false,
      timers: new Set(),
      log,
      exited: new Promise<void>((resolve) => {
        markExited = resolve;
      }),
      markExited: () => markExited(),
    };
    run.replicas.push(replica);
    this.#spawn(replica);
  }

  #spawn(r: Replica): void {
    const env: Record<string, string> = {
      ...(process.env['PATH'] !== undefined ? { PATH: process.env['PATH'] } : {}),
      ...r.spec.env,
      HOST: this.#o.address,
      PORT: String(r.ports[0]),
      YUNJIAN_REPLICA: r.id,
    };
    r.spec.ports.forEach((p, i) => {
      if (p.name !== undefined)
        env[`PORT_${p.name.toUpperCase().replace(/[^A-Z0-9]/g, '_')}`] = String(r.ports[i]);
    });
    const [file, ...rest] = [...r.spec.command, ...r.spec.args].map((a) => substitute(a, env));
    const stamp = () => `--- ${new Date().toISOString()} `;
    if (file === undefined) return;
    let child: ChildProcess;
    try {
      child = spawn(file, rest, { detached: true, env, stdio: ['ignore', 'pipe', 'pipe'] });
    } catch (err) {
      this.#exited(r, `spawn failed: ${err instanceof Error ? err.message : String(err)}`);
      return;
    }
    r.child = child;
    r.state = 'starting';
    r.ready = false;
    r.healthFailures = 0;
    delete r.killedFor;
    r.startedAt = Date.now();
    r.log.write(`${stamp()}started ${file} ${rest.join(' ')} (PORT=${env['PORT']})\n`);
    child.stdout?.on('data', (d: Buffer) => r.log.write(d));
    child.stderr?.on('data', (d: Buffer) => r.log.write(d));
    child.once('spawn', () => {
      if (r.child !== child) return;
      r.state = 'running';
      this.#processesChanged();
      this.#probe(r, child, 50);
    });
    child.once('error', (err) => {
      // spawn failures (ENOENT) arrive here without an 'exit'
      if (child.pid === undefined) this.#exited(r, `spawn failed: ${err.message}`);
    });
    child.once('exit', (code, signal) => {
      r.log.write(
        `${stamp()}exited ${signal !== null ? `on ${signal}` : `with code ${String(code)}`}\n`,
      );
      this.#exited(
        r,
        r.killedFor ?? (signal !== null ? `signal ${signal}` : `exit code ${String(code)}`),
      );
    });
  }

  #exited(r: Replica, why: string): void {
    delete r.child;
    r.ready = false;
    r.lastExit = why;
    for (const t of r.timers) clearTimeout(t);
    r.timers.clear();
    this.#processesChanged();
    if (r.removed || this.#closed) {
      r.state = 'stopping';
      r.markExited();
      return;
    }
    const ranMs = Date.now() - (r.startedAt ?? Date.now());
    if (ranMs >= this.#o.backoff.resetAfterMs) r.crashes = 0;
    const delay = Math.min(this.#o.backoff.maxMs, this.#o.backoff.initialMs * 2 ** r.crashes);
    r.crashes++;
    r.state = 'backoff';
    this.#later(r, delay, () => {
      if (r.removed || this.#closed) {
        r.state = 'stopping';
        r.markExited();
        return;
      }
      r.restarts++;
      this.#spawn(r);
    });
  }

  #later(r: Replica, ms: number, fn: () => void): void {
    const t = setTimeout(() => {
      r.timers.delete(t);
      fn();
    }, ms);
    r.timers.add(t);
  }

  #stop(r: Replica): void {
    if (r.removed) return;
    r.removed = true;
    r.ready = false;
    const child = r.child;
    if (child?.pid === undefined) {
      // In back-off or never started: nothing runs; the pending restart sees `removed`.
      for (const t of r.timers) clearTimeout(t);
      r.timers.clear();
      r.state = 'stopping';
      r.markExited();
      return;
    }
    r.state = 'stopping';
    this.#kill(child);
  }

  /** SIGTERM to the process group, SIGKILL after the stop grace if it has not exited. */
  #kill(child: ChildProcess): void {
    const pid = child.pid;
    if (pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
    signalGroup(pid, 'SIGTERM');
    const t = setTimeout(() => signalGroup(pid, 'SIGKILL'), this.#o.stopGraceMs);
    child.once('exit', () => clearTimeout(t));
  }

  #processesChanged(): void {
    this.#onProcesses?.(this.processes());
  }

  #probe(r: Replica, child: ChildProcess, firstDelayMs: number): void {
    const hc = r.spec.healthCheck;
    const intervalMs = (hc?.intervalSeconds ?? 1) * 1000;
    const timeoutMs = Math.max(100, (hc?.timeoutSeconds ?? 1) * 1000);
    const threshold = hc?.failureThreshold ?? 3;
    const restartAfter = hc?.restartThreshold;
    const needsCheck = hc !== undefined || r.spec.ports.length > 0;
    if (!needsCheck) {
      r.ready = true;
      return;
    }
    let passed = false;
    const once = async () => {
      if (r.child !== child || r.removed) return;
      const ok = await checkHealth(this.#o.address, r.spec, r.ports, timeoutMs);
      if (r.child !== child || r.removed) return;
      if (ok) {
        r.healthFailures = 0;
        r.ready = true;
        passed = true;
      } else if (++r.healthFailures >= threshold || !r.ready) {
        r.ready = false;
      }
      // A liveness restart: only a replica that has passed once (so a slow
      // start is never killed), through the exit path and its back-off.
      if (passed && restartAfter !== undefined && r.healthFailures >= restartAfter) {
        r.killedFor = `restarted after ${r.healthFailures} failed health checks`;
        r.log.write(`--- ${new Date().toISOString()} ${r.killedFor}\n`);
        this.#kill(child);
        return;
      }
      // Until first ready, probe often so a replica is in service quickly.
      this.#later(r, r.ready ? intervalMs : Math.min(intervalMs, 250), () => void once());
    };
    this.#later(r, firstDelayMs, () => void once());
  }
}

/** The pid (and process group) of a replica whose process runs and is not being stopped. */
function runningPid(r: Replica): number | undefined {
  return r.state === 'running' && !r.removed ? r.child?.pid : undefined;
}
