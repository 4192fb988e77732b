// `GET .../applications/{name}/explain`: why an application is placed where
// it is: the scheduler's verdict on every cloud and cluster, per component, on
// the snapshot the application controller places it on (controllers/snapshot.ts).
import type { FastifyInstance } from 'fastify';
import { explainApplication } from '../../controllers/snapshot.ts';
import type { Application, Cloud, Cluster, Site } from '../../model/schema.ts';
import type { Store } from '../../store/types.ts';
import type { RouteDoc } from '../openapi.ts';
import type { ApiPlugin, ClusterNodes } from '../server.ts';
import { BASE } from './resources.ts';

const EXPLAIN_DOC: RouteDoc = {
  tags: ['Application'],
  summary:
    'Why the application is placed where it is: per component, each cloud and cluster chosen or rejected, with reasons and scores',
  response: { status: 200, description: 'PlacementExplanation (model/explanation.ts)' },
  errors: { '404': 'NotFound' },
};

/** `nodes`: the drivers' node lists; without it nodes are derived from cluster status. */
export function explainRoutes(store: Store, nodes: ClusterNodes | undefined): ApiPlugin {
  return {
    name: 'explain',
    register(app: FastifyInstance) {
      app.get<{ Params: { namespace: string; name: string } }>(
        `${BASE}/namespaces/:namespace/applications/:name/explain`,
        { config: { doc: EXPLAIN_DOC } },
        async (request) => {
          const { namespace, name } = request.params;
          const application = (await store.get({
            kind: 'Application',
            namespace,
            name,
          })) as unknown as Application;
          const [clusters, sites, clouds] = await Promise.all(
            ['Cluster', 'Site', 'Cloud'].map(async (kind) => (await store.list(kind)).items),
          );
          return explainApplication(
            application,
            {
              clusters: clusters as unknown as Cluster[],
              sites: sites as unknown as Site[],
              clouds: clouds as unknown as Cloud[],
              ...(nodes ? { nodes } : {}),
            },
            Date.now(),
          );
        },
      );
    },
  };
}
