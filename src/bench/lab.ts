// The real yunjian processes a benchmark run starts (server, agents, gateway),
// each in its own process group so stopping them ends only what the run
// started, with their output kept line by line and timed.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const ROOT = resolve(import.meta.dirname, '../..');
const MAIN = join(ROOT, 'src/cli/main.ts');

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Polls until `fn` returns a value; throws after `ms`. */
export async function until<T>(
  what: string,
  fn: () => Promise<T | undefined>,
  ms: number,
): Promise<T> {
  const deadline = Date.now() + ms;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`${what}: not reached in ${ms} ms`, { cause: last });
    await sleep(100);
  }
}

/** The yunjian processes of this run, each in its own process group. */
export class Lab {
  readonly dir: string;
  readonly children: ChildProcess[] = [];
  readonly output = new Map<ChildProcess, string>();
  /** Lines as they arrive, with the wall-clock time (ms since epoch). */
  readonly lines: { child: ChildProcess; at: number; line: string }[] = [];

  constructor(name: string) {
    this.dir = mkdtempSync(join(tmpdir(), `yunjian-bench-${name}-`));
  }

  spawn(args: string[], env: Record<string, string> = {}): ChildProcess {
    const child = spawn(process.execPath, [MAIN, ...args], {
      cwd: ROOT,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, YUNJIAN_TOKEN: '', YUNJIAN_SERVER: '', ...env },
    });
    this.children.push(child);
    this.output.set(child, '');
    const keep = (d: Buffer) => {
      const text = d.toString();
      this.output.set(child, (this.output.get(child) ?? '') + text);
      const at = Date.now();
      for (const line of text.split('\n')) if (line !== '') this.lines.push({ child, at, line });
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    return child;
  }

  async waitFor(child: ChildProcess, re: RegExp, what: string): Promise<RegExpExecArray> {
    return until(
      what,
      async () => {
        if (child.exitCode !== null)
          throw new Error(`${what}: exited ${child.exitCode}: ${this.output.get(child)}`);
        return re.exec(this.output.get(child) ?? '') ?? undefined;
      },
      60_000,
    );
  }

  killAll(signal: NodeJS.Signals): void {
    for (const c of this.children) killGroup(c, signal);
  }
}

export function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // already gone
  }
}

/** SIGKILL to a replica pid an agent reported, only while it still runs the example app. */
export function killReplica(pid: number): void {
  try {
    if (!readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('examples/apps/hello.mjs')) return;
    process.kill(pid, 'SIGKILL');
  } catch {
    // already gone
  }
}
