// The migration state machine as one pure function: (migration, app, fleet,
// metrics of the current step, now) -> the next status, the writes to make and
// the events to record. No store, no clock, no I/O: the controller
// (./index.ts) reads, calls this, acts, and calls it again on the next pass.
//
// Every pass is level-based: a phase first states what the application must
// look like (its `spec.migration`) and asks for that write when it differs, so
// a crash between the status write and the app write is repaired by the next
// pass. Order of a pass:
//   1. terminal phases only re-assert the app's final spec;
//   2. the user's abort, then pause, win over whatever the phase would do;
//   3. the phase's own step (wait for replicas, hooks, the pause, the gate).
//
// Phases: Pending -> PreScaling (target at full replicas, 0 % traffic) ->
// Shifting (step i, weight steps[i]) -> Cutover (cutover hooks, 100 %) ->
// Finalizing (source drained; irreversible) -> Succeeded. A failed gate or
// hook, or abort, before Finalizing -> RollingBack (target excluded, weight 0)
// -> RolledBack (the captured spec written back). Inconclusive gate or
// spec.paused -> Paused (spec.paused set; resuming restarts the step's pause).
import { canonical } from '../../model/canonical.ts';
import { FINISHED_MIGRATION_PHASES, migrationSteps } from '../../model/migration.ts';
import { analyze, type TargetMetrics } from './analysis.ts';
import {
  DEFAULT_MIGRATION_PAUSE_SECONDS,
  DEFAULT_TRAFFIC_TTL_SECONDS,
  type Application,
  type ApplicationMigration,
  type ApplicationSpec,
  type Migration,
  type MigrationPhase,
  type MigrationStatus,
  type PlacementStatus,
} from '../../model/schema.ts';

/** A cluster as the migration sees it. */
export interface FleetCluster {
  name: string;
  cloud: string;
  site: string;
}

export type HookStage = 'preShift' | 'cutover';

export type MigrationAction =
  /** Replace the application's spec (compare-and-set on the app read this pass). */
  | { type: 'writeApp'; spec: ApplicationSpec }
  /** Run the data-sync hooks of a stage not yet recorded, then record each result in status.hooks. */
  | { type: 'runHooks'; stage: HookStage }
  /** Set spec.paused on the migration (an inconclusive gate). */
  | { type: 'pause' };

export interface MigrationEventNote {
  type: 'Normal' | 'Warning';
  reason: string;
  message: string;
}

export interface StepInput {
  migration: Migration;
  app: Application | undefined;
  clusters: readonly FleetCluster[];
  /** The target's metrics over the step's window (see `windowStartMs`); undefined when none were gathered. */
  metrics: TargetMetrics | undefined;
  nowMs: number;
  /**
   * Since when this controller has been running (its leadership term began).
   * A step's pause counts from the later of this and `status.phaseStartedAt`:
   * a window that began under a control plane that died is not one anybody
   * watched (the gateways may not even have had the step's weights), so after
   * a restart the step serves a whole pause again before its analysis.
   */
  runningSinceMs?: number;
}

/** Where a step's pause, and the metrics its analysis reads, begin. */
export function windowStartMs(
  status: MigrationStatus | undefined,
  input: { nowMs: number; runningSinceMs?: number },
): number {
  const started =
    status?.phaseStartedAt !== undefined ? Date.parse(status.phaseStartedAt) : input.nowMs;
  return Math.max(started, input.runningSinceMs ?? started);
}

export interface StepResult {
  status: MigrationStatus;
  actions: MigrationAction[];
  events: MigrationEventNote[];
  /** Look again after this long even if nothing changes (a pause running, replicas starting). */
  requeueAfterMs?: number;
}

/** How often a phase that waits on replicas looks again. */
export const POLL_MS = 1000;

/**
 * Beyond the TTL, how long an answer may still be handed out after the write
 * that changed it: the app's new spec reaching every DNS server and gateway
 * through their store watches.
 */
export const PROPAGATION_MS = 1000;

/**
 * How long a side that DNS stopped answering must keep serving: clients that
 * honour the TTL hold its addresses that long. Nothing for an app without a
 * host.
 */
export function cachedAnswersMs(app: Application): number {
  const t = app.spec.traffic;
  return t === undefined ? 0 : (t.ttl ?? DEFAULT_TRAFFIC_TTL_SECONDS) * 1000 + PROPAGATION_MS;
}

