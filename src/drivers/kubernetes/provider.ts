// Kubernetes drivers for the controllers, one per Cluster with
// `spec.driver.type: kubernetes`. The kubeconfig is read when the driver first
// connects (from the store's Secret or a file), so driverFor() stays
// synchronous; a changed driver config replaces the driver.
import { readFile } from 'node:fs/promises';
import { NotFoundError, ValidationError } from '../../model/errors.ts';
import type { Cluster, Secret } from '../../model/schema.ts';
import type { Store } from '../../store/types.ts';
import type { ClusterDriver } from '../types.ts';
import type { KubeconfigSource } from './client.ts';
import { KubernetesClusterDriver } from './driver.ts';

type KubernetesConfig = NonNullable<Cluster['spec']['driver']['kubernetes']>;

/** Where the cluster's kubeconfig comes from; errors name the Cluster field to fix. */
export async function kubeconfigSource(
  store: Store,
  clusterName: string,
  config: KubernetesConfig | undefined,
): Promise<KubeconfigSource> {
  const context = config?.context !== undefined ? { context: config.context } : {};
  if (config?.kubeconfigSecret !== undefined) {
    const name = config.kubeconfigSecret;
    let secret: Secret;
    try {
      secret = (await store.get({ kind: 'Secret', name })) as unknown as Secret;
    } catch (err) {
      if (!(err instanceof NotFoundError)) throw err;
      throw new ValidationError(`cluster ${clusterName}`, [
        {
          field: 'spec.driver.kubernetes.kubeconfigSecret',
          message: `expected the name of an existing Secret, but secret "${name}" does not exist`,
        },
      ]);
    }
    return { kubeconfig: secret.spec.data, origin: `secret ${name}`, ...context };
  }
  if (config?.kubeconfigPath !== undefined) {
    const path = config.kubeconfigPath;
    try {
      return { kubeconfig: await readFile(path, 'utf8'), origin: `file ${path}`, ...context };
    } catch (err) {
      throw new ValidationError(`cluster ${clusterName}`, [
        {
          field: 'spec.driver.kubernetes.kubeconfigPath',
          message: `expected a readable kubeconfig file: ${(err as Error).message}`,
        },
      ]);
    }
  }
  throw new ValidationError(`cluster ${clusterName}`, [
    {
      field: 'spec.driver.kubernetes',
      message: 'expected kubeconfigSecret or kubeconfigPath (yunjian cluster join sets the secret)',
    },
  ]);
}

export class KubernetesDriverProvider {
  private readonly store: Store;
  private readonly drivers = new Map<string, { config: string; driver: KubernetesClusterDriver }>();

  constructor(store: Store) {
    this.store = store;
  }

  driverFor(cluster: Cluster): ClusterDriver {
    const name = cluster.metadata.name;
    const cfg = cluster.spec.driver.kubernetes;
    const fingerprint = JSON.stringify(cfg ?? {});
    const known = this.drivers.get(name);
    if (known?.config === fingerprint) return known.driver;
    if (known) void known.driver.close();
    const driver = new KubernetesClusterDriver({
      source: () => kubeconfigSource(this.store, name, cfg),
    });
    this.drivers.set(name, { config: fingerprint, driver });
    return driver;
  }

  forget(clusterName: string): void {
    const known = this.drivers.get(clusterName);
    this.drivers.delete(clusterName);
    if (known) void known.driver.close();
  }

  async close(): Promise<void> {
    const all = [...this.drivers.values()];
    this.drivers.clear();
    await Promise.all(all.map((d) => d.driver.close()));
  }
}
