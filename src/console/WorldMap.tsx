// An offline world map: Natural Earth land (world-atlas, bundled) projected
// with d3-geo and drawn as SVG. No tiles, no fonts, no network.
import { geoNaturalEarth1, geoPath } from 'd3-geo';
import { feature } from 'topojson-client';
import type { GeometryCollection, Topology } from 'topojson-specification';
import land110m from 'world-atlas/land-110m.json';
import { memo, useMemo } from 'react';
import type { Health, SiteAggregate } from './aggregate.ts';
import { fmtInt } from './format.ts';
import { href } from './router.ts';

const WIDTH = 960;
const HEIGHT = 470;
const projection = geoNaturalEarth1().fitExtent(
  [
    [4, 4],
    [WIDTH - 4, HEIGHT - 4],
  ],
  { type: 'Sphere' },
);
const path = geoPath(projection);
const topology = land110m as unknown as Topology<{ land: GeometryCollection }>;
// Drawn once per page load; the land never changes.
const LAND = path(feature(topology, topology.objects.land)) ?? '';
const SPHERE = path({ type: 'Sphere' }) ?? '';

export const HEALTH_LABEL: Record<Health, string> = {
  healthy: 'All clusters ready',
  degraded: 'Some clusters not ready',
  down: 'No cluster ready',
  empty: 'No clusters',
};

export const WorldMap = memo(function WorldMap({ sites }: { sites: readonly SiteAggregate[] }) {
  const circles = useMemo(() => {
    const max = Math.max(1, ...sites.map((s) => s.cores));
    return sites
      .map((s) => {
        const xy = projection([s.longitude, s.latitude]);
        return xy ? { s, x: xy[0], y: xy[1], r: 2.5 + 16 * Math.sqrt(s.cores / max) } : undefined;
      })
      .filter((c) => c !== undefined)
      .sort((a, b) => b.r - a.r); // small circles on top of big ones
  }, [sites]);
  const counts = { healthy: 0, degraded: 0, down: 0, empty: 0 };
  for (const s of sites) counts[s.health]++;
  return (
    <figure className="map">
      <svg
        viewBox={`0 0 ${WIDTH} ${HEIGHT}`}
        role="img"
        aria-labelledby="map-title"
        data-testid="world-map"
      >
        <title id="map-title">
          {`World map of ${sites.length} sites: ${counts.healthy} healthy, ${counts.degraded} degraded, ${counts.down} down`}
        </title>
        <path d={SPHERE} className="sea" />
        <path d={LAND} className="land" />
        {circles.map(({ s, x, y, r }) => (
          <a
            key={s.name}
            href={href(['clusters'], { site: s.name })}
            tabIndex={-1}
            aria-hidden="true"
          >
            <circle
              cx={x}
              cy={y}
              r={r}
              className={`site health-${s.health}`}
              data-site={s.name}
              data-health={s.health}
            >
              <title>{`${s.name} (${s.city}, ${s.country}, ${s.kind}) · ${fmtInt(s.cores)} cores · ${s.readyClusters}/${s.clusters} clusters ready`}</title>
            </circle>
          </a>
        ))}
      </svg>
      <figcaption className="legend">
        {(['healthy', 'degraded', 'down'] as const).map((h) => (
          <span key={h}>
            <span className={`swatch health-${h}`} aria-hidden="true" /> {HEALTH_LABEL[h]} (
            {counts[h]})
          </span>
        ))}
        <span>Circle area: cores</span>
      </figcaption>
    </figure>
  );
});
