// `yunjian server --store etcd://...` on a real three-member etcd: the API
// works over etcd, answers 503 (Unavailable, naming the etcd quorum) while two
// members are down, and recovers by itself when they return.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runServer, type RunningServer } from '../src/cmd/server.ts';
import { EtcdCluster, etcdMissing } from './etcd.harness.ts';

const missing = etcdMissing();
const API = '/api/v1alpha1';

void describe('server on a three-member etcd', { skip: missing }, () => {
  let cluster: EtcdCluster;
  let server: RunningServer;
  let headers: Record<string, string>;
  const dataDir = mkdtempSync(join(tmpdir(), 'yunjian-etcd-server-'));

  before(async () => {
    cluster = await EtcdCluster.start(3);
    server = await runServer({
      port: 0,
      host: '127.0.0.1',
      dataDir,
      store: cluster.url,
      etcd: { prefix: '/server-test/' },
      fleet: 'none',
      fleetScale: 1,
      log: () => {},
    });
    const token = readFileSync(server.adminTokenPath, 'utf8').trim();
    headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
  });
  after(async () => {
    await server.close();
    await cluster.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  const createCloud = (name: string) =>
    fetch(`${server.url}${API}/clouds`, {
      method: 'POST',
      headers,
      body: JSON.stringify({
        apiVersion: 'yunjian.io/v1alpha1',
        kind: 'Cloud',
        metadata: { name },
        spec: { vendor: 'aws', type: 'public', displayName: name },
      }),
    });

  void it(
    'serves the API from etcd; 503 naming the quorum with two members down; recovers when they return',
    { timeout: 120_000 },
    async () => {
      const created = await createCloud('first');
      assert.equal(created.status, 201, await created.text());

      await cluster.stopMember(1);
      await cluster.stopMember(2);
      const down = await fetch(`${server.url}${API}/clouds/first`, { headers });
      assert.equal(down.status, 503);
      const body = (await down.json()) as { reason: string; message: string };
      assert.equal(body.reason, 'Unavailable');
      assert.match(body.message, /etcd.*quorum/);

      await cluster.startMember(1);
      await cluster.startMember(2);
      const deadline = Date.now() + 45_000;
      let status = 0;
      while (status !== 201) {
        status = (await createCloud('after')).status;
        if (status !== 201) {
          assert.equal(status, 503);
          assert.ok(Date.now() < deadline, 'the API recovers within 45 s of the members returning');
          await new Promise((resolve) => setTimeout(resolve, 500));
        }
      }
      const list = await fetch(`${server.url}${API}/clouds`, { headers });
      const names = ((await list.json()) as { items: { metadata: { name: string } }[] }).items.map(
        (c) => c.metadata.name,
      );
      assert.deepEqual(names.sort(), ['after', 'first']);
    },
  );
});
