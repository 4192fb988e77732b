// Writing webhook records: each spec becomes a DeliveryEvent whose name is a
// digest of (team, source, type, id), so a repeated delivery of the same event
// finds its record and is ignored, and a later event of the same thing (a
// build finished, an incident resolved, a requirement closed) completes it.
// Every record is validated against the kind's schema before any is written,
// so a bad item refuses the whole request with its field path.
import { createHash } from 'node:crypto';
import { AlreadyExistsError, ConflictError, NotFoundError } from '../../model/errors.ts';
import { LIMITS, API_VERSION, type DeliveryEvent } from '../../model/schema.ts';
import { validateResource } from '../../model/validate.ts';
import type { Store } from '../../store/types.ts';
import { RECORD_APP_LABEL, RECORD_SOURCE_LABEL, RECORD_TYPE_LABEL, TEAM_LABEL } from './plan.ts';
import type { WebhookSpec } from './webhook.ts';

export interface IngestResult {
  created: string[];
  completed: string[];
  duplicates: string[];
}

/** Events the body of one request may carry (a push of many commits). */
export const MAX_EVENTS_PER_REQUEST = LIMITS.list;

export function recordFor(namespace: string, team: string, spec: WebhookSpec): DeliveryEvent {
  const digest = createHash('sha256')
    .update(`${team}\0${spec.source}\0${spec.type}\0${spec.id}`)
    .digest('hex')
    .slice(0, 24);
  const labels: Record<string, string> = {
    [TEAM_LABEL]: team,
    [RECORD_TYPE_LABEL]: spec.type,
    [RECORD_SOURCE_LABEL]: spec.source,
  };
  if (spec.app !== undefined && spec.app.length <= LIMITS.labelValue)
    labels[RECORD_APP_LABEL] = spec.app;
  return {
    apiVersion: API_VERSION,
    kind: 'DeliveryEvent',
    metadata: { name: `${spec.type.toLowerCase()}.${digest}`, namespace, labels },
    spec: { ...spec, team },
  };
}

/** Whether `next` completes `current`: it ends what was open, or settles what was in progress. */
function completes(current: DeliveryEvent, next: DeliveryEvent): boolean {
  return (
    (current.spec.finish === undefined && next.spec.finish !== undefined) ||
    (current.spec.outcome === 'InProgress' &&
      next.spec.outcome !== undefined &&
      next.spec.outcome !== 'InProgress')
  );
}

const ATTEMPTS = 3;

export async function ingest(
  store: Store,
  namespace: string,
  team: string,
  specs: readonly WebhookSpec[],
  onDeployment?: (record: DeliveryEvent) => void,
): Promise<IngestResult> {
  const records = specs.map((spec, i) => {
    const record = recordFor(namespace, team, spec);
    validateResource(record, specs.length > 1 ? `event [${i}]` : 'event');
    return record;
  });
  const result: IngestResult = { created: [], completed: [], duplicates: [] };
  const settled = (r: DeliveryEvent) => {
    const o = r.spec.outcome;
    if (r.spec.type === 'deployment' && (o === 'Succeeded' || o === 'Failed')) onDeployment?.(r);
  };
  for (const record of records) {
    const key = { kind: 'DeliveryEvent', namespace, name: record.metadata.name };
    for (let attempt = 1; ; attempt++) {
      try {
        await store.create(record);
        result.created.push(record.metadata.name);
        settled(record);
        break;
      } catch (err) {
        if (!(err instanceof AlreadyExistsError)) throw err;
      }
      try {
        const current = (await store.get(key)) as unknown as DeliveryEvent;
        if (!completes(current, record)) {
          result.duplicates.push(record.metadata.name);
          break;
        }
        const merged = {
          ...current,
          spec: { ...record.spec, start: current.spec.start, ...mergedCommits(current, record) },
        };
        await store.update(merged);
        result.completed.push(record.metadata.name);
        settled(merged);
        break;
      } catch (err) {
        // Deleted or changed under us (pruned, or the same event delivered twice at once): again.
        if (!(err instanceof ConflictError || err instanceof NotFoundError) || attempt >= ATTEMPTS)
          throw err;
      }
    }
  }
  return result;
}

function mergedCommits(current: DeliveryEvent, next: DeliveryEvent) {
  const commits = [...new Set([...(current.spec.commits ?? []), ...(next.spec.commits ?? [])])];
  return commits.length > 0 ? { commits } : {};
}