/** Phases an abort or a pause can interrupt (Finalizing is irreversible). */
const REVERSIBLE: ReadonlySet<MigrationPhase> = new Set([
  'Pending',
  'PreScaling',
  'Shifting',
  'Cutover',
  'Paused',
]);

export function stepMigration(input: StepInput): StepResult {
  const { migration: m, app, nowMs } = input;
  const now = new Date(nowMs).toISOString();
  const prev: MigrationStatus = m.status ?? { phase: 'Pending' };
  const status: MigrationStatus = {
    ...prev,
    ...(m.metadata.generation !== undefined ? { observedGeneration: m.metadata.generation } : {}),
  };
  const actions: MigrationAction[] = [];
  const events: MigrationEventNote[] = [];
  const result = (requeueAfterMs?: number): StepResult => ({
    status,
    actions,
    events,
    ...(requeueAfterMs !== undefined ? { requeueAfterMs } : {}),
  });
  const enter = (phase: MigrationPhase, message: string, warning = false) => {
    status.phase = phase;
    if (phase !== 'Paused') delete status.resumePhase;
    status.phaseStartedAt = now;
    status.message = message;
    if (FINISHED_MIGRATION_PHASES.has(phase)) status.finishedAt = now;
    events.push({
      type: warning ? 'Warning' : 'Normal',
      reason: `Migration${phase}`,
      message: `${m.metadata.name}: ${message}`,
    });
  };
  /** Asks for the app's spec to be `spec` unless it already is; the last such request of a pass wins. */
  const ensureApp = (spec: ApplicationSpec) => {
    const i = actions.findIndex((a) => a.type === 'writeApp');
    if (i >= 0) actions.splice(i, 1);
    if (app !== undefined && canonical(app.spec) !== canonical(spec))
      actions.push({ type: 'writeApp', spec });
  };

  if (FINISHED_MIGRATION_PHASES.has(prev.phase)) {
    // A crash after the status write and before the app write is finished here.
    if (app?.spec.migration?.name === m.metadata.name && prev.captured !== undefined) {
      if (prev.phase === 'Succeeded') ensureApp(finalSpec(app.spec, m));
      else ensureApp(prev.captured.spec);
    }
    return result();
  }

  if (app === undefined) {
    enter('Failed', `application ${m.spec.application} does not exist`, true);
    return result();
  }
  const owner = app.spec.migration?.name;
  if (owner !== undefined && owner !== m.metadata.name) {
    enter('Failed', `application ${app.metadata.name} is being migrated by ${owner}`, true);
    return result();
  }

  if (m.spec.abort === true && REVERSIBLE.has(prev.phase)) {
    if (prev.captured === undefined) enter('RolledBack', 'aborted before anything moved');
    else {
      enter('RollingBack', 'aborted: restoring the pre-migration state', true);
      ensureApp(withdrawn(prev.captured.spec, m, status));
    }
    return result(POLL_MS);
  }
  if (m.spec.abort === true && prev.phase === 'Finalizing')
    status.message = 'abort ignored: finalizing drains the source and cannot be undone';

  if (m.spec.paused === true && REVERSIBLE.has(prev.phase) && prev.phase !== 'Paused') {
    status.resumePhase = prev.phase;
    enter('Paused', `paused in ${prev.phase}`);
    return result();
  }

  /**
   * The app's status describes its current spec and no write of ours is
   * pending: only then do its placements say whether a phase is done.
   */
  const settled = () =>
    app.status?.observedGeneration === app.metadata.generation &&
    !actions.some((a) => a.type === 'writeApp');
  const steps = migrationSteps(m);
  const stepIndex = prev.step ?? 0;
  const targets = new Set(status.target ?? []);
  const captured = prev.captured;

  switch (prev.phase) {
    case 'Pending': {
      const target = resolveTarget(m, input.clusters);
      if (target.length === 0) {
        enter('Failed', `no cluster matches ${describeTarget(m)}`, true);
        return result();
      }
      const active = (app.status?.placements ?? []).filter((p) => p.draining !== true);
      if (active.length === 0 || app.status?.observedGeneration !== app.metadata.generation) {
        status.message = `waiting for ${app.metadata.name} to be placed`;
        return result(POLL_MS);
      }
      const source = [...new Set(active.map((p) => p.cluster))].sort();
      const targetSet = new Set(target);
      if (source.every((c) => targetSet.has(c))) {
        enter('Failed', `${app.metadata.name} already runs only on ${describeTarget(m)}`, true);
        return result();
      }
      status.source = source;
      status.target = target;
      status.startedAt = now;
      status.captured = {
        spec: app.spec,
        generation: app.metadata.generation ?? 0,
        placements: active.map(capturePlacement),
        at: now,
      };
      status.step = 0;
      enter(
        'PreScaling',
        `bringing ${describeTarget(m)} to full replicas; the source keeps serving`,
      );
      ensureApp(withMigration(app.spec, appMigration(m, 'surge', 0)));
      return result(POLL_MS);
    }

    case 'PreScaling': {
      if (captured === undefined) return lost(status, enter, result);
      ensureApp(withMigration(captured.spec, appMigration(m, 'surge', 0)));
      if (!settled() || !fullyReady(app, captured.placements, (c) => targets.has(c))) {
        status.message = `waiting for ${describeTarget(m)} to be ready at full replicas`;
        return result(POLL_MS);
      }
      const hooks = hookProgress(m, status, 'preShift');
      if (hooks === 'failed')
        return rollBack(
          m,
          status,
          captured.spec,
          enter,
          ensureApp,
          'a data-sync hook failed before the first traffic step',
          result,
        );
      if (hooks === 'pending') {
        actions.push({ type: 'runHooks', stage: 'preShift' });
        status.message = 'running data-sync hooks before the first traffic step';
        return result(POLL_MS);
      }
      return enterStep(0);
    }

    case 'Shifting':
    case 'Cutover': {
      if (captured === undefined) return lost(status, enter, result);
      const weight = steps[stepIndex] ?? 100;
      if (prev.phase === 'Cutover' && status.weight !== 100) {
        // The cutover's hooks run while the last step's weight still holds.
        ensureApp(withMigration(captured.spec, appMigration(m, 'surge', status.weight ?? 0)));
        const hooks = hookProgress(m, status, 'cutover');
        if (hooks === 'failed')
          return rollBack(
            m,
            status,
            captured.spec,
            enter,
            ensureApp,
            'a data-sync hook failed at cutover',
            result,
          );
        if (hooks === 'pending') {
          actions.push({ type: 'runHooks', stage: 'cutover' });
          status.message = 'running data-sync hooks at cutover';
          return result(POLL_MS);
        }
        status.weight = 100;
        status.phaseStartedAt = now;
        status.message = `all traffic on ${describeTarget(m)}`;
        events.push({
          type: 'Normal',
          reason: 'MigrationStep',
          message: `${m.metadata.name}: 100% of traffic on ${describeTarget(m)}`,
        });
      }
      ensureApp(withMigration(captured.spec, appMigration(m, 'surge', weight)));
      const decided = (status.analyses ?? []).find(
        (a) => a.step === stepIndex && a.result === 'success',
      );
      if (decided === undefined) {
        const startedMs = windowStartMs(status, input);
        const pauseMs = (m.spec.pauseSeconds ?? DEFAULT_MIGRATION_PAUSE_SECONDS) * 1000;
        if (nowMs < startedMs + pauseMs) return result(startedMs + pauseMs - nowMs);
        const analysis = analyze(m, input.metrics, stepIndex, weight, now);
        status.analyses = [...(status.analyses ?? []), analysis];
        if (analysis.result === 'fail')
          return rollBack(
            m,
            status,
            captured.spec,
            enter,
            ensureApp,
            `analysis failed at ${weight}%: ${analysis.message}`,
            result,
          );
        if (analysis.result === 'inconclusive') {
          actions.push({ type: 'pause' });
          status.resumePhase = prev.phase;
          enter(
            'Paused',
            `analysis inconclusive at ${weight}%: ${analysis.message}; resume to analyse again`,
            true,
          );
          return result();
        }
        if (prev.phase === 'Shifting') return enterStep(stepIndex + 1);
      }
      // Cutover passed its analysis: the only irreversible step waits for its go-ahead.
      if (m.spec.finalize !== 'automatic' && m.spec.finalizeApproved !== true) {
        status.message = `all traffic on ${describeTarget(m)} and healthy; waiting for finalize (yunjian migration finalize ${m.metadata.name}) or abort`;
        return result();
      }
      // The source left DNS when the weight reached 100 (phaseStartedAt);
      // clients may hold its addresses for the TTL, so it serves until then.
      const cachedUntil = Date.parse(status.phaseStartedAt ?? now) + cachedAnswersMs(app);
      if (nowMs < cachedUntil) {
        status.message = `all traffic on ${describeTarget(m)}; the source serves DNS answers cached for up to ${Math.ceil((cachedUntil - nowMs) / 1000)} s more`;
        return result(cachedUntil - nowMs);
      }
      enter('Finalizing', `draining and removing the source (${(status.source ?? []).join(', ')})`);
      ensureApp(withMigration(captured.spec, appMigration(m, 'move', 100)));
      return result(POLL_MS);
    }

    case 'Finalizing': {
      if (captured === undefined) return lost(status, enter, result);
      ensureApp(withMigration(captured.spec, appMigration(m, 'move', 100)));
      const onlyTarget = (app.status?.placements ?? []).every((p) => targets.has(p.cluster));
      if (
        !settled() ||
        !onlyTarget ||
        !fullyReady(app, captured.placements, (c) => targets.has(c))
      ) {
        status.message = 'waiting for the source to drain';
        return result(POLL_MS);
      }
      enter('Succeeded', `${app.metadata.name} runs on ${describeTarget(m)}`);
      ensureApp(finalSpec(app.spec, m));
      return result();
    }

    case 'RollingBack': {
      if (captured === undefined) return lost(status, enter, result);
      ensureApp(withdrawn(captured.spec, m, status));
      // A target that took traffic left DNS when RollingBack began; clients
      // may hold its addresses for the TTL, so it serves until then.
      const cachedUntil =
        (status.weight ?? 0) > 0
          ? Date.parse(status.phaseStartedAt ?? now) + cachedAnswersMs(app)
          : nowMs;
      if (nowMs < cachedUntil) {
        status.message = `the target is out of DNS and the gateway; it serves answers cached for up to ${Math.ceil((cachedUntil - nowMs) / 1000)} s more`;
        return result(cachedUntil - nowMs);
      }
      ensureApp(withMigration(captured.spec, appMigration(m, 'restore', 0)));
      const source = new Set(status.source ?? []);
      const offTarget = (app.status?.placements ?? []).every(
        (p) => !targets.has(p.cluster) || source.has(p.cluster),
      );
      if (!settled() || !offTarget || !fullyReady(app, captured.placements, (c) => source.has(c))) {
        status.message = 'waiting for the target to be removed and the source to be ready';
        return result(POLL_MS);
      }
      enter('RolledBack', `${app.metadata.name} is back as it was before the migration`);
      ensureApp(captured.spec);
      return result();
    }

    case 'Paused': {
      if (m.spec.paused === true) return result();
      const back = prev.resumePhase ?? 'Pending';
      delete status.resumePhase;
      // An inconclusive analysis is dropped so the step is analysed afresh.
      status.analyses = (status.analyses ?? []).filter(
        (a) => !(a.step === stepIndex && a.result === 'inconclusive'),
      );
      enter(back, `resumed in ${back}`);
      return result(POLL_MS);
    }
  }
  return result();

  function enterStep(i: number): StepResult {
    const weight = steps[i] ?? 100;
    status.step = i;
    if (weight >= 100) {
      enter(
        'Cutover',
        `cutover: running data-sync hooks, then all traffic on ${describeTarget(m)}`,
      );
      return result(POLL_MS);
    }
    status.weight = weight;
    if (prev.phase === 'Shifting') {
      status.phaseStartedAt = now;
      status.message = `step ${i + 1}/${steps.length}: ${weight}% of traffic on ${describeTarget(m)}`;
      events.push({
        type: 'Normal',
        reason: 'MigrationStep',
        message: `${m.metadata.name}: ${status.message}`,
      });
    } else
      enter(
        'Shifting',
        `step ${i + 1}/${steps.length}: ${weight}% of traffic on ${describeTarget(m)}`,
      );
    if (captured !== undefined)
      ensureApp(withMigration(captured.spec, appMigration(m, 'surge', weight)));
    return result((m.spec.pauseSeconds ?? DEFAULT_MIGRATION_PAUSE_SECONDS) * 1000);
  }
}

