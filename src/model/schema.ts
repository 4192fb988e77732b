// The one schema source for every resource kind: TypeBox builds JSON Schema that
// is at the same time the runtime validator (validate.ts), the OpenAPI document
// (api/openapi.ts) and, through `Static`, the TypeScript types.
//
// This file is the entry point every importer uses. The schemas live in
// schema/, one file per kind family, on the building blocks of schema/common.ts
// (LIMITS, names, labels, quantities, metadata); of those, only the ones meant
// for use outside the schemas are exported here.
import type { AgentToken } from './schema/agent.ts';
import type { Application } from './schema/application.ts';
import type { Binding, CatalogItem, Instance } from './schema/catalog.ts';
import type { Budget, CostSample } from './schema/cost.ts';
import type { Event } from './schema/event.ts';
import type { DeliveryEvent } from './schema/delivery.ts';
import type { Cloud, Cluster, Site } from './schema/fleet.ts';
import type { Lease } from './schema/lease.ts';
import type { Migration } from './schema/migration.ts';
import type { MigrationPlan } from './schema/migrationplan.ts';
import type { Secret } from './schema/secret.ts';
import type { Workload } from './schema/workload.ts';

export {
  API_VERSION,
  ARCHES,
  Arch,
  Condition,
  LIMITS,
  MAX_NAMESPACE_LENGTH,
  MAX_NAME_LENGTH,
  Name,
  Namespace,
  ObjectMeta,
  Platform,
} from './schema/common.ts';
export * from './schema/agent.ts';
export * from './schema/application.ts';
export * from './schema/catalog.ts';
export * from './schema/cost.ts';
export * from './schema/delivery.ts';
export * from './schema/event.ts';
export * from './schema/fleet.ts';
export * from './schema/lease.ts';
export * from './schema/migration.ts';
export * from './schema/migrationplan.ts';
export * from './schema/secret.ts';
export * from './schema/workload.ts';

export type AnyResource =
  | Cloud
  | Site
  | Cluster
  | Application
  | Event
  | Lease
  | Workload
  | AgentToken
  | Secret
  | CatalogItem
  | Instance
  | Binding
  | CostSample
  | Budget
  | DeliveryEvent
  | Migration
  | MigrationPlan;
export type KindName = AnyResource['kind'];
