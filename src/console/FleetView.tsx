// The fleet at a glance: totals, the world map of sites and capacity,
// allocation, utilisation and price broken down by cloud, site kind and CPU
// architecture. Everything derives from one aggregation per update batch.
import { Suspense, lazy, useMemo, useState } from 'react';
import type { Cloud, Cluster, Site } from '../model/schema.ts';
import { aggregateFleet, type Breakdown } from './aggregate.ts';
import type { Series } from './BarChart.tsx';
import { fmtCompact, fmtInt, fmtPct, fmtPrice } from './format.ts';
import { useFeed } from './live.ts';
import { href, replaceQuery, useRoute } from './router.ts';
import { TableHead, num } from './ui.tsx';
import { WorldMap } from './WorldMap.tsx';

// Chart.js is below the fold: it loads after the map and totals are on screen.
const BarChart = lazy(() => import('./BarChart.tsx').then((m) => ({ default: m.BarChart })));

const ALLOCATED = '#0969da';
const FREE = '#9ec5f5';
const PRICE = '#8250df';

function capacitySeries(rows: readonly Breakdown[]): Series[] {
  return [
    { label: 'Allocated cores', data: rows.map((r) => r.allocated), color: ALLOCATED },
    { label: 'Free cores', data: rows.map((r) => Math.max(0, r.cores - r.allocated)), color: FREE },
  ];
}

