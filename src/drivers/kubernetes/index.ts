// The kubernetes driver: member clusters reached through their real API.
export { KubernetesClusterDriver, type KubernetesDriverOptions } from './driver.ts';
export { connect, loadKubeconfig, type KubeClients, type KubeconfigSource } from './client.ts';
