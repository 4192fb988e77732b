// `GET /api/v1alpha1/clusters/{name}/nodes`: the nodes of one cluster as its
// driver lists them now (NodeStatus, drivers/types.ts), for `yunjian get
// nodes`. Authorized as a read of the cluster: a principal that sees only
// some clusters sees the nodes of those only.
import type { FastifyInstance } from 'fastify';
import { UnavailableError } from '../../model/errors.ts';
import { API_VERSION, type Cluster } from '../../model/schema.ts';
import type { Store } from '../../store/types.ts';
import type { RouteDoc } from '../openapi.ts';
import type { ApiPlugin, ClusterNodes } from '../server.ts';
import { BASE } from './resources.ts';

export const NODES_PATH = `${BASE}/clusters/:name/nodes`;

const NODES_DOC: RouteDoc = {
  tags: ['Cluster'],
  summary: "A cluster's nodes with capacity and allocation, as its driver lists them now",
  response: {
    status: 200,
    description:
      'NodeList: items are NodeStatus (name, arch, healthy, gpuModel?, zone?, labels?, capacity, allocated), sorted by name',
  },
  errors: {
    '404': 'NotFound: no such cluster',
    '503': 'Unavailable: the cluster has no driver yet (no agent joined) or it did not answer',
  },
};

/** `nodes`: the drivers' node lists (controllers/snapshot.ts driverNodes); absent, every cluster is 503. */
export function nodeRoutes(store: Store, nodes: ClusterNodes | undefined): ApiPlugin {
  return {
    name: 'nodes',
    register(app: FastifyInstance) {
      app.get<{ Params: { name: string } }>(
        NODES_PATH,
        { config: { doc: NODES_DOC } },
        async (request) => {
          const { name } = request.params;
          const cluster = (await store.get({ kind: 'Cluster', name })) as unknown as Cluster;
          const listed = await nodes?.(cluster);
          if (listed === undefined)
            throw new UnavailableError(
              `cluster "${name}" lists no nodes now: it has no driver yet (no agent joined) or its driver did not answer; retry`,
              { kind: 'Cluster', name },
            );
          return {
            apiVersion: API_VERSION,
            kind: 'NodeList',
            items: [...listed].sort((a, b) => a.name.localeCompare(b.name)),
          };
        },
      );
    },
  };
}
