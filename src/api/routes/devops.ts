// `POST /api/v1alpha1/devops/events`: the DevOps webhook. CloudEvents
// (structured mode), GitHub and GitLab payloads become delivery records
// (insights/delivery). It is a public path for the admin-token check: each
// team authenticates with its own webhook secret, kept as the Secret
// `devops-webhook.TEAM` (type webhook, sealed at rest like every Secret), as
// an HMAC-SHA256 signature of the body (X-Hub-Signature-256), GitLab's
// X-Gitlab-Token, or a bearer token. The body is read as text so the
// signature is checked on the bytes that were sent, before it is parsed.
import type { FastifyInstance } from 'fastify';
import { checkDepth } from '../../admission/apply.ts';
import { ingest, MAX_EVENTS_PER_REQUEST } from '../../insights/delivery/ingest.ts';
import type { DeliveryTelemetry } from '../../insights/delivery/prometheus.ts';
import { authenticWebhook, parseWebhook } from '../../insights/delivery/webhook.ts';
import type { Tenant } from '../../model/access.ts';
import {
  BadRequestError,
  ForbiddenError,
  NotFoundError,
  UnauthorizedError,
  ValidationError,
} from '../../model/errors.ts';
import { DEFAULT_NAMESPACE } from '../../model/kinds.ts';
import type { Secret } from '../../model/schema.ts';
import type { Store } from '../../store/types.ts';
import type { RouteDoc } from '../openapi.ts';
import type { ApiPlugin } from '../server.ts';
import { BASE } from './resources.ts';

export const DEVOPS_EVENTS_PATH = `${BASE}/devops/events`;
/** The Secret holding a team's webhook secret. */
export const webhookSecretName = (team: string) => `devops-webhook.${team}`;
/** A team in the webhook's query: a DNS label, so its Secret's name is valid. */
const TEAM_PATTERN = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

const DOC: RouteDoc = {
  tags: ['Delivery'],
  summary:
    'DevOps webhook: CloudEvents (structured), GitHub (push, workflow_run, issues) and GitLab (Push, Pipeline, Issue Hook) events become delivery records; idempotent on event id',
  query: [
    {
      name: 'team',
      type: 'string',
      description: 'the team whose webhook secret signs the request (required)',
    },
    {
      name: 'namespace',
      type: 'string',
      description:
        "where the records go: one of the team's tenant namespaces (default its first, else default)",
    },
    {
      name: 'app',
      type: 'string',
      description: 'the application the events belong to (default: the repository name)',
    },
    {
      name: 'environment',
      type: 'string',
      description: 'the environment of deployments and incidents',
    },
  ],
  response: {
    status: 202,
    description:
      'Record names: created, completed (a build finished, an incident resolved) and duplicates ignored',
  },
  errors: {
    '400': 'BadRequest: not JSON, no team, or an unknown X-GitHub-Event / X-Gitlab-Event',
    '401': "Unauthorized: no valid signature or token for the team's webhook secret",
    '403': 'Forbidden: the namespace is not one the team may write to',
    '422': 'Invalid: a field of the payload, named with its path',
  },
};

interface Query {
  team?: string;
  namespace?: string;
  app?: string;
  environment?: string;
}

export function devopsRoutes(store: Store, telemetry?: DeliveryTelemetry): ApiPlugin {
  return {
    name: 'devops',
    publicPaths: [DEVOPS_EVENTS_PATH],
    register(app: FastifyInstance) {
      // Its own context: the raw text of every content type (JSON, CloudEvents JSON).
      void app.register(async (child) => {
        child.removeAllContentTypeParsers();
        child.addContentTypeParser('*', { parseAs: 'string' }, (_req, body, done) =>
          done(null, body),
        );
        child.post<{ Querystring: Query; Body: string }>(
          DEVOPS_EVENTS_PATH,
          { config: { doc: DOC } },
          async (request, reply) => {
            const { team, app: appName, environment } = request.query;
            if (team === undefined || !TEAM_PATTERN.test(team))
              throw new BadRequestError(
                'team: expected the team as a DNS label in the query (?team=payments)',
                { causes: [{ field: 'team', message: 'expected a DNS label (a-z, 0-9, "-")' }] },
              );
            const secret = await store
              .get({ kind: 'Secret', name: webhookSecretName(team) })
              .catch((err: unknown) => {
                if (err instanceof NotFoundError) return undefined;
                throw err;
              });
            const raw = typeof request.body === 'string' ? request.body : '';
            if (
              secret === undefined ||
              (secret as unknown as Secret).spec.type !== 'webhook' ||
              !authenticWebhook(
                request.headers,
                Buffer.from(raw),
                (secret as unknown as Secret).spec.data,
              )
            )
              throw new UnauthorizedError(
                `unauthorized: no valid signature or token for team "${team}"'s webhook secret`,
              );
            const namespace = await namespaceFor(store, team, request.query.namespace);
            let body: unknown;
            try {
              body = JSON.parse(raw);
            } catch (err) {
              throw new BadRequestError(`the body is not JSON: ${(err as Error).message}`);
            }
            checkDepth(body, 'the request body');
            const specs = parseWebhook(request.headers, body, {
              team,
              ...(appName !== undefined ? { app: appName } : {}),
              ...(environment !== undefined ? { environment } : {}),
            });
            if (specs.length > MAX_EVENTS_PER_REQUEST)
              throw new ValidationError('webhook payload', [
                {
                  field: 'commits',
                  message: `expected at most ${MAX_EVENTS_PER_REQUEST} events in one request`,
                },
              ]);
            const result = await ingest(store, namespace, team, specs, (r) =>
              telemetry?.deployment(r),
            );
            return reply.code(202).send(result);
          },
        );
      });
    },
  };
}

/**
 * The team's namespace. A team that is a tenant writes into its tenant's
 * namespaces (the first by default); another team into its own-named
 * namespace or `default`, so no secret lets a team into another's records.
 */
async function namespaceFor(
  store: Store,
  team: string,
  asked: string | undefined,
): Promise<string> {
  const tenant = (await store.list('Tenant')).items.find((t) => t.metadata.name === team) as
    Tenant | undefined;
  const allowed = tenant?.spec.namespaces ?? [DEFAULT_NAMESPACE, team];
  if (asked === undefined) return allowed[0] ?? DEFAULT_NAMESPACE;
  if (!allowed.includes(asked))
    throw new ForbiddenError(
      `forbidden: team "${team}" may write to namespaces ${allowed.join(', ')}, not "${asked}"`,
    );
  return asked;
}
