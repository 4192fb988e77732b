// The registry of resource kinds: how each is named in URLs and the CLI, whether
// it lives in a namespace, and its schema. Adding a kind means adding one entry.
import type { TSchema } from 'typebox';
import {
  ApplicationResource,
  ClusterResource,
  CloudResource,
  DeliveryEventResource,
  EventResource,
  LeaseResource,
  MigrationResource,
  MigrationPlanResource,
  SiteResource,
  WorkloadResource,
  AgentTokenResource,
  BudgetResource,
  CostSampleResource,
  SecretResource,
  CatalogItemResource,
  InstanceResource,
  BindingResource,
  type KindName,
} from './schema.ts';
import {
  ClusterRoleBindingResource,
  RoleBindingResource,
  TenantResource,
  UserTokenResource,
  type AccessKindName,
} from './access.ts';

export interface KindInfo {
  kind: KindName | AccessKindName;
  plural: string;
  singular: string;
  shortNames: readonly string[];
  namespaced: boolean;
  schema: TSchema;
  /** Spec fields accepted on write but never returned by the API (secrets). */
  writeOnly?: readonly string[];
}

export const KINDS: readonly KindInfo[] = [
  {
    kind: 'Cloud',
    plural: 'clouds',
    singular: 'cloud',
    shortNames: [],
    namespaced: false,
    schema: CloudResource,
  },
  {
    kind: 'Site',
    plural: 'sites',
    singular: 'site',
    shortNames: [],
    namespaced: false,
    schema: SiteResource,
  },
  {
    kind: 'Cluster',
    plural: 'clusters',
    singular: 'cluster',
    shortNames: ['cl'],
    namespaced: false,
    schema: ClusterResource,
  },
  {
    kind: 'Application',
    plural: 'applications',
    singular: 'application',
    shortNames: ['app', 'apps'],
    namespaced: true,
    schema: ApplicationResource,
  },
  {
    kind: 'Event',
    plural: 'events',
    singular: 'event',
    shortNames: ['ev'],
    namespaced: false,
    schema: EventResource,
  },
  {
    kind: 'Lease',
    plural: 'leases',
    singular: 'lease',
    shortNames: [],
    namespaced: false,
    schema: LeaseResource,
  },
  {
    kind: 'Workload',
    plural: 'workloads',
    singular: 'workload',
    shortNames: ['wl'],
    namespaced: false,
    schema: WorkloadResource,
  },
  {
    kind: 'AgentToken',
    plural: 'agenttokens',
    singular: 'agenttoken',
    shortNames: [],
    namespaced: false,
    schema: AgentTokenResource,
  },
  {
    kind: 'Secret',
    plural: 'secrets',
    singular: 'secret',
    shortNames: [],
    namespaced: false,
    schema: SecretResource,
    writeOnly: ['data'],
  },
  {
    kind: 'DeliveryEvent',
    plural: 'deliveryevents',
    singular: 'deliveryevent',
    shortNames: ['de'],
    namespaced: true,
    schema: DeliveryEventResource,
  },
  {
    kind: 'Migration',
    plural: 'migrations',
    singular: 'migration',
    shortNames: ['mig'],
    namespaced: true,
    schema: MigrationResource,
  },
  {
    kind: 'MigrationPlan',
    plural: 'migrationplans',
    singular: 'migrationplan',
    shortNames: ['migplan'],
    namespaced: true,
    schema: MigrationPlanResource,
  },
  {
    kind: 'Tenant',
    plural: 'tenants',
    singular: 'tenant',
    shortNames: [],
    namespaced: false,
    schema: TenantResource,
  },
  {
    kind: 'RoleBinding',
    plural: 'rolebindings',
    singular: 'rolebinding',
    shortNames: ['rb'],
    namespaced: true,
    schema: RoleBindingResource,
  },
  {
    kind: 'ClusterRoleBinding',
    plural: 'clusterrolebindings',
    singular: 'clusterrolebinding',
    shortNames: ['crb'],
    namespaced: false,
    schema: ClusterRoleBindingResource,
  },
  {
    kind: 'UserToken',
    plural: 'usertokens',
    singular: 'usertoken',
    shortNames: [],
    namespaced: false,
    schema: UserTokenResource,
    writeOnly: ['tokenHash'],
  },
  {
    kind: 'CostSample',
    plural: 'costsamples',
    singular: 'costsample',
    shortNames: [],
    namespaced: false,
    schema: CostSampleResource,
  },
  {
    kind: 'Budget',
    plural: 'budgets',
    singular: 'budget',
    shortNames: [],
    namespaced: false,
    schema: BudgetResource,
  },
  {
    kind: 'CatalogItem',
    plural: 'catalogitems',
    singular: 'catalogitem',
    shortNames: ['ci'],
    namespaced: false,
    schema: CatalogItemResource,
  },
  {
    kind: 'Instance',
    plural: 'instances',
    singular: 'instance',
    shortNames: ['inst'],
    namespaced: true,
    schema: InstanceResource,
  },
  {
    kind: 'Binding',
    plural: 'bindings',
    singular: 'binding',
    shortNames: [],
    namespaced: true,
    schema: BindingResource,
  },
];

export const DEFAULT_NAMESPACE = 'default';

const byAnyName = new Map<string, KindInfo>();
for (const k of KINDS) {
  for (const n of [k.kind.toLowerCase(), k.plural, k.singular, ...k.shortNames])
    byAnyName.set(n, k);
}

/** Resolves "clusters", "cluster", "Cluster" or a short name such as "app". */
export function lookupKind(name: string): KindInfo | undefined {
  return byAnyName.get(name.toLowerCase());
}
