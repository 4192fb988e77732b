// An application's Ready condition, decided once per reconcile from what the
// pass found, with a progress deadline like a Deployment's
// progressDeadlineSeconds: an app that stays short of ready replicas without
// any of them turning ready says so, instead of looking like a rollout that
// is merely slow. Nothing is undone when the deadline passes: replicas being
// replaced keep serving (make-before-break) and the controller keeps trying.
import type { Condition } from '../model/schema.ts';

/** What a reconcile pass found. */
export interface PassOutcome {
  /** Replicas no cluster could take, of `wanted`. */
  unplaced: number;
  wanted: number;
  /** Ready replicas, counted up to what the plan assigns (`desired`). */
  ready: number;
  desired: number;
  /** Placements kept running until their replacements are ready. */
  draining: number;
  /** The spec changed since the last pass: a new rollout, so the deadline starts again. */
  specChanged: boolean;
}

const PROGRESSING = new Set(['Progressing', 'ProgressDeadlineExceeded']);

/**
 * The Ready condition after a pass. `previous` is the last one written and
 * `previousReady` the ready count then. Progress (the ready count rising, or
 * the app starting to progress) restarts the deadline; the transition time
 * moves only when status or reason does.
 */
export function applicationReadyCondition(
  outcome: PassOutcome,
  previous: Condition | undefined,
  previousReady: number,
  nowMs: number,
  deadlineSeconds: number,
): Condition {
  const now = new Date(nowMs).toISOString();
  const { unplaced, wanted, ready, desired, draining, specChanged } = outcome;
  let cond: Condition;
  if (unplaced > 0)
    cond = {
      type: 'Ready',
      status: 'False',
      reason: 'Unschedulable',
      message: `${unplaced} of ${wanted} replicas have no feasible cluster`,
    };
  else if (ready >= desired)
    cond = {
      type: 'Ready',
      status: 'True',
      reason: 'AllReplicasReady',
      message: `${ready}/${desired} replicas ready`,
    };
  else {
    const progressed =
      specChanged ||
      previous === undefined ||
      !PROGRESSING.has(previous.reason ?? '') ||
      ready > previousReady;
    const since = progressed
      ? now
      : (previous.lastProgressTime ?? previous.lastTransitionTime ?? now);
    const stalled = nowMs - (Date.parse(since) || nowMs) >= deadlineSeconds * 1000;
    cond = {
      type: 'Ready',
      status: 'False',
      reason: stalled ? 'ProgressDeadlineExceeded' : 'Progressing',
      message:
        `${ready}/${desired} replicas ready` +
        (draining > 0
          ? `; ${draining} placements draining until their replacements are ready`
          : '') +
        (stalled ? `; no replica turned ready for ${deadlineSeconds} s` : ''),
      lastProgressTime: since,
    };
  }
  const same = previous?.status === cond.status && previous.reason === cond.reason;
  return { ...cond, lastTransitionTime: same ? (previous.lastTransitionTime ?? now) : now };
}
