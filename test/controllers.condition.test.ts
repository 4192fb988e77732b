// The application's Ready condition, table-driven: each reason, the progress
// deadline, what restarts it, and when the transition time moves.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { applicationReadyCondition, type PassOutcome } from '../src/controllers/condition.ts';
import type { Condition } from '../src/model/schema.ts';

const NOW = Date.parse('2026-11-24T12:00:00Z');
const ago = (s: number) => new Date(NOW - s * 1000).toISOString();
const pass = (over: Partial<PassOutcome> = {}): PassOutcome => ({
  unplaced: 0,
  wanted: 4,
  ready: 2,
  desired: 4,
  draining: 0,
  specChanged: false,
  ...over,
});
const progressing = (since: number, transition = since): Condition => ({
  type: 'Ready',
  status: 'False',
  reason: 'Progressing',
  message: '2/4 replicas ready',
  lastTransitionTime: ago(transition),
  lastProgressTime: ago(since),
});

describe('applicationReadyCondition', () => {
  const cases: {
    name: string;
    outcome: PassOutcome;
    previous?: Condition;
    previousReady?: number;
    deadline?: number;
    reason: string;
    message?: RegExp;
    transitionAgo: number;
    progressAgo?: number;
  }[] = [
    {
      name: 'unplaced replicas: Unschedulable',
      outcome: pass({ unplaced: 1 }),
      reason: 'Unschedulable',
      message: /^1 of 4 replicas have no feasible cluster$/,
      transitionAgo: 0,
    },
    {
      name: 'every assigned replica ready: AllReplicasReady',
      outcome: pass({ ready: 4 }),
      previous: progressing(30),
      reason: 'AllReplicasReady',
      transitionAgo: 0,
    },
    {
      name: 'starting to progress starts the clock',
      outcome: pass(),
      reason: 'Progressing',
      message: /^2\/4 replicas ready$/,
      transitionAgo: 0,
      progressAgo: 0,
    },
    {
      name: 'no progress within the deadline: still Progressing, times kept',
      outcome: pass({ draining: 1 }),
      previous: progressing(100, 200),
      previousReady: 2,
      reason: 'Progressing',
      message: /^2\/4 replicas ready; 1 placements draining until their replacements are ready$/,
      transitionAgo: 200,
      progressAgo: 100,
    },
    {
      name: 'no progress for the deadline: ProgressDeadlineExceeded',
      outcome: pass(),
      previous: progressing(600),
      previousReady: 2,
      reason: 'ProgressDeadlineExceeded',
      message: /no replica turned ready for 600 s$/,
      transitionAgo: 0,
      progressAgo: 600,
    },
    {
      name: 'a replica turning ready restarts the clock',
      outcome: pass({ ready: 3 }),
      previous: progressing(900),
      previousReady: 2,
      reason: 'Progressing',
      transitionAgo: 900,
      progressAgo: 0,
    },
    {
      name: 'exceeded stays exceeded, with its transition time',
      outcome: pass(),
      previous: {
        ...progressing(900, 300),
        reason: 'ProgressDeadlineExceeded',
      },
      previousReady: 2,
      reason: 'ProgressDeadlineExceeded',
      transitionAgo: 300,
      progressAgo: 900,
    },
    {
      name: 'a new spec is a new rollout',
      outcome: pass({ specChanged: true }),
      previous: { ...progressing(900, 300), reason: 'ProgressDeadlineExceeded' },
      previousReady: 2,
      reason: 'Progressing',
      transitionAgo: 0,
      progressAgo: 0,
    },
    {
      name: "the app's own deadline",
      outcome: pass(),
      previous: progressing(6),
      previousReady: 2,
      deadline: 5,
      reason: 'ProgressDeadlineExceeded',
      message: /for 5 s$/,
      transitionAgo: 0,
      progressAgo: 6,
    },
    {
      name: 'replicas lost after being ready start a new clock',
      outcome: pass({ ready: 1 }),
      previous: {
        type: 'Ready',
        status: 'True',
        reason: 'AllReplicasReady',
        lastTransitionTime: ago(5000),
      },
      previousReady: 4,
      reason: 'Progressing',
      transitionAgo: 0,
      progressAgo: 0,
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const cond = applicationReadyCondition(
        c.outcome,
        c.previous,
        c.previousReady ?? 0,
        NOW,
        c.deadline ?? 600,
      );
      assert.equal(cond.type, 'Ready');
      assert.equal(cond.reason, c.reason);
      assert.equal(cond.status, c.reason === 'AllReplicasReady' ? 'True' : 'False');
      if (c.message) assert.match(cond.message ?? '', c.message);
      assert.equal(cond.lastTransitionTime, ago(c.transitionAgo));
      assert.equal(
        cond.lastProgressTime,
        c.progressAgo === undefined ? undefined : ago(c.progressAgo),
      );
    });
  }
});
