// `yunjian agent` (run this host as a member cluster), `yunjian token
// create|list|revoke` (join tokens) and `yunjian logs app NAME` (replica output
// gathered from the agents). The agent process itself lives in src/agent and is
// imported only when the command runs.
import { cpus, totalmem } from 'node:os';
import { resolve } from 'node:path';
import { Argument, InvalidArgumentError, Option, type Command } from 'commander';
import { hostAddressProblem } from '../agent/protocol.ts';
import { DEFAULT_NAMESPACE } from '../model/kinds.ts';
import {
  CPU_PATTERN,
  MEMORY_PATTERN,
  parseCpuMillis,
  parseMemoryBytes,
} from '../model/quantity.ts';
import { ARCHES, type AgentToken, type Arch, type JoinTokenRequest } from '../model/schema.ts';
import { adminCall } from './admin.ts';
import { defaultDataDir, loadConnection } from './config.ts';
import { ageSince, renderTable } from './format.ts';
import type { CliIo } from './program.ts';

const AGENT_PREFIX = '/api/v1alpha1/agent';

interface Globals {
  server?: string;
  token?: string;
}

function cpuOption(raw: string): number {
  if (!new RegExp(CPU_PATTERN).test(raw) || parseCpuMillis(raw) <= 0)
    throw new InvalidArgumentError(`expected a CPU quantity > 0 such as 2 or 1500m, got "${raw}".`);
  return parseCpuMillis(raw) / 1000;
}

function memoryOption(raw: string): number {
  if (!new RegExp(MEMORY_PATTERN).test(raw) || parseMemoryBytes(raw) <= 0)
    throw new InvalidArgumentError(`expected a memory quantity > 0 such as 4Gi, got "${raw}".`);
  return parseMemoryBytes(raw);
}

function archOption(raw: string): Arch {
  if (!(ARCHES as readonly string[]).includes(raw))
    throw new InvalidArgumentError(`expected one of ${ARCHES.join(', ')}, got "${raw}".`);
  return raw as Arch;
}

function addressOption(raw: string): string {
  const problem = hostAddressProblem(raw);
  if (problem !== undefined) throw new InvalidArgumentError(`${problem}.`);
  return raw;
}

function numberOption(min: number, max: number, what: string) {
  return (raw: string): number => {
    const n = Number(raw);
    if (raw.trim() === '' || !Number.isFinite(n) || n < min || n > max)
      throw new InvalidArgumentError(`expected ${what}, got "${raw}".`);
    return n;
  };
}

interface AgentOpts {
  cluster: string;
  site?: string;
  address: string;
  apiPort: number;
  cpu: number;
  memory: number;
  pods: number;
  arch?: Arch;
  data?: string;
  heartbeatSeconds: number;
}

interface JoinTokenOpts {
  cluster?: string;
  clusterPrefix?: string;
  reusable?: boolean;
  replace?: boolean;
  ttl: number;
  description?: string;
}

const DURATION_UNITS = { s: 1, m: 60, h: 3600, d: 86_400 } as const;

/** A duration such as 90s, 30m, 24h or 7d, in seconds; the server checks its range. */
function durationOption(raw: string): number {
  const m = /^([0-9]+)(s|m|h|d)$/.exec(raw);
  if (m?.[1] === undefined || m[2] === undefined)
    throw new InvalidArgumentError(
      `expected a whole number of s, m, h or d such as 30m, 24h or 7d, got "${raw}".`,
    );
  return Number(m[1]) * DURATION_UNITS[m[2] as keyof typeof DURATION_UNITS];
}

/** How a join token may still be used, for `token list`. */
function joinTokenUse(t: AgentToken): string {
  const kind = t.spec.replace === true ? 'replace' : t.spec.reusable === true ? 'reusable' : 'once';
  const used = t.spec.consumed;
  return used === undefined || t.spec.reusable === true
    ? kind
    : `${kind}, used by ${used.cluster} from ${used.from}`;
}

