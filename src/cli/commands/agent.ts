// `yunjian agent`: run this host as a member cluster. The agent process itself
// lives in src/agent and is imported only when the command runs.
import { cpus, totalmem } from 'node:os';
import { resolve } from 'node:path';
import { InvalidArgumentError, type Command } from 'commander';
import { hostAddressProblem } from '../../agent/protocol.ts';
import {
  CPU_PATTERN,
  MEMORY_PATTERN,
  parseCpuMillis,
  parseMemoryBytes,
} from '../../model/quantity.ts';
import { ARCHES, type Arch } from '../../model/schema.ts';
import { defaultDataDir, loadConnection } from '../config.ts';
import { integerOption, numberOption } from '../options.ts';
import type { GlobalOptions, Session } from '../session.ts';

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

export function registerAgent(program: Command, session: Session): void {
  const { io } = session;
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
      integerOption('a port', 1, 65535),
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
      integerOption('an integer from 1', 1, 10_000),
      110,
    )
    .option('--arch <arch>', "architecture to report (default: this host's)", archOption)
    .option('--data <dir>', 'data directory (credential, desired state, logs)')
    .option(
      '--heartbeat-seconds <s>',
      'seconds between heartbeats',
      numberOption('a number of seconds from 0.05', 0.05, 3600),
      1,
    )
    .action(async (opts: AgentOpts, cmd: Command) => {
      // Only --token reaches the agent (a join token): a user's token from the
      // environment or the config file is no credential for joining.
      const { server, token } = cmd.optsWithGlobals<GlobalOptions>();
      const conn = await loadConnection({ server }, io.env, io.home);
      const interrupted = io.interrupted();
      const { runAgent, hostArch } = await import('../../agent/agent.ts');
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
}
