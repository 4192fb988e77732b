// The store conformance suite, unchanged, on real etcd clusters of one and
// three members (scripts/etcd.sh). Each case gets a fresh key prefix on the
// file's cluster, which is a fresh, empty store.
import { randomUUID } from 'node:crypto';
import { after, before } from 'node:test';
import { runStoreConformance } from '../src/store/conformance/index.ts';
import { openEtcdStore } from '../src/store/index.ts';
import { EtcdCluster, etcdMissing } from './etcd.harness.ts';

// A small event window so the conformance suite reaches compaction quickly;
// still well above what its concurrent-watch case needs to stay retained.
const RETENTION = 1000;

const missing = etcdMissing();
const clusters = new Map<number, EtcdCluster>();

if (missing === undefined) {
  before(async () => {
    for (const members of [1, 3]) clusters.set(members, await EtcdCluster.start(members));
  });
  after(async () => {
    for (const c of clusters.values()) await c.stop();
  });
  for (const members of [1, 3]) {
    runStoreConformance(`etcd, ${members} member${members > 1 ? 's' : ''}`, () => {
      const cluster = clusters.get(members)!;
      const store = openEtcdStore({
        endpoints: cluster.endpoints,
        prefix: `/t-${randomUUID()}/`,
        eventRetention: RETENTION,
        compactionIntervalMs: 0,
      });
      return Promise.resolve({ store, cleanup: () => store.close() });
    });
  }
} else {
  void import('node:test').then(({ test }) => test('etcd store conformance', { skip: missing }));
}
