import type { Cloud, Cluster, Site } from '../model/schema.ts';

/** The infrastructure resources of a fleet, in dependency order: clouds, then sites, then clusters. */
export interface FleetDocs {
  clouds: Cloud[];
  sites: Site[];
  clusters: Cluster[];
  /** What was left out or assumed while building the fleet, for the operator to read. */
  notes?: string[];
}
