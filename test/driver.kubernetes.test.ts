// The shared driver conformance suite against the kubernetes driver and a real
// kube-apiserver (v1.20, built from Debian's source package) on loopback. No
// kubelet runs: each step of "time passing" is one pass of the harness playing
// the deployment controller, scheduler and kubelet through the real API.
import { after, test } from 'node:test';
import { runDriverConformance } from '../src/drivers/conformance.ts';
import { KubernetesClusterDriver } from '../src/drivers/kubernetes/index.ts';
import {
  TestCluster,
  addNodes,
  missingComponents,
  playKubelet,
  removeOwned,
} from './kubernetes.harness.ts';

const missing = missingComponents();

if (missing !== undefined && process.env['CI'] !== 'true') {
  test('kubernetes driver conformance', (t) => t.skip(missing));
} else {
  let cluster: Promise<TestCluster> | undefined;
  const started = async (): Promise<TestCluster> => {
    if (missing !== undefined) throw new Error(`CI needs a real kube-apiserver: ${missing}`);
    cluster ??= (async () => {
      const c = await TestCluster.start('conformance');
      // Mixed architectures without riscv64, so architecture filtering is exercised.
      await addNodes(c.clients(), [
        { name: 'x86-1', arch: 'amd64', cpu: '4', memory: '16Gi', zone: 'lab-a' },
        { name: 'x86-2', arch: 'amd64', cpu: '4', memory: '16Gi', zone: 'lab-b' },
        { name: 'arm-1', arch: 'arm64', cpu: '8', memory: '32Gi', pods: 20, zone: 'lab-a' },
      ]);
      return c;
    })();
    return cluster;
  };
  after(async () => {
    if (cluster) (await cluster).stopSync();
  });

  runDriverConformance('kubernetes', async () => {
    const c = await started();
    const clients = c.clients();
    await removeOwned(clients);
    await playKubelet(clients);
    const driver = new KubernetesClusterDriver({
      source: () =>
        Promise.resolve({ kubeconfig: c.kubeconfig, origin: `file ${c.kubeconfigPath}` }),
    });
    return {
      driver,
      advance: async (ms: number) => {
        await playKubelet(clients);
        // Lets the driver's watches deliver what the pass changed.
        await new Promise((resolve) => setTimeout(resolve, Math.min(ms, 300)));
      },
      cleanup: async () => {
        await driver.close();
        await removeOwned(clients);
        await playKubelet(clients);
      },
    };
  });
}
