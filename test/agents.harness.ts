// Real processes for end-to-end tests of agent clusters: a `yunjian server`
// child, `yunjian agent` children (each in its own process group, so cleanup
// ends it and nothing else), CLI calls and API reads. Every child is killed in
// `stopAll`, also when a test fails.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { until } from './wait.ts';

export { until } from './wait.ts';

export const ROOT = resolve(import.meta.dirname, '..');
const NODE = process.execPath;
const MAIN = join(ROOT, 'src/cli/main.ts');

export interface AgentSpec {
  cluster: string;
  site: string;
  address: string;
  arch: 'amd64' | 'arm64';
  apiPort: number;
}

export class AgentLab {
  readonly dir = mkdtempSync(join(tmpdir(), 'yunjian-agents-'));
  readonly #children = new Set<ChildProcess>();
  readonly #output = new Map<ChildProcess, string>();
  server: ChildProcess | undefined;
  url = '';
  admin = '';
  /** The join token each agent's cluster joins with (single-use, bound to its name). */
  readonly joinTokens = new Map<string, string>();
  readonly agents = new Map<string, ChildProcess>();

  spawn(args: string[], name: string): ChildProcess {
    const child = spawn(NODE, [MAIN, ...args], {
      cwd: ROOT,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, YUNJIAN_TOKEN: '', YUNJIAN_SERVER: '' },
    });
    this.#output.set(child, '');
    const keep = (d: Buffer) =>
      this.#output.set(child, (this.#output.get(child) ?? '') + d.toString());
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    child.on('exit', () => writeFileSync(join(this.dir, `${name}.log`), this.output(child)));
    this.#children.add(child);
    return child;
  }

  output(child: ChildProcess): string {
    return this.#output.get(child) ?? '';
  }

  /** Starts the control plane (no generated fleet) and waits for its URL. */
  async startServer(port = 0, extra: string[] = []): Promise<void> {
    const s = this.spawn(
      [
        'server',
        '--port',
        String(port),
        '--data',
        join(this.dir, 'server'),
        '--fleet',
        'none',
        ...extra,
      ],
      `server-${Date.now()}`,
    );
    this.server = s;
    this.url = await until('server up', () => {
      const m = /API serving on (http:\/\/\S+)/.exec(this.output(s));
      return Promise.resolve(m?.[1]);
    });
    this.admin = readFileSync(join(this.dir, 'server/admin.token'), 'utf8').trim();
  }

  startAgent(a: AgentSpec): ChildProcess {
    const child = this.spawn(
      [
        '--server',
        this.url,
        '--token',
        this.joinTokens.get(a.cluster) ?? '',
        'agent',
        '--cluster',
        a.cluster,
        '--site',
        a.site,
        '--address',
        a.address,
        '--api-port',
        String(a.apiPort),
        '--cpu',
        '4',
        '--memory',
        '4Gi',
        '--arch',
        a.arch,
        '--data',
        join(this.dir, `agent-${a.cluster}`),
        '--heartbeat-seconds',
        '0.5',
      ],
      `agent-${a.cluster}-${Date.now()}`,
    );
    this.agents.set(a.cluster, child);
    return child;
  }

  async cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
    const child = spawn(NODE, [MAIN, '--server', this.url, '--token', this.admin, ...args], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const code = await new Promise<number>((r) => child.on('exit', (c) => r(c ?? 1)));
    return { code, stdout, stderr };
  }

  async api<T>(path: string): Promise<T> {
    const res = await fetch(`${this.url}${path}`, {
      headers: { authorization: `Bearer ${this.admin}` },
    });
    if (!res.ok) throw new Error(`${path}: HTTP ${res.status}`);
    return (await res.json()) as T;
  }

  /**
   * Opens a watch on a list path now and resolves with the first object it
   * reports that `match` accepts. Every write is reported, so a state that
   * lasts one controller pass, too short for polling, is still seen.
   */
  async firstWatched<T>(
    path: string,
    match: (object: T) => boolean,
    timeoutMs: number,
  ): Promise<{ found: Promise<T> }> {
    const res = await fetch(`${this.url}${path}?watch=true`, {
      headers: { authorization: `Bearer ${this.admin}` },
      signal: AbortSignal.timeout(timeoutMs),
    });
    if (!res.ok || res.body === null) throw new Error(`watch ${path}: HTTP ${res.status}`);
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
    const found = (async () => {
      let buffered = '';
      try {
        for (;;) {
          const { done, value } = await reader.read();
          if (done) throw new Error(`the watch of ${path} ended before a match`);
          const lines = (buffered + value).split('\n');
          buffered = lines.pop() ?? '';
          for (const line of lines) {
            const event = JSON.parse(line) as { type: string; object: T };
            if (event.type !== 'BOOKMARK' && match(event.object)) return event.object;
          }
        }
      } finally {
        await reader.cancel().catch(() => undefined);
      }
    })();
    return { found };
  }

  /**
   * Applies a fleet file, creates a join token for each agent and starts them.
   * An agent started again later joins with the credential its first join saved.
   */
  async join(fleetFile: string, agents: readonly AgentSpec[]): Promise<void> {
    const fleet = await this.cli('apply', '-f', fleetFile);
    assert.equal(fleet.code, 0, fleet.stderr);
    for (const a of agents) {
      const token = await this.cli(
        'token',
        'create',
        '--cluster',
        a.cluster,
        '--ttl',
        '1h',
        '--description',
        'e2e',
      );
      assert.equal(token.code, 0, token.stderr);
      this.joinTokens.set(a.cluster, token.stdout.trim());
      this.startAgent(a);
    }
  }

  async stopAll(): Promise<void> {
    for (const c of this.#children) killGroup(c, 'SIGTERM');
    await new Promise((r) => setTimeout(r, 2000));
    for (const c of this.#children) killGroup(c, 'SIGKILL');
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) {
    try {
      process.kill(-child.pid, signal);
    } catch {
      // already gone
    }
  }
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** GET / on an ingress address; the hello replica answers with who it is. */
export async function hit(
  address: string,
  port: number,
): Promise<{ component: string; replica: string; pid: number }> {
  const res = await fetch(`http://${address}:${port}/`, { signal: AbortSignal.timeout(2000) });
  return (await res.json()) as { component: string; replica: string; pid: number };
}
