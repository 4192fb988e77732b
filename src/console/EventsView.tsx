// A live timeline of what happened: clusters failing and recovering,
// failovers, failbacks, rebalances. Newest first; filters in the address.
import { useEffect, useMemo, useState } from 'react';
import type { Event } from '../model/schema.ts';
import { fmtAgo, fmtInt } from './format.ts';
import { useFeed } from './live.ts';
import { href, replaceQuery } from './router.ts';
import { Field, FilterForm } from './ui.tsx';

const PAGE = 200;

function objectLink(e: Event): string | undefined {
  const o = e.spec.involvedObject;
  if (o.kind === 'Application') return href(['apps', o.namespace ?? 'default', o.name]);
  if (o.kind === 'Cluster') return href(['clusters'], { q: o.name });
  return undefined;
}

export function EventList({
  events,
  limit,
  empty,
}: {
  events: readonly Event[];
  limit: number;
  empty: string;
}) {
  // "5s ago" must age while nothing new arrives.
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), 10_000);
    return () => clearInterval(timer);
  }, []);
  const sorted = useMemo(
    () =>
      [...events]
        .sort((a, b) => b.spec.lastTimestamp.localeCompare(a.spec.lastTimestamp))
        .slice(0, limit),
    [events, limit],
  );
  if (sorted.length === 0) return <p>{empty}</p>;
  return (
    <ol className="timeline" data-testid="events">
      {sorted.map((e) => {
        const link = objectLink(e);
        const o = e.spec.involvedObject;
        return (
          <li
            key={e.metadata.name}
            className={`event event-${e.spec.type.toLowerCase()}`}
            data-reason={e.spec.reason}
          >
            <time dateTime={e.spec.lastTimestamp} title={e.spec.lastTimestamp}>
              {fmtAgo(e.spec.lastTimestamp, now)}
            </time>
            <span
              className={`badge reason ${e.spec.type === 'Warning' ? 'health-down' : 'health-healthy'}`}
            >
              {e.spec.reason}
            </span>
            <span className="object">
              {o.kind}{' '}
              {link ? (
                <a href={link}>{o.namespace ? `${o.namespace}/${o.name}` : o.name}</a>
              ) : (
                o.name
              )}
            </span>
            <span className="message">{e.spec.message}</span>
            {e.spec.count > 1 && <span className="count">×{fmtInt(e.spec.count)}</span>}
          </li>
        );
      })}
    </ol>
  );
}

export function EventsView({ query }: { query: URLSearchParams }) {
  const events = useFeed<Event>('events');
  const type = query.get('type') ?? '';
  const reason = query.get('reason') ?? '';
  const q = (query.get('q') ?? '').toLowerCase();
  const reasons = useMemo(
    () => [...new Set(events.items.map((e) => e.spec.reason))].sort(),
    [events.version],
  );
  const shown = useMemo(
    () =>
      events.items.filter(
        (e) =>
          (type === '' || e.spec.type === type) &&
          (reason === '' || e.spec.reason === reason) &&
          (q === '' ||
            e.spec.message.toLowerCase().includes(q) ||
            e.spec.involvedObject.name.includes(q)),
      ),
    [events.version, type, reason, q],
  );
  const set = (patch: Record<string, string>) =>
    replaceQuery(
      Object.fromEntries(Object.entries({ type, reason, q, ...patch }).filter(([, v]) => v !== '')),
    );
  const warnings = shown.filter((e) => e.spec.type === 'Warning').length;
  return (
    <section>
      <h1 tabIndex={-1}>Events</h1>
      <FilterForm label="Filter events">
        <Field label="Type">
          <select value={type} onChange={(e) => set({ type: e.target.value })}>
            <option value="">all</option>
            <option>Warning</option>
            <option>Normal</option>
          </select>
        </Field>
        <Field label="Reason">
          <select value={reason} onChange={(e) => set({ reason: e.target.value })}>
            <option value="">all</option>
            {reasons.map((r) => (
              <option key={r}>{r}</option>
            ))}
          </select>
        </Field>
        <Field label="Search">
          <input type="search" value={q} onChange={(e) => set({ q: e.target.value })} />
        </Field>
      </FilterForm>
      <p className="summary" role="status" aria-live="polite">
        {fmtInt(shown.length)} events, {fmtInt(warnings)} warnings
        {shown.length > PAGE ? `; the newest ${PAGE} shown` : ''}
      </p>
      <EventList
        events={shown}
        limit={PAGE}
        empty={
          events.state === 'loading'
            ? 'Loading…'
            : 'Nothing has happened yet. Fail a cloud with `bin/yunjian chaos fail cloud gcp` to see events arrive.'
        }
      />
    </section>
  );
}