export function FleetView() {
  const clouds = useFeed<Cloud>('clouds');
  const sites = useFeed<Site>('sites');
  const clusters = useFeed<Cluster>('clusters');
  const route = useRoute();
  const cloudFilter = route.query.get('cloud') ?? '';

  const fleet = useMemo(
    () => aggregateFleet(clouds.items, sites.items, clusters.items),
    [clouds.version, sites.version, clusters.version],
  );
  const filtered = cloudFilter ? fleet.sites.filter((s) => s.cloud === cloudFilter) : fleet.sites;
  // Heartbeats change every cluster every few seconds but rarely what the map
  // draws; the map and the site table re-render only when health or size moves.
  const siteKey = filtered
    .map(
      (s) =>
        `${s.name}:${s.health}:${s.readyClusters}:${Math.round(s.cores)}:${Math.round(s.allocated)}`,
    )
    .join('|');
  const shownSites = useMemo(() => filtered, [siteKey]);
  const [sitesOpen, setSitesOpen] = useState(false);
  const charts = useMemo(
    () => ({
      capacity: [
        {
          id: 'by-cloud',
          title: 'Cores by cloud: allocated and free',
          labels: fleet.byCloud.map((c) => c.key),
          series: capacitySeries(fleet.byCloud),
          horizontal: true,
        },
        {
          id: 'by-kind',
          title: 'Cores by site kind',
          labels: fleet.bySiteKind.map((k) => k.label),
          series: capacitySeries(fleet.bySiteKind),
          horizontal: false,
        },
        {
          id: 'by-arch',
          title: 'Cores by CPU architecture',
          labels: fleet.byArch.map((a) => a.label),
          series: capacitySeries(fleet.byArch),
          horizontal: false,
        },
      ],
      priced: fleet.byCloud
        .filter((c) => c.listPrice !== undefined)
        .sort((a, b) => (a.listPrice ?? 0) - (b.listPrice ?? 0)),
    }),
    [fleet],
  );
  const loading =
    clouds.state === 'loading' || sites.state === 'loading' || clusters.state === 'loading';
  const t = fleet.totals;

  return (
    <section aria-busy={loading}>
      <h1 tabIndex={-1}>Fleet</h1>
      <dl className="totals" data-testid="totals">
        <Total id="clouds" label="Clouds" value={fmtInt(t.clouds)} />
        <Total id="sites" label="Sites" value={fmtInt(t.sites)} />
        <Total
          id="clusters"
          label="Clusters"
          value={fmtInt(t.clusters)}
          note={`${fmtInt(t.readyClusters)} ready`}
          warn={t.readyClusters < t.clusters}
        />
        <Total id="nodes" label="Nodes" value={fmtInt(t.nodes)} />
        <Total id="cores" label="Cores" value={fmtInt(t.cores)} />
        <Total
          id="allocated"
          label="Allocated cores"
          value={fmtInt(t.allocated)}
          note={`${fmtPct(t.allocated, t.cores)} utilised`}
        />
      </dl>

      <div className="panel">
        <div className="panel-head">
          <h2>Sites</h2>
          <div className="filter" role="group" aria-label="Show sites of one cloud">
            <button
              type="button"
              aria-pressed={cloudFilter === ''}
              onClick={() => replaceQuery({})}
            >
              All clouds
            </button>
            {fleet.byCloud.map((c) => (
              <button
                key={c.key}
                type="button"
                aria-pressed={cloudFilter === c.key}
                onClick={() => replaceQuery(cloudFilter === c.key ? {} : { cloud: c.key })}
              >
                {c.key}
              </button>
            ))}
          </div>
        </div>
        <WorldMap sites={shownSites} />
        <details onToggle={(e) => setSitesOpen(e.currentTarget.open)}>
          <summary>Sites as a table ({shownSites.length})</summary>
          {sitesOpen && (
            <div className="table-scroll">
              <table className="data">
                <TableHead
                  columns={[
                    'Site',
                    'Cloud',
                    'Kind',
                    'Location',
                    'Ready clusters',
                    num('Cores'),
                    num('Allocated'),
                  ]}
                />
                <tbody>
                  {shownSites.map((s) => (
                    <tr key={s.name}>
                      <th scope="row">
                        <a href={href(['clusters'], { site: s.name })}>{s.name}</a>
                      </th>
                      <td>{s.cloud}</td>
                      <td>{s.kind}</td>
                      <td>
                        {s.city}, {s.country}
                      </td>
                      <td>
                        <span className={`badge health-${s.health}`}>
                          {s.readyClusters}/{s.clusters}
                        </span>
                      </td>
                      <td className="num">{fmtInt(s.cores)}</td>
                      <td className="num">{fmtInt(s.allocated)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
        </details>
      </div>

      <Suspense fallback={<p role="status">Loading charts…</p>}>
        <div className="charts">
          {charts.capacity.map((c) => (
            <BarChart key={c.id} {...c} stacked format={fmtCompact} />
          ))}
          <BarChart
            id="price"
            title="List price per core-hour by cloud (USD)"
            labels={charts.priced.map((c) => c.key)}
            series={[
              {
                label: 'Price per core-hour',
                data: charts.priced.map((c) => c.listPrice ?? 0),
                color: PRICE,
              },
            ]}
            horizontal
            format={(n) => n.toFixed(4)}
          />
        </div>
      </Suspense>

      <div className="panel">
        <h2>Clouds</h2>
        <div className="table-scroll">
          <table className="data" data-testid="clouds-table">
            <TableHead
              columns={[
                'Cloud',
                'Type',
                'Ready clusters',
                ...CAPACITY_COLUMNS,
                num('List price / core-h'),
                num('Avg cluster price / core-h'),
              ]}
            />
            <tbody>
              {fleet.byCloud.map((c) => (
                <tr key={c.key} data-cloud={c.key}>
                  <th scope="row">
                    <a href={href(['clusters'], { cloud: c.key })}>{c.label}</a>
                  </th>
                  <td>{c.type}</td>
                  <td>
                    <span
                      className={`badge health-${c.readyClusters === c.clusters ? 'healthy' : c.readyClusters === 0 ? 'down' : 'degraded'}`}
                    >
                      {c.readyClusters}/{c.clusters}
                    </span>
                  </td>
                  <CapacityCells row={c} />
                  <td className="num">{fmtPrice(c.listPrice, c.currency)}</td>
                  <td className="num">{fmtPrice(c.averagePrice, c.currency)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
        <h2>Site kinds and architectures</h2>
        <div className="table-scroll">
          <table className="data">
            <TableHead columns={['Group', num('Clusters'), ...CAPACITY_COLUMNS]} />
            <tbody>
              {[
                ...fleet.bySiteKind.map((k) => ({ ...k, label: `site kind: ${k.label}` })),
                ...fleet.byArch.map((a) => ({ ...a, label: `architecture: ${a.label}` })),
              ].map((r) => (
                <tr key={r.label}>
                  <th scope="row">{r.label}</th>
                  <td className="num">{fmtInt(r.clusters)}</td>
                  <CapacityCells row={r} />
                </tr>
              ))}
            </tbody>
          </table>
        </div>
        <p className="hint">
          Mixed-architecture clusters are split by their node pools&apos; cores (by node count where
          a driver reports only nodes), so architecture rows add up to the fleet&apos;s totals.
        </p>
      </div>
    </section>
  );
}

const CAPACITY_COLUMNS = [num('Nodes'), num('Cores'), num('Allocated'), num('Utilisation')];

/** The cells under CAPACITY_COLUMNS. */
function CapacityCells({ row }: { row: Breakdown }) {
  return (
    <>
      <td className="num">{fmtInt(row.nodes)}</td>
      <td className="num">{fmtInt(row.cores)}</td>
      <td className="num">{fmtInt(row.allocated)}</td>
      <td className="num">{fmtPct(row.allocated, row.cores)}</td>
    </>
  );
}

function Total({
  id,
  label,
  value,
  note,
  warn = false,
}: {
  id: string;
  label: string;
  value: string;
  note?: string;
  warn?: boolean;
}) {
  return (
    <div className={`total${warn ? ' warn' : ''}`} data-testid={`total-${id}`}>
      <dt>{label}</dt>
      <dd>
        <span className="value">{value}</span>
        {note !== undefined && <span className="note">{note}</span>}
      </dd>
    </div>
  );
}
