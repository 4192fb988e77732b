// `GET|POST /api/v1alpha1/chaos`: the faults injected into a simulated fleet,
// and failing or recovering one of its clouds, sites, clusters or nodes.
import type { FastifyInstance } from 'fastify';
import { BadRequestError, ValidationError, type FieldCause } from '../../model/errors.ts';
import type { RouteDoc } from '../openapi.ts';
import type { ApiPlugin } from '../server.ts';
import { BASE } from './resources.ts';

export type ChaosScope = 'cloud' | 'site' | 'cluster' | 'node';
const SCOPES: readonly ChaosScope[] = ['cloud', 'site', 'cluster', 'node'];

/** What the API needs from whatever can inject faults (the sim fleet today). */
export interface ChaosTarget {
  fail(scope: ChaosScope, name: string): unknown;
  recover(scope: ChaosScope, name: string): unknown;
  faults(): unknown[];
}

const CHAOS_REQUEST = {
  type: 'object',
  additionalProperties: false,
  required: ['action', 'scope', 'name'],
  properties: {
    action: { enum: ['fail', 'recover'] },
    scope: { enum: SCOPES },
    name: { type: 'string', minLength: 1 },
  },
};

const LIST_DOC: RouteDoc = {
  tags: ['Chaos'],
  summary: 'The faults injected now',
  response: { status: 200, description: '{items: faults}' },
};
const INJECT_DOC: RouteDoc = {
  tags: ['Chaos'],
  summary: 'Fail or recover a simulated cloud, site, cluster or node',
  body: CHAOS_REQUEST,
  response: { status: 200, description: 'What was affected' },
  errors: {
    '400': 'BadRequest: this server has no simulated fleet',
    '422': 'Invalid: action, scope or name',
  },
};

/** `chaos`: the simulated fleet, absent on a server that has none. */
export function chaosRoutes(chaos: ChaosTarget | undefined): ApiPlugin {
  return {
    name: 'chaos',
    register(app: FastifyInstance) {
      app.get(`${BASE}/chaos`, { config: { doc: LIST_DOC } }, async () => ({
        items: chaos?.faults() ?? [],
      }));
      app.post<{ Body: unknown }>(
        `${BASE}/chaos`,
        { config: { doc: INJECT_DOC } },
        async (request) => {
          if (!chaos)
            throw new BadRequestError('this server has no simulated fleet to inject faults into');
          const body = request.body as Record<string, unknown> | null;
          const causes: FieldCause[] = [];
          const action = body?.['action'];
          const scope = body?.['scope'];
          const name = body?.['name'];
          if (action !== 'fail' && action !== 'recover')
            causes.push({
              field: 'action',
              message: `expected fail or recover, got ${JSON.stringify(action)}`,
            });
          if (!SCOPES.includes(scope as ChaosScope))
            causes.push({
              field: 'scope',
              message: `expected one of ${SCOPES.join(', ')}, got ${JSON.stringify(scope)}`,
            });
          if (typeof name !== 'string' || name === '')
            causes.push({ field: 'name', message: 'expected a non-empty name' });
          if (causes.length > 0) throw new ValidationError('chaos request', causes);
          return action === 'fail'
            ? chaos.fail(scope as ChaosScope, name as string)
            : chaos.recover(scope as ChaosScope, name as string);
        },
      );
    },
  };
}
