// What Yunjian's own rollouts and outages add to the delivery records, decided
// from one Application and the records already written for it: a pure function
// (no store, no clock) the recorder (recorder.ts) applies.
//
// - A deployment per spec generation (generation moves only when spec does, so
//   a rebalance or a status write is none), recorded while the controller has
//   not yet observed it: the watch delivers a spec change before the status
//   the controller writes for it, and a generation already observed when the
//   recorder starts is history it did not see. It succeeds when the controller has
//   observed that generation and the app is Ready; it fails when the rollout
//   passes its progress deadline or cannot be placed; a newer generation
//   supersedes one still in progress. Putting back the version of an earlier
//   successful deployment marks the latest one rolled back.
// - An incident while the app is not Ready for a reason other than its own
//   rollout progressing, and when replicas fail over (status.displaced); it
//   closes once the app is Ready with nothing draining. Names derive from the
//   generation and the start time, so replaying the same state writes nothing
//   new and two control planes write the same records.
import type { Application, DeliveryEvent, DeliveryEventSpec } from '../../model/schema.ts';
import { API_VERSION } from '../../model/schema.ts';

export const TEAM_LABEL = 'yunjian.io/team';
export const ENVIRONMENT_LABEL = 'yunjian.io/environment';
export const VERSION_ANNOTATION = 'yunjian.io/version';
export const COMMIT_ANNOTATION = 'yunjian.io/commit';
/** Labels every delivery record carries, for selectors and the recorder's own lookups. */
export const RECORD_APP_LABEL = 'yunjian.io/app';
export const RECORD_TYPE_LABEL = 'yunjian.io/delivery-type';
export const RECORD_SOURCE_LABEL = 'yunjian.io/delivery-source';

export const DEFAULT_ENVIRONMENT = 'production';

export interface PlanInput {
  app: Application;
  /** The Yunjian-sourced records of this app (deployments and incidents). */
  records: readonly DeliveryEvent[];
  /** The app's team: its `yunjian.io/team` label, else its tenant, else its namespace. */
  team: string;
  nowMs: number;
  /** The recorder's first look at the app (startup), when restores it did not see happened in the past. */
  initial: boolean;
}

export interface DeliveryWrites {
  create: DeliveryEvent[];
  update: DeliveryEvent[];
}

const ready = (app: Application) => app.status?.conditions?.find((c) => c.type === 'Ready');

/** What the app runs: its version annotation, else its images. */
export function versionOf(app: Application): string {
  return (
    app.metadata.annotations?.[VERSION_ANNOTATION] ??
    [...new Set(app.spec.components.map((c) => c.image))].sort().join(',')
  );
}

/** Deployment record names: the app, its generation and its uid (a re-created app starts again). */
export function deploymentName(app: Application): string {
  const uid = (app.metadata.uid ?? '0').replace(/[^a-z0-9]/g, '').slice(0, 8) || '0';
  return `${app.metadata.name.slice(0, 200)}.g${app.metadata.generation ?? 1}.${uid}`;
}

function incidentName(app: Application, startMs: number): string {
  return `${app.metadata.name.slice(0, 200)}.incident.${startMs.toString(36)}`;
}

const clouds = (app: Application) =>
  [...new Set((app.status?.placements ?? []).map((p) => p.cloud))].sort();

function base(app: Application, team: string, spec: Omit<DeliveryEventSpec, 'source' | 'team'>) {
  const record: DeliveryEvent = {
    apiVersion: API_VERSION,
    kind: 'DeliveryEvent',
    metadata: {
      name: spec.id,
      namespace: app.metadata.namespace ?? 'default',
      labels: {
        [RECORD_APP_LABEL]: app.metadata.name,
        [RECORD_TYPE_LABEL]: spec.type,
        [RECORD_SOURCE_LABEL]: 'yunjian',
        [TEAM_LABEL]: team,
      },
    },
    spec: { source: 'yunjian', team, ...spec },
  };
  return record;
}

