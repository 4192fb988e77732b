// Schemas of the access-control kinds: who a principal is (UserToken), what it
// may do (RoleBinding in a namespace, ClusterRoleBinding everywhere) and which
// namespaces, quota and clusters a tenant has (Tenant). Same conventions as
// schema.ts: closed objects, `x-expected` words for every constrained value.
import Type, { type Static, type TSchema } from 'typebox';
import { CPU_PATTERN, MEMORY_PATTERN } from './quantity.ts';
import { API_VERSION, Name, ObjectMeta } from './schema.ts';

const closed = { additionalProperties: false } as const;

function Obj<P extends Type.TProperties>(properties: P, description?: string) {
  return Type.Object(properties, description === undefined ? closed : { ...closed, description });
}

function Enum<const V extends string[]>(values: [...V], description?: string) {
  return Type.Union(
    values.map((v) => Type.Literal(v)),
    { 'x-expected': `one of ${values.join(', ')}`, ...(description ? { description } : {}) },
  ) as unknown as Type.TUnion<{ [K in keyof V]: Type.TLiteral<V[K]> }>;
}

/** Built-in roles, least to most powerful apart from `agent`, which only joins. */
export const ROLES = ['viewer', 'editor', 'tenant-admin', 'cluster-admin', 'agent'] as const;
export type RoleName = (typeof ROLES)[number];
/** Roles a namespaced RoleBinding may grant: never more than its tenant's namespaces. */
export const NAMESPACE_ROLES = ['viewer', 'editor', 'tenant-admin'] as const;
/** Roles a ClusterRoleBinding may grant; a tenant-admin is bound in one of its tenant's namespaces. */
export const CLUSTER_ROLES = ['viewer', 'editor', 'cluster-admin', 'agent'] as const;

const NameList = Type.Array(Name, { minItems: 1, 'x-expected': 'a non-empty list of names' });

const Cpu = Type.Union([Type.String({ pattern: CPU_PATTERN }), Type.Number({ minimum: 0 })], {
  'x-expected': 'a CPU quantity such as "500m", "2" or 1.5',
});
const Memory = Type.Union(
  [Type.String({ pattern: MEMORY_PATTERN }), Type.Integer({ minimum: 0 })],
  { 'x-expected': 'a memory quantity such as "512Mi", "4Gi" or a number of bytes' },
);
const Count = Type.Integer({ minimum: 0, 'x-expected': 'an integer >= 0' });

export const Subject = Obj({
  kind: Enum(['User', 'ServiceAccount']),
  name: Type.String({
    pattern: '^[A-Za-z0-9][A-Za-z0-9._@-]{0,127}$',
    'x-expected': 'a user or service account name (letters, digits, ".", "_", "@", "-")',
  }),
});
export type Subject = Static<typeof Subject>;

// ---------------------------------------------------------------- Tenant

export const TenantQuota = Obj(
  {
    cpu: Type.Optional(Cpu),
    memory: Type.Optional(Memory),
    gpu: Type.Optional(Type.Number({ minimum: 0, 'x-expected': 'a GPU count >= 0' })),
    applications: Type.Optional(Count),
    replicas: Type.Optional(Count),
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
    /** RFC 3339; every user token expires. */
    expires: Type.String({ minLength: 1, 'x-expected': 'an RFC 3339 time' }),
    description: Type.Optional(Type.String({ maxLength: 256 })),
  },
  'A bearer token of a user or service account, stored as a hash.',
);
export type UserTokenSpec = Static<typeof UserTokenSpec>;

const NoStatus = Obj({});

function ResourceSchema<K extends string, S extends TSchema>(kind: K, spec: S) {
  return Obj({
    apiVersion: Type.Literal(API_VERSION, { 'x-expected': `"${API_VERSION}"` }),
    kind: Type.Literal(kind),
    metadata: ObjectMeta,
    spec,
    status: Type.Optional(NoStatus),
  });
}

export const TenantResource = ResourceSchema('Tenant', TenantSpec);
export const RoleBindingResource = ResourceSchema('RoleBinding', RoleBindingSpec);
export const ClusterRoleBindingResource = ResourceSchema(
  'ClusterRoleBinding',
  ClusterRoleBindingSpec,
);
export const UserTokenResource = ResourceSchema('UserToken', UserTokenSpec);

export type Tenant = Static<typeof TenantResource>;
export type RoleBinding = Static<typeof RoleBindingResource>;
export type ClusterRoleBinding = Static<typeof ClusterRoleBindingResource>;
export type UserToken = Static<typeof UserTokenResource>;
export type AccessResource = Tenant | RoleBinding | ClusterRoleBinding | UserToken;
export type AccessKindName = AccessResource['kind'];
