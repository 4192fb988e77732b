// `POST /api/v1alpha1/kubernetes/join`: the HTTP face of joining an existing
// Kubernetes cluster (drivers/kubernetes/join.ts does the work).
import type { FastifyInstance } from 'fastify';
import {
  JOIN_PATH,
  joinKubernetesCluster,
  KubernetesJoinRequest,
} from '../../drivers/kubernetes/index.ts';
import { bodyValidator } from '../../model/validate.ts';
import type { Store } from '../../store/types.ts';
import type { RouteDoc } from '../openapi.ts';
import type { ApiPlugin } from '../server.ts';

const validJoin = bodyValidator<KubernetesJoinRequest>(KubernetesJoinRequest, 'join request');

const JOIN_DOC: RouteDoc = {
  tags: ['Cluster'],
  summary:
    'Join an existing Kubernetes cluster: checks its API with the given credentials, stores them as a Secret and creates the Cluster',
  body: KubernetesJoinRequest,
  response: { status: 201, description: 'The Cluster created' },
  errors: { '409': 'AlreadyExists', '422': 'Invalid' },
};

export function kubernetesJoinPlugin(store: Store): ApiPlugin {
  return {
    name: 'kubernetes-join',
    register(app: FastifyInstance) {
      app.post(JOIN_PATH, { config: { doc: JOIN_DOC } }, async (request, reply) =>
        reply.code(201).send(await joinKubernetesCluster(store, validJoin(request.body))),
      );
    },
  };
}
