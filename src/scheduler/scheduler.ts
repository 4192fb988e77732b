// The global scheduler: a pure function of (snapshot, requests, seed) to plans
// and reasons. No I/O, no clock, no unseeded randomness: the same input gives
// the same plan.
//
// For each application, for each component in order:
//   1. filters (plugins.ts), cached per constraint set; then node size and
//      capacity against what is free now; every rejection counted by reason;
//   2. scores (plugins.ts) of the feasible clusters, weighted per app; the
//      clusters a component already runs on come first (placement is sticky);
//      exact ties are broken by a PRNG seeded from (seed, app name);
//   3. cluster selection and replica division:
//        Duplicated  every selected cluster runs all replicas; the spread
//                    minimum (default one cluster) decides how many clusters;
//        Divided     the spread minimum first, one replica placed in each new
//                    group; then the best clusters until their free capacity
//                    covers the replicas; replicas divided by weighting:
//                    AvailableCapacity (default, by free capacity), Cost (by
//                    cheapest price / price) or Static (staticWeights);
//      a spread maximum is never exceeded; a spread minimum is met whenever
//      the feasible groups and the replica count allow (best effort, so an
//      outage never takes running replicas down with it, and said in reasons);
//      a Divided minimum short while every running replica is kept is mended
//      by moving kept replicas into new, settled groups (restoreSpread);
//   4. node placement (placer.ts) of the new replicas, honouring
//      maxReplicasPerNode and anti-affinity; replicas a cluster could not take
//      go to the next cluster in score order.
// Replicas a component already runs (`current`) stay where they are: they are
// counted in the snapshot's node state and are not placed again; only the
// difference is placed (or removed, least preferred cluster first).
//
// Modes: `requests` packs by requested cpu and memory. `colocation` packs by
// predicted use (`usage`, e.g. p95 of past use) under a per-node safety limit
// (a fraction of capacity) and reports each node's overload probability. A
// usage with a time profile (`cpuProfileMilli`) is placed by profile instead
// (placeProfiled): admitted where the node's summed profile stays under the
// limit in all but a budget share of slots, onto the node whose profile
// penalty grows least, which spreads replicas that peak together.
import type { Arch, Placement } from '../model/schema.ts';
import { ARCHES } from '../model/schema.ts';
import { GPU_MILLI, type CompiledRequest, type NodeState, type PodRequest } from './nodestate.ts';
import { NodePlacer } from './placer.ts';
import {
  defaultRegistry,
  replicaPrice,
  type ClusterScore,
  type FleetView,
  type PluginRegistry,
  type ScorePlugin,
} from './plugins.ts';
import { distanceKm, proximityFromKm, resolveUserRegion, type LatLon } from './regions.ts';
import type { ClusterInfo, Snapshot } from './snapshot.ts';

// ------------------------------------------------------------------ input

/** Predicted real use of one replica, for colocation mode. */
export interface PredictedUsage {
  /** A high percentile (e.g. p95) of cpu use, millicores. */
  cpuMilli: number;
  /** Mean cpu use; p95 / 2 when absent. Only the overload risk uses it. */
  cpuMeanMilli?: number;
  /** Memory use (MiB); the request when absent. */
  memoryMiB?: number;
  /**
   * Predicted cpu use per time slot (millicores), colocation mode only. Slot t
   * means the same period (e.g. hour t of the coming week) in every profile one
   * Scheduler is given, so a node's profile is the slot-by-slot sum of its
   * replicas' profiles; every profile has the same length (RangeError
   * otherwise). With a profile, cpu admission and node choice use it and not
   * `cpuMilli` (which still feeds the report).
   */
  cpuProfileMilli?: readonly number[];
}

export interface ComponentRequest {
  name: string;
  replicas: number;
  pod: PodRequest;
  usage?: PredictedUsage;
  /** Overrides placement.maxReplicasPerNode for this component. */
  maxReplicasPerNode?: number;
}

export interface AppRequest {
  /** Unique in the batch, e.g. "namespace/name"; seeds the tie-breaks. */
  name: string;
  components: ComponentRequest[];
  placement?: Placement;
  /** Replicas running now: component -> cluster -> count. They are sticky. */
  current?: Readonly<Record<string, Readonly<Record<string, number>>>>;
}

export interface ColocationOptions {
  /** Predicted cpu per node at most this fraction of capacity. Default 0.8. */
  cpuLimit?: number;
  /** Predicted memory per node at most this fraction of capacity. Default 0.9. */
  memoryLimit?: number;
  /** A node is overloaded above this fraction of its cpu. Default 0.9. */
  overloadThreshold?: number;
  /**
   * Profiles only: the share of slots in which a node's summed profile may
   * pass cpuLimit x capacity (never capacity itself). Default 0.01.
   */
  profileOverloadBudget?: number;
}

export interface ScheduleOptions {
  seed: number;
  mode?: 'requests' | 'colocation';
  /** Per-cluster verdicts in the explanations (costs a little more). */
  explain?: boolean;
  /** Allocate on the snapshot's own NodeState instead of a copy. */
  inPlace?: boolean;
  colocation?: ColocationOptions;
  registry?: PluginRegistry;
}

// ------------------------------------------------------------------ output

export interface Reason {
  component?: string;
  count: number;
  reason: string;
}

export interface Assignment {
  cluster: string;
  clusterIndex: number;
  /** Replicas the cluster runs under this plan. */
  replicas: number;
  /** Of those, replicas that already ran there (not placed again). */
  kept: number;
  /** Snapshot node of each newly placed replica (replicas - kept of them). */
  nodes: Int32Array;
}

export interface ComponentPlan {
  component: string;
  assignments: Assignment[];
  /** Replicas no cluster could take. */
  unplaced: number;
  /** Running replicas moved between clusters to restore a spread minimum, one entry each. */
  spreadMoves?: { from: string; to: string }[];
}

export interface ChosenCluster {
  cluster: string;
  cloud: string;
  replicas: number;
  /** Weighted score in [0, 1] when chosen, and each plugin's part. */
  score: number;
  scores: Record<string, number>;
}

export interface ClusterVerdict {
  cluster: string;
  cloud: string;
  site: string;
  verdict: 'chosen' | 'feasible' | 'rejected';
  reason?: string;
  score?: number;
  replicas?: number;
}

export interface ComponentExplanation {
  component: string;
  /** Clusters considered, feasible after every filter, chosen. */
  clusters: number;
  feasible: number;
  chosen: ChosenCluster[];
  rejected: readonly { count: number; reason: string }[];
  /** Feasible clusters left unused (others scored higher or were enough). */
  notChosen: number;
  unplaced: number;
  notes: string[];
  /** Every cluster's verdict (only with options.explain). */
  verdicts?: ClusterVerdict[];
}

export interface AppRisk {
  /** Highest overload probability among the nodes the app's new replicas landed on. */
  maxOverloadProbability: number;
  nodes: number;
}

export interface AppPlan {
  app: string;
  components: ComponentPlan[];
  /** In the app status format: per component, reasons with counts. */
  reasons: Reason[];
  explanation: ComponentExplanation[];
  /** Colocation mode only. */
  risk?: AppRisk;
}

export interface NodeRisk {
  node: number;
  cluster: string;
  cpuCapMilli: number;
  /** Sum of predicted (p95) use on the node. */
  predictedMilli: number;
  /** Sum of mean use on the node. */
  meanMilli: number;
  overloadProbability: number;
  /** Profiled nodes: share of predicted slots above the overload threshold. */
  profileOverloadShare?: number;
}

export interface ColocationReport {
  overloadThreshold: number;
  cpuLimit: number;
  memoryLimit: number;
  /** Nodes with at least one replica placed by this scheduler. */
  nodes: number;
  /** Sum of the nodes' overload probabilities: the expected count of overloaded nodes. */
  expectedOverloadedNodes: number;
  maxOverloadProbability: number;
  /** Slots per profile (0 when no replica had one) and the highest node's share of them above the overload threshold. */
  profileSlots: number;
  maxProfileOverloadShare: number;
  /** The riskiest nodes, most at risk first (at most 20). */
  top: NodeRisk[];
}

