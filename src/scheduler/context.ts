// The state one scheduler run works on, shared by the stage modules: the
// snapshot's node state and placer, per-constraint caches that live as long
// as the run, per-cluster scratch arrays reused from component to component,
// and the workspace of the component being placed. Stage functions take the
// run as their first argument and change only what their comment says; no
// stage keeps state of its own.
import type { LatLon } from '../lib/geo.ts';
import type { Placement } from '../model/schema.ts';
import { newColocation, type Colocation } from './colocation.ts';
import type { CompiledRequest, NodeState } from './nodestate.ts';
import { NodePlacer } from './placer.ts';
import {
  defaultRegistry,
  type ClusterScore,
  type FleetView,
  type PluginRegistry,
  type ScorePlugin,
} from './plugins.ts';
import { placesOf, proximityScores } from './ranking.ts';
import type { Snapshot } from './snapshot.ts';
import { nodeCounters } from './selection.ts';
import { groupIdsOf } from './spread.ts';
import type { AppRequest, ComponentRequest, ScheduleOptions } from './types.ts';

export type SpreadBy = 'cloud' | 'site' | 'zone' | 'cluster';

/** Candidates kept in order for the cluster picks. */
export const TOP = 8;

/** The filters' verdicts for one constraint set, shared by every component with it. */
export interface StaticVerdicts {
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

/** Per-app state shared by its components. */
export interface AppContext {
  app: AppRequest;
  placement: Placement | undefined;
  placementKey: string;
  random: () => number;
  /** Anti-affinity groups: component names, and replicas of the group per node. */
  groups: { members: Set<string>; onNode: Map<number, number> }[];
  /** Nodes that new replicas of the app landed on (colocation risk). */
  nodes: Set<number>;
}

/** What one component's placement works with (reused from component to component). */
export interface Workspace {
  r: CompiledRequest;
  comp: ComponentRequest | undefined;
  ctx: AppContext | undefined;
  /** Candidates: the run's candidates[0 .. n). */
  n: number;
  /** Clusters the capacity checks rejected, by reason, and (explain only) per cluster. */
  dynamicRejected: Map<string, number> | undefined;
  dynamicReason: Map<number, string> | undefined;
  /** The best candidates: the run's top[0 .. topN). */
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

export interface Places {
  site: Map<string, LatLon>;
  region: Map<string, LatLon>;
  country: Map<string, LatLon>;
}

export interface Run extends FleetView {
  readonly mode: 'requests' | 'colocation';
  readonly seed: number;
  readonly explain: boolean;
  readonly registry: PluginRegistry;
  readonly state: NodeState;
  /** Group id of each cluster per spread key. */
  readonly groupIds: Record<SpreadBy, Int32Array>;
  readonly clusterIndex: ReadonlyMap<string, number>;
  readonly staticCache: Map<string, StaticVerdicts>;
  readonly filterCache: Map<string, readonly (string | undefined)[]>;
  readonly proximityCache: Map<string, { scores: Float64Array; unknown: string[] }>;
  readonly places: Places;

  // Per-component scratch, indexed by cluster.
  readonly order: Float64Array;
  readonly total: Float64Array;
  readonly taken: Uint8Array;
  readonly estimateOf: Float64Array;
  readonly estimateStamp: Int32Array;
  readonly top: Int32Array;
  readonly candidates: Int32Array;
  /** mark[c] === stamp: cluster c is a candidate of the component being placed. */
  readonly mark: Int32Array;
  stamp: number;
  placeBuffer: Int32Array;
  /** Replicas kept on / newly placed on each cluster, for the component being placed. */
  readonly keptOn: Int32Array;
  readonly placedOn: Int32Array;
  readonly ws: Workspace;
  /** Replicas of the component's anti-affinity groups / of the component itself on a node. */
  readonly groupOnNode: (node: number) => number;
  readonly ownOnNode: (node: number) => number;

  /** Colocation mode only. */
  readonly colo: Colocation | undefined;

  placedTotal: number;
  unplacedTotal: number;
  readonly reasonTotals: Map<string, number>;
}

function newWorkspace(): Workspace {
  return {
    r: undefined as unknown as CompiledRequest,
    comp: undefined,
    ctx: undefined,
    n: 0,
    dynamicRejected: undefined,
    dynamicReason: undefined,
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
}

/**
 * A run over the snapshot's nodes (a copy unless `inPlace`). Colocation mode
 * scales the node capacities to the safety limit before the placer indexes
 * them, so every later stage sees the limit as the capacity.
 */
export function newRun(snapshot: Snapshot, options: ScheduleOptions): Run {
  const mode = options.mode ?? 'requests';
  const clusters = snapshot.clusters;
  const state = options.inPlace === true ? snapshot.nodes : snapshot.nodes.clone();
  const C = clusters.length;
  const colo =
    mode === 'colocation'
      ? newColocation(state, options.colocation ?? {}, options.inPlace === true)
      : undefined;
  const placer = new NodePlacer(state, C);
  const clusterArchMask = new Uint8Array(C);
  for (let k = 0; k < placer.classCount; k++)
    clusterArchMask[placer.classCluster[k]!]! |= 1 << placer.classArch[k]!;
  const ws = newWorkspace();
  const counters = nodeCounters(ws);
  const run: Run = {
    mode,
    seed: options.seed,
    explain: options.explain === true,
    registry: options.registry ?? defaultRegistry(),
    clusters,
    state,
    placer,
    clusterArchMask,
    gpuModels: state.gpuModels,
    groupIds: groupIdsOf(clusters),
    clusterIndex: new Map(clusters.map((c, i) => [c.name, i])),
    staticCache: new Map(),
    filterCache: new Map(),
    proximityCache: new Map(),
    places: placesOf(clusters),
    proximity(userRegions) {
      return proximityScores(run, userRegions);
    },
    order: new Float64Array(C),
    total: new Float64Array(C),
    taken: new Uint8Array(C),
    estimateOf: new Float64Array(C),
    estimateStamp: new Int32Array(C),
    top: new Int32Array(TOP),
    candidates: new Int32Array(C),
    mark: new Int32Array(C),
    stamp: 0,
    placeBuffer: new Int32Array(256),
    keptOn: new Int32Array(C),
    placedOn: new Int32Array(C),
    ws,
    groupOnNode: counters.group,
    ownOnNode: counters.own,
    colo,
    placedTotal: 0,
    unplacedTotal: 0,
    reasonTotals: new Map(),
  };
  return run;
}
