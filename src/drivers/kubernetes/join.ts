// `POST /api/v1alpha1/kubernetes/join`: registers an existing Kubernetes
// cluster as a member. Ordering matters: the kubeconfig is parsed and the
// cluster probed before anything is stored, so a typo or a revoked token is
// reported at once and leaves nothing behind; the Secret is written before the
// Cluster so the controllers never see a Cluster whose credentials are missing.
import Type, { type Static } from 'typebox';
import { admit } from '../../admission/apply.ts';
import {
  AlreadyExistsError,
  ForbiddenError,
  NotFoundError,
  UnauthorizedError,
  ValidationError,
  type YunjianError,
} from '../../model/errors.ts';
import { API_VERSION, Name, type Site } from '../../model/schema.ts';
import { CLUSTER_LABEL } from '../../model/wellknown.ts';
import type { Store } from '../../store/types.ts';
import { call, connect, toDriverError } from './client.ts';

export const JOIN_PATH = '/api/v1alpha1/kubernetes/join';

export const KubernetesJoinRequest = Type.Object(
  {
    name: Name,
    site: Name,
    zone: Type.Optional(Name),
    kubeconfig: Type.String({ minLength: 1, 'x-expected': 'the kubeconfig document' }),
    context: Type.Optional(Type.String({ minLength: 1 })),
  },
  { additionalProperties: false },
);
export type KubernetesJoinRequest = Static<typeof KubernetesJoinRequest>;

export function secretNameFor(cluster: string): string {
  return `${cluster}-kubeconfig`;
}

/** Checks that the cluster answers and accepts the credentials; returns its node count. */
async function probe(req: KubernetesJoinRequest, origin: string): Promise<number> {
  const clients = connect({
    kubeconfig: req.kubeconfig,
    origin,
    ...(req.context !== undefined ? { context: req.context } : {}),
  });
  try {
    const nodes = await call(clients, 'list Nodes', () => clients.core.listNode(), {
      attempts: 2,
    });
    return nodes.items.length;
  } catch (err) {
    const y: YunjianError = toDriverError(err, clients, 'list Nodes');
    // The member refused our credentials: a problem with the request, not with
    // this API's caller, so it must not read as our own 401/403.
    if (y instanceof UnauthorizedError || y instanceof ForbiddenError)
      throw new ValidationError('join request', [{ field: 'kubeconfig', message: y.message }]);
    throw y;
  }
}

export async function joinKubernetesCluster(
  store: Store,
  req: KubernetesJoinRequest,
): Promise<{ cluster: unknown; nodes: number }> {
  let site: Site;
  try {
    site = (await store.get({ kind: 'Site', name: req.site })) as unknown as Site;
  } catch (err) {
    if (!(err instanceof NotFoundError)) throw err;
    throw new ValidationError('join request', [
      {
        field: 'site',
        message: `expected an existing Site, but site "${req.site}" does not exist`,
      },
    ]);
  }
  try {
    await store.get({ kind: 'Cluster', name: req.name });
    throw new AlreadyExistsError(`cluster "${req.name}" already exists`, {
      kind: 'Cluster',
      name: req.name,
    });
  } catch (err) {
    if (!(err instanceof NotFoundError)) throw err;
  }
  const secretName = secretNameFor(req.name);
  const nodes = await probe(req, `join request for ${req.name}`);
  const secret = admit(
    {
      apiVersion: API_VERSION,
      kind: 'Secret',
      metadata: { name: secretName, labels: { [CLUSTER_LABEL]: req.name } },
      spec: { type: 'kubeconfig', data: req.kubeconfig },
    },
    'secret',
  );
  const cluster = admit(
    {
      apiVersion: API_VERSION,
      kind: 'Cluster',
      metadata: { name: req.name },
      spec: {
        cloud: site.spec.cloud,
        site: req.site,
        ...(req.zone !== undefined ? { zone: req.zone } : {}),
        driver: {
          type: 'kubernetes',
          kubernetes: {
            kubeconfigSecret: secretName,
            ...(req.context !== undefined ? { context: req.context } : {}),
          },
        },
      },
    },
    'cluster',
  );
  // A secret left by an earlier join whose Cluster was deleted is replaced.
  await store.delete({ kind: 'Secret', name: secretName }).catch((err: unknown) => {
    if (!(err instanceof NotFoundError)) throw err;
  });
  await store.create(secret);
  const created = await store.create(cluster);
  return { cluster: created, nodes };
}
