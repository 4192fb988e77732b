// The agent hub's API routes. Join and heartbeat authenticate with a join token
// or agent credential (checked by the hub), so they are public paths to the
// admin-token check; token management and logs need the admin token.
import type { FastifyInstance } from 'fastify';
import {
  AGENT_API_PREFIX,
  HeartbeatRequest,
  JoinRequest,
  type HeartbeatRequest as HeartbeatBody,
  type JoinRequest as JoinBody,
} from '../../agent/protocol.ts';
import {
  type AgentHub,
  createJoinToken,
  listJoinTokens,
  revokeJoinToken,
} from '../../drivers/agent/index.ts';
import { BadRequestError } from '../../model/errors.ts';
import { JoinTokenRequest, type JoinTokenRequest as JoinTokenBody } from '../../model/schema.ts';
import { bodyValidator } from '../../model/validate.ts';
import type { ApiPlugin } from '../server.ts';

const validJoin = bodyValidator<JoinBody>(JoinRequest, 'join request');
const validHeartbeat = bodyValidator<HeartbeatBody>(HeartbeatRequest, 'heartbeat');
const validJoinToken = bodyValidator<JoinTokenBody>(JoinTokenRequest, 'join token request');

export function agentApiPlugin(hub: AgentHub): ApiPlugin {
  return {
    name: 'agent',
    publicPaths: [`${AGENT_API_PREFIX}/join`, `${AGENT_API_PREFIX}/heartbeat`],
    register(app: FastifyInstance) {
      app.post(`${AGENT_API_PREFIX}/join`, (req) =>
        hub.join(req.headers.authorization, validJoin(req.body), req.ip),
      );
      app.post(`${AGENT_API_PREFIX}/heartbeat`, (req) =>
        hub.heartbeat(req.headers.authorization, validHeartbeat(req.body)),
      );
      app.post(`${AGENT_API_PREFIX}/tokens`, async (req, reply) => {
        const created = await createJoinToken(hub.store, {
          ...validJoinToken(req.body ?? {}),
          now: hub.now(),
        });
        return reply.code(201).send(created);
      });
      app.get(`${AGENT_API_PREFIX}/tokens`, async () => ({
        items: await listJoinTokens(hub.store),
      }));
      app.delete<{ Params: { name: string } }>(`${AGENT_API_PREFIX}/tokens/:name`, async (req) => ({
        revoked: await revokeJoinToken(hub.store, req.params.name),
      }));
      app.get<{
        Params: { namespace: string; name: string };
        Querystring: { component?: string; cluster?: string; tail?: string };
      }>('/api/v1alpha1/namespaces/:namespace/applications/:name/logs', (req) => {
        const tail = req.query.tail === undefined ? 100 : Number(req.query.tail);
        if (!Number.isInteger(tail) || tail < 1 || tail > 10_000)
          throw new BadRequestError(
            `tail: expected an integer from 1 to 10000, got "${req.query.tail ?? ''}"`,
          );
        return hub.logs({
          namespace: req.params.namespace,
          app: req.params.name,
          tail,
          ...(req.query.component !== undefined ? { component: req.query.component } : {}),
          ...(req.query.cluster !== undefined ? { cluster: req.query.cluster } : {}),
        });
      });
    },
  };
}
