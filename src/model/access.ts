// Schemas of the access-control kinds: who a principal is (UserToken), what it
// may do (RoleBinding in a namespace, ClusterRoleBinding everywhere) and which
// namespaces, quota and clusters a tenant has (Tenant). Built on the same
// blocks as every other kind (schema/common.ts): closed objects, bounded values,
// `x-expected` words for every constrained value.
import Type, { type Static } from 'typebox';
import {
  CpuQuantity,
  DateTime,
  Enum,
  Int,
  LIMITS,
  List,
  MemoryQuantity,
  Name,
  NoStatus,
  Obj,
  ResourceSchema,
} from './schema/common.ts';

/** Built-in roles, least to most powerful apart from `agent`, which only joins. */
export const ROLES = ['viewer', 'editor', 'tenant-admin', 'cluster-admin', 'agent'] as const;
export type RoleName = (typeof ROLES)[number];
/** Roles a namespaced RoleBinding may grant: never more than its tenant's namespaces. */
export const NAMESPACE_ROLES = ['viewer', 'editor', 'tenant-admin'] as const;
/** Roles a ClusterRoleBinding may grant; a tenant-admin is bound in one of its tenant's namespaces. */
export const CLUSTER_ROLES = ['viewer', 'editor', 'cluster-admin', 'agent'] as const;

const NameList = List(Name, LIMITS.list, {
  minItems: 1,
  'x-expected': `a list of 1 to ${LIMITS.list} names`,
});

/**
 * Upper bounds of a tenant's quota. A quota totals requests x replicas over
 * every application of the tenant, so it may be far above what one replica
 * may request (quantity.ts): up to a whole 10M-core fleet like the scheduler
 * benchmark's, with room to spare. Summed in millicores and bytes, every bound
 * stays within the safe integers.
 */
export const MAX_TENANT_QUOTA = {
  cpuCores: 10_000_000,
  /** 4 PiB: the largest power of two whose byte count is a safe integer. */
  memoryBytes: 4 * 2 ** 50,
  gpus: 1_000_000,
  applications: 1_000_000,
  /** Ten times the 1M replicas the scheduler benchmark places. */
  replicas: 10_000_000,
} as const;

/** A user or service account name; OIDC user names (api/oidc.ts) must fit it too. */
export const SUBJECT_NAME = /^[A-Za-z0-9][A-Za-z0-9._@-]{0,127}$/;

export const Subject = Obj({
  kind: Enum(['User', 'ServiceAccount']),
  name: Type.String({
    pattern: SUBJECT_NAME.source,
    'x-expected': 'a user or service account name (letters, digits, ".", "_", "@", "-")',
  }),
});
export type Subject = Static<typeof Subject>;

// ---------------------------------------------------------------- Tenant

export const TenantQuota = Obj(
  {
    cpu: Type.Optional(CpuQuantity(MAX_TENANT_QUOTA.cpuCores, 'per tenant')),
    memory: Type.Optional(MemoryQuantity(MAX_TENANT_QUOTA.memoryBytes, 'per tenant')),
    gpu: Type.Optional(
      Type.Number({
        minimum: 0,
        maximum: MAX_TENANT_QUOTA.gpus,
        'x-expected': `a GPU count from 0 to ${MAX_TENANT_QUOTA.gpus}`,
      }),
    ),
    applications: Type.Optional(Int(0, MAX_TENANT_QUOTA.applications)),
    replicas: Type.Optional(Int(0, MAX_TENANT_QUOTA.replicas)),
  },
  "Totals over every Application in the tenant's namespaces (requests x replicas); absent: unlimited.",
);
export type TenantQuota = Static<typeof TenantQuota>;

export const TenantSpec = Obj(
  {
    namespaces: NameList,
    quota: Type.Optional(TenantQuota),
    allowed: Type.Optional(
      Obj(
        {
          clouds: Type.Optional(NameList),
          sites: Type.Optional(NameList),
          clusters: Type.Optional(NameList),
        },
        'Where its applications may run: a cluster must match every list given (as placement.clusterAffinity). Absent: anywhere.',
      ),
    ),
  },
  'A tenant: the namespaces it owns, its quota and the clouds, sites and clusters it may use.',
);
export type TenantSpec = Static<typeof TenantSpec>;

// ---------------------------------------------------------------- bindings

export const RoleBindingSpec = Obj(
  {
    subject: Subject,
    role: Enum([...NAMESPACE_ROLES]),
  },
  "Grants a role in the binding's namespace; tenant-admin grants it in every namespace of the namespace's tenant.",
);
export type RoleBindingSpec = Static<typeof RoleBindingSpec>;

export const ClusterRoleBindingSpec = Obj(
  {
    subject: Subject,
    role: Enum([...CLUSTER_ROLES]),
  },
  'Grants a role in every namespace and over cluster-scoped kinds as the role allows.',
);
export type ClusterRoleBindingSpec = Static<typeof ClusterRoleBindingSpec>;

// ---------------------------------------------------------------- UserToken

export const UserTokenSpec = Obj(
  {
    subject: Subject,
    /** Hex SHA-256 of the whole token; never returned by the API. */
    tokenHash: Type.String({ pattern: '^[0-9a-f]{64}$', 'x-expected': 'a hex SHA-256' }),
    /** Every user token expires. */
    expires: DateTime,
    description: Type.Optional(Type.String({ maxLength: 256 })),
  },
  'A bearer token of a user or service account, stored as a hash.',
);
export type UserTokenSpec = Static<typeof UserTokenSpec>;

export const TenantResource = ResourceSchema('Tenant', TenantSpec, NoStatus);
export const RoleBindingResource = ResourceSchema('RoleBinding', RoleBindingSpec, NoStatus);
export const ClusterRoleBindingResource = ResourceSchema(
  'ClusterRoleBinding',
  ClusterRoleBindingSpec,
  NoStatus,
);
export const UserTokenResource = ResourceSchema('UserToken', UserTokenSpec, NoStatus);

export type Tenant = Static<typeof TenantResource>;
export type RoleBinding = Static<typeof RoleBindingResource>;
export type ClusterRoleBinding = Static<typeof ClusterRoleBindingResource>;
export type UserToken = Static<typeof UserTokenResource>;
export type AccessResource = Tenant | RoleBinding | ClusterRoleBinding | UserToken;
export type AccessKindName = AccessResource['kind'];