interface LogsResponse {
  items: {
    cluster: string;
    component: string;
    workload: string;
    replica: string;
    lines: string[];
  }[];
  errors: { cluster: string; message: string }[];
}

export function registerAgent(program: Command, io: CliIo): void {
  program
    .command('agent')
    .description('run this host as a member cluster: join the control plane and run replicas')
    .requiredOption('--cluster <name>', 'cluster name to join as')
    .option('--site <site>', 'Site the cluster is in (required on the first join)')
    .option(
      '--address <host>',
      'IP address or hostname replicas, the ingress and the API listen on',
      addressOption,
      '127.0.0.1',
    )
    .option(
      '--api-port <port>',
      "port of the agent's own API (logs)",
      numberOption(1, 65535, 'a port'),
      7090,
    )
    .option('--cpu <cores>', 'CPU the agent offers (default: all cores)', cpuOption, cpus().length)
    .option(
      '--memory <bytes>',
      'memory the agent offers, e.g. 4Gi (default: all)',
      memoryOption,
      totalmem(),
    )
    .option(
      '--pods <n>',
      'most replicas the agent runs',
      numberOption(1, 10_000, 'an integer from 1'),
      110,
    )
    .option('--arch <arch>', "architecture to report (default: this host's)", archOption)
    .option('--data <dir>', 'data directory (credential, desired state, logs)')
    .option(
      '--heartbeat-seconds <s>',
      'seconds between heartbeats',
      numberOption(0.05, 3600, 'a number of seconds from 0.05'),
      1,
    )
    .action(async (opts: AgentOpts, cmd: Command) => {
      const { server, token } = cmd.optsWithGlobals<Globals>();
      const conn = await loadConnection({ server }, io.env, io.home);
      const interrupted = io.interrupted();
      const [{ runAgent, hostArch }] = await Promise.all([import('../agent/agent.ts')]);
      const dataDir = resolve(
        opts.data ?? `${defaultDataDir(io.env, io.home)}/agent-${opts.cluster}`,
      );
      const agent = await runAgent({
        server: conn.server.value,
        ...(token !== undefined ? { token } : {}),
        cluster: opts.cluster,
        ...(opts.site !== undefined ? { site: opts.site } : {}),
        address: opts.address,
        apiPort: opts.apiPort,
        cpu: opts.cpu,
        memory: opts.memory,
        pods: opts.pods,
        arch: opts.arch ?? hostArch(),
        dataDir,
        heartbeatSeconds: opts.heartbeatSeconds,
        log: (line) => io.stdout(`${line}\n`),
      });
      if (!interrupted.aborted)
        await new Promise((r) => interrupted.addEventListener('abort', r, { once: true }));
      io.stdout(`received ${String(interrupted.reason)}, stopping replicas\n`);
      await agent.close();
    });

  const tokens = program.command('token').description('join tokens for agents');
  tokens
    .command('create')
    .description(
      'create a join token (printed once; only its hash is stored): bound to one cluster name or a name prefix, single-use unless --reusable',
    )
    .optionsGroup('Join token options (an agent joining as a cluster):')
    .option('--cluster <name>', 'the cluster name the token may join')
    .option('--cluster-prefix <prefix>', 'or: any cluster name that starts with this')
    .option('--reusable', 'let several joins use the token until it expires (default: single-use)')
    .option(
      '--replace',
      "let the token take over the cluster from its current agent (a re-installed host); the old agent's credential stops working",
    )
    .addOption(
      new Option('--ttl <duration>', 'lifetime such as 30m, 24h or 7d, at most 365d')
        .argParser(durationOption)
        .default(86_400, '24h'),
    )
    .optionsGroup('Common options:')
    .option('--description <text>', 'what the token is for')
    .action(async (opts: JoinTokenOpts, cmd: Command) => {
      const created = await adminCall<{ token: string; name: string; expires: string }>(
        io,
        cmd,
        'POST',
        `${AGENT_PREFIX}/tokens`,
        {
          ...(opts.cluster !== undefined ? { cluster: opts.cluster } : {}),
          ...(opts.clusterPrefix !== undefined ? { clusterPrefix: opts.clusterPrefix } : {}),
          ...(opts.reusable === true ? { reusable: true } : {}),
          ...(opts.replace === true ? { replace: true } : {}),
          ttlSeconds: opts.ttl,
          ...(opts.description !== undefined ? { description: opts.description } : {}),
        } satisfies JoinTokenRequest,
      );
      io.stdout(`${created.token}\n`);
      io.stderr(
        `token ${created.name} ${opts.reusable === true ? 'reusable' : 'single-use'}, expires ${created.expires}; it is not shown again\n`,
      );
    });
  tokens
    .command('list')
    .description('list join tokens (never their secrets)')
    .action(async (_opts: unknown, cmd: Command) => {
      const { items } = await adminCall<{ items: AgentToken[] }>(
        io,
        cmd,
        'GET',
        `${AGENT_PREFIX}/tokens`,
      );
      const now = io.now();
      io.stdout(
        renderTable(
          ['NAME', 'CLUSTERS', 'USE', 'EXPIRES', 'AGE', 'DESCRIPTION'],
          items.map((t) => [
            t.metadata.name,
            t.spec.cluster ??
              (t.spec.clusterPrefix !== undefined ? `${t.spec.clusterPrefix}*` : '(new only)'),
            joinTokenUse(t),
            t.spec.expires ?? 'never',
            t.metadata.creationTimestamp ? ageSince(t.metadata.creationTimestamp, now) : '',
            t.spec.description ?? '',
          ]),
        ),
      );
    });
  tokens
    .command('revoke')
    .description('delete a join token (agents that joined keep their credentials)')
    .argument('<name>', 'token name (join-ID) or ID')
    .action(async (name: string, _opts: unknown, cmd: Command) => {
      const r = await adminCall<{ revoked: string }>(
        io,
        cmd,
        'DELETE',
        `${AGENT_PREFIX}/tokens/${encodeURIComponent(name)}`,
      );
      io.stdout(`token ${r.revoked} revoked\n`);
    });

  program
    .command('logs')
    .description("print the output of an application's replicas, gathered from the agents")
    .addArgument(
      new Argument('<kind>', 'resource kind').choices(['app', 'application', 'applications']),
    )
    .argument('<name>', 'application name')
    .option('-n, --namespace <ns>', 'namespace', DEFAULT_NAMESPACE)
    .option('-c, --component <name>', 'only this component')
    .option('--cluster <name>', 'only this cluster')
    .option(
      '--tail <n>',
      'lines per replica',
      numberOption(1, 10_000, 'an integer from 1 to 10000'),
      100,
    )
    .action(
      async (
        _kind: string,
        name: string,
        opts: { namespace: string; component?: string; cluster?: string; tail: number },
        cmd: Command,
      ) => {
        const query = new URLSearchParams({ tail: String(opts.tail) });
        if (opts.component !== undefined) query.set('component', opts.component);
        if (opts.cluster !== undefined) query.set('cluster', opts.cluster);
        const res = await adminCall<LogsResponse>(
          io,
          cmd,
          'GET',
          `/api/v1alpha1/namespaces/${encodeURIComponent(opts.namespace)}/applications/${encodeURIComponent(name)}/logs?${query.toString()}`,
        );
        for (const item of res.items)
          for (const line of item.lines) io.stdout(`[${item.cluster}/${item.replica}] ${line}\n`);
        for (const e of res.errors) io.stderr(`${e.cluster}: logs unavailable: ${e.message}\n`);
        if (res.items.length === 0 && res.errors.length === 0)
          io.stderr(`application ${opts.namespace}/${name} runs no replicas on agent clusters\n`);
      },
    );
}
