// The what-if's prediction from its two runs: wall times W(k) = S/k + F at the
// speedup and at half of it give the scaled part S (pauses, start-up, API
// limits) and the fixed part F (the controllers' own delays); noise that
// would make F negative or larger than the fast run's wall time is clamped.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { splitWallTimes } from '../src/controllers/migrationplan/whatif.ts';

const cases: {
  name: string;
  fast: { speedup: number; wallSeconds: number };
  slow: { speedup: number; wallSeconds: number };
  scaledSeconds: number;
  fixedSeconds: number;
}[] = [
  {
    // S = 240, F = 40: W(4) = 100, W(2) = 160.
    name: 'separates a fixed part from a scaled one',
    fast: { speedup: 4, wallSeconds: 100 },
    slow: { speedup: 2, wallSeconds: 160 },
    scaledSeconds: 240,
    fixedSeconds: 40,
  },
  {
    name: 'everything scaled: no fixed part',
    fast: { speedup: 60, wallSeconds: 10 },
    slow: { speedup: 30, wallSeconds: 20 },
    scaledSeconds: 600,
    fixedSeconds: 0,
  },
  {
    name: 'a slow run shorter than twice the fast one clamps F at 0',
    fast: { speedup: 4, wallSeconds: 100 },
    slow: { speedup: 2, wallSeconds: 230 },
    scaledSeconds: 400,
    fixedSeconds: 0,
  },
  {
    name: 'a slow run no longer than the fast one: all fixed',
    fast: { speedup: 4, wallSeconds: 100 },
    slow: { speedup: 2, wallSeconds: 95 },
    scaledSeconds: 0,
    fixedSeconds: 100,
  },
  {
    name: 'the slow run at 1x when the speedup is under 2',
    fast: { speedup: 1.5, wallSeconds: 50 },
    slow: { speedup: 1, wallSeconds: 70 },
    scaledSeconds: 60,
    fixedSeconds: 10,
  },
];

describe('splitWallTimes', () => {
  for (const c of cases)
    it(c.name, () => {
      const r = splitWallTimes(c.fast, c.slow);
      assert.ok(Math.abs(r.scaledSeconds - c.scaledSeconds) < 1e-9, `scaled ${r.scaledSeconds}`);
      assert.ok(Math.abs(r.fixedSeconds - c.fixedSeconds) < 1e-9, `fixed ${r.fixedSeconds}`);
    });
});
