// `yunjian agent`: makes one host a member cluster. It joins the control plane
// with a join token (or the credential a previous join left in its data
// directory), then heartbeats: host inventory and workload statuses up, the
// desired workloads down. Replicas run as real processes (supervisor.ts) behind
// the agent's ingress (ingress.ts).
//
// Crash-safety: the desired list is persisted before it is acted on, and the
// process groups of running replicas are recorded as they change; a restarted
// agent kills what a previous run left and starts again from the persisted
// desired state, so it needs no control plane to resume. While the control
// plane is down it keeps running what it has and retries.
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { arch as osArch, hostname } from 'node:os';
import { join } from 'node:path';
import { ServerList, mayTryAnother, splitServers } from '../lib/servers.ts';
import { readJsonResponse } from '../model/errors.ts';
import type { Arch } from '../model/schema.ts';
import { admit } from './admission.ts';
import { Ingress, type Route } from './ingress.ts';
import {
  AGENT_API_PREFIX,
  type DesiredWorkload,
  type HeartbeatRequest,
  type HeartbeatResponse,
  type HostInfo,
  type JoinResponse,
  type ReplicaLogs,
} from './protocol.ts';
import { killRecorded, type RecordedProcess } from './processes.ts';
import { Supervisor } from './supervisor.ts';

export interface AgentOptions {
  /** Control plane base URL; several replicas separated by commas. */
  server: string;
  /** Join token; optional once the data directory holds a credential. */
  token?: string;
  cluster: string;
  site?: string;
  address: string;
  apiPort: number;
  cpu: number;
  memory: number;
  pods: number;
  arch: Arch;
  dataDir: string;
  heartbeatSeconds: number;
  log: (line: string) => void;
  /** Replica restart back-off; tests shorten it. */
  backoff?: { initialMs?: number; maxMs?: number; resetAfterMs?: number };
}

export interface RunningAgent {
  /** Resolves after the first successful heartbeat (joined and in sync). */
  synced: Promise<void>;
  /** Stops heartbeats, the API and every replica. */
  close(): Promise<void>;
}

interface Credential {
  server: string;
  cluster: string;
  credential: string;
}

interface DesiredFile {
  revision: string;
  workloads: DesiredWorkload[];
}

/** os.arch() in the names the API uses. */
export function hostArch(): Arch {
  const a = osArch();
  if (a === 'x64') return 'amd64';
  if (a === 'arm64' || a === 'riscv64') return a;
  throw new Error(`unsupported host architecture ${a}: pass --arch amd64|arm64|riscv64`);
}

function writeAtomic(path: string, content: string): void {
  writeFileSync(`${path}.tmp`, content, { mode: 0o600 });
  renameSync(`${path}.tmp`, path);
}

function readJson<T>(path: string): T | undefined {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as T;
  } catch {
    return undefined;
  }
}