/** The clusters `spec.to` names, sorted. */
export function resolveTarget(m: Migration, clusters: readonly FleetCluster[]): string[] {
  const to = m.spec.to;
  return clusters
    .filter((c) =>
      'cloud' in to
        ? c.cloud === to.cloud
        : 'site' in to
          ? c.site === to.site
          : c.name === to.cluster,
    )
    .map((c) => c.name)
    .sort();
}

export function describeTarget(m: Migration): string {
  const to = m.spec.to;
  return 'cloud' in to
    ? `cloud ${to.cloud}`
    : 'site' in to
      ? `site ${to.site}`
      : `cluster ${to.cluster}`;
}

/** The application's migration field for this migration. */
export function appMigration(
  m: Migration,
  mode: ApplicationMigration['mode'],
  targetWeight: number,
): ApplicationMigration {
  const to = m.spec.to;
  return {
    name: m.metadata.name,
    target:
      'cloud' in to
        ? { clouds: [to.cloud] }
        : 'site' in to
          ? { sites: [to.site] }
          : { clusters: [to.cluster] },
    mode,
    targetWeight,
  };
}

function withMigration(spec: ApplicationSpec, migration: ApplicationMigration): ApplicationSpec {
  return { ...spec, migration };
}

/** After finalize the app's own placement names the target; the migration field goes. */
export function finalSpec(spec: ApplicationSpec, m: Migration): ApplicationSpec {
  const { migration: _owned, ...rest } = spec;
  return {
    ...rest,
    placement: { ...rest.placement, clusterAffinity: appMigration(m, 'move', 100).target },
  };
}

