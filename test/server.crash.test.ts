// Kill -9 of the real server process in the middle of 200 concurrent applies:
// after a restart on the same data directory every apply that was answered 2xx
// is there, and the store is consistent.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, it } from 'node:test';

const repo = join(import.meta.dirname, '..');
const dataDir = mkdtempSync(join(tmpdir(), 'yunjian-crash-'));
after(() => rmSync(dataDir, { recursive: true, force: true }));

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

async function startServer(port: number): Promise<ChildProcess> {
  const child = spawn(
    process.execPath,
    [
      join(repo, 'src/cli/main.ts'),
      'server',
      '--port',
      String(port),
      '--data',
      dataDir,
      '--fleet',
      'none',
    ],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let output = '';
  child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`server exited early:\n${output}`);
    const ok = await fetch(`http://127.0.0.1:${port}/readyz`)
      .then((r) => r.ok)
      .catch(() => false);
    if (ok) return child;
    await new Promise((r) => setTimeout(r, 100));
  }
  child.kill('SIGKILL');
  throw new Error(`server did not become ready:\n${output}`);
}

const appYaml = (i: number) => `apiVersion: yunjian.io/v1alpha1
kind: Application
metadata: {name: app-${i}, namespace: crash}
spec:
  components: [{name: web, image: "r/app:${i}", replicas: 1}]
`;

it('every acknowledged apply survives kill -9 and the store stays consistent', async () => {
  const port = await freePort();
  let server = await startServer(port);
  const token = readFileSync(join(dataDir, 'admin.token'), 'utf8').trim();
  const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/yaml' };
  const base = `http://127.0.0.1:${port}`;

  const acknowledged: string[] = [];
  let killed = false;
  const requests = Array.from({ length: 200 }, (_, i) =>
    fetch(`${base}/api/v1alpha1/apply`, { method: 'POST', headers, body: appYaml(i) })
      .then(async (res) => {
        await res.arrayBuffer();
        if (res.ok) acknowledged.push(`app-${i}`);
        // Kill mid-way: some applies are answered, some in flight, some not sent.
        if (acknowledged.length === 60 && !killed) {
          killed = true;
          server.kill('SIGKILL');
        }
      })
      .catch(() => undefined),
  );
  await Promise.all(requests);
  assert.ok(killed, `the server was never killed (${acknowledged.length} applies answered)`);
  await new Promise<void>((resolve) =>
    server.exitCode !== null || server.signalCode !== null
      ? resolve()
      : server.once('exit', () => resolve()),
  );

  server = await startServer(port);
  try {
    const list = (await (
      await fetch(`${base}/api/v1alpha1/namespaces/crash/applications`, { headers })
    ).json()) as {
      metadata: { resourceVersion: string };
      items: { metadata: { name: string; resourceVersion: string; uid: string } }[];
    };
    const stored = new Set(list.items.map((i) => i.metadata.name));
    const lost = acknowledged.filter((n) => !stored.has(n));
    assert.deepEqual(lost, [], `acknowledged but lost after kill -9: ${lost.join(', ')}`);
    const rvs = list.items.map((i) => Number(i.metadata.resourceVersion));
    assert.equal(new Set(rvs).size, rvs.length, 'two objects share a resourceVersion');
    assert.equal(
      new Set(list.items.map((i) => i.metadata.uid)).size,
      rvs.length,
      'two objects share a uid',
    );
    assert.ok(
      Math.max(...rvs) <= Number(list.metadata.resourceVersion),
      'an object is newer than the store revision',
    );
    for (const item of list.items) {
      const res = await fetch(
        `${base}/api/v1alpha1/namespaces/crash/applications/${item.metadata.name}`,
        { headers },
      );
      assert.equal(res.status, 200);
    }
    // The revision keeps increasing after recovery: a new write is newer than everything stored.
    const next = (await (
      await fetch(`${base}/api/v1alpha1/apply`, { method: 'POST', headers, body: appYaml(999) })
    ).json()) as {
      items: { resourceVersion: string }[];
    };
    assert.ok(Number(next.items[0]?.resourceVersion) > Number(list.metadata.resourceVersion));
  } finally {
    server.kill('SIGTERM');
    await new Promise((r) => server.once('exit', r));
  }
});
