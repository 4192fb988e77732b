// Several `yunjian server` processes on one store, for the HA tests and
// bench:ha: each replica is a real child process (src/cli/main.ts) with its own
// data directory and port, sharing the admin token and encryption key files
// of the set. `kill` and `pause` act only on the pid this harness spawned.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import { stringify } from 'yaml';

const MAIN = resolve(import.meta.dirname, '../src/cli/main.ts');
export const API = '/api/v1alpha1';

/** A small simulated fleet: one cloud, one site, `clusters` clusters of four 16-core nodes. */
export function smallFleet(clusters: number): string {
  const docs: object[] = [
    {
      apiVersion: 'yunjian.io/v1alpha1',
      kind: 'Cloud',
      metadata: { name: 'lab' },
      spec: { vendor: 'baremetal', type: 'private' },
    },
    {
      apiVersion: 'yunjian.io/v1alpha1',
      kind: 'Site',
      metadata: { name: 'lab-1' },
      spec: {
        cloud: 'lab',
        kind: 'datacenter',
        country: 'DE',
        city: 'Berlin',
        latitude: 52.5,
        longitude: 13.4,
        zones: ['z1'],
      },
    },
  ];
  for (let i = 0; i < clusters; i++)
    docs.push({
      apiVersion: 'yunjian.io/v1alpha1',
      kind: 'Cluster',
      metadata: { name: `lab-1-${String.fromCharCode(97 + i)}` },
      spec: {
        cloud: 'lab',
        site: 'lab-1',
        zone: 'z1',
        driver: {
          type: 'sim',
          sim: { nodePools: [{ name: 'x86', count: 4, arch: 'amd64', cpu: '16', memory: '64Gi' }] },
        },
      },
    });
  return docs.map((d) => stringify(d)).join('---\n');
}

/** An application of one component with `replicas` small replicas. */
export function appYaml(name: string, replicas: number): string {
  return stringify({
    apiVersion: 'yunjian.io/v1alpha1',
    kind: 'Application',
    metadata: { name, namespace: 'default' },
    spec: {
      components: [
        {
          name: 'web',
          image: 'registry.example.com/ha/web:1',
          replicas,
          resources: { cpu: '100m', memory: '64Mi' },
        },
      ],
    },
  });
}

export function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => done(port));
    });
    s.on('error', fail);
  });
}

export interface ReplicaSetOptions {
  /** Working directory: shared files and each replica's data directory. */
  dir: string;
  /** `--store` of every replica. */
  store: string;
  replicas: number;
  leaseSeconds: number;
  /** Fleet YAML written for the set. */
  fleet: string;
  extraArgs?: readonly string[];
}

export class Replica {
  readonly index: number;
  readonly port: number;
  readonly dataDir: string;
  readonly #args: readonly string[];
  #child: ChildProcess | undefined;
  /** Everything the current process printed. */
  output = '';

  constructor(index: number, port: number, dataDir: string, args: readonly string[]) {
    this.index = index;
    this.port = port;
    this.dataDir = dataDir;
    this.#args = args;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get pid(): number | undefined {
    return this.#child?.pid;
  }

  get running(): boolean {
    return (
      this.#child !== undefined && this.#child.exitCode === null && this.#child.signalCode === null
    );
  }

  /** Starts the process and resolves once its API listens. */
  async start(timeoutMs = 60_000): Promise<void> {
    this.output = '';
    const child = spawn(process.execPath, [MAIN, 'server', ...this.#args], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.#child = child;
    child.stdout.on('data', (d: Buffer) => (this.output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (this.output += d.toString()));
    await this.waitFor(/API serving on/, timeoutMs);
  }

  /** Resolves when the output matches; fails if the process exits or time runs out. */
  async waitFor(pattern: RegExp, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!pattern.test(this.output)) {
      if (!this.running)
        throw new Error(`replica ${this.index} exited before ${pattern}:\n${this.output}`);
      if (Date.now() > deadline)
        throw new Error(`replica ${this.index}: no ${pattern} in ${timeoutMs} ms:\n${this.output}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** kill -9, and resolves once the process is gone. */
  async kill(): Promise<void> {
    const child = this.#child;
    if (child === undefined || !this.running) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await exited;
  }

  pause(): void {
    this.#child?.kill('SIGSTOP');
  }

  resume(): void {
    this.#child?.kill('SIGCONT');
  }

  /** SIGTERM (a resumed process first), then SIGKILL after 10 s. */
  async stop(): Promise<void> {
    const child = this.#child;
    if (child === undefined || !this.running) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGCONT');
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  }
}

export class ReplicaSet {
  readonly replicas: Replica[];
  readonly token: string;

  private constructor(replicas: Replica[], token: string) {
    this.replicas = replicas;
    this.token = token;
  }

  /**
   * The first replica creates the shared key and token files; the others start
   * together once it listens.
   */
  static async start(o: ReplicaSetOptions): Promise<ReplicaSet> {
    mkdirSync(o.dir, { recursive: true });
    const fleetPath = join(o.dir, 'fleet.yaml');
    writeFileSync(fleetPath, o.fleet);
    const tokenPath = join(o.dir, 'admin.token');
    const replicas: Replica[] = [];
    for (let i = 0; i < o.replicas; i++) {
      const dataDir = join(o.dir, `replica-${i}`);
      const port = await freePort();
      replicas.push(
        new Replica(i, port, dataDir, [
          ...['--port', String(port), '--host', '127.0.0.1', '--data', dataDir],
          ...['--store', o.store],
          ...(o.store.startsWith('etcd://') ? ['--etcd-prefix', '/ha/'] : []),
          ...['--encryption-key-file', join(o.dir, 'encryption-keys.yaml')],
          ...['--admin-token-file', tokenPath],
          ...['--leader-lease-seconds', String(o.leaseSeconds)],
          ...['--fleet', fleetPath, '--dns-port', '0', '--dns-workers', '0'],
          ...['--sim-startup-seconds', '0'],
          ...(o.extraArgs ?? []),
        ]),
      );
    }
    const set = new ReplicaSet(replicas, '');
    try {
      const [first, ...rest] = replicas;
      await first?.start();
      await Promise.all(rest.map((r) => r.start()));
    } catch (err) {
      await set.stop();
      throw err;
    }
    return new ReplicaSet(replicas, readFileSync(tokenPath, 'utf8').trim());
  }

  get servers(): string {
    return this.replicas.map((r) => r.url).join(',');
  }

  get headers(): Record<string, string> {
    return { authorization: `Bearer ${this.token}` };
  }

  /** Running replicas whose /readyz answers 200 (synced and leading). */
  async leaders(): Promise<Replica[]> {
    const ready = await Promise.all(
      this.replicas.map(async (r) => {
        if (!r.running) return false;
        const res = await fetch(`${r.url}/readyz`, { signal: AbortSignal.timeout(2000) }).catch(
          () => undefined,
        );
        await res?.body?.cancel();
        return res?.status === 200;
      }),
    );
    return this.replicas.filter((_, i) => ready[i] === true);
  }

  /** The one leader, once exactly one replica other than `not` leads; undefined at the deadline. */
  async awaitLeader(timeoutMs: number, not?: Replica): Promise<Replica | undefined> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const leaders = (await this.leaders()).filter((r) => r !== not);
      if (leaders.length === 1) return leaders[0];
      if (Date.now() > deadline) return undefined;
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  async stop(): Promise<void> {
    await Promise.all(this.replicas.map((r) => r.stop()));
  }
}