function capturePlacement(p: PlacementStatus) {
  return {
    component: p.component,
    cluster: p.cluster,
    cloud: p.cloud,
    replicas: p.assigned ?? p.desired,
    endpoints: (p.endpoints ?? []).map((e) => `${e.address}:${e.port}`),
  };
}

/** Every component has at least its captured replica count ready on the clusters `where` accepts. */
function fullyReady(
  app: Application,
  captured: readonly { component: string; replicas: number }[],
  where: (cluster: string) => boolean,
): boolean {
  const want = new Map<string, number>();
  for (const p of captured) want.set(p.component, (want.get(p.component) ?? 0) + p.replicas);
  const ready = new Map<string, number>();
  for (const p of app.status?.placements ?? [])
    if (p.draining !== true && where(p.cluster))
      ready.set(p.component, (ready.get(p.component) ?? 0) + Math.min(p.ready, p.desired));
  return [...want].every(([c, n]) => (ready.get(c) ?? 0) >= n);
}

function hookProgress(
  m: Migration,
  status: MigrationStatus,
  stage: HookStage,
): 'done' | 'pending' | 'failed' {
  const hooks = m.spec.dataSync ?? [];
  const records = (status.hooks ?? []).filter((h) => h.stage === stage);
  if (records.some((r) => r.result === 'failed')) return 'failed';
  return hooks.every((h) => records.some((r) => r.name === h.name)) ? 'done' : 'pending';
}

function rollBack(
  m: Migration,
  status: MigrationStatus,
  spec: ApplicationSpec,
  enter: (phase: MigrationPhase, message: string, warning?: boolean) => void,
  ensureApp: (spec: ApplicationSpec) => void,
  why: string,
  result: (requeueAfterMs?: number) => StepResult,
): StepResult {
  enter('RollingBack', `${why}; restoring the pre-migration state`, true);
  ensureApp(withdrawn(spec, m, status));
  return result(POLL_MS);
}

/**
 * The first spec of a rollback: a target that took traffic keeps its
 * replicas at weight 0 (out of DNS and the gateway) while clients' cached
 * answers run out; one that never did is removed at once.
 */
function withdrawn(spec: ApplicationSpec, m: Migration, status: MigrationStatus): ApplicationSpec {
  return withMigration(spec, appMigration(m, (status.weight ?? 0) > 0 ? 'surge' : 'restore', 0));
}

function lost(
  status: MigrationStatus,
  enter: (phase: MigrationPhase, message: string, warning?: boolean) => void,
  result: (requeueAfterMs?: number) => StepResult,
): StepResult {
  enter('Failed', `status.captured is missing in ${status.phase}: nothing to roll back to`, true);
  return result();
}
