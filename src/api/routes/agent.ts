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
import type { RouteDoc } from '../openapi.ts';
import type { ApiPlugin } from '../server.ts';

const validJoin = bodyValidator<JoinBody>(JoinRequest, 'join request');
const validHeartbeat = bodyValidator<HeartbeatBody>(HeartbeatRequest, 'heartbeat');
const validJoinToken = bodyValidator<JoinTokenBody>(JoinTokenRequest, 'join token request');

const tags = ['Agent'];
const DOCS = {
  join: {
    tags,
    summary:
      'An agent joins (or rejoins) its cluster, with a join token or its cluster credential as bearer',
    body: JoinRequest,
    response: {
      status: 200,
      description: 'The cluster joined, and the per-cluster credential when a join token was used',
    },
    errors: {
      '401': 'Unauthorized: no valid join token or credential',
      '422': 'Invalid',
      '503': 'Unavailable: this control plane is a standby; the agent tries the next',
    },
  },
  heartbeat: {
    tags,
    summary:
      'An agent reports its host and workloads and gets the desired workloads when they changed',
    body: HeartbeatRequest,
    response: { status: 200, description: 'The desired revision, and its workloads when newer' },
    errors: {
      '401': 'Unauthorized: no valid cluster credential',
      '422': 'Invalid',
      '503': 'Unavailable: this control plane is a standby; the agent tries the next',
    },
  },
  createToken: {
    tags,
    summary: 'Create a join token (shown once) for agents to join a cluster with',
    body: JoinTokenRequest,
    bodyOptional: true,
    response: { status: 201, description: 'The token and its name' },
    errors: { '422': 'Invalid' },
  },
  listTokens: {
    tags,
    summary: 'Join tokens (their names and limits, never the token)',
    response: { status: 200, description: '{items: join tokens}' },
  },
  revokeToken: {
    tags,
    summary: 'Revoke a join token',
    response: { status: 200, description: '{revoked: true} or false when there was none' },
  },
  logs: {
    tags: ['Application'],
    summary: "The last lines of an application's replicas' logs, from the agents that run them",
    query: [
      { name: 'component', type: 'string', description: 'Only this component' },
      { name: 'cluster', type: 'string', description: 'Only this cluster' },
      { name: 'tail', type: 'integer', description: 'Lines per replica, 1 to 10000 (100)' },
    ],
    response: { status: 200, description: 'Per replica: its workload, name and lines' },
    errors: { '400': 'BadRequest: tail out of range', '404': 'NotFound' },
  },
} satisfies Record<string, RouteDoc>;

/**
 * `leading` rejects (503) on a standby control plane: the hub that drives an
 * agent's cluster must be the one its heartbeats reach, so agents given every
 * replica move on until they reach the leader's.
 */
export function agentApiPlugin(
  hub: AgentHub,
  leading: () => Promise<void> = () => Promise.resolve(),
): ApiPlugin {
  return {
    name: 'agent',
    publicPaths: [`${AGENT_API_PREFIX}/join`, `${AGENT_API_PREFIX}/heartbeat`],
    register(app: FastifyInstance) {
      app.post(`${AGENT_API_PREFIX}/join`, { config: { doc: DOCS.join } }, async (req) => {
        await leading();
        return hub.join(req.headers.authorization, validJoin(req.body), req.ip);
      });
      app.post(
        `${AGENT_API_PREFIX}/heartbeat`,
        { config: { doc: DOCS.heartbeat } },
        async (req) => {
          await leading();
          return hub.heartbeat(req.headers.authorization, validHeartbeat(req.body));
        },
      );
      app.post(
        `${AGENT_API_PREFIX}/tokens`,
        { config: { doc: DOCS.createToken } },
        async (req, reply) => {
          const created = await createJoinToken(hub.store, {
            ...validJoinToken(req.body ?? {}),
            now: hub.now(),
          });
          return reply.code(201).send(created);
        },
      );
      app.get(`${AGENT_API_PREFIX}/tokens`, { config: { doc: DOCS.listTokens } }, async () => ({
        items: await listJoinTokens(hub.store),
      }));
      app.delete<{ Params: { name: string } }>(
        `${AGENT_API_PREFIX}/tokens/:name`,
        { config: { doc: DOCS.revokeToken } },
        async (req) => ({
          revoked: await revokeJoinToken(hub.store, req.params.name),
        }),
      );
      app.get<{
        Params: { namespace: string; name: string };
        Querystring: { component?: string; cluster?: string; tail?: string };
      }>(
        '/api/v1alpha1/namespaces/:namespace/applications/:name/logs',
        { config: { doc: DOCS.logs } },
        (req) => {
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
        },
      );
    },
  };
}
