// Which endpoints of a route a client gets, per strategy. Pure apart from the
// rotation state of roundRobin and weighted, which lives in `StrategyState`
// so a test can replay a sequence exactly. Health is given as a predicate.
//
// Candidates are the healthy, non-draining endpoints; draining ones serve only
// when no other is healthy; when none is healthy, `whenAllDown` decides:
// failOpen applies the strategy to every endpoint as if all were healthy,
// failClosed answers with no address.
import type { GeoLocator, GeoPoint } from './geo.ts';
import { greatCircleKm } from './geo.ts';
import type { TrafficEndpoint, TrafficRoute } from './routes.ts';

export interface ClientInfo {
  /** The address the query came from (a resolver, or the gateway's client). */
  address?: string;
  /** The EDNS Client Subnet address, when the query carried one; preferred over `address`. */
  subnet?: string;
  /** The unit key (from `<key>.unit.<host>` or the gateway's header/cookie/query). */
  unitKey?: string;
}

export interface Selection {
  endpoints: TrafficEndpoint[];
  /** No endpoint was healthy; `endpoints` is what whenAllDown left. */
  allDown: boolean;
  /** The same question from any client gets the same answer (until health or routes change). */
  stable: boolean;
  /** geo: the region the client was placed in; unit: the cell. */
  detail?: string;
}

export class StrategyState {
  readonly rr = new Map<string, number>();
  readonly swrr = new Map<string, Map<string, number>>();
}

function matches(e: TrafficEndpoint, sel: { cloud?: string; site?: string }): boolean {
  return (
    (sel.cloud !== undefined || sel.site !== undefined) &&
    (sel.cloud === undefined || sel.cloud === e.cloud) &&
    (sel.site === undefined || sel.site === e.site)
  );
}

export function select(
  route: TrafficRoute,
  healthy: (e: TrafficEndpoint) => boolean,
  client: ClientInfo,
  state: StrategyState,
  geo: GeoLocator,
): Selection {
  const live = route.endpoints.filter((e) => healthy(e));
  let candidates = live.filter((e) => !e.draining);
  if (candidates.length === 0) candidates = live;
  let allDown = false;
  if (candidates.length === 0) {
    allDown = true;
    if (route.spec.whenAllDown === 'failClosed') return { endpoints: [], allDown, stable: true };
    candidates = route.endpoints;
  }
  return { ...apply(route, candidates, client, state, geo), allDown };
}

function apply(
  route: TrafficRoute,
  candidates: TrafficEndpoint[],
  client: ClientInfo,
  state: StrategyState,
  geo: GeoLocator,
): Omit<Selection, 'allDown'> {
  const spec = route.spec;
  switch (route.strategy) {
    case 'failover': {
      const order = spec.failover?.order ?? [];
      const priority = (e: TrafficEndpoint) => {
        const i = order.findIndex((o) => matches(e, o));
        return i < 0 ? order.length : i;
      };
      const best = Math.min(...candidates.map(priority));
      return { endpoints: candidates.filter((e) => priority(e) === best), stable: true };
    }
    case 'roundRobin': {
      if (candidates.length === 0) return { endpoints: [], stable: true };
      const n = state.rr.get(route.host) ?? 0;
      state.rr.set(route.host, n + 1);
      const k = n % candidates.length;
      return { endpoints: [...candidates.slice(k), ...candidates.slice(0, k)], stable: false };
    }
    case 'weighted': {
      const chosen = weightedPick(route, candidates, state);
      return { endpoints: chosen ? [chosen] : [], stable: false };
    }
    case 'geo': {
      const from = client.subnet ?? client.address;
      const where = from !== undefined ? geo.locate(from) : undefined;
      if (where === undefined)
        return { endpoints: candidates, stable: client.subnet !== undefined };
      return {
        endpoints: nearest(candidates, where),
        stable: client.subnet !== undefined,
        detail: where.region,
      };
    }
    case 'unit': {
      if (client.unitKey === undefined) return { endpoints: candidates, stable: true };
      const cells = spec.units?.cells ?? [];
      for (const cell of unitCells(route.host, cells, client.unitKey)) {
        const inCell = candidates.filter((e) => matches(e, cell));
        if (inCell.length > 0) return { endpoints: inCell, stable: true, detail: cell.name };
      }
      return { endpoints: candidates, stable: true };
    }
  }
}

