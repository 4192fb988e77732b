// The DevOps webhook's payloads, turned into delivery record specs: CloudEvents
// in structured mode (our own io.yunjian.devops.* types and the CDEvents
// types that mean the same), GitHub's push, workflow_run and issues events,
// and GitLab's Push, Pipeline and Issue hooks, told apart by their headers.
// Pure: headers and a parsed body in, specs out, or a ValidationError naming
// the field and what was expected; authentication (signature or team token)
// is checked here too, on the raw bytes, before anything is parsed.
import { createHmac, timingSafeEqual } from 'node:crypto';
import { BadRequestError, ValidationError, type FieldCause } from '../../model/errors.ts';
import type { DeliveryEventSpec, DeliveryEventType } from '../../model/schema.ts';

export type WebhookHeaders = Record<string, string | string[] | undefined>;

/** What the request's query adds: the team (required), and app and environment defaults. */
export interface WebhookContext {
  team: string;
  app?: string;
  environment?: string;
}

export const SIGNATURE_HEADER = 'x-hub-signature-256';
export const GITLAB_TOKEN_HEADER = 'x-gitlab-token';

const header = (h: WebhookHeaders, name: string): string | undefined => {
  const v = h[name];
  return Array.isArray(v) ? v[0] : v;
};

function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/**
 * Whether the request proves it knows the team's secret: an HMAC-SHA256 of
 * the body (GitHub's `X-Hub-Signature-256: sha256=HEX`), GitLab's
 * `X-Gitlab-Token`, or `Authorization: Bearer SECRET`.
 */
