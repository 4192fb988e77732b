// The Migrations page's rows, table-driven: every migration in flight, then
// the most recently finished up to the limit, and a count per phase.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { migrationRows } from '../src/console/migrationRows.ts';
import type { Migration, MigrationStatus } from '../src/model/schema/migration.ts';

const m = (name: string, phase?: MigrationStatus['phase'], finishedMinute?: number): Migration => ({
  apiVersion: 'yunjian.io/v1alpha1',
  kind: 'Migration',
  metadata: { name, namespace: 'default' },
  spec: { application: name, to: { cloud: 'gcp' } },
  ...(phase !== undefined
    ? {
        status: {
          phase,
          ...(finishedMinute !== undefined
            ? { finishedAt: `2026-12-06T10:${String(finishedMinute).padStart(2, '0')}:00Z` }
            : {}),
        },
      }
    : {}),
});

const ALL = [
  m('done-old', 'Succeeded', 1),
  m('shifting', 'Shifting'),
  m('done-new', 'Succeeded', 9),
  m('rolled', 'RolledBack', 5),
  m('fresh'),
];

const cases = [
  {
    name: 'everything fits: in flight first, then finished newest first',
    limit: 50,
    rows: ['shifting', 'fresh', 'done-new', 'rolled', 'done-old'],
    hidden: 0,
  },
  {
    name: 'only the latest finished up to the limit; the rest are counted',
    limit: 1,
    rows: ['shifting', 'fresh', 'done-new'],
    hidden: 2,
  },
  { name: 'no finished ones at all', limit: 0, rows: ['shifting', 'fresh'], hidden: 3 },
];

describe('migrationRows', () => {
  for (const c of cases)
    it(c.name, () => {
      const r = migrationRows(ALL, c.limit);
      assert.deepEqual(
        r.rows.map((x) => x.metadata.name),
        c.rows,
      );
      assert.equal(r.hidden, c.hidden);
      assert.deepEqual(r.phases, [
        ['Succeeded', 2],
        ['Pending', 1],
        ['RolledBack', 1],
        ['Shifting', 1],
      ]);
    });

  it('nothing to list', () => {
    assert.deepEqual(migrationRows([]), { rows: [], hidden: 0, phases: [] });
  });
});