function nearest(candidates: TrafficEndpoint[], where: GeoPoint): TrafficEndpoint[] {
  const dist = candidates.map((e) => (e.location ? greatCircleKm(where, e.location) : Infinity));
  const best = Math.min(...dist);
  // Endpoints within a kilometre of the nearest are the same site.
  return candidates.filter((_, i) => (dist[i] ?? Infinity) <= best + 1);
}

/**
 * Smooth weighted round robin (the nginx algorithm): deterministic, and every
 * window of `total` picks follows the weights exactly. A weights entry's weight
 * is shared by the candidates it matches (site entries before cloud entries);
 * without a `weights` list every candidate weighs 1, with one an unmatched
 * candidate weighs 0. All-zero weights fall back to equal weights.
 */
function weightedPick(
  route: TrafficRoute,
  candidates: TrafficEndpoint[],
  state: StrategyState,
): TrafficEndpoint | undefined {
  const entries = route.spec.weights;
  const entryOf = (e: TrafficEndpoint) => {
    if (entries === undefined) return -1;
    const site = entries.findIndex((w) => w.site !== undefined && matches(e, w));
    return site >= 0 ? site : entries.findIndex((w) => w.site === undefined && matches(e, w));
  };
  const idx = candidates.map(entryOf);
  const share = new Map<number, number>();
  for (const i of idx) share.set(i, (share.get(i) ?? 0) + 1);
  let weights = idx.map((i) =>
    entries === undefined ? 1 : i < 0 ? 0 : (entries[i]?.weight ?? 0) / (share.get(i) ?? 1),
  );
  let total = weights.reduce((a, b) => a + b, 0);
  if (total <= 0) {
    weights = candidates.map(() => 1);
    total = candidates.length;
  }
  let current = state.swrr.get(route.host);
  if (current === undefined) state.swrr.set(route.host, (current = new Map<string, number>()));
  let best: TrafficEndpoint | undefined;
  let bestValue = -Infinity;
  candidates.forEach((e, i) => {
    const v = (current.get(e.key) ?? 0) + (weights[i] ?? 0);
    current.set(e.key, v);
    if (v > bestValue) {
      bestValue = v;
      best = e;
    }
  });
  if (best !== undefined) current.set(best.key, bestValue - total);
  // Forget endpoints that left the route so the map stays bounded.
  if (current.size > candidates.length * 2) {
    const keep = new Set(candidates.map((e) => e.key));
    for (const k of current.keys()) if (!keep.has(k)) current.delete(k);
  }
  return best;
}

/** FNV-1a with the murmur3 finaliser: a 32-bit hash with good avalanche. */
export function hash32(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

const VIRTUAL_NODES = 128;

interface Ring {
  points: Uint32Array;
  owner: Int32Array;
}
const rings = new Map<string, { signature: string; ring: Ring }>();

function ringFor<C extends { name: string }>(host: string, cells: readonly C[]): Ring {
  const signature = cells.map((c) => c.name).join(',');
  const cached = rings.get(host);
  if (cached?.signature === signature) return cached.ring;
  const pts: { h: number; owner: number }[] = [];
  cells.forEach((c, owner) => {
    for (let v = 0; v < VIRTUAL_NODES; v++) pts.push({ h: hash32(`${c.name}#${v}`), owner });
  });
  pts.sort((a, b) => a.h - b.h || a.owner - b.owner);
  const ring = {
    points: Uint32Array.from(pts.map((p) => p.h)),
    owner: Int32Array.from(pts.map((p) => p.owner)),
  };
  // One ring per host; bounded so hosts that come and go cannot grow it forever.
  if (rings.size >= 10_000) rings.clear();
  rings.set(host, { signature, ring });
  return ring;
}

/**
 * The cells a unit key maps to, in the order they are tried: consistent
 * hashing (128 virtual points per cell on a 32-bit ring) of the lower-cased
 * key, then the next distinct cells clockwise as fall-backs. Adding or removing
 * a cell moves only the keys on its arcs.
 */
export function unitCells<C extends { name: string }>(
  host: string,
  cells: readonly C[],
  key: string,
): C[] {
  if (cells.length === 0) return [];
  const { points, owner } = ringFor(host, cells);
  const h = hash32(key.toLowerCase());
  let lo = 0;
  let hi = points.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((points[mid] ?? 0) < h) lo = mid + 1;
    else hi = mid;
  }
  const out: C[] = [];
  const seen = new Set<number>();
  for (let i = 0; i < points.length && out.length < cells.length; i++) {
    const o = owner[(lo + i) % points.length] ?? 0;
    if (seen.has(o)) continue;
    seen.add(o);
    const cell = cells[o];
    if (cell !== undefined) out.push(cell);
  }
  return out;
}