export function authenticWebhook(headers: WebhookHeaders, body: Buffer, secret: string): boolean {
  const signature = header(headers, SIGNATURE_HEADER);
  if (signature !== undefined) {
    const expected = `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
    return sameSecret(signature.toLowerCase(), expected);
  }
  const token =
    header(headers, GITLAB_TOKEN_HEADER) ??
    /^Bearer (.+)$/i.exec(header(headers, 'authorization') ?? '')?.[1];
  return token !== undefined && sameSecret(token, secret);
}

export function signBody(body: string | Buffer, secret: string): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

/** Reads fields of an untrusted body, collecting every problem with its path. */
class Reader {
  readonly causes: FieldCause[] = [];

  obj(v: unknown, path: string): Record<string, unknown> {
    if (typeof v === 'object' && v !== null && !Array.isArray(v))
      return v as Record<string, unknown>;
    this.causes.push({ field: path, message: 'expected an object' });
    return {};
  }

  list(v: unknown, path: string): unknown[] {
    if (Array.isArray(v)) return v;
    this.causes.push({ field: path, message: 'expected an array' });
    return [];
  }

  str(v: unknown, path: string): string {
    if (typeof v === 'string' && v.length > 0) return v;
    if (typeof v === 'number' && Number.isSafeInteger(v)) return String(v);
    this.causes.push({ field: path, message: 'expected a non-empty string' });
    return '';
  }

  optStr(v: unknown, path: string): string | undefined {
    return v === undefined || v === null ? undefined : this.str(v, path);
  }

  /** A time: RFC 3339, or GitLab's `2026-03-01 12:00:00 UTC`; returned as ISO 8601 UTC. */
  time(v: unknown, path: string): string {
    const s = typeof v === 'string' ? v.replace(/^(\S+) (\S+) UTC$/, '$1T$2Z') : undefined;
    const ms = s === undefined ? Number.NaN : Date.parse(s);
    if (Number.isFinite(ms)) return new Date(ms).toISOString();
    this.causes.push({
      field: path,
      message: `expected a date-time such as "2026-03-01T12:00:00Z", got ${JSON.stringify(v)}`,
    });
    return new Date(0).toISOString();
  }

  optTime(v: unknown, path: string): string | undefined {
    return v === undefined || v === null ? undefined : this.time(v, path);
  }

  done(subject: string): void {
    if (this.causes.length > 0) throw new ValidationError(subject, this.causes);
  }
}

export type WebhookSpec = Omit<DeliveryEventSpec, 'team'>;

const CLOUDEVENT_TYPES: Readonly<Record<string, DeliveryEventType>> = {
  'io.yunjian.devops.commit': 'commit',
  'io.yunjian.devops.build': 'build',
  'io.yunjian.devops.pullrequest': 'pullRequest',
  'io.yunjian.devops.requirement': 'requirement',
  'io.yunjian.devops.deployment': 'deployment',
  'io.yunjian.devops.incident': 'incident',
  // CDEvents (cdevents.dev) types of the same meaning; their version suffix is ignored.
  'dev.cdevents.change.merged': 'pullRequest',
  'dev.cdevents.build.started': 'build',
  'dev.cdevents.build.finished': 'build',
  'dev.cdevents.service.deployed': 'deployment',
  'dev.cdevents.service.upgraded': 'deployment',
  'dev.cdevents.service.rolledback': 'deployment',
  'dev.cdevents.incident.detected': 'incident',
  'dev.cdevents.incident.resolved': 'incident',
};

const OUTCOMES = ['InProgress', 'Succeeded', 'Failed'] as const;

function fromCloudEvent(body: unknown, ctx: WebhookContext): WebhookSpec[] {
  const r = new Reader();
  const ce = r.obj(body, '');
  if (ce.specversion !== '1.0')
    r.causes.push({ field: 'specversion', message: 'expected "1.0" (CloudEvents 1.0)' });
  const rawType = r.str(ce.type, 'type');
  const type = CLOUDEVENT_TYPES[rawType.replace(/\.\d+\.\d+\.\d+(-.*)?$/, '')];
  if (rawType !== '' && type === undefined)
    r.causes.push({
      field: 'type',
      message: `expected one of ${Object.keys(CLOUDEVENT_TYPES).join(', ')}, got "${rawType}"`,
    });
  const ceId = r.str(ce.id, 'id');
  const data = ce.data === undefined ? {} : r.obj(ce.data, 'data');
  const time = r.optTime(ce.time, 'time');
  const start = r.optTime(data.start, 'data.start') ?? time;
  if (start === undefined)
    r.causes.push({ field: 'data.start', message: "expected a date-time (or the event's time)" });
  const outcome = data.outcome;
  if (outcome !== undefined && !OUTCOMES.includes(outcome as (typeof OUTCOMES)[number]))
    r.causes.push({ field: 'data.outcome', message: `expected one of ${OUTCOMES.join(', ')}` });
  const finished = /\.(finished|resolved|deployed|upgraded|rolledback|merged)$/.test(
    rawType.replace(/\.\d+\.\d+\.\d+(-.*)?$/, ''),
  );
  const commits =
    data.commits !== undefined
      ? r.list(data.commits, 'data.commits').map((c, i) => r.str(c, `data.commits[${i}]`))
      : data.commit !== undefined
        ? [r.str(data.commit, 'data.commit')]
        : undefined;
  const clouds =
    data.clouds === undefined
      ? undefined
      : r.list(data.clouds, 'data.clouds').map((c, i) => r.str(c, `data.clouds[${i}]`));
  const spec: WebhookSpec = {
    type: type ?? 'commit',
    source: 'cloudevents',
    // Records of one thing (a build started, then finished) share data.id; the event's id otherwise.
    id: r.optStr(data.id, 'data.id') ?? ceId,
    start: start ?? '',
  };
  const app = r.optStr(data.app, 'data.app') ?? ctx.app;
  const environment = r.optStr(data.environment, 'data.environment') ?? ctx.environment;
  const finish = r.optTime(data.finish, 'data.finish') ?? (finished ? time : undefined);
  const version = r.optStr(data.version, 'data.version');
  const deployment = r.optStr(data.deployment, 'data.deployment');
  const title = r.optStr(data.title, 'data.title');
  if (typeof data.rolledBack !== 'undefined' && typeof data.rolledBack !== 'boolean')
    r.causes.push({ field: 'data.rolledBack', message: 'expected true or false' });
  r.done('CloudEvent');
  return [
    {
      ...spec,
      ...(app !== undefined ? { app } : {}),
      ...(environment !== undefined ? { environment } : {}),
      ...(clouds !== undefined ? { clouds } : {}),
      ...(version !== undefined ? { version } : {}),
      ...(commits !== undefined ? { commits } : {}),
      ...(finish !== undefined ? { finish } : {}),
      ...(outcome !== undefined
        ? { outcome: outcome as (typeof OUTCOMES)[number] }
        : spec.type === 'deployment' || spec.type === 'build'
          ? { outcome: finish !== undefined ? 'Succeeded' : 'InProgress' }
          : {}),
      ...(data.rolledBack === true || rawType.includes('.rolledback') ? { rolledBack: true } : {}),
      ...(deployment !== undefined ? { deployment } : {}),
      ...(title !== undefined ? { title } : {}),
    },
  ];
}

/** Push payloads (GitHub and GitLab share the shape): one commit record per commit. */
function fromPush(
  body: unknown,
  ctx: WebhookContext,
  source: 'github' | 'gitlab',
  repoField: 'repository' | 'project',
): WebhookSpec[] {
  const r = new Reader();
  const push = r.obj(body, '');
  const repo = push[repoField] === undefined ? {} : r.obj(push[repoField], repoField);
  const app = ctx.app ?? r.optStr(repo.name, `${repoField}.name`);
  const specs = r.list(push.commits, 'commits').map((raw, i): WebhookSpec => {
    const c = r.obj(raw, `commits[${i}]`);
    const sha = r.str(c.id, `commits[${i}].id`);
    const title = r.optStr(c.message, `commits[${i}].message`)?.split('\n')[0]?.slice(0, 1024);
    return {
      type: 'commit',
      source,
      id: sha,
      commits: [sha],
      start: r.time(c.timestamp, `commits[${i}].timestamp`),
      ...(app !== undefined ? { app } : {}),
      ...(title !== undefined && title !== '' ? { title } : {}),
    };
  });
  r.done(`${source} push`);
  return specs;
}

function runOutcome(status: string, conclusion: string | undefined): WebhookSpec['outcome'] {
  if (
    status !== 'completed' &&
    status !== 'success' &&
    status !== 'failed' &&
    status !== 'canceled'
  )
    return 'InProgress';
  return conclusion === 'success' || status === 'success' ? 'Succeeded' : 'Failed';
}

function fromWorkflowRun(body: unknown, ctx: WebhookContext): WebhookSpec[] {
  const r = new Reader();
  const event = r.obj(body, '');
  const run = r.obj(event.workflow_run, 'workflow_run');
  const repo = event.repository === undefined ? {} : r.obj(event.repository, 'repository');
  const app = ctx.app ?? r.optStr(repo.name, 'repository.name');
  const status = r.str(run.status, 'workflow_run.status');
  const outcome = runOutcome(status, r.optStr(run.conclusion, 'workflow_run.conclusion'));
  const start = r.time(run.run_started_at ?? run.created_at, 'workflow_run.run_started_at');
  const finish =
    outcome === 'InProgress' ? undefined : r.time(run.updated_at, 'workflow_run.updated_at');
  const sha = r.optStr(run.head_sha, 'workflow_run.head_sha');
  const title = r.optStr(run.name, 'workflow_run.name');
  const spec: WebhookSpec = {
    type: 'build',
    source: 'github',
    id: r.str(run.id, 'workflow_run.id'),
    start,
    ...(outcome !== undefined ? { outcome } : {}),
  };
  r.done('GitHub workflow_run');
  return [
    {
      ...spec,
      ...(finish !== undefined ? { finish } : {}),
      ...(app !== undefined ? { app } : {}),
      ...(sha !== undefined ? { commits: [sha] } : {}),
      ...(title !== undefined ? { title } : {}),
    },
  ];
}

function fromPipeline(body: unknown, ctx: WebhookContext): WebhookSpec[] {
  const r = new Reader();
  const event = r.obj(body, '');
  const attrs = r.obj(event.object_attributes, 'object_attributes');
  const project = event.project === undefined ? {} : r.obj(event.project, 'project');
  const app = ctx.app ?? r.optStr(project.name, 'project.name');
  const status = r.str(attrs.status, 'object_attributes.status');
  const outcome = runOutcome(status, undefined);
  const start = r.time(attrs.created_at, 'object_attributes.created_at');
  const finish =
    outcome === 'InProgress'
      ? undefined
      : r.time(attrs.finished_at, 'object_attributes.finished_at');
  const sha = r.optStr(attrs.sha, 'object_attributes.sha');
  const spec: WebhookSpec = {
    type: 'build',
    source: 'gitlab',
    id: r.str(attrs.id, 'object_attributes.id'),
    start,
    ...(outcome !== undefined ? { outcome } : {}),
  };
  r.done('GitLab Pipeline Hook');
  return [
    {
      ...spec,
      ...(finish !== undefined ? { finish } : {}),
      ...(app !== undefined ? { app } : {}),
      ...(sha !== undefined ? { commits: [sha] } : {}),
    },
  ];
}

/** Issues labelled `incident` are incidents (Apache DevLake's convention); others are requirements. */
function fromIssue(body: unknown, ctx: WebhookContext, source: 'github' | 'gitlab'): WebhookSpec[] {
  const r = new Reader();
  const event = r.obj(body, '');
  const gitlab = source === 'gitlab';
  const issue = r.obj(
    gitlab ? event.object_attributes : event.issue,
    gitlab ? 'object_attributes' : 'issue',
  );
  const path = gitlab ? 'object_attributes' : 'issue';
  const repoField = gitlab ? 'project' : 'repository';
  const repo = event[repoField] === undefined ? {} : r.obj(event[repoField], repoField);
  const app = ctx.app ?? r.optStr(repo.name, `${repoField}.name`);
  const labelsAt = gitlab ? event.labels : issue.labels;
  const labels = (
    labelsAt === undefined ? [] : r.list(labelsAt, gitlab ? 'labels' : `${path}.labels`)
  ).map((l) => {
    const label = l as { name?: unknown; title?: unknown } | null;
    const text = label?.name ?? label?.title;
    return typeof text === 'string' ? text.toLowerCase() : '';
  });
  const incident = labels.includes('incident') || (gitlab && issue.issue_type === 'incident');
  const closedAt = r.optTime(issue.closed_at, `${path}.closed_at`);
  const title = r.optStr(issue.title, `${path}.title`);
  const spec: WebhookSpec = {
    type: incident ? 'incident' : 'requirement',
    source,
    id: `${app ?? ''}#${r.str(gitlab ? (issue.iid ?? issue.id) : issue.number, gitlab ? `${path}.iid` : `${path}.number`)}`,
    start: r.time(issue.created_at, `${path}.created_at`),
  };
  r.done(gitlab ? 'GitLab Issue Hook' : 'GitHub issues event');
  return [
    {
      ...spec,
      ...(closedAt !== undefined ? { finish: closedAt } : {}),
      ...(app !== undefined ? { app } : {}),
      ...(ctx.environment !== undefined && incident ? { environment: ctx.environment } : {}),
      ...(title !== undefined ? { title: title.slice(0, 1024) } : {}),
    },
  ];
}