export async function runAgent(o: AgentOptions): Promise<RunningAgent> {
  mkdirSync(o.dataDir, { recursive: true, mode: 0o700 });
  const paths = {
    credential: join(o.dataDir, 'credential.json'),
    desired: join(o.dataDir, 'desired.json'),
    processes: join(o.dataDir, 'processes.json'),
    apiToken: join(o.dataDir, 'api.token'),
    logs: join(o.dataDir, 'logs'),
  };
  const leftovers = readJson<RecordedProcess[]>(paths.processes) ?? [];
  const killed = killRecorded(leftovers);
  if (killed > 0) o.log(`agent: killed ${killed} replica processes left by a previous run`);
  writeAtomic(paths.processes, '[]');

  if (!existsSync(paths.apiToken))
    writeAtomic(paths.apiToken, randomBytes(24).toString('base64url'));
  const apiToken = readFileSync(paths.apiToken, 'utf8').trim();

  const host: HostInfo = {
    hostname: hostname(),
    address: o.address,
    apiPort: o.apiPort,
    arch: o.arch,
    cpu: o.cpu,
    memory: o.memory,
    pods: o.pods,
  };

  const supervisor = new Supervisor({
    address: o.address,
    logDir: paths.logs,
    ...(o.backoff !== undefined ? { backoff: o.backoff } : {}),
    onProcessesChanged: (p) => writeAtomic(paths.processes, JSON.stringify(p)),
  });
  const ingress = new Ingress(o.address);
  let desired: DesiredFile = readJson<DesiredFile>(paths.desired) ?? {
    revision: '',
    workloads: [],
  };
  /** Which workload owns each ingress port (the first in name order). */
  let portOwner = new Map<number, string>();

  /** Replicas each workload was admitted last time: they are kept before anything grows. */
  let admittedBefore = new Map<string, number>();
  const apply = (next: DesiredFile) => {
    desired = next;
    const admitted = admit(next.workloads, host, admittedBefore);
    admittedBefore = new Map([...admitted].map(([name, a]) => [name, a.count]));
    supervisor.converge(
      next.workloads.map((w) => {
        const a = admitted.get(w.name) ?? { count: 0 };
        return {
          name: w.name,
          spec: w.spec,
          admitted: a.count,
          ...(a.message !== undefined ? { message: a.message } : {}),
        };
      }),
    );
    portOwner = new Map();
    const routes: Route[] = [];
    for (const w of [...next.workloads].sort((a, b) => (a.name < b.name ? -1 : 1))) {
      w.spec.ports.forEach((p, index) => {
        if (p.protocol !== 'TCP' || portOwner.has(p.port)) return;
        portOwner.set(p.port, w.name);
        routes.push({ port: p.port, backends: () => supervisor.readyBackends(w.name, index) });
      });
    }
    ingress.sync(routes);
  };
  if (desired.workloads.length > 0)
    o.log(`agent: resuming ${desired.workloads.length} workloads from ${paths.desired}`);
  apply(desired);

  const statuses = (): HeartbeatRequest['workloads'] =>
    supervisor.status().map(({ name, status }) => {
      const spec = desired.workloads.find((w) => w.name === name)?.spec;
      const endpoints: { name?: string; address: string; port: number }[] = [];
      const problems: string[] = [];
      for (const p of spec?.ports ?? []) {
        if (p.protocol !== 'TCP') continue;
        const state = ingress.state(p.port);
        if (portOwner.get(p.port) !== name)
          problems.push(`port ${p.port} is already served by ${portOwner.get(p.port) ?? '?'}`);
        else if (state.error !== undefined) problems.push(state.error);
        else if (state.listening)
          endpoints.push({
            ...(p.name !== undefined ? { name: p.name } : {}),
            address: o.address,
            port: p.port,
          });
      }
      const message = [status.message, ...problems].filter((m) => m !== undefined).join('; ');
      const { message: _drop, ...rest } = status;
      return {
        name,
        status: {
          ...rest,
          ...(message !== '' ? { message } : {}),
          ...(endpoints.length > 0 && status.ready > 0 ? { endpoints } : {}),
        },
      };
    });

  // ---- the agent's own API (logs), authenticated with the token it sends in heartbeats
  const api = createServer((req, res) => serveApi(req, res, apiToken, supervisor));
  await new Promise<void>((resolve, reject) => {
    api.once('error', reject);
    api.listen({ host: o.address, port: o.apiPort }, () => {
      api.off('error', reject);
      resolve();
    });
  });
  o.log(`agent: cluster ${o.cluster} on ${o.address}, API on port ${o.apiPort}, ${o.arch}`);

  // ---- join and heartbeat
  // Join and heartbeat repeat safely (level-based), so any replica that cannot
  // be reached or answers 503 hands the call to the next one.
  const servers = new ServerList(splitServers(o.server));
  const call = async <T>(path: string, bearer: string, body: unknown): Promise<T> =>
    servers.run(
      async (server) =>
        readJsonResponse<T>(
          await fetch(`${server}${AGENT_API_PREFIX}${path}`, {
            method: 'POST',
            headers: { authorization: `Bearer ${bearer}`, 'content-type': 'application/json' },
            body: JSON.stringify(body),
            signal: AbortSignal.timeout(10_000),
          }),
        ),
      (err) => mayTryAnother(err, true) || (err as { httpStatus?: number }).httpStatus === 503,
    );

  let credential: string | undefined = (() => {
    const c = readJson<Credential>(paths.credential);
    return c !== undefined && c.cluster === o.cluster ? c.credential : undefined;
  })();

  const joinRequest = {
    cluster: o.cluster,
    ...(o.site !== undefined ? { site: o.site } : {}),
    host,
    heartbeatSeconds: o.heartbeatSeconds,
  };
  const joinOnce = async (): Promise<void> => {
    if (credential !== undefined) {
      try {
        await call<JoinResponse>('/join', credential, joinRequest);
        return;
      } catch (err) {
        // A revoked or foreign credential: fall back to the join token if there is one.
        if ((err as { httpStatus?: number }).httpStatus !== 401 || o.token === undefined) throw err;
        o.log('agent: stored credential rejected; joining with the token');
      }
    }
    if (o.token === undefined)
      throw new Error(
        `no credential for cluster ${o.cluster} in ${o.dataDir}: pass --token (create one with "yunjian token create")`,
      );
    const res = await call<JoinResponse>('/join', o.token, joinRequest);
    if (res.credential === undefined) throw new Error('the server returned no credential');
    credential = res.credential;
    writeAtomic(
      paths.credential,
      JSON.stringify({ server: o.server, cluster: o.cluster, credential } satisfies Credential),
    );
    o.log(`agent: joined as cluster ${o.cluster}; credential saved in ${paths.credential}`);
  };

  let joined = false;
  let stopped = false;
  let lastError = '';
  let markSynced: () => void = () => undefined;
  const synced = new Promise<void>((resolve) => {
    markSynced = resolve;
  });
  let timer: NodeJS.Timeout | undefined;

  const beat = async () => {
    if (!joined) {
      await joinOnce();
      joined = true;
    }
    const body: HeartbeatRequest = {
      cluster: o.cluster,
      host,
      heartbeatSeconds: o.heartbeatSeconds,
      apiToken,
      workloads: statuses(),
      ...(desired.revision !== '' ? { revision: desired.revision } : {}),
    };
    const res = await call<HeartbeatResponse>('/heartbeat', credential ?? '', body);
    if (res.workloads !== undefined) {
      const next = { revision: res.revision, workloads: res.workloads };
      writeAtomic(paths.desired, JSON.stringify(next));
      apply(next);
    }
    markSynced();
  };
  const loop = async () => {
    try {
      await beat();
      if (lastError !== '') o.log('agent: control plane reachable again');
      lastError = '';
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      // 401: the credential was replaced or revoked; 409: the cluster is registered with
      // another address. Both are settled by joining again.
      const status = (err as { httpStatus?: number }).httpStatus;
      if (status === 401 || status === 409) joined = false;
      if (message !== lastError)
        o.log(`agent: ${message}; keeping ${desired.workloads.length} workloads running, retrying`);
      lastError = message;
    }
    if (!stopped) timer = setTimeout(() => void loop(), o.heartbeatSeconds * 1000);
  };
  void loop();

  return {
    synced,
    async close() {
      stopped = true;
      clearTimeout(timer);
      await supervisor.close();
      writeAtomic(paths.processes, '[]');
      await ingress.close();
      await new Promise<void>((resolve) => api.close(() => resolve()));
      api.closeAllConnections();
    },
  };
}

function sameSecret(presented: string, expected: string): boolean {
  const a = Buffer.from(presented);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

function serveApi(
  req: IncomingMessage,
  res: ServerResponse,
  apiToken: string,
  supervisor: Supervisor,
): void {
  const send = (code: number, body: unknown) => {
    res.writeHead(code, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  };
  const url = new URL(req.url ?? '/', 'http://agent');
  if (url.pathname === '/healthz') {
    send(200, { status: 'ok' });
    return;
  }
  const m = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '');
  if (m?.[1] === undefined || !sameSecret(m[1], apiToken)) {
    send(401, { reason: 'Unauthorized', message: 'invalid agent API token' });
    return;
  }
  if (req.method === 'GET' && url.pathname === '/logs') {
    const names = url.searchParams.getAll('workload');
    const tail = Math.min(
      10_000,
      Math.max(1, Number(url.searchParams.get('tail') ?? '100') || 100),
    );
    const out: ReplicaLogs[] = names.flatMap((workload) =>
      supervisor.logs(workload, tail).map((l) => ({ workload, ...l })),
    );
    send(200, { items: out });
    return;
  }
  send(404, { reason: 'NotFound', message: `no route for ${req.method ?? ''} ${url.pathname}` });
}
