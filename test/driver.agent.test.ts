// The agent driver against a real `yunjian agent` process: the shared driver
// conformance suite, with replicas that are real (idle) Node processes.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { AddressInfo } from 'node:net';
import { after, before } from 'node:test';
import { TokenAuthenticator } from '../src/api/auth.ts';
import { applyDocuments, parseDocuments } from '../src/admission/apply.ts';
import { createApiServer } from '../src/api/server.ts';
import { runDriverConformance } from '../src/drivers/conformance.ts';
import { agentApiPlugin } from '../src/api/routes/agent.ts';
import { AgentHub } from '../src/drivers/agent/index.ts';
import { createJoinToken } from '../src/drivers/agent/tokens.ts';
import { openSqliteStore } from '../src/store/index.ts';

const ROOT = resolve(import.meta.dirname, '..');
const CLUSTER = 'conf';
const dir = mkdtempSync(join(tmpdir(), 'yunjian-agent-conformance-'));
const store = openSqliteStore({ path: join(dir, 'store.db') });
const hub = new AgentHub({ store });
const api = createApiServer({
  store,
  auth: new TokenAuthenticator(),
  version: 'test',
  plugins: [agentApiPlugin(hub)],
});
let agent: ChildProcess | undefined;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Waits for two heartbeats after now: the agent has seen the current desired state and reported on it. */
async function heartbeats(n: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    const since = hub.contact(CLUSTER)?.atMs ?? 0;
    while ((hub.contact(CLUSTER)?.atMs ?? 0) <= since) await sleep(50);
  }
}

before(async () => {
  await api.listen({ port: 0, host: '127.0.0.1' });
  const url = `http://127.0.0.1:${(api.server.address() as AddressInfo).port}`;
  await applyDocuments(
    store,
    parseDocuments(readFileSync(join(ROOT, 'test/fixtures/agent/fleet.yaml'), 'utf8')),
    {},
  );
  const { token } = await createJoinToken(store, { cluster: CLUSTER, now: Date.now() });
  agent = spawn(
    process.execPath,
    [
      join(ROOT, 'src/cli/main.ts'),
      '--server',
      url,
      '--token',
      token,
      'agent',
      '--cluster',
      CLUSTER,
      '--site',
      'alpha-1',
      '--address',
      '127.0.4.1',
      '--api-port',
      '17690',
      '--cpu',
      '2',
      '--memory',
      '2Gi',
      '--arch',
      'amd64',
      '--data',
      join(dir, 'agent'),
      '--heartbeat-seconds',
      '0.2',
    ],
    { detached: true, stdio: 'ignore' },
  );
  await heartbeats(2);
});

after(async () => {
  if (agent?.pid !== undefined) {
    process.kill(-agent.pid, 'SIGTERM');
    await new Promise((r) => agent?.once('exit', r));
  }
  await api.close();
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

runDriverConformance('agent', async () => {
  const driver = hub.driver(CLUSTER);
  // An empty cluster: no workloads left by the previous case, and their processes gone.
  for (const w of await driver.listWorkloads()) await driver.deleteWorkload(w.key);
  await heartbeats(2);
  return {
    driver,
    workloadDefaults: { command: [process.execPath, '-e', 'setInterval(() => {}, 1 << 30)'] },
    async advance(ms) {
      await sleep(ms);
      await heartbeats(2);
    },
    cleanup: () => Promise.resolve(),
  };
});
