// The placement explanation as the API returns it (`GET .../applications/{name}/explain`):
// a wire type shared by the scheduler that builds it and the CLI and console
// that show it, so neither client depends on the scheduler.

export interface ChosenCluster {
  cluster: string;
  cloud: string;
  replicas: number;
  /** Weighted score in [0, 1] when chosen, and each plugin's part. */
  score: number;
  scores: Record<string, number>;
}

export interface CloudExplanation {
  cloud: string;
  verdict: 'chosen' | 'feasible' | 'rejected';
  /** Clusters of the cloud, and of those the chosen ones with their replicas and scores. */
  clusters: number;
  chosen: ChosenCluster[];
  /** Feasible clusters of the cloud that were not needed, and the best of them. */
  feasible: number;
  bestFeasible?: { cluster: string; score: number };
  rejected: { count: number; reason: string }[];
}

export interface ComponentExplanationView {
  component: string;
  replicas: number;
  architectures: string[];
  /** Clusters considered, and those that passed every filter. */
  clusters: number;
  feasible: number;
  unplaced: number;
  chosen: ChosenCluster[];
  rejected: { count: number; reason: string }[];
  notes: string[];
  clouds: CloudExplanation[];
  /** Every cluster's verdict: chosen, feasible (not needed) or rejected with its reason. */
  verdicts: { cluster: string; cloud: string; verdict: string; reason?: string; score?: number }[];
}

export interface ApplicationExplanation {
  apiVersion: 'yunjian.io/v1alpha1';
  kind: 'PlacementExplanation';
  application: string;
  namespace: string;
  generation?: number;
  observedGeneration?: number;
  /** How the scores are weighted for this app. */
  weights: Record<string, number>;
  components: ComponentExplanationView[];
}
