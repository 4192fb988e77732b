// The twin outlives a control-plane restart: what ran keeps running, ready
// replicas stay ready, faults stay in force, and the file holding it is private.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { testWorkload } from '../src/drivers/conformance.ts';
import { persistTwin, SimFleet } from '../src/drivers/sim/index.ts';
import type { Cluster } from '../src/model/schema.ts';

const tmp = mkdtempSync(join(tmpdir(), 'yunjian-twin-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

function cluster(name: string, count: number, cloud = 'aws'): Cluster {
  return {
    apiVersion: 'yunjian.io/v1alpha1',
    kind: 'Cluster',
    metadata: { name },
    spec: {
      cloud,
      site: `${cloud}-site`,
      driver: {
        type: 'sim',
        sim: {
          nodePools: [{ name: 'x86', count, arch: 'amd64', cpu: 4, memory: '16Gi' }],
          startupSeconds: 3,
        },
      },
    },
  };
}

const key = (component: string) => ({ namespace: 'default', app: 'shop', component });

/** A fleet on a fake clock with c1 (web: 3 ready, api: still starting) and c2. */
async function running() {
  const clock = { t: 1_000_000 };
  const fleet = new SimFleet({ now: () => clock.t, apiQps: Infinity });
  fleet.upsertCluster(cluster('c1', 2));
  fleet.upsertCluster(cluster('c2', 1, 'gcp'));
  await fleet.driverFor('c1').applyWorkload(testWorkload({ key: key('web'), replicas: 3 }));
  clock.t += 5000;
  await fleet.driverFor('c1').applyWorkload(testWorkload({ key: key('api'), replicas: 1 }));
  fleet.fail('node', 'c2-x86-0');
  fleet.fail('cloud', 'gcp');
  return { fleet, clock };
}

void describe('sim twin across a control-plane restart', () => {
  void test('running workloads come back as they were: ready ones ready at once', async () => {
    const { fleet, clock } = await running();
    const restarted = new SimFleet({ now: () => clock.t, apiQps: Infinity });
    restarted.restore(fleet.runningState());
    restarted.upsertCluster(cluster('c1', 2));
    restarted.upsertCluster(cluster('c2', 1, 'gcp'));
    const list = await restarted.driverFor('c1').listWorkloads();
    assert.deepEqual(
      list.map((w) => [w.key.component, w.scheduled, w.ready]),
      [
        ['api', 1, 0],
        ['web', 3, 3],
      ],
    );
    clock.t += 3000;
    const later = await restarted.driverFor('c1').listWorkloads();
    assert.deepEqual(
      later.map((w) => w.ready),
      [1, 3],
    );
  });

  void test('faults stay in force with their injection times', async () => {
    const { fleet, clock } = await running();
    const restarted = new SimFleet({ now: () => clock.t });
    restarted.restore(fleet.runningState());
    restarted.upsertCluster(cluster('c1', 2));
    restarted.upsertCluster(cluster('c2', 1, 'gcp'));
    assert.deepEqual(restarted.faults(), fleet.faults());
    assert.equal((await restarted.driverFor('c2').inventory()).reachable, false);
  });

  void test('restoring into a fleet that already has clusters is refused', async () => {
    const { fleet } = await running();
    assert.throws(() => fleet.restore(fleet.runningState()), /before adding clusters/);
  });

  void test('the file is written mode 0600 and read back by the next start', async () => {
    const { fleet, clock } = await running();
    const path = join(tmp, 'twin.json');
    const lines: string[] = [];
    const saved = persistTwin(fleet, path, { log: (l) => lines.push(l) });
    await saved.stop();
    assert.equal(statSync(path).mode & 0o777, 0o600);

    const next = new SimFleet({ now: () => clock.t, apiQps: Infinity });
    const reopened = persistTwin(next, path, { log: (l) => lines.push(l) });
    next.upsertCluster(cluster('c1', 2));
    const list = await next.driverFor('c1').listWorkloads();
    assert.deepEqual(
      list.map((w) => w.ready),
      [0, 3],
    );
    await reopened.stop();
    assert.deepEqual(lines, []);
  });

  void test('an unreadable file is reported and the twin starts empty', async () => {
    const path = join(tmp, 'broken.json');
    writeFileSync(path, '{"clusters": 1');
    const lines: string[] = [];
    const fleet = new SimFleet();
    const p = persistTwin(fleet, path, { log: (l) => lines.push(l) });
    fleet.upsertCluster(cluster('c1', 1));
    assert.deepEqual(await fleet.driverFor('c1').listWorkloads(), []);
    await p.stop();
    assert.equal(lines.length, 1);
    assert.match(lines[0]!, /ignoring .*broken\.json/);
  });
});
