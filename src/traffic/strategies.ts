// Which endpoints of a route a client gets, per strategy. Pure apart from the
// rotation counter of roundRobin and weighted, which lives in `StrategyState`
// so a test can replay a sequence exactly, and so the DNS server's threads can
// share it (one counter per host in shared memory: every thread continues the
// same sequence). Health is given as a predicate.
//
// Candidates are the healthy, non-draining endpoints; draining ones serve only
// when no other is healthy; when none is healthy, `whenAllDown` decides:
// failOpen applies the strategy to every endpoint as if all were healthy,
// failClosed answers with no address.
import { greatCircleKm } from '../lib/geo.ts';
import { fnv1a32 } from '../lib/hash.ts';
import type { GeoLocator, GeoPoint } from './geo.ts';
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
  /**
   * roundRobin and weighted: the answer is a function of the host's rotation
   * counter modulo `period` (the number of distinct positions), so the answers
   * for positions 0..period-1 are the whole rotation.
   */
  period?: number;
}

/** Where a host's rotation stands: its position, advanced by each call. */
export interface RotationState {
  next(host: string): number;
}

/** Counter slots of a shared StrategyState; hosts hashing to one slot share a sequence. */
export const SHARED_COUNTER_SLOTS = 65_536;

export class StrategyState implements RotationState {
  readonly #local = new Map<string, number>();
  readonly #shared: Int32Array | undefined;

  /** `shared`: counters in a SharedArrayBuffer (see `sharedCounters`), or per-instance ones. */
  constructor(shared?: Int32Array) {
    this.#shared = shared;
  }

  /** The host's position in its rotation, then advances it. */
  next(host: string): number {
    if (this.#shared !== undefined)
      return Atomics.add(this.#shared, counterSlot(host, this.#shared), 1) >>> 0;
    const n = this.#local.get(host) ?? 0;
    this.#local.set(host, n + 1);
    return n;
  }
}

/** A rotation fixed at one position: the answer a counter at `position` gives. */
export function rotationAt(position: number): RotationState {
  return { next: () => position };
}

/** The slot of `counters` that holds the host's rotation counter (the native fast path's too). */
export function counterSlot(host: string, counters: Int32Array): number {
  return hash32(host) % counters.length;
}

export function sharedCounters(): Int32Array {
  return new Int32Array(new SharedArrayBuffer(SHARED_COUNTER_SLOTS * 4));
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
  state: RotationState,
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
  state: RotationState,
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
      const period = candidates.length;
      const k = state.next(route.host) % period;
      return {
        endpoints: [...candidates.slice(k), ...candidates.slice(0, k)],
        stable: false,
        period,
      };
    }
    case 'weighted': {
      if (candidates.length === 0) return { endpoints: [], stable: true };
      const seq = swrrPeriod(route, candidates);
      const chosen = candidates[seq[state.next(route.host) % seq.length] ?? 0];
      return { endpoints: chosen ? [chosen] : [], stable: false, period: seq.length };
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

/** Longest period kept; bigger weight sums are scaled down to it (rounding). */
const MAX_PERIOD = 10_000;
const periods = new Map<string, Uint16Array>();

/**
 * Smooth weighted round robin (the nginx algorithm): deterministic, and every
 * window of `total` picks follows the weights exactly. A weights entry's weight
 * is shared by the candidates it matches (site entries before cloud entries);
 * without a `weights` list every candidate weighs 1, with one an unmatched
 * candidate weighs 0. All-zero weights fall back to equal weights.
 *
 * With integer weights the algorithm's state returns to zero after `total`
 * picks, so the n-th pick is element n mod total of one precomputed period (returned here):
 * a single shared counter then drives it from any thread. When the candidates
 * change the sequence continues at the counter's position in the new period.
 */
function swrrPeriod(route: TrafficRoute, candidates: TrafficEndpoint[]): Uint16Array {
  const entries = route.spec.weights;
  const entryOf = (e: TrafficEndpoint) => {
    if (entries === undefined) return -1;
    const site = entries.findIndex((w) => w.site !== undefined && matches(e, w));
    return site >= 0 ? site : entries.findIndex((w) => w.site === undefined && matches(e, w));
  };
  const idx = candidates.map(entryOf);
  const share = new Map<number, number>();
  for (const i of idx) share.set(i, (share.get(i) ?? 0) + 1);
  // Integer weights: each entry's weight times the product of the other
  // entries' shares is the entry's weight / its share, scaled by all shares.
  const scale = [...new Set(share.values())].reduce((a, b) => lcm(a, b), 1);
  let weights = idx.map((i) =>
    entries === undefined
      ? 1
      : i < 0
        ? 0
        : ((entries[i]?.weight ?? 0) * scale) / (share.get(i) ?? 1),
  );
  if (weights.every((w) => w <= 0)) weights = candidates.map(() => 1);
  const g = weights.reduce((a, b) => gcd(a, b), 0);
  weights = weights.map((w) => w / g);
  let total = weights.reduce((a, b) => a + b, 0);
  if (total > MAX_PERIOD) {
    weights = weights.map((w) => Math.round((w * MAX_PERIOD) / total));
    if (weights.every((w) => w <= 0)) weights = candidates.map(() => 1);
    total = weights.reduce((a, b) => a + b, 0);
  }
  const signature = `${route.host}|${candidates.map((e) => e.key).join(',')}|${weights.join(',')}`;
  const cached = periods.get(signature);
  if (cached !== undefined) return cached;
  const seq = new Uint16Array(total);
  const current = weights.map(() => 0);
  for (let n = 0; n < total; n++) {
    let best = 0;
    for (let i = 0; i < weights.length; i++) {
      current[i] = (current[i] ?? 0) + (weights[i] ?? 0);
      if ((current[i] ?? 0) > (current[best] ?? 0)) best = i;
    }
    current[best] = (current[best] ?? 0) - total;
    seq[n] = best;
  }
  // Bounded like the unit rings: routes and candidate sets come and go.
  if (periods.size >= 10_000) periods.clear();
  periods.set(signature, seq);
  return seq;
}

function gcd(a: number, b: number): number {
  while (b !== 0) [a, b] = [b, a % b];
  return a;
}

function lcm(a: number, b: number): number {
  return (a / gcd(a, b)) * b;
}

/** FNV-1a with the murmur3 finaliser: a 32-bit hash with good avalanche. */
export function hash32(text: string): number {
  let h = fnv1a32(text);
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
