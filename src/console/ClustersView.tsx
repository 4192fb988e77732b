// Every cluster in one sortable, filterable table. Rows are windowed (only
// those in view are in the DOM), so the table costs the same for 266 clusters
// or 26,000. Filters live in the address so a view can be linked.
import { useMemo, useState } from 'react';
import type { Cluster } from '../model/schema.ts';
import { isReady } from './aggregate.ts';
import { fmtAgo, fmtInt, fmtPct } from './format.ts';
import { useFeed } from './live.ts';
import { replaceQuery } from './router.ts';
import { Field, FilterForm } from './ui.tsx';

const ROW_HEIGHT = 36;
const VIEWPORT_ROWS = 16;
const OVERSCAN = 6;
const ARCHES = ['amd64', 'arm64', 'riscv64'] as const;

interface Row {
  name: string;
  ready: boolean;
  reason: string;
  cloud: string;
  site: string;
  driver: string;
  arches: string;
  nodes: number;
  cores: number;
  allocated: number;
  utilisation: number;
  heartbeat: string | undefined;
}

function toRow(c: Cluster): Row {
  const cond = c.status?.conditions?.find((x) => x.type === 'Ready');
  const cores = c.status?.capacity?.cpu ?? 0;
  const allocated = c.status?.allocated?.cpu ?? 0;
  const byArch = c.status?.nodesByArch;
  return {
    name: c.metadata.name,
    ready: isReady(c),
    reason: cond
      ? `${cond.reason ?? cond.status}${cond.message ? `: ${cond.message}` : ''}`
      : 'no status yet',
    cloud: c.spec.cloud,
    site: c.spec.site,
    driver: c.spec.driver.type,
    arches: byArch ? ARCHES.filter((a) => byArch[a] > 0).join(', ') : '',
    nodes: c.status?.nodeCount ?? 0,
    cores,
    allocated,
    utilisation: cores > 0 ? allocated / cores : 0,
    heartbeat: c.status?.lastHeartbeatTime,
  };
}

type SortKey = keyof Row;
const COLUMNS: { key: SortKey; label: string; num?: boolean }[] = [
  { key: 'name', label: 'Cluster' },
  { key: 'ready', label: 'Health' },
  { key: 'cloud', label: 'Cloud' },
  { key: 'site', label: 'Site' },
  { key: 'driver', label: 'Driver' },
  { key: 'arches', label: 'Architectures' },
  { key: 'nodes', label: 'Nodes', num: true },
  { key: 'cores', label: 'Cores', num: true },
  { key: 'allocated', label: 'Allocated', num: true },
  { key: 'utilisation', label: 'Utilisation', num: true },
  { key: 'heartbeat', label: 'Heartbeat' },
];

