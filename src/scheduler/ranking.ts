// Ranking: the order in which the feasible clusters are tried. Each of the
// registry's scores (plugins.ts: cost, packing, balance, proximity) is
// weighted per app and summed; clusters the component already runs on come
// first (placement is sticky); a seeded jitter far below score resolution
// breaks exact ties, so equal clusters share load across apps yet every
// decision repeats for the same (seed, app).
import { greatCircleKm, type LatLon } from '../lib/geo.ts';
import { TOP, type Places, type Run } from './context.ts';
import { proximityFromKm, resolveUserRegion } from './regions.ts';
import type { ClusterInfo } from './snapshot.ts';

/** Where the fleet's sites are, and the mean position of its regions and countries. */
export function placesOf(clusters: readonly ClusterInfo[]): Places {
  const site = new Map<string, LatLon>();
  const regionSum = new Map<string, [number, number, number]>();
  const countrySum = new Map<string, [number, number, number]>();
  const addTo = (m: Map<string, [number, number, number]>, k: string, at: LatLon) => {
    const v = m.get(k) ?? [0, 0, 0];
    v[0] += at.latitude;
    v[1] += at.longitude;
    v[2]++;
    m.set(k, v);
  };
  for (const c of clusters) {
    if (c.latitude === undefined || c.longitude === undefined) continue;
    const at = { latitude: c.latitude, longitude: c.longitude };
    site.set(c.site, at);
    if (c.region) addTo(regionSum, c.region, at);
    if (c.country) addTo(countrySum, c.country, at);
  }
  const mean = (m: Map<string, [number, number, number]>) =>
    new Map([...m].map(([k, [a, b, n]]) => [k, { latitude: a / n, longitude: b / n }]));
  return { site, region: mean(regionSum), country: mean(countrySum) };
}

/** Proximity score per cluster for the user regions (cached per list), and the regions not understood. */
export function proximityScores(
  run: Run,
  userRegions: readonly string[],
): { scores: Float64Array; unknown: string[] } {
  const key = userRegions.join('\u0000');
  let hit = run.proximityCache.get(key);
  if (hit) return hit;
  const places = run.places;
  const book = {
    site: (n: string) => places.site.get(n),
    region: (n: string) => places.region.get(n),
    country: (n: string) => places.country.get(n),
  };
  const points: LatLon[] = [];
  const unknown: string[] = [];
  for (const r of userRegions) {
    const at = resolveUserRegion(r, book);
    if (at) points.push(at);
    else unknown.push(r);
  }
  const scores = new Float64Array(run.clusters.length);
  run.clusters.forEach((c, i) => {
    if (c.latitude === undefined || c.longitude === undefined || points.length === 0) return;
    const here = { latitude: c.latitude, longitude: c.longitude };
    let best = Infinity;
    for (const pt of points) best = Math.min(best, greatCircleKm(here, pt));
    scores[i] = proximityFromKm(best);
  });
  hit = { scores, unknown };
  run.proximityCache.set(key, hit);
  return hit;
}

/** A 32-bit mix of (salt, i) in [0, 1): the tie-break jitter of cluster i. */
function jitter(salt: number, i: number): number {
  let h = Math.imul(salt ^ Math.imul(i + 1, 0x9e3779b1), 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return (h >>> 0) / 4294967296;
}

/**
 * Scores the candidates (run.total: the weighted score; ws.parts: each
 * plugin's scorer, for the explanation), orders them (run.order: sticky
 * clusters +10 above any score) and keeps the best TOP in run.top, best
 * first. Also clears the candidates' per-component counters (taken, kept,
 * placed) for selection.
 */
export function rank(run: Run, current: ReadonlyMap<number, number> | undefined): void {
  const w = run.ws;
  const placement = w.ctx!.placement;
  const cand = run.candidates;
  const n = w.n;
  const total = run.total;
  const parts = w.parts;
  parts.length = 0;
  for (let j = 0; j < n; j++) total[cand[j]!] = 0;
  if (n > 0) {
    const q = { placement, request: w.r, candidates: cand, count: n };
    let weightSum = 0;
    for (const plugin of run.registry.scores) {
      const weight = plugin.weight(placement);
      if (!(weight > 0)) continue;
      const fn = plugin.prepare(q, run);
      if (!fn) continue;
      parts.push({ plugin, weight, fn });
      weightSum += weight;
    }
    for (const part of parts) {
      const wt = part.weight / weightSum;
      if (part.plugin.addAll) part.plugin.addAll(q, run, wt, total);
      else
        for (let j = 0; j < n; j++) {
          const c = cand[j]!;
          total[c]! += wt * part.fn(c);
        }
    }
  }
  const salt = (w.ctx!.random() * 4294967296) >>> 0;
  const order = run.order;
  for (let j = 0; j < n; j++) {
    const c = cand[j]!;
    order[c] = total[c]! + jitter(salt, c) * 1e-9;
    run.taken[c] = 0;
    run.keptOn[c] = 0;
    run.placedOn[c] = 0;
  }
  if (current) for (const c of current.keys()) if (run.mark[c] === w.stamp) order[c]! += 10;
  // The best few candidates, best first: most picks are among them.
  const top = run.top;
  let topN = 0;
  for (let j = 0; j < n; j++) {
    const c = cand[j]!;
    const o = order[c]!;
    if (topN === TOP && o <= order[top[TOP - 1]!]!) continue;
    let at = topN < TOP ? topN++ : TOP - 1;
    while (at > 0 && order[top[at - 1]!]! < o) {
      top[at] = top[at - 1]!;
      at--;
    }
    top[at] = c;
  }
  w.topN = topN;
  const regions = placement?.preferences?.userRegions;
  if (regions?.length) {
    const { unknown } = proximityScores(run, regions);
    if (unknown.length > 0) w.notes.push(`unknown user regions ignored: ${unknown.join(', ')}`);
  }
}
