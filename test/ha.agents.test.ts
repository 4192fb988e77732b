// A real agent given all three control planes (`--server a,b,c`) on a
// three-member etcd: it settles on the leader (standbys answer its join and
// heartbeats 503), and when the leader is killed -9 it moves on to the new
// leader, whose hub then drives its cluster: the cluster stays Ready through
// the failover, instead of going NotReady after the grace period because its
// heartbeats reach a standby that drives nothing.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Cluster } from '../src/model/schema.ts';
import { EtcdCluster, etcdMissing } from './etcd.harness.ts';
import { API, freePort, ReplicaSet } from './ha.harness.ts';

const missing = etcdMissing();
const MAIN = resolve(import.meta.dirname, '../src/cli/main.ts');
const FLEET = resolve(import.meta.dirname, 'fixtures/agent/fleet.yaml');
const GRACE_SECONDS = 5;

function ready(c: Cluster | undefined): boolean {
  return c?.status?.conditions?.some((x) => x.type === 'Ready' && x.status === 'True') === true;
}

void describe(
  'an agent across a control-plane failover',
  { skip: missing, timeout: 240_000 },
  () => {
    let etcd: EtcdCluster;
    let set: ReplicaSet;
    let agent: ChildProcess | undefined;
    let agentOutput = '';
    const dir = mkdtempSync(join(tmpdir(), 'yunjian-ha-agents-'));

    before(async () => {
      etcd = await EtcdCluster.start(3);
      set = await ReplicaSet.start({
        dir,
        store: etcd.url,
        replicas: 3,
        leaseSeconds: 3,
        fleet: readFileSync(FLEET, 'utf8'),
        extraArgs: ['--cluster-grace-seconds', String(GRACE_SECONDS)],
      });
    });
    after(async () => {
      // The agent runs in its own process group (it would start replicas there).
      if (agent?.pid !== undefined && agent.exitCode === null && agent.signalCode === null) {
        const exited = new Promise((r) => agent?.once('exit', r));
        process.kill(-agent.pid, 'SIGKILL');
        await exited;
      }
      await set?.stop();
      await etcd?.stop();
      rmSync(dir, { recursive: true, force: true });
    });

    const cluster = async (via: string): Promise<Cluster | undefined> => {
      const res = await fetch(`${via}${API}/clusters/east`, {
        headers: set.headers,
        signal: AbortSignal.timeout(5000),
      });
      if (res.status === 404) return undefined;
      assert.equal(res.status, 200);
      return (await res.json()) as Cluster;
    };

    void it('stays Ready through a kill -9 of the leader', { timeout: 180_000 }, async () => {
      const leader = await set.awaitLeader(30_000);
      assert.ok(leader, 'one replica leads');
      const cli = (...args: string[]) =>
        new Promise<string>((done, fail) => {
          const child = spawn(process.execPath, [MAIN, '--server', set.servers, ...args], {
            stdio: ['ignore', 'pipe', 'pipe'],
          });
          let out = '';
          child.stdout.on('data', (d: Buffer) => (out += d.toString()));
          child.stderr.on('data', (d: Buffer) => (out += d.toString()));
          child.on('exit', (code) =>
            code === 0
              ? done(out.trim().split('\n')[0] ?? '')
              : fail(new Error(`${args.join(' ')}: ${out}`)),
          );
        });
      const joinToken = await cli(
        ...['--token', set.token, 'token', 'create', '--cluster', 'east', '--ttl', '1h'],
      );
      const apiPort = await freePort();
      // The agent's list starts at a standby, so it must be sent on to the leader.
      const standbyFirst = [...set.replicas.filter((r) => r !== leader), leader].map((r) => r.url);
      agent = spawn(
        process.execPath,
        [
          ...[MAIN, '--server', standbyFirst.join(','), '--token', joinToken, 'agent'],
          ...['--cluster', 'east', '--site', 'alpha-1', '--address', '127.0.1.1'],
          ...['--api-port', String(apiPort), '--cpu', '4', '--memory', '4Gi', '--arch', 'amd64'],
          ...['--data', join(dir, 'agent-east'), '--heartbeat-seconds', '0.5'],
        ],
        { detached: true, stdio: ['ignore', 'pipe', 'pipe'] },
      );
      agent.stdout?.on('data', (d: Buffer) => (agentOutput += d.toString()));
      agent.stderr?.on('data', (d: Buffer) => (agentOutput += d.toString()));

      const deadline = Date.now() + 60_000;
      while (!ready(await cluster(leader.url))) {
        assert.ok(Date.now() < deadline, `cluster east Ready within 60 s:\n${agentOutput}`);
        await new Promise((r) => setTimeout(r, 250));
      }

      // The standbys have been up longer than the grace period: a new leader must
      // count the agent's silence from when it began to lead, not from its start.
      await new Promise((r) => setTimeout(r, (GRACE_SECONDS + 1) * 1000));
      await leader.kill();
      const successor = await set.awaitLeader(10_000, leader);
      assert.ok(successor, 'another replica leads');
      // Past the grace period twice over: a cluster whose heartbeats reached
      // nobody that drives it would be NotReady by then.
      const watchUntil = Date.now() + 2 * GRACE_SECONDS * 1000 + 2000;
      while (Date.now() < watchUntil) {
        const c = await cluster(successor.url);
        assert.ok(
          ready(c),
          `cluster east stays Ready: ${JSON.stringify(c?.status)}\n${agentOutput}`,
        );
        await new Promise((r) => setTimeout(r, 250));
      }
    });
  },
);