export interface ScheduleResult {
  plans: AppPlan[];
  /** Totals over every app, by reason. */
  reasons: Reason[];
  placed: number;
  unplaced: number;
  colocation?: ColocationReport;
}

// ------------------------------------------------------------------ helpers

type SpreadBy = 'cloud' | 'site' | 'zone' | 'cluster';

/** FNV-1a, 32 bits. */
function hash32(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** mulberry32: a small seeded PRNG, uniform in [0, 1). */
export function seededRandom(seed: number, stream: string): () => number {
  let state = (hash32(stream) ^ Math.imul(seed | 0, 0x9e3779b1)) >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Steepness of the profile penalty above cpuLimit, relative to the balancing square (see placeProfiled). */
const PROFILE_STEEP = 1e6;

/** The profile penalty of one slot at use u (a fraction of capacity) under the limit L. */
function profilePenalty(u: number, L: number): number {
  const o = u - L;
  return (o > 0 ? PROFILE_STEEP * o * o : 0) + u * u;
}

/** Standard normal CDF (Abramowitz and Stegun 7.1.26, error < 1.5e-7). */
function normalCdf(x: number): number {
  const z = Math.abs(x) / Math.SQRT2;
  const t = 1 / (1 + 0.3275911 * z);
  const y =
    1 -
    ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) *
      t *
      Math.exp(-z * z);
  return x >= 0 ? (1 + y) / 2 : (1 - y) / 2;
}

function formatCpu(milli: number): string {
  return milli % 1000 === 0 ? `${milli / 1000}` : `${milli}m`;
}

function formatMiB(mib: number): string {
  return mib >= 1024 && mib % 1024 === 0 ? `${mib / 1024}Gi` : `${Math.round(mib)}Mi`;
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

function increment(map: Map<string, number>, key: string, by = 1): void {
  map.set(key, (map.get(key) ?? 0) + by);
}

const NOT_CHOSEN = 'feasible, not chosen: other clusters scored higher or were enough';
const UNPLACED = 'replicas could not be placed on any feasible cluster';

/** An app's reasons in the status format: per component, rejections, unused clusters, notes, unplaced replicas. */
function appReasons(
  components: readonly ComponentPlan[],
  explanation: readonly ComponentExplanation[],
): Reason[] {
  const out: Reason[] = [];
  explanation.forEach((e, i) => {
    const component = e.component;
    for (const r of e.rejected) out.push({ component, count: r.count, reason: r.reason });
    if (e.notChosen > 0) out.push({ component, count: e.notChosen, reason: NOT_CHOSEN });
    for (const note of e.notes) out.push({ component, count: 1, reason: note });
    const unplaced = components[i]?.unplaced ?? 0;
    if (unplaced > 0) out.push({ component, count: unplaced, reason: UNPLACED });
  });
  return out;
}

/** The static rejections with the dynamic ones added, most first. */
function mergeReasons(
  base: readonly { count: number; reason: string }[],
  more: ReadonlyMap<string, number>,
): { count: number; reason: string }[] {
  const out = base.slice();
  for (const [reason, count] of more) {
    const i = out.findIndex((x) => x.reason === reason);
    if (i >= 0) out[i] = { count: out[i]!.count + count, reason };
    else out.push({ count, reason });
  }
  return out.sort((a, b) => b.count - a.count || (a.reason < b.reason ? -1 : 1));
}

function sortedReasons(m: ReadonlyMap<string, number>): { count: number; reason: string }[] {
  return [...m]
    .map(([reason, count]) => ({ count, reason }))
    .sort((a, b) => b.count - a.count || (a.reason < b.reason ? -1 : 1));
}

interface StaticVerdicts {
  /** Clusters that pass every filter, in index order. */
  pass: Int32Array;
  /** For pass[j], its compatible node classes: classList[classStart[j] .. classStart[j + 1]). */
  classStart: Int32Array;
  classList: Int32Array;
  /** Rejections by reason, most first (shared by every component that uses this entry: read-only). */
  rejected: readonly { count: number; reason: string }[];
  /** The rejecting filter's reason per cluster (undefined = passed). */
  reasonOf: (string | undefined)[];
  /** Components that used this entry (their rejections are added to the totals once, at the end). */
  uses: number;
}

/** What one component's placement works with (reused from component to component). */
interface Workspace {
  r: CompiledRequest;
  comp: ComponentRequest | undefined;
  ctx: AppContext | undefined;
  /** Candidates: the scheduler's candidates[0 .. n). */
  n: number;
  /** The best candidates: the scheduler's top[0 .. topN). */
  topN: number;
  stamp: number;
  chosen: number[];
  parts: { plugin: ScorePlugin; weight: number; fn: ClusterScore }[];
  scores: Map<number, Record<string, number>> | undefined;
  spread: NonNullable<Placement['spread']>;
  /** Per spread constraint: group id -> chosen clusters in it. */
  used: Map<number, number>[];
  staticWeights: NonNullable<Placement['replicaScheduling']>['staticWeights'];
  maxPerNode: number | undefined;
  onNode: ((node: number) => number) | undefined;
  ownOnNode: Map<number, number> | undefined;
  groups: AppContext['groups'] | undefined;
  /** Nodes of the new replicas, and their clusters: flatNode/flatCluster[0 .. flat). */
  flat: number;
  flatNode: Int32Array;
  flatCluster: Int32Array;
  notes: string[];
  spreadMoves: { from: string; to: string }[] | undefined;
}

/** A filter that rejects nothing. */
const NO_REJECTIONS: readonly (string | undefined)[] = [];

/** Candidates kept in order for the cluster picks. */
const TOP = 8;

const NEXT_ANY = 0;
const NEXT_ROOMY = 1;
const NEXT_NEW_GROUP = 2;
const NEXT_NEW_GROUP_ROOMY = 3;
const NEXT_WEIGHTED = 4;
/** A cluster of a new spread group that is not settling: a target for a moved replica. */
const NEXT_NEW_GROUP_SETTLED = 5;

/** A 32-bit mix of (salt, i) in [0, 1): the tie-break jitter of cluster i. */
function jitter(salt: number, i: number): number {
  let h = Math.imul(salt ^ Math.imul(i + 1, 0x9e3779b1), 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return (h >>> 0) / 4294967296;
}

/** Per-app state shared by its components. */
interface AppContext {
  app: AppRequest;
  placement: Placement | undefined;
  placementKey: string;
  random: () => number;
  /** Anti-affinity groups: component names, and replicas of the group per node. */
  groups: { members: Set<string>; onNode: Map<number, number> }[];
  /** Nodes that new replicas of the app landed on (colocation risk). */
  nodes: Set<number>;
}

// ------------------------------------------------------------------ scheduler

/**
 * The scheduler over one snapshot. `scheduleApp` may be called many times;
 * each call sees what the earlier ones placed. `schedule()` below is the
 * one-shot form.
 */
export class Scheduler implements FleetView {
  readonly clusters: readonly ClusterInfo[];
  readonly state: NodeState;
  readonly placer: NodePlacer;
  readonly clusterArchMask: Uint8Array;
  readonly gpuModels: readonly string[];
  readonly mode: 'requests' | 'colocation';

  private readonly seed: number;
  private readonly explain: boolean;
  private readonly registry: PluginRegistry;
  private readonly groupIds: Record<SpreadBy, Int32Array>;
  private readonly staticCache = new Map<string, StaticVerdicts>();
  private readonly filterCache = new Map<string, readonly (string | undefined)[]>();
  private readonly proximityCache = new Map<string, { scores: Float64Array; unknown: string[] }>();
  private readonly places: {
    site: Map<string, LatLon>;
    region: Map<string, LatLon>;
    country: Map<string, LatLon>;
  };

  // Per-component scratch, indexed by cluster.
  private readonly order: Float64Array;
  private readonly total: Float64Array;
  private readonly taken: Uint8Array;
  private readonly estimateOf: Float64Array;
  private readonly estimateStamp: Int32Array;
  private readonly top = new Int32Array(TOP);
  private readonly candidates: Int32Array;
  /** mark[c] === stamp: cluster c is a candidate of the component being placed. */
  private readonly mark: Int32Array;
  private stamp = 0;
  private placeBuffer = new Int32Array(256);
  /** Replicas kept on / newly placed on each cluster, for the component being placed. */
  private readonly keptOn: Int32Array;
  private readonly placedOn: Int32Array;
  private readonly ws: Workspace = {
    r: undefined as unknown as CompiledRequest,
    comp: undefined,
    ctx: undefined,
    n: 0,
    topN: 0,
    stamp: 0,
    chosen: [],
    parts: [],
    scores: undefined,
    spread: [],
    used: [],
    staticWeights: undefined,
    maxPerNode: undefined,
    onNode: undefined,
    ownOnNode: undefined,
    groups: undefined,
    flat: 0,
    flatNode: new Int32Array(256),
    flatCluster: new Int32Array(256),
    notes: [],
    spreadMoves: undefined,
  };

  // Colocation.
  private readonly colo:
    | {
        options: Required<ColocationOptions>;
        capacity: Float64Array;
        memoryCapacity: Float64Array;
        /** The snapshot's own state is scaled: result() gives its capacities back. */
        inPlace: boolean;
        base: Float64Array;
        mean: Float64Array;
        variance: Float64Array;
        predicted: Float64Array;
        touched: Uint8Array;
        /** Slots per profile, fixed by the first profile seen (0 before). */
        slots: number;
        /** Summed profile per node, allocated when the node takes its first profiled replica. */
        profile: (Float64Array | undefined)[];
        /**
         * Of cpuUsed, what profiled replicas added: each its profile's peak,
         * clipped so that cpuUsed stays within the limit (cpuCap). Replicas
         * without profile thus see a node as full once its profiled peaks
         * reach the limit, and cpuUsed minus this is the constant part
         * (existing use, replicas without profile) that profiles add to.
         */
        profiledPeak: Float64Array;
      }
    | undefined;

  private placedTotal = 0;
  private unplacedTotal = 0;
  private readonly reasonTotals = new Map<string, number>();

  constructor(snapshot: Snapshot, options: ScheduleOptions) {
    this.seed = options.seed;
    this.mode = options.mode ?? 'requests';
    this.explain = options.explain === true;
    this.registry = options.registry ?? defaultRegistry();
    this.clusters = snapshot.clusters;
    this.state = options.inPlace === true ? snapshot.nodes : snapshot.nodes.clone();
    this.gpuModels = this.state.gpuModels;
    const C = this.clusters.length;

    if (this.mode === 'colocation') {
      const o = options.colocation ?? {};
      const opts = {
        cpuLimit: o.cpuLimit ?? 0.8,
        memoryLimit: o.memoryLimit ?? 0.9,
        overloadThreshold: o.overloadThreshold ?? 0.9,
        profileOverloadBudget: o.profileOverloadBudget ?? 0.01,
      };
      const s = this.state;
      const capacity = s.cpuCap.slice();
      const memoryCapacity = s.memCap.slice();
      // The safety limit is the capacity the placer sees.
      for (let i = 0; i < s.count; i++) {
        s.cpuCap[i] = s.cpuCap[i]! * opts.cpuLimit;
        s.memCap[i] = s.memCap[i]! * opts.memoryLimit;
      }
      this.colo = {
        options: opts,
        capacity,
        memoryCapacity,
        inPlace: options.inPlace === true,
        base: s.cpuUsed.slice(),
        mean: new Float64Array(s.count),
        variance: new Float64Array(s.count),
        predicted: new Float64Array(s.count),
        touched: new Uint8Array(s.count),
        slots: 0,
        profile: new Array<Float64Array | undefined>(s.count),
        profiledPeak: new Float64Array(s.count),
      };
    }
    this.placer = new NodePlacer(this.state, C);

    this.clusterArchMask = new Uint8Array(C);
    const p = this.placer;
    for (let k = 0; k < p.classCount; k++)
      this.clusterArchMask[p.classCluster[k]!]! |= 1 << p.classArch[k]!;

    const ids = (key: (c: ClusterInfo) => string) => {
      const m = new Map<string, number>();
      const out = new Int32Array(C);
      this.clusters.forEach((c, i) => {
        const k = key(c);
        let id = m.get(k);
        if (id === undefined) m.set(k, (id = m.size));
        out[i] = id;
      });
      return out;
    };
    this.groupIds = {
      cloud: ids((c) => c.cloud),
      site: ids((c) => c.site),
      zone: ids((c) => `${c.site}/${c.zone}`),
      cluster: Int32Array.from({ length: C }, (_, i) => i),
    };

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
    for (const c of this.clusters) {
      if (c.latitude === undefined || c.longitude === undefined) continue;
      const at = { latitude: c.latitude, longitude: c.longitude };
      site.set(c.site, at);
      if (c.region) addTo(regionSum, c.region, at);
      if (c.country) addTo(countrySum, c.country, at);
    }
    const mean = (m: Map<string, [number, number, number]>) =>
      new Map([...m].map(([k, [a, b, n]]) => [k, { latitude: a / n, longitude: b / n }]));
    this.places = { site, region: mean(regionSum), country: mean(countrySum) };

    this.order = new Float64Array(C);
    this.total = new Float64Array(C);
    this.taken = new Uint8Array(C);
    this.estimateOf = new Float64Array(C);
    this.estimateStamp = new Int32Array(C);
    this.candidates = new Int32Array(C);
    this.mark = new Int32Array(C);
    this.keptOn = new Int32Array(C);
    this.placedOn = new Int32Array(C);
  }

  // ------------------------------------------------------------ FleetView

  proximity(userRegions: readonly string[]): { scores: Float64Array; unknown: string[] } {
    const key = userRegions.join('\u0000');
    let hit = this.proximityCache.get(key);
    if (hit) return hit;
    const book = {
      site: (n: string) => this.places.site.get(n),
      region: (n: string) => this.places.region.get(n),
      country: (n: string) => this.places.country.get(n),
    };
    const points: LatLon[] = [];
    const unknown: string[] = [];
    for (const r of userRegions) {
      const at = resolveUserRegion(r, book);
      if (at) points.push(at);
      else unknown.push(r);
    }
    const scores = new Float64Array(this.clusters.length);
    this.clusters.forEach((c, i) => {
      if (c.latitude === undefined || c.longitude === undefined || points.length === 0) return;
      const here = { latitude: c.latitude, longitude: c.longitude };
      let best = Infinity;
      for (const pt of points) best = Math.min(best, distanceKm(here, pt));
      scores[i] = proximityFromKm(best);
    });
    hit = { scores, unknown };
    this.proximityCache.set(key, hit);
    return hit;
  }

  // ------------------------------------------------------------ entry points

  /** Places every component of one application and returns its plan. */
  scheduleApp(app: AppRequest): AppPlan {
    const placement = app.placement;
    const aff = placement?.clusterAffinity;
    const ctx: AppContext = {
      app,
      placement,
      placementKey: JSON.stringify([aff, placement?.residency, placement?.tolerations]),
      random: seededRandom(this.seed, app.name),
      groups: (placement?.antiAffinity ?? []).map((a) => ({
        members: new Set(a.components ?? app.components.map((c) => c.name)),
        onNode: new Map<number, number>(),
      })),
      nodes: new Set(),
    };
    const components: ComponentPlan[] = [];
    const explanation: ComponentExplanation[] = [];
    for (const comp of app.components) {
      const [plan, expl] = this.placeComponent(ctx, comp);
      components.push(plan);
      explanation.push(expl);
      if (expl.notChosen > 0) increment(this.reasonTotals, NOT_CHOSEN, expl.notChosen);
      for (const note of expl.notes) increment(this.reasonTotals, note);
      if (plan.unplaced > 0) increment(this.reasonTotals, UNPLACED, plan.unplaced);
    }
    const plan = new Plan(app.name, components, explanation);
    if (this.colo) plan.risk = this.appRisk(ctx.nodes);
    return plan;
  }

  /**
   * Totals so far and, in colocation mode, the overload report. A colocation
   * run in place gives the snapshot its real capacities back: the safety limit
   * bounds this run's placements only, and what they allocated stays.
   */
  result(plans: AppPlan[]): ScheduleResult {
    if (this.colo?.inPlace === true) {
      this.state.cpuCap.set(this.colo.capacity);
      this.state.memCap.set(this.colo.memoryCapacity);
    }
    const totals = new Map(this.reasonTotals);
    for (const st of this.staticCache.values())
      for (const r of st.rejected) increment(totals, r.reason, r.count * st.uses);
    const out: ScheduleResult = {
      plans,
      reasons: sortedReasons(totals),
      placed: this.placedTotal,
      unplaced: this.unplacedTotal,
    };
    if (this.colo) out.colocation = this.colocationReport();
    return out;
  }

  // ------------------------------------------------------------ one component

  private compile(comp: ComponentRequest): CompiledRequest {
    const r = this.state.compile(comp.pod);
    if (this.colo && comp.usage) {
      r.cpuMilli = comp.usage.cpuMilli;
      if (comp.usage.memoryMiB !== undefined) r.memoryMiB = comp.usage.memoryMiB;
      const profile = comp.usage.cpuProfileMilli;
      if (profile !== undefined) {
        if (this.colo.slots === 0) this.colo.slots = profile.length;
        if (profile.length !== this.colo.slots || profile.length === 0)
          throw new RangeError(
            `${comp.name}: cpu profile of ${profile.length} slots, the scheduler's have ${this.colo.slots}`,
          );
        // The profile decides cpu (placeProfiled); the scalar filters and
        // estimates see memory, pods and GPUs only.
        r.cpuMilli = 0;
      }
    }
    return r;
  }

  private staticVerdicts(
    ctx: AppContext,
    comp: ComponentRequest,
    r: CompiledRequest,
  ): StaticVerdicts {
    const key = `${ctx.placementKey}|${r.archMask}|${r.gpuCount}|${r.gpuMilli >= GPU_MILLI ? 1 : 0}|${r.gpuModel}`;
    let v = this.staticCache.get(key);
    if (v) return v;
    const archs: Arch[] = ARCHES.filter((_, i) => ((r.archMask >> i) & 1) === 1);
    const q = {
      placement: ctx.placement,
      request: r,
      architectures: archs,
      gpuModel: comp.pod.gpuModel,
    };
    // One verdict array per filter, shared through the cache by every query with the same key.
    const verdicts: (readonly (string | undefined)[])[] = [];
    for (const f of this.registry.filters) {
      const fkey = f.key ? `${f.name}\u0000${f.key(q)}` : `${f.name}\u0000\u0000${key}`;
      let v = this.filterCache.get(fkey);
      if (!v) {
        const check = f.prepare(q, this);
        v = check ? this.clusters.map((_, c) => check(c)) : NO_REJECTIONS;
        this.filterCache.set(fkey, v);
      }
      if (v !== NO_REJECTIONS) verdicts.push(v);
    }
    const pass: number[] = [];
    const classStart: number[] = [0];
    const classList: number[] = [];
    const rejected = new Map<string, number>();
    const reasonOf: (string | undefined)[] = [];
    const p = this.placer;
    for (let c = 0; c < this.clusters.length; c++) {
      let why: string | undefined;
      for (const v of verdicts) {
        why = v[c];
        if (why !== undefined) break;
      }
      reasonOf.push(why);
      if (why !== undefined) {
        increment(rejected, why);
        continue;
      }
      pass.push(c);
      for (let j = p.clusterClassStart[c]!; j < p.clusterClassStart[c + 1]!; j++) {
        const k = p.clusterClasses[j]!;
        if (p.classCompatible(k, r)) classList.push(k);
      }
      classStart.push(classList.length);
    }
    v = {
      pass: Int32Array.from(pass),
      classStart: Int32Array.from(classStart),
      classList: Int32Array.from(classList),
      rejected: sortedReasons(rejected),
      reasonOf,
      uses: 0,
    };
    this.staticCache.set(key, v);
    return v;
  }

  /** Whether st.pass[j] may take one replica of r now (its class totals and node sizes allow). */
  private roomAt(st: StaticVerdicts, j: number, r: CompiledRequest): boolean {
    const p = this.placer;
    const end = st.classStart[j + 1]!;
    const gpu = r.gpuCount > 0;
    const whole = r.gpuMilli >= GPU_MILLI;
    for (let x = st.classStart[j]!; x < end; x++) {
      const k = st.classList[x]!;
      if (
        p.classMaxCpu[k]! >= r.cpuMilli &&
        p.classMaxMem[k]! >= r.memoryMiB &&
        p.classPodsFree[k]! >= 1 &&
        p.classCpuFree[k]! >= r.cpuMilli &&
        p.classMemFree[k]! >= r.memoryMiB &&
        (!gpu || (whole ? p.classGpuWhole[k]! >= r.gpuCount : p.classGpuFree[k]! >= r.gpuMilli)) &&
        p.hasRoom(k, r)
      )
        return true;
    }
    return false;
  }

  /** Upper bound on the replicas of the current request cluster c can take (cached per component). */
  private estimate(c: number): number {
    if (this.estimateStamp[c] !== this.stamp) {
      this.estimateStamp[c] = this.stamp;
      this.estimateOf[c] = this.placer.estimate(c, this.ws.r);
    }
    return this.estimateOf[c]!;
  }

  /** Why cluster c takes no replica of r now (node size, then free capacity). */
  private capacityReason(c: number, r: CompiledRequest): string {
    const p = this.placer;
    let bigEnough = false;
    let healthy = 0;
    let cpu = 0;
    let mem = 0;
    let pods = 0;
    let gpu = 0;
    for (let j = p.clusterClassStart[c]!; j < p.clusterClassStart[c + 1]!; j++) {
      const k = p.clusterClasses[j]!;
      if (!p.classCompatible(k, r)) continue;
      if (p.classMaxCpu[k]! < r.cpuMilli || p.classMaxMem[k]! < r.memoryMiB) continue;
      bigEnough = true;
      healthy += p.classHealthy[k]!;
      cpu += p.classCpuFree[k]!;
      mem += p.classMemFree[k]!;
      pods += p.classPodsFree[k]!;
      gpu += r.gpuMilli >= GPU_MILLI ? p.classGpuWhole[k]! * GPU_MILLI : p.classGpuFree[k]!;
    }
    if (!bigEnough)
      return `no node large enough for one replica (${formatCpu(r.cpuMilli)} cpu, ${formatMiB(r.memoryMiB)} memory)`;
    if (healthy === 0) return 'no healthy node of a fitting kind';
    if (pods < 1) return 'no pod slots free';
    if (cpu < r.cpuMilli) return 'insufficient cpu';
    if (mem < r.memoryMiB) return 'insufficient memory';
    if (gpu < r.gpuCount * r.gpuMilli) return 'insufficient gpu';
    return 'no single node has room (free capacity is fragmented)';
  }

  private placeComponent(
    ctx: AppContext,
    comp: ComponentRequest,
  ): [ComponentPlan, ComponentExplanation] {
    const r = this.compile(comp);
    const placement = ctx.placement;
    const st = this.staticVerdicts(ctx, comp, r);
    st.uses++;
    const C = this.clusters.length;
    const w = this.ws;
    w.r = r;
    w.comp = comp;
    w.ctx = ctx;
    w.chosen.length = 0;
    w.flat = 0;
    w.notes = [];
    w.spreadMoves = undefined;

    // Replicas running now, by cluster index (those on clusters gone from the snapshot just move).
    let current: Map<number, number> | undefined;
    const cur = ctx.app.current?.[comp.name];
    if (cur) {
      for (const name in cur) {
        const c = this.clusterIndex(name);
        const k = cur[name]!;
        if (c !== undefined && k > 0) (current ??= new Map()).set(c, k);
      }
    }

    // 7-8. Node size and capacity now.
    let dynamicRejected: Map<string, number> | undefined;
    let dynamicReason: Map<number, string> | undefined;
    const cand = this.candidates;
    let n = 0;
    const stamp = ++this.stamp;
    w.stamp = stamp;
    for (let j = 0; j < st.pass.length; j++) {
      const c = st.pass[j]!;
      if (comp.replicas > 0 && !this.roomAt(st, j, r) && current?.has(c) !== true) {
        const why = this.capacityReason(c, r);
        increment((dynamicRejected ??= new Map<string, number>()), why);
        if (this.explain) (dynamicReason ??= new Map<number, string>()).set(c, why);
        continue;
      }
      this.mark[c] = stamp;
      cand[n++] = c;
    }
    w.n = n;

    // Scores, then the order clusters are tried in: sticky first, then by
    // score; a seeded jitter far below score resolution breaks exact ties.
    const total = this.total;
    const parts = w.parts;
    parts.length = 0;
    for (let j = 0; j < n; j++) total[cand[j]!] = 0;
    if (n > 0) {
      const q = { placement, request: r, candidates: cand, count: n };
      let weightSum = 0;
      for (const plugin of this.registry.scores) {
        const weight = plugin.weight(placement);
        if (!(weight > 0)) continue;
        const fn = plugin.prepare(q, this);
        if (!fn) continue;
        parts.push({ plugin, weight, fn });
        weightSum += weight;
      }
      for (const part of parts) {
        const wt = part.weight / weightSum;
        if (part.plugin.addAll) part.plugin.addAll(q, this, wt, total);
        else
          for (let j = 0; j < n; j++) {
            const c = cand[j]!;
            total[c]! += wt * part.fn(c);
          }
      }
    }
    const salt = (ctx.random() * 4294967296) >>> 0;
    for (let j = 0; j < n; j++) {
      const c = cand[j]!;
      this.order[c] = total[c]! + jitter(salt, c) * 1e-9;
      this.taken[c] = 0;
      this.keptOn[c] = 0;
      this.placedOn[c] = 0;
    }
    if (current) for (const c of current.keys()) if (this.mark[c] === stamp) this.order[c]! += 10;
    // The best few candidates, best first: most picks are among them.
    const top = this.top;
    let topN = 0;
    for (let j = 0; j < n; j++) {
      const c = cand[j]!;
      const o = this.order[c]!;
      if (topN === TOP && o <= this.order[top[TOP - 1]!]!) continue;
      let at = topN < TOP ? topN++ : TOP - 1;
      while (at > 0 && this.order[top[at - 1]!]! < o) {
        top[at] = top[at - 1]!;
        at--;
      }
      top[at] = c;
    }
    w.topN = topN;
    if (placement?.preferences?.userRegions?.length) {
      const { unknown } = this.proximity(placement.preferences.userRegions);
      if (unknown.length > 0) w.notes.push(`unknown user regions ignored: ${unknown.join(', ')}`);
    }

    // Node limits: maxReplicasPerNode and anti-affinity groups.
    let myGroups: AppContext['groups'] | undefined;
    for (const g of ctx.groups) if (g.members.has(comp.name)) (myGroups ??= []).push(g);
    w.groups = myGroups;
    w.maxPerNode = myGroups ? 1 : (comp.maxReplicasPerNode ?? placement?.maxReplicasPerNode);
    w.ownOnNode = w.maxPerNode !== undefined && !myGroups ? new Map() : undefined;
    w.onNode = myGroups ? this.groupOnNode : w.ownOnNode ? this.ownOnNodeFn : undefined;

    // Spread groups.
    const spread = placement?.spread ?? [];
    w.spread = spread;
    w.used = spread.length > 0 ? spread.map(() => new Map<number, number>()) : [];
    w.scores = undefined;

    const rs = placement?.replicaScheduling;
    const duplicated = rs?.type === 'Duplicated';
    const weighting = rs?.weighting ?? 'AvailableCapacity';
    w.staticWeights = rs?.staticWeights;
    let unplaced = 0;
    const replicas = comp.replicas;
    const chosen = w.chosen;

    if (replicas > 0 && n > 0) {
      const sticky = current
        ? [...current.keys()]
            .filter((c) => this.mark[c] === stamp)
            .sort((a, b) => this.order[b]! - this.order[a]!)
        : [];
      if (duplicated) {
        const want = (c: number) => {
          const k = this.keptOn[c]!;
          unplaced += replicas - k - this.placeOn(c, replicas - k);
        };
        for (const c of sticky) {
          if (!this.canAdd(c)) continue;
          this.add(c);
          this.keptOn[c] = Math.min(replicas, current!.get(c)!);
        }
        for (const c of [...chosen]) want(c);
        // Spread minimum, then at least one cluster; clusters with room for all replicas first.
        for (let i = 0; i < spread.length; i++) {
          const min = spread[i]!.min ?? 1;
          while (w.used[i]!.size < min) {
            let c = this.next(NEXT_NEW_GROUP_ROOMY, i, replicas);
            if (c < 0) c = this.next(NEXT_NEW_GROUP, i, 0);
            if (c < 0) break;
            this.add(c);
            want(c);
          }
        }
        if (chosen.length === 0) {
          let c = this.next(NEXT_ROOMY, 0, replicas);
          if (c < 0) c = this.next(NEXT_ANY, 0, 0);
          if (c >= 0) {
            this.add(c);
            want(c);
          }
        }
      } else if (weighting === 'Static') {
        // Targets by weight over every weighted feasible cluster (capped by what
        // fits, counting what runs there); replicas already there are kept.
        for (const c of sticky) if (this.staticWeight(c) > 0 && this.canAdd(c)) this.add(c);
        for (;;) {
          const c = this.next(NEXT_WEIGHTED, 0, 0);
          if (c < 0) break;
          this.add(c);
        }
        for (let i = 0; i < spread.length; i++) {
          const min = spread[i]!.min ?? 1;
          while (w.used[i]!.size < min) {
            const c = this.next(NEXT_NEW_GROUP, i, 0);
            if (c < 0) break;
            this.add(c);
          }
        }
        const list = [...chosen];
        const caps = list.map((c) => this.estimate(c) + (current?.get(c) ?? 0));
        const weights = list.map((c) => this.staticWeight(c) || 1);
        const minOne = list.map((c) => this.staticWeight(c) === 0);
        const t = divide(replicas, weights, caps, minOne, ctx.random);
        list.forEach((c, i) => {
          const k = Math.min(current?.get(c) ?? 0, t[i]!);
          this.keptOn[c] = k;
          unplaced += t[i]! - k - this.placeOn(c, t[i]! - k);
        });
        // Weighted clusters without room for their share: the rest has nowhere to go.
        unplaced += replicas - t.reduce((a, b) => a + b, 0);
        if (list.length === 0) w.notes.push('no feasible cluster has a static weight');
      } else {
        // Divided by AvailableCapacity or Cost: keep what runs, place the rest.
        let need = replicas;
        for (const c of sticky) {
          if (!this.canAdd(c)) continue;
          this.add(c);
          this.keptOn[c] = current!.get(c)!;
          need -= current!.get(c)!;
        }
        if (need < 0) {
          // Scale down: least preferred clusters give up replicas first.
          for (let j = chosen.length - 1; j >= 0 && need < 0; j--) {
            const c = chosen[j]!;
            const give = Math.min(this.keptOn[c]!, -need);
            this.keptOn[c]! -= give;
            need += give;
          }
          for (const c of [...chosen]) if (this.keptOn[c] === 0) this.drop(c);
        }
        // Spread minimum: one replica into each new group, verified on a node.
        for (let i = 0; i < spread.length && need > 0; i++) {
          const min = spread[i]!.min ?? 1;
          while (w.used[i]!.size < min && need > 0) {
            const c = this.next(NEXT_NEW_GROUP, i, 0);
            if (c < 0) break;
            this.add(c);
            if (this.placeOn(c, 1) === 1) need--;
            else {
              this.drop(c);
              this.taken[c] = 1;
            }
          }
        }
        this.restoreSpread();
        // Enough clusters to cover the rest.
        let room = 0;
        for (const c of chosen) room += this.estimate(c);
        while (room < need) {
          const c = this.next(NEXT_ANY, 0, 0);
          if (c < 0) break;
          this.add(c);
          room += this.estimate(c);
        }
        if (need > 0 && chosen.length === 1) {
          need -= this.placeOn(chosen[0]!, need);
        } else if (need > 0 && chosen.length > 1) {
          const list = [...chosen];
          const caps = list.map((c) => this.placer.estimate(c, r));
          const weights = weighting === 'Cost' ? this.costWeights(list, r) : caps;
          const t = divide(
            need,
            weights,
            caps,
            list.map(() => false),
            ctx.random,
          );
          list.forEach((c, i) => {
            need -= this.placeOn(c, t[i]!);
          });
        }
        // What the chosen clusters could not take goes to the next best ones.
        while (need > 0) {
          const c = this.next(NEXT_ANY, 0, 0);
          if (c < 0) break;
          this.add(c);
          const placed = this.placeOn(c, need);
          if (placed === 0) this.drop(c);
          need -= placed;
        }
        unplaced = Math.max(0, need);
      }
      this.checkSpread(replicas);
    } else if (replicas > 0) {
      unplaced = replicas;
    }

    // Assemble.
    const expl: ComponentExplanation = {
      component: comp.name,
      clusters: C,
      feasible: n,
      chosen: [],
      rejected: st.rejected,
      notChosen: 0,
      unplaced,
      notes: w.notes,
    };
    const assignments: Assignment[] = [];
    // Read back through the type: add() filled it after the reset above.
    const chosenScores = w.scores as Workspace['scores'];
    for (let x = 0; x < chosen.length; x++) {
      const c = chosen[x]!;
      const k = this.keptOn[c]!;
      const placed = this.placedOn[c]!;
      if (k + placed === 0) continue;
      const nodes = new Int32Array(placed);
      if (placed > 0) {
        let m = 0;
        for (let j = 0; j < w.flat && m < placed; j++)
          if (w.flatCluster[j] === c) nodes[m++] = w.flatNode[j]!;
      }
      const info = this.clusters[c]!;
      assignments.push({
        cluster: info.name,
        clusterIndex: c,
        replicas: k + placed,
        kept: k,
        nodes,
      });
      expl.chosen.push({
        cluster: info.name,
        cloud: info.cloud,
        replicas: k + placed,
        score: round3(total[c]!),
        scores: chosenScores?.get(c) ?? {},
      });
    }
    const placedHere = assignments.reduce((s, a) => s + a.replicas - a.kept, 0);
    this.placedTotal += placedHere;
    this.unplacedTotal += unplaced;
    expl.notChosen = n - assignments.length;
    if (dynamicRejected) {
      for (const [reason, count] of dynamicRejected) increment(this.reasonTotals, reason, count);
      expl.rejected = mergeReasons(st.rejected, dynamicRejected);
    }
    if (this.explain) {
      const inPlan = new Map(assignments.map((a) => [a.clusterIndex, a.replicas]));
      expl.verdicts = this.clusters.map((k, c) => {
        const v: ClusterVerdict = {
          cluster: k.name,
          cloud: k.cloud,
          site: k.site,
          verdict: 'rejected',
        };
        if (this.mark[c] === stamp) {
          v.verdict = inPlan.has(c) ? 'chosen' : 'feasible';
          v.score = round3(total[c]!);
          const replicasThere = inPlan.get(c);
          if (replicasThere !== undefined) v.replicas = replicasThere;
        } else {
          const why = st.reasonOf[c] ?? dynamicReason?.get(c);
          if (why !== undefined) v.reason = why;
        }
        return v;
      });
    }
    const spreadMoves = w.spreadMoves;
    return [
      { component: comp.name, assignments, unplaced, ...(spreadMoves ? { spreadMoves } : {}) },
      expl,
    ];
  }

  // ------------------------------------------------------------ selection helpers
  // They work on this.ws, the state of the component being placed.

  private readonly groupOnNode = (i: number): number => {
    let most = 0;
    for (const g of this.ws.groups ?? []) most = Math.max(most, g.onNode.get(i) ?? 0);
    return most;
  };

  private readonly ownOnNodeFn = (i: number): number => this.ws.ownOnNode?.get(i) ?? 0;

  private staticWeight(c: number): number {
    const name = this.clusters[c]!.name;
    let wt = 0;
    for (const sw of this.ws.staticWeights ?? [])
      if (sw.clusters.includes(name)) wt = Math.max(wt, sw.weight);
    return wt;
  }

  /** Whether taking cluster c keeps every spread maximum. */
  private canAdd(c: number): boolean {
    const w = this.ws;
    for (let i = 0; i < w.spread.length; i++) {
      const s = w.spread[i]!;
      if (s.max === undefined) continue;
      const g = this.groupIds[s.by][c]!;
      if (!w.used[i]!.has(g) && w.used[i]!.size >= s.max) return false;
    }
    return true;
  }

  private add(c: number): void {
    const w = this.ws;
    w.chosen.push(c);
    this.taken[c] = 1;
    for (let i = 0; i < w.spread.length; i++) {
      const g = this.groupIds[w.spread[i]!.by][c]!;
      w.used[i]!.set(g, (w.used[i]!.get(g) ?? 0) + 1);
    }
    // Each plugin's score, as it was when the cluster was chosen.
    const scores: Record<string, number> = {};
    for (const part of w.parts) scores[part.plugin.name] = round3(part.fn(c));
    (w.scores ??= new Map()).set(c, scores);
  }

  private drop(c: number): void {
    const w = this.ws;
    const at = w.chosen.indexOf(c);
    if (at >= 0) w.chosen.splice(at, 1);
    for (let i = 0; i < w.spread.length; i++) {
      const g = this.groupIds[w.spread[i]!.by][c]!;
      const k = (w.used[i]!.get(g) ?? 0) - 1;
      if (k <= 0) w.used[i]!.delete(g);
      else w.used[i]!.set(g, k);
    }
  }

  /** The best candidate not yet taken that keeps the spread maxima and passes `mode`, or -1. */
  private next(mode: number, spreadIndex: number, replicas: number): number {
    const w = this.ws;
    const taken = this.taken;
    for (let j = 0; j < w.topN; j++) {
      const c = this.top[j]!;
      if (taken[c] === 0 && this.accepts(c, mode, spreadIndex, replicas)) return c;
    }
    if (w.topN < TOP) return -1;
    const cand = this.candidates;
    const order = this.order;
    let best = -1;
    let bestKey = -Infinity;
    for (let j = 0; j < w.n; j++) {
      const c = cand[j]!;
      if (taken[c] === 1 || order[c]! <= bestKey) continue;
      if (!this.accepts(c, mode, spreadIndex, replicas)) continue;
      best = c;
      bestKey = order[c]!;
    }
    return best;
  }

  private accepts(c: number, mode: number, spreadIndex: number, replicas: number): boolean {
    const w = this.ws;
    if (w.spread.length > 0 && !this.canAdd(c)) return false;
    if (mode === NEXT_ANY) return true;
    if ((mode === NEXT_ROOMY || mode === NEXT_NEW_GROUP_ROOMY) && this.estimate(c) < replicas)
      return false;
    if (
      mode === NEXT_NEW_GROUP ||
      mode === NEXT_NEW_GROUP_ROOMY ||
      mode === NEXT_NEW_GROUP_SETTLED
    ) {
      const s = w.spread[spreadIndex]!;
      if (w.used[spreadIndex]!.has(this.groupIds[s.by][c]!)) return false;
      if (mode === NEXT_NEW_GROUP_SETTLED && this.clusters[c]!.settling === true) return false;
    }
    return mode !== NEXT_WEIGHTED || this.staticWeight(c) > 0;
  }

  /** Places up to `count` new replicas on cluster c's nodes; returns how many. */
  private placeOn(c: number, count: number): number {
    if (count <= 0) return 0;
    const w = this.ws;
    if (this.placeBuffer.length < count) this.placeBuffer = new Int32Array(count);
    const buf = this.placeBuffer;
    const profile = this.colo ? w.comp!.usage?.cpuProfileMilli : undefined;
    const placed =
      profile !== undefined
        ? this.placeProfiled(c, w.r, profile, count, buf)
        : this.placer.place(c, w.r, count, {
            ...(w.maxPerNode !== undefined ? { maxPerNode: w.maxPerNode } : {}),
            ...(w.onNode ? { onNode: w.onNode } : {}),
            nodes: buf,
          });
    if (placed === 0) return 0;
    if (w.flatNode.length < w.flat + placed) {
      const size = Math.max(2 * w.flatNode.length, w.flat + placed);
      const nodes = new Int32Array(size);
      nodes.set(w.flatNode.subarray(0, w.flat));
      const clusters = new Int32Array(size);
      clusters.set(w.flatCluster.subarray(0, w.flat));
      w.flatNode = nodes;
      w.flatCluster = clusters;
    }
    w.flatNode.set(buf.subarray(0, placed), w.flat);
    w.flatCluster.fill(c, w.flat, w.flat + placed);
    w.flat += placed;
    if (w.ownOnNode || w.groups) {
      for (let j = 0; j < placed; j++) {
        const i = buf[j]!;
        if (w.ownOnNode) w.ownOnNode.set(i, (w.ownOnNode.get(i) ?? 0) + 1);
        for (const g of w.groups ?? []) g.onNode.set(i, (g.onNode.get(i) ?? 0) + 1);
      }
    }
    if (this.colo) this.recordRisk(w.comp!, buf, placed, w.ctx!.nodes);
    this.placedOn[c]! += placed;
    this.estimateStamp[c] = 0;
    return placed;
  }

  /**
   * A spread minimum still short once every running replica is kept (the app
   * was placed while fewer groups were feasible, or lost a group to an outage
   * and is not failing back): replicas move, one at a time, into new groups.
   * Each comes from the cluster keeping the most replicas that can give one
   * without leaving a group empty, so a move never undoes another minimum and
   * a shortfall that cannot be mended moves nothing. Settling clusters are no
   * targets (a flapping cluster draws no moves); the controller runs each
   * move make-before-break.
   */
  private restoreSpread(): void {
    const w = this.ws;
    for (let i = 0; i < w.spread.length; i++) {
      const min = w.spread[i]!.min ?? 1;
      while (w.used[i]!.size < min) {
        const donor = this.spreadDonor();
        if (donor < 0) return;
        const c = this.next(NEXT_NEW_GROUP_SETTLED, i, 0);
        if (c < 0) break;
        this.add(c);
        if (this.placeOn(c, 1) === 0) {
          this.drop(c);
          this.taken[c] = 1;
          continue;
        }
        this.keptOn[donor]! -= 1;
        if (this.keptOn[donor] === 0 && this.placedOn[donor] === 0) this.drop(donor);
        const move = { from: this.clusters[donor]!.name, to: this.clusters[c]!.name };
        (w.spreadMoves ??= []).push(move);
        w.notes.push(
          `spread: a replica moves from ${move.from} to ${move.to} (at least ${plural(min, w.spread[i]!.by)} wanted)`,
        );
      }
    }
  }

  /** The chosen cluster with the most kept replicas that can give one up without emptying a spread group, or -1. */
  private spreadDonor(): number {
    const w = this.ws;
    let best = -1;
    for (const c of w.chosen) {
      const k = this.keptOn[c]!;
      if (k === 0 || (best >= 0 && k < this.keptOn[best]!)) continue;
      let canGive = k + this.placedOn[c]! >= 2;
      for (let j = 0; !canGive && j < w.spread.length; j++) {
        if ((w.used[j]!.get(this.groupIds[w.spread[j]!.by][c]!) ?? 0) < 2) break;
        if (j === w.spread.length - 1) canGive = true;
      }
      // Ties go to the least preferred cluster (chosen is in preference order).
      if (canGive) best = c;
    }
    return best;
  }

  /** Notes a spread minimum that the plan does not meet, and why. */
  private checkSpread(replicas: number): void {
    const w = this.ws;
    for (let i = 0; i < w.spread.length; i++) {
      const s = w.spread[i]!;
      const min = s.min ?? 1;
      const have = new Set<number>();
      for (const c of w.chosen)
        if (this.keptOn[c]! + this.placedOn[c]! > 0) have.add(this.groupIds[s.by][c]!);
      if (have.size >= min) continue;
      const feasible = new Set<number>();
      for (let j = 0; j < w.n; j++) feasible.add(this.groupIds[s.by][this.candidates[j]!]!);
      w.notes.push(
        `spread: ${plural(have.size, s.by)} used, at least ${min} wanted` +
          (feasible.size < min
            ? ` (only ${plural(feasible.size, s.by)} feasible)`
            : replicas < min
              ? ` (only ${plural(replicas, 'replica')})`
              : ' (not enough room)'),
      );
    }
  }

  private costWeights(chosen: number[], r: CompiledRequest): number[] {
    const prices = chosen.map((c) => replicaPrice(this, c, r));
    const min = Math.min(...prices.filter((p) => p > 0));
    return prices.map((p) => (p > 0 && Number.isFinite(min) ? min / p : 1));
  }

  private clusterIndexCache: Map<string, number> | undefined;
  private clusterIndex(name: string): number | undefined {
    if (!this.clusterIndexCache)
      this.clusterIndexCache = new Map(this.clusters.map((c, i) => [c.name, i]));
    return this.clusterIndexCache.get(name);
  }

  // ------------------------------------------------------------ colocation

  /**
   * Places up to `count` replicas with a cpu profile on cluster c's nodes, one
   * at a time (each one changes its node's profile), writing their nodes into
   * `out`; returns how many. A node is admissible when the request fits it
   * apart from cpu (r.cpuMilli is 0 here), the per-node limits allow one more,
   * and its constant cpu (cpuUsed less profiled peaks: existing use and
   * replicas without profile at their p95) plus its summed profile plus this
   * profile stays within capacity in every slot and within cpuLimit x capacity
   * in all but floor(profileOverloadBudget x slots) slots. Of the admissible
   * nodes, the one whose penalty grows least wins, the lower index on ties;
   * per slot, with u = use / capacity and L = cpuLimit, the penalty is
   * PROFILE_STEEP x max(0, u - L)^2 + u^2: passing the limit costs far more
   * than anything under it, and under it the square evens predicted peaks out
   * between nodes rather than filling one node after another.
   */
  private placeProfiled(
    c: number,
    r: CompiledRequest,
    profile: readonly number[],
    count: number,
    out: Int32Array,
  ): number {
    const colo = this.colo!;
    const s = this.state;
    const w = this.ws;
    const slots = colo.slots;
    const budget = Math.floor(colo.options.profileOverloadBudget * slots);
    const L = colo.options.cpuLimit;
    const maxPerNode = w.maxPerNode ?? Infinity;
    const here = new Map<number, number>();
    let peak = 0;
    for (const x of profile) peak = Math.max(peak, x);
    let placed = 0;
    while (placed < count) {
      let best = -1;
      let bestCost = Infinity;
      for (let i = 0; i < s.count; i++) {
        if (s.cluster[i] !== c || !s.fitsCompiled(i, r)) continue;
        const already = (w.onNode ? w.onNode(i) : 0) + (here.get(i) ?? 0);
        if (already >= maxPerNode) continue;
        const cap = colo.capacity[i]!;
        if (cap <= 0) continue;
        const flat = s.cpuUsed[i]! - colo.profiledPeak[i]!;
        const S = colo.profile[i];
        let over = 0;
        let cost = 0;
        let t = 0;
        for (; t < slots; t++) {
          const before = flat + (S === undefined ? 0 : S[t]!);
          const after = before + profile[t]!;
          if (after > cap || (after > L * cap && ++over > budget)) break;
          cost += profilePenalty(after / cap, L) - profilePenalty(before / cap, L);
        }
        if (t < slots) continue;
        if (cost < bestCost) {
          bestCost = cost;
          best = i;
        }
      }
      if (best < 0) break;
      this.placer.begin(best);
      s.allocateCompiled(best, r);
      const add = Math.max(0, Math.min(peak, s.cpuCap[best]! - s.cpuUsed[best]!));
      s.cpuUsed[best]! += add;
      this.placer.end(best);
      colo.profiledPeak[best]! += add;
      let S = colo.profile[best];
      if (S === undefined) colo.profile[best] = S = new Float64Array(slots);
      for (let t = 0; t < slots; t++) S[t]! += profile[t]!;
      here.set(best, (here.get(best) ?? 0) + 1);
      out[placed++] = best;
    }
    return placed;
  }

  private recordRisk(
    comp: ComponentRequest,
    nodes: Int32Array,
    count: number,
    appNodes: Set<number>,
  ): void {
    const colo = this.colo!;
    const p95 = comp.usage?.cpuMilli ?? comp.pod.cpuMilli;
    // A profiled replica's use is in the node's profile, not the normal part.
    const profiled = comp.usage?.cpuProfileMilli !== undefined;
    const mean = comp.usage?.cpuMeanMilli ?? p95 / 2;
    const sd = Math.max(0, p95 - mean) / 1.645;
    for (let j = 0; j < count; j++) {
      const i = nodes[j]!;
      if (!profiled) {
        colo.mean[i]! += mean;
        colo.variance[i]! += sd * sd;
      }
      colo.predicted[i]! += p95;
      colo.touched[i] = 1;
      appNodes.add(i);
    }
  }

  /**
   * Probability that node i's cpu use passes the overload threshold: replicas
   * without profile as a normal (means and variances summed, existing use
   * constant); on a profiled node, its summed profile is added slot by slot
   * and the probability is the mean over slots.
   */
  overloadProbability(i: number): number {
    const colo = this.colo;
    if (!colo) return 0;
    const limit = colo.options.overloadThreshold * colo.capacity[i]!;
    const mean = colo.base[i]! + colo.mean[i]!;
    const sd = Math.sqrt(colo.variance[i]!);
    const tail = (m: number) => (sd <= 0 ? (m > limit ? 1 : 0) : 1 - normalCdf((limit - m) / sd));
    const S = colo.profile[i];
    if (S === undefined) return tail(mean);
    let sum = 0;
    for (let t = 0; t < S.length; t++) sum += tail(mean + S[t]!);
    return sum / S.length;
  }

  /** Share of node i's predicted slots whose use (constant part plus profile) is above the overload threshold; 0 without a profile. */
  profileOverloadShare(i: number): number {
    const colo = this.colo;
    const S = colo?.profile[i];
    if (!colo || S === undefined) return 0;
    const limit = colo.options.overloadThreshold * colo.capacity[i]!;
    const flat = this.state.cpuUsed[i]! - colo.profiledPeak[i]!;
    let over = 0;
    for (let t = 0; t < S.length; t++) if (flat + S[t]! > limit) over++;
    return over / S.length;
  }

  private appRisk(nodes: Set<number>): AppRisk {
    let max = 0;
    for (const i of nodes) max = Math.max(max, this.overloadProbability(i));
    return { maxOverloadProbability: max, nodes: nodes.size };
  }

  private colocationReport(): ColocationReport {
    const colo = this.colo!;
    let nodes = 0;
    let expected = 0;
    let max = 0;
    let maxShare = 0;
    const risks: NodeRisk[] = [];
    for (let i = 0; i < this.state.count; i++) {
      if (colo.touched[i] !== 1) continue;
      nodes++;
      const p = this.overloadProbability(i);
      expected += p;
      max = Math.max(max, p);
      const S = colo.profile[i];
      const share = this.profileOverloadShare(i);
      maxShare = Math.max(maxShare, share);
      let profileMean = 0;
      if (S !== undefined) {
        for (let t = 0; t < S.length; t++) profileMean += S[t]!;
        profileMean /= S.length;
      }
      if (p > 0)
        risks.push({
          node: i,
          cluster: this.clusters[this.state.cluster[i]!]?.name ?? '',
          cpuCapMilli: colo.capacity[i]!,
          predictedMilli: colo.base[i]! + colo.predicted[i]!,
          meanMilli: colo.base[i]! + colo.mean[i]! + profileMean,
          overloadProbability: p,
          ...(S !== undefined ? { profileOverloadShare: share } : {}),
        });
    }
    risks.sort((a, b) => b.overloadProbability - a.overloadProbability || a.node - b.node);
    return {
      overloadThreshold: colo.options.overloadThreshold,
      cpuLimit: colo.options.cpuLimit,
      memoryLimit: colo.options.memoryLimit,
      nodes,
      expectedOverloadedNodes: expected,
      maxOverloadProbability: max,
      profileSlots: colo.slots,
      maxProfileOverloadShare: maxShare,
      top: risks.slice(0, 20),
    };
  }
}

/**
 * An AppPlan whose reasons (the status format) are built when first read:
 * most callers of a large batch never look at them.
 */
class Plan implements AppPlan {
  readonly app: string;
  readonly components: ComponentPlan[];
  readonly explanation: ComponentExplanation[];
  risk?: AppRisk;
  private built: Reason[] | undefined;

  constructor(app: string, components: ComponentPlan[], explanation: ComponentExplanation[]) {
    this.app = app;
    this.components = components;
    this.explanation = explanation;
  }

  get reasons(): Reason[] {
    return (this.built ??= appReasons(this.components, this.explanation));
  }

  toJSON(): AppPlan {
    const out: AppPlan = {
      app: this.app,
      components: this.components,
      reasons: this.reasons,
      explanation: this.explanation,
    };
    if (this.risk) out.risk = this.risk;
    return out;
  }
}

function round3(x: number): number {
  return Math.round(x * 1000) / 1000;
}

/**
 * Divides `need` over clusters by weight, at most caps[i] each, largest
 * remainder first (ties broken by `random`); minOne[i] clusters get one first.
 * Returns the counts; their sum is less than `need` only when the caps are.
 */
export function divide(
  need: number,
  weights: readonly number[],
  caps: readonly number[],
  minOne: readonly boolean[],
  random: () => number,
): number[] {
  const n = weights.length;
  const out = new Array<number>(n).fill(0);
  let left = need;
  for (let i = 0; i < n && left > 0; i++) {
    if (minOne[i] && caps[i]! >= 1) {
      out[i] = 1;
      left--;
    }
  }
  for (let round = 0; left > 0 && round < 16; round++) {
    let W = 0;
    for (let i = 0; i < n; i++) if (out[i]! < caps[i]!) W += Math.max(0, weights[i]!);
    if (W <= 0) break;
    const frac: { i: number; f: number; tie: number }[] = [];
    let given = 0;
    for (let i = 0; i < n; i++) {
      const room = caps[i]! - out[i]!;
      if (room <= 0 || !(weights[i]! > 0)) continue;
      const q = (left * weights[i]!) / W;
      const g = Math.min(room, Math.floor(q));
      out[i]! += g;
      given += g;
      if (out[i]! < caps[i]!) frac.push({ i, f: q - Math.floor(q), tie: random() });
    }
    left -= given;
    frac.sort((a, b) => b.f - a.f || a.tie - b.tie);
    for (const x of frac) {
      if (left <= 0) break;
      if (out[x.i]! < caps[x.i]!) {
        out[x.i]!++;
        left--;
      }
    }
  }
  return out;
}

/**
 * Places every application, in order, on a copy of the snapshot (or on the
 * snapshot itself with `inPlace`). Pure: same input, same output.
 */
export function schedule(
  snapshot: Snapshot,
  requests: readonly AppRequest[],
  options: ScheduleOptions,
): ScheduleResult {
  const s = new Scheduler(snapshot, options);
  const plans: AppPlan[] = [];
  for (const app of requests) plans.push(s.scheduleApp(app));
  return s.result(plans);
}
