// Migrations: every MigrationPlan with its waves (each application's
// Migration phase), every Migration with its traffic split, step and gate
// results, and one migration's split over time as a chart (the first in
// flight unless another is chosen). Fetched on entry and every 3 s:
// migrations move step by step.
import { useState } from 'react';
import { targetLabel } from '../model/migrationplan.ts';
import type { Migration } from '../model/schema/migration.ts';
import type { MigrationPlan } from '../model/schema/migrationplan.ts';
import { API, getJson } from './api.ts';
import { FINISHED_SHOWN, isFinished, migrationRows } from './migrationRows.ts';
import { splitTimeline } from './migrationTimeline.ts';
import { SplitChart } from './SplitChart.tsx';
import { usePolled } from './polled.ts';
import { TableHead } from './ui.tsx';

const POLL_MS = 3000;
const PLAN_LABEL = 'yunjian.io/migration-plan';

interface Lists {
  plans: MigrationPlan[];
  migrations: Migration[];
}

async function loadMigrations(signal: AbortSignal): Promise<Lists> {
  const [plans, migrations] = await Promise.all([
    getJson<{ items: MigrationPlan[] }>(`${API}/migrationplans`, signal),
    getJson<{ items: Migration[] }>(`${API}/migrations`, signal),
  ]);
  return { plans: plans.items, migrations: migrations.items };
}

/** "25% on the target, 75% on the source", or the phase's word for it. */
export function trafficSplit(m: Migration): string {
  const w = m.status?.weight;
  if (w === undefined) return 'all on the source';
  return `${w}% target / ${100 - w}% source`;
}

/** The weights each analysed step held, in order: the split over time. */
export function splitHistory(m: Migration): string {
  const weights = (m.status?.analyses ?? []).map((a) => `${a.weight}% ${a.result}`);
  return weights.length === 0 ? '—' : weights.join(' → ');
}

function PlanSection({ plan }: { plan: MigrationPlan }) {
  const s = plan.status;
  const id = `plan-${plan.metadata.namespace ?? 'default'}-${plan.metadata.name}`;
  return (
    <section aria-labelledby={id}>
      <h2 id={id}>
        Plan {plan.metadata.name}{' '}
        <span className="muted">
          {s?.phase ?? 'Pending'}
          {s !== undefined && s.waves.length > 0
            ? `, wave ${Math.min(s.currentWave + 1, s.waves.length)} of ${s.waves.length}`
            : ''}
        </span>
      </h2>
      {s?.message !== undefined && <p>{s.message}</p>}
      {s === undefined ? (
        <p>Not planned yet.</p>
      ) : (
        <table>
          <caption>Waves of {plan.metadata.name}</caption>
          <TableHead columns={['Wave', 'Phase', 'Applications']} />
          <tbody>
            {s.waves.map((w, i) => (
              <tr key={i} aria-current={i === s.currentWave ? 'step' : undefined}>
                <td>{i + 1}</td>
                <td>{w.phase}</td>
                <td>
                  {w.applications
                    .map((name) => {
                      const a = s.applications.find((x) => x.name === name);
                      return `${name} → ${a ? targetLabel(a.to) : '?'} (${a?.phase ?? 'not started'})`;
                    })
                    .join(', ')}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {s !== undefined && s.unmovable.length > 0 && (
        <>
          <h3>Unmovable</h3>
          <ul>
            {s.unmovable.map((u) => (
              <li key={u.name}>
                {u.name}: {u.reason}
              </li>
            ))}
          </ul>
        </>
      )}
    </section>
  );
}

const keyOf = (m: Migration) => `${m.metadata.namespace ?? 'default'}/${m.metadata.name}`;

export function MigrationsView() {
  const { value: lists, error } = usePolled(loadMigrations, POLL_MS);
  const [chosen, setChosen] = useState<string | undefined>(undefined);
  const [showAll, setShowAll] = useState(false);
  const view =
    lists === undefined
      ? undefined
      : migrationRows(lists.migrations, showAll ? Number.POSITIVE_INFINITY : FINISHED_SHOWN);
  const shown =
    lists?.migrations.find((m) => keyOf(m) === chosen) ??
    lists?.migrations.find((m) => !isFinished(m)) ??
    lists?.migrations.at(-1);
  return (
    <section aria-labelledby="migrations-title">
      <h1 id="migrations-title" tabIndex={-1}>
        Migrations
      </h1>
      {error !== undefined && <p role="alert">{error}</p>}
      {lists === undefined || view === undefined ? (
        <p role="status">Loading…</p>
      ) : (
        <>
          {lists.plans.map((p) => (
            <PlanSection key={`${p.metadata.namespace}/${p.metadata.name}`} plan={p} />
          ))}
          <section aria-labelledby="migrations-list">
            <h2 id="migrations-list">
              Migrations <span className="muted">{lists.migrations.length}</span>
            </h2>
            {lists.migrations.length > 0 && (
              <p>
                {view.phases.map(([phase, n]) => `${phase} ${n}`).join(', ')}
                {view.hidden > 0 && (
                  <>
                    {`; ${view.hidden} older finished migrations not listed `}
                    <button type="button" className="link" onClick={() => setShowAll(true)}>
                      list all
                    </button>
                  </>
                )}
              </p>
            )}
            {lists.migrations.length === 0 ? (
              <p>No migrations.</p>
            ) : (
              <table>
                <caption>
                  Migrations in flight and the latest finished: traffic split and gate results
                </caption>
                <TableHead
                  columns={[
                    'Migration',
                    'Application',
                    'To',
                    'Phase',
                    'Step',
                    'Traffic',
                    'Gates (split over time)',
                    'Plan',
                  ]}
                />
                <tbody>
                  {view.rows.map((m) => {
                    const steps = m.spec.steps ?? [5, 25, 50, 100];
                    const last = m.status?.analyses?.at(-1);
                    return (
                      <tr key={keyOf(m)}>
                        <td>
                          <button
                            type="button"
                            className="link"
                            aria-pressed={shown !== undefined && keyOf(shown) === keyOf(m)}
                            title="Show its traffic split over time"
                            onClick={() => setChosen(keyOf(m))}
                          >
                            {m.metadata.name}
                          </button>
                        </td>
                        <td>{m.spec.application}</td>
                        <td>{targetLabel(m.spec.to)}</td>
                        <td>{m.status?.phase ?? 'Pending'}</td>
                        <td>
                          {m.status?.step === undefined
                            ? '—'
                            : `${m.status.step + 1} of ${steps.length}`}
                        </td>
                        <td>{trafficSplit(m)}</td>
                        <td title={last?.message}>{splitHistory(m)}</td>
                        <td>{m.metadata.labels?.[PLAN_LABEL] ?? '—'}</td>
                      </tr>
                    );
                  })}
                </tbody>
              </table>
            )}
            {shown !== undefined && (
              <SplitChart
                id="migration-split"
                title={`Traffic on the target over time: ${shown.metadata.name} (${targetLabel(shown.spec.to)})`}
                points={splitTimeline(shown, Date.now())}
              />
            )}
          </section>
        </>
      )}
    </section>
  );
}