/**
 * The delivery record specs a webhook request carries, chosen by its headers:
 * `X-GitHub-Event`, `X-Gitlab-Event`, else a CloudEvent in structured mode
 * (the whole event, attributes and data, is the JSON body). Events that carry nothing to record (GitHub's ping) give [].
 */
export function parseWebhook(
  headers: WebhookHeaders,
  body: unknown,
  ctx: WebhookContext,
): WebhookSpec[] {
  const github = header(headers, 'x-github-event');
  if (github !== undefined) {
    switch (github) {
      case 'ping':
        return [];
      case 'push':
        return fromPush(body, ctx, 'github', 'repository');
      case 'workflow_run':
        return fromWorkflowRun(body, ctx);
      case 'issues':
        return fromIssue(body, ctx, 'github');
      default:
        throw new BadRequestError(
          `X-GitHub-Event: expected push, workflow_run, issues or ping, got "${github}"`,
          {
            causes: [
              { field: 'X-GitHub-Event', message: 'expected push, workflow_run, issues or ping' },
            ],
          },
        );
    }
  }
  const gitlab = header(headers, 'x-gitlab-event');
  if (gitlab !== undefined) {
    switch (gitlab) {
      case 'Push Hook':
        return fromPush(body, ctx, 'gitlab', 'project');
      case 'Pipeline Hook':
        return fromPipeline(body, ctx);
      case 'Issue Hook':
        return fromIssue(body, ctx, 'gitlab');
      default:
        throw new BadRequestError(
          `X-Gitlab-Event: expected Push Hook, Pipeline Hook or Issue Hook, got "${gitlab}"`,
          {
            causes: [
              {
                field: 'X-Gitlab-Event',
                message: 'expected Push Hook, Pipeline Hook or Issue Hook',
              },
            ],
          },
        );
    }
  }
  return fromCloudEvent(body, ctx);
}
