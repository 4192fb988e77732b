// The shared driver conformance suite against the sim driver, on a small mixed
// cluster (amd64 and arm64, no riscv64, so architecture filtering is exercised)
// under a fake clock.
import { runDriverConformance } from '../src/drivers/conformance.ts';
import { SimFleet } from '../src/drivers/sim/index.ts';
import type { Cluster } from '../src/model/schema.ts';

const cluster: Cluster = {
  apiVersion: 'yunjian.io/v1alpha1',
  kind: 'Cluster',
  metadata: { name: 'conformance-1' },
  spec: {
    cloud: 'lab',
    site: 'lab-1',
    driver: {
      type: 'sim',
      sim: {
        nodePools: [
          { name: 'x86', count: 2, arch: 'amd64', cpu: 4, memory: '16Gi' },
          { name: 'arm', count: 1, arch: 'arm64', cpu: '8', memory: '32Gi', maxPods: 20 },
        ],
        startupSeconds: 3,
      },
    },
  },
};

runDriverConformance('sim', () => {
  let clock = 1_700_000_000_000;
  const fleet = new SimFleet({ now: () => clock });
  fleet.upsertCluster(cluster);
  return Promise.resolve({
    driver: fleet.driverFor('conformance-1'),
    advance: (ms: number) => {
      clock += ms;
      return Promise.resolve();
    },
    cleanup: () => Promise.resolve(),
  });
});