export function ClustersView({ query }: { query: URLSearchParams }) {
  const clusters = useFeed<Cluster>('clusters');
  const [scrollTop, setScrollTop] = useState(0);
  const filters = {
    q: query.get('q') ?? '',
    cloud: query.get('cloud') ?? '',
    site: query.get('site') ?? '',
    health: query.get('health') ?? '',
    arch: query.get('arch') ?? '',
    driver: query.get('driver') ?? '',
    sort: query.get('sort') ?? 'name',
    dir: query.get('dir') === 'desc' ? 'desc' : 'asc',
  };
  const set = (patch: Partial<typeof filters>) => {
    const next = { ...filters, ...patch };
    replaceQuery(
      Object.fromEntries(
        Object.entries(next).filter(
          ([k, v]) => v !== '' && !(k === 'sort' && v === 'name') && !(k === 'dir' && v === 'asc'),
        ),
      ),
    );
  };

  const all = useMemo(() => clusters.items.map(toRow), [clusters.version]);
  const options = useMemo(
    () => ({
      clouds: [...new Set(all.map((r) => r.cloud))].sort(),
      drivers: [...new Set(all.map((r) => r.driver))].sort(),
    }),
    [all],
  );
  const rows = useMemo(() => {
    const q = filters.q.toLowerCase();
    const key = COLUMNS.find((c) => c.key === filters.sort)?.key ?? 'name';
    const sign = filters.dir === 'desc' ? -1 : 1;
    return all
      .filter(
        (r) =>
          (q === '' || r.name.includes(q) || r.site.includes(q)) &&
          (filters.cloud === '' || r.cloud === filters.cloud) &&
          (filters.site === '' || r.site === filters.site) &&
          (filters.health === '' || (filters.health === 'ready') === r.ready) &&
          (filters.arch === '' || r.arches.includes(filters.arch)) &&
          (filters.driver === '' || r.driver === filters.driver),
      )
      .sort((a, b) => {
        const x = a[key] ?? '';
        const y = b[key] ?? '';
        return (x < y ? -1 : x > y ? 1 : a.name < b.name ? -1 : 1) * sign;
      });
  }, [
    all,
    filters.q,
    filters.cloud,
    filters.site,
    filters.health,
    filters.arch,
    filters.driver,
    filters.sort,
    filters.dir,
  ]);

  const first = Math.max(0, Math.floor(scrollTop / ROW_HEIGHT) - OVERSCAN);
  const last = Math.min(rows.length, first + VIEWPORT_ROWS + 2 * OVERSCAN);
  const visible = rows.slice(first, last);
  const notReady = rows.filter((r) => !r.ready).length;

  return (
    <section>
      <h1 tabIndex={-1}>Clusters</h1>
      <FilterForm label="Filter clusters">
        <Field label="Search">
          <input
            type="search"
            value={filters.q}
            placeholder="name or site"
            onChange={(e) => set({ q: e.target.value })}
          />
        </Field>
        <Field label="Cloud">
          <select value={filters.cloud} onChange={(e) => set({ cloud: e.target.value })}>
            <option value="">all</option>
            {options.clouds.map((c) => (
              <option key={c}>{c}</option>
            ))}
          </select>
        </Field>
        <Field label="Health">
          <select value={filters.health} onChange={(e) => set({ health: e.target.value })}>
            <option value="">all</option>
            <option value="ready">Ready</option>
            <option value="notready">Not ready</option>
          </select>
        </Field>
        <Field label="Architecture">
          <select value={filters.arch} onChange={(e) => set({ arch: e.target.value })}>
            <option value="">all</option>
            {ARCHES.map((a) => (
              <option key={a}>{a}</option>
            ))}
          </select>
        </Field>
        <Field label="Driver">
          <select value={filters.driver} onChange={(e) => set({ driver: e.target.value })}>
            <option value="">all</option>
            {options.drivers.map((d) => (
              <option key={d}>{d}</option>
            ))}
          </select>
        </Field>
        {filters.site !== '' && (
          <button type="button" onClick={() => set({ site: '' })}>
            Site {filters.site} ✕
          </button>
        )}
      </FilterForm>
      <p role="status" className="summary" data-testid="clusters-summary">
        {fmtInt(rows.length)} of {fmtInt(all.length)} clusters shown, {fmtInt(notReady)} not ready
      </p>
      <div
        className="table-scroll virtual"
        style={{ maxHeight: `${(VIEWPORT_ROWS + 1) * ROW_HEIGHT}px` }}
        onScroll={(e) => setScrollTop(e.currentTarget.scrollTop)}
        tabIndex={0}
        role="region"
        aria-label="Clusters table, scrollable"
      >
        <table className="data" aria-rowcount={rows.length + 1} data-testid="clusters-table">
          <thead>
            <tr>
              {COLUMNS.map((c) => {
                const active = filters.sort === c.key;
                return (
                  <th
                    key={c.key}
                    scope="col"
                    className={c.num ? 'num' : undefined}
                    aria-sort={
                      active ? (filters.dir === 'desc' ? 'descending' : 'ascending') : 'none'
                    }
                  >
                    <button
                      type="button"
                      className="sort"
                      onClick={() =>
                        set({ sort: c.key, dir: active && filters.dir === 'asc' ? 'desc' : 'asc' })
                      }
                    >
                      {c.label}
                      <span aria-hidden="true">
                        {active ? (filters.dir === 'desc' ? ' ▼' : ' ▲') : ''}
                      </span>
                    </button>
                  </th>
                );
              })}
            </tr>
          </thead>
          <tbody>
            {first > 0 && <tr aria-hidden="true" style={{ height: `${first * ROW_HEIGHT}px` }} />}
            {visible.map((r, i) => (
              <tr
                key={r.name}
                aria-rowindex={first + i + 2}
                data-cluster={r.name}
                data-ready={r.ready}
              >
                <th scope="row">{r.name}</th>
                <td>
                  <span className={`badge health-${r.ready ? 'healthy' : 'down'}`} title={r.reason}>
                    {r.ready ? 'Ready' : 'NotReady'}
                  </span>
                </td>
                <td>{r.cloud}</td>
                <td>{r.site}</td>
                <td>{r.driver}</td>
                <td>{r.arches}</td>
                <td className="num">{fmtInt(r.nodes)}</td>
                <td className="num">{fmtInt(r.cores)}</td>
                <td className="num">{fmtInt(r.allocated)}</td>
                <td className="num">{fmtPct(r.allocated, r.cores)}</td>
                <td>{fmtAgo(r.heartbeat)}</td>
              </tr>
            ))}
            {last < rows.length && (
              <tr aria-hidden="true" style={{ height: `${(rows.length - last) * ROW_HEIGHT}px` }} />
            )}
          </tbody>
        </table>
      </div>
    </section>
  );
}
