// One open connection to a member cluster: its API clients and the caches of
// nodes, pods and our own Deployments and Services, kept by watches.
import type { V1Deployment, V1Node, V1Pod, V1Service } from '@kubernetes/client-node';
import type { YunjianError } from '../../model/errors.ts';
import { connect, toDriverError, type KubeClients, type KubeconfigSource } from './client.ts';
import { OWNED_SELECTOR } from './manifests.ts';
import { Reflector } from './reflector.ts';

export interface Connection {
  clients: KubeClients;
  /** The kubeconfig and context it was opened with (sourceKey). */
  source: string;
  nodes: Reflector<V1Node>;
  pods: Reflector<V1Pod>;
  deployments: Reflector<V1Deployment>;
  services: Reflector<V1Service>;
  /** The last watch failure not yet followed by a successful re-list. */
  watchError: YunjianError | undefined;
}

/** What identifies a kubeconfig source's content (not where it came from). */
export function sourceKey(s: KubeconfigSource): string {
  return JSON.stringify([s.kubeconfig, s.context ?? null]);
}

/**
 * Opens the clients and the four caches of one kubeconfig; the caller starts
 * them, so a driver closed meanwhile never starts a watch.
 */
export function openConnection(source: KubeconfigSource): Connection {
  const clients = connect(source);
  // The hooks run only after the caches start, by when `c` exists.
  const hooks = {
    watch: clients.watch,
    onError: (err: unknown) => {
      c.watchError = toDriverError(err, clients, 'watch');
    },
    onSynced: () => {
      c.watchError = undefined;
    },
  };
  // Every running pod, ours or not: other tenants' pods take node capacity too.
  const livePods = 'status.phase!=Succeeded,status.phase!=Failed';
  const c: Connection = {
    clients,
    source: sourceKey(source),
    watchError: undefined,
    nodes: new Reflector<V1Node>({
      ...hooks,
      path: '/api/v1/nodes',
      list: () => clients.core.listNode(),
    }),
    pods: new Reflector<V1Pod>({
      ...hooks,
      path: '/api/v1/pods',
      fieldSelector: livePods,
      list: () => clients.core.listPodForAllNamespaces({ fieldSelector: livePods }),
    }),
    deployments: new Reflector<V1Deployment>({
      ...hooks,
      path: '/apis/apps/v1/deployments',
      labelSelector: OWNED_SELECTOR,
      list: () => clients.apps.listDeploymentForAllNamespaces({ labelSelector: OWNED_SELECTOR }),
    }),
    services: new Reflector<V1Service>({
      ...hooks,
      path: '/api/v1/services',
      labelSelector: OWNED_SELECTOR,
      list: () => clients.core.listServiceForAllNamespaces({ labelSelector: OWNED_SELECTOR }),
    }),
  };
  return c;
}