export function planDelivery(input: PlanInput): DeliveryWrites {
  const { app, team, nowMs } = input;
  const now = new Date(nowMs).toISOString();
  const create: DeliveryEvent[] = [];
  const updated = new Map<string, DeliveryEvent>();
  const current = (r: DeliveryEvent) => updated.get(r.metadata.name) ?? r;
  const update = (r: DeliveryEvent, spec: Partial<DeliveryEventSpec>) => {
    const next = { ...current(r), spec: { ...current(r).spec, ...spec } };
    updated.set(r.metadata.name, next);
    return next;
  };
  const environment = app.metadata.labels?.[ENVIRONMENT_LABEL] ?? DEFAULT_ENVIRONMENT;
  const generation = app.metadata.generation ?? 1;
  const observed = (app.status?.observedGeneration ?? 0) >= generation;
  const cond = ready(app);
  const isReady = cond?.status === 'True';
  const draining = (app.status?.placements ?? []).some((p) => p.draining === true);

  // Deployments.
  const deployments = input.records.filter((r) => r.spec.type === 'deployment');
  const name = deploymentName(app);
  let deployment = deployments.find((r) => r.metadata.name === name);
  for (const d of deployments)
    if (d.metadata.name !== name && d.spec.outcome === 'InProgress')
      update(d, { outcome: 'Superseded', finish: now });
  if (deployment === undefined && !observed) {
    const version = versionOf(app);
    const commit = app.metadata.annotations?.[COMMIT_ANNOTATION];
    const succeeded = deployments
      .filter((d) => d.spec.outcome === 'Succeeded')
      .sort((a, b) => a.spec.start.localeCompare(b.spec.start));
    const latest = succeeded.at(-1);
    const rollback =
      latest !== undefined &&
      latest.spec.version !== version &&
      succeeded.some((d) => d.spec.version === version);
    if (rollback) update(latest, { rolledBack: true });
    deployment = base(app, team, {
      type: 'deployment',
      id: name,
      app: app.metadata.name,
      environment,
      version,
      ...(commit !== undefined ? { commits: [commit] } : {}),
      start: now,
      outcome: 'InProgress',
      ...(rollback ? { title: `rollback of ${latest.metadata.name}` } : {}),
    });
    create.push(deployment);
  }
  const inProgress = deployment !== undefined && current(deployment).spec.outcome === 'InProgress';
  let failedDeployment: string | undefined;
  if (deployment !== undefined && inProgress && observed && cond !== undefined) {
    const target = create.includes(deployment) ? deployment : current(deployment);
    const stuck = cond.reason === 'ProgressDeadlineExceeded' || cond.reason === 'Unschedulable';
    if (isReady || stuck) {
      const spec: Partial<DeliveryEventSpec> = {
        outcome: isReady ? 'Succeeded' : 'Failed',
        finish: now,
        clouds: clouds(app),
      };
      if (create.includes(deployment)) Object.assign(target.spec, spec);
      else update(deployment, spec);
      if (!isReady) failedDeployment = name;
    }
  } else if (deployment?.spec.outcome === 'Failed') failedDeployment = name;

  // Incidents.
  const incidents = input.records.filter((r) => r.spec.type === 'incident');
  const open = incidents.filter((r) => r.spec.finish === undefined);
  const covered = (t: number) =>
    incidents.some(
      (r) =>
        Date.parse(r.spec.start) <= t &&
        (r.spec.finish === undefined || t <= Date.parse(r.spec.finish)),
    );
  const rollingOut =
    deployment !== undefined &&
    (create.includes(deployment) ? deployment : current(deployment)).spec.outcome === 'InProgress';
  const starts: { at: number; title: string }[] = [];
  if (cond?.status === 'False' && !(rollingOut && cond.reason === 'Progressing')) {
    const at = Date.parse(cond.lastTransitionTime ?? now);
    starts.push({ at: Number.isFinite(at) ? at : nowMs, title: `${cond.reason ?? 'NotReady'}` });
  }
  for (const d of app.status?.displaced ?? []) {
    const at = Date.parse(d.since);
    if (Number.isFinite(at))
      starts.push({ at, title: `Failover: ${d.component} left cluster ${d.cluster}` });
  }
  const restored = isReady && !draining;
  let opened = open.length > 0;
  for (const s of starts.sort((a, b) => a.at - b.at)) {
    if (opened || covered(s.at)) continue;
    opened = true;
    const incident = base(app, team, {
      type: 'incident',
      id: incidentName(app, s.at),
      app: app.metadata.name,
      environment,
      clouds: clouds(app),
      start: new Date(s.at).toISOString(),
      title: s.title,
      ...(failedDeployment !== undefined ? { deployment: failedDeployment } : {}),
    });
    if (restored) incident.spec.finish = now;
    create.push(incident);
  }
  if (restored) {
    // Live, the recorder sees the restore as it happens; at startup the Ready
    // transition is the best account of when it did.
    const readySince = Date.parse(cond.lastTransitionTime ?? now);
    for (const r of open) {
      const finish = input.initial && readySince >= Date.parse(r.spec.start) ? readySince : nowMs;
      update(r, { finish: new Date(finish).toISOString() });
    }
  }
  return { create, update: [...updated.values()] };
}
