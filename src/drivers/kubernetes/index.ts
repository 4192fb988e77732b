// The kubernetes driver: member clusters reached through their real API.
export { KubernetesClusterDriver, type KubernetesDriverOptions } from './driver.ts';
export { connect, loadKubeconfig, type KubeClients, type KubeconfigSource } from './client.ts';
export { KubernetesDriverProvider } from './provider.ts';
export { JOIN_PATH, joinKubernetesCluster, KubernetesJoinRequest, secretNameFor } from './join.ts';
