// The platform catalog: CatalogItem (what can be installed, cluster-scoped),
// Instance (one installation of an item in a namespace) and Binding (an
// application's access to an instance). An Instance is rendered by the catalog
// controller into an Application it owns; a Binding into a Secret holding the
// connection details and the consuming application's env.
import Type, { type Static } from 'typebox';
import {
  CommandLine,
  Condition,
  Cpu,
  EnvMap,
  Enum,
  Int,
  LIMITS,
  List,
  Memory,
  Name,
  Obj,
  Port,
  ResourceSchema,
  SafeCount,
  Text,
  Time,
} from './common.ts';
import { HealthCheck, Placement } from './application.ts';

/**
 * The sixteen categories of the catalog, after the application markets
 * customers know (issue 17): every item is in exactly one.
 */
export const CATALOG_CATEGORIES = [
  'databases',
  'middleware',
  'microservices',
  'monitoring',
  'security',
  'big-data',
  'ai',
  'blockchain',
  'iot',
  'video',
  'collaboration',
  'devops',
  'mobile',
  'low-code',
  'storage',
  'networking',
] as const;
export type CatalogCategory = (typeof CATALOG_CATEGORIES)[number];

/** Bounds of catalog documents (docs/catalog.md lists them). */
export const CATALOG_LIMITS = {
  versions: 64,
  plans: 32,
  parameters: 64,
  dependencies: 32,
  outputs: 64,
  pins: LIMITS.terms,
  /** Bytes of one parameter value that is a string. */
  parameterValue: 4096,
} as const;

export const SemVer = Type.String({
  pattern:
    '^(0|[1-9][0-9]*)\\.(0|[1-9][0-9]*)\\.(0|[1-9][0-9]*)(-[0-9A-Za-z-]+(\\.[0-9A-Za-z-]+)*)?$',
  maxLength: 64,
  'x-expected': 'a semantic version MAJOR.MINOR.PATCH such as "7.0.15"',
});

/** A range as npm writes them: `^7.0.0`, `~7.2`, `>=6.2.0 <8`, `7.x`, `*`. */
export const SemVerRange = Type.String({
  pattern:
    '^\\*$|^(\\^|~|>=|<=|>|<|=)?[0-9]+(\\.([0-9]+|x))?(\\.([0-9]+|x))?( +(\\^|~|>=|<=|>|<|=)?[0-9]+(\\.([0-9]+|x))?(\\.([0-9]+|x))?)*$',
  maxLength: 128,
  'x-expected': 'a version range such as "^16.0.0", "~7.2", ">=6.2.0 <8" or "*"',
});

/** A parameter name: what `--set NAME=VALUE` and `{{ parameters.NAME }}` use. */
export const ParameterName = Type.String({
  pattern: '^[a-z][A-Za-z0-9]{0,62}$',
  'x-expected': 'a camelCase parameter name of 1 to 63 letters and digits, starting lower-case',
});

const ParameterValue = Type.Union(
  [Text(CATALOG_LIMITS.parameterValue), Type.Number(), Type.Boolean()],
  { 'x-expected': 'a string, number or boolean' },
);

/**
 * One parameter as JSON Schema (the subset the catalog uses: scalars with
 * bounds, enums and patterns). It is a JSON-Schema document as it stands, so
 * the instance's parameters are validated by compiling it (model/catalog/parameters.ts).
 */
export const ParameterSchema = Obj({
  type: Enum(['string', 'integer', 'number', 'boolean']),
  description: Text(),
  default: Type.Optional(ParameterValue),
  enum: Type.Optional(List(Type.Union([Text(), Type.Number()]), LIMITS.list, { minItems: 1 })),
  minimum: Type.Optional(Type.Number()),
  maximum: Type.Optional(Type.Number()),
  minLength: Type.Optional(Int(0, CATALOG_LIMITS.parameterValue)),
  maxLength: Type.Optional(Int(1, CATALOG_LIMITS.parameterValue)),
  pattern: Type.Optional(Text(256)),
  'x-expected': Type.Optional(Text(256)),
});
export type ParameterSchema = Static<typeof ParameterSchema>;

export const ParametersSchema = Obj(
  {
    type: Type.Literal('object', { 'x-expected': '"object"' }),
    properties: Type.Record(Type.String(), ParameterSchema, {
      propertyNames: ParameterName,
      maxProperties: CATALOG_LIMITS.parameters,
      'x-expected': `a map of at most ${CATALOG_LIMITS.parameters} parameters`,
    }),
    required: Type.Optional(List(ParameterName, CATALOG_LIMITS.parameters)),
    additionalProperties: Type.Literal(false, {
      'x-expected': 'false: an instance may set only the parameters declared',
    }),
  },
  'The JSON Schema of the parameters of one version.',
);
export type ParametersSchema = Static<typeof ParametersSchema>;

export const CatalogVersion = Obj({
  version: SemVer,
  parameters: ParametersSchema,
  /**
   * Per-version values templates read as `{{ values.NAME }}` (an image tag,
   * a config line): the only thing two versions of one item may differ in.
   */
  values: Type.Optional(EnvMap),
  deprecated: Type.Optional(Type.Boolean()),
});
export type CatalogVersion = Static<typeof CatalogVersion>;

export const CatalogPlan = Obj({
  name: Name,
  description: Text(),
  replicas: Int(1, LIMITS.replicas),
  resources: Obj({ cpu: Cpu, memory: Memory }),
});
export type CatalogPlan = Static<typeof CatalogPlan>;

export const CatalogDependency = Obj({ item: Name, versions: SemVerRange });

/**
 * One component of what an item deploys, per kind of member. Strings may hold
 * `{{ parameters.NAME }}`, `{{ values.NAME }}`, `{{ plan.NAME }}`,
 * `{{ instance.name }}`, `{{ instance.namespace }}`, `{{ version }}` and
 * `{{ credentials.password }}`; `${PORT}` and `${HOST}` are left for the agent.
 */
export const ComponentTemplate = Obj({
  name: Name,
  ports: List(Obj({ name: Name, port: Port }), LIMITS.ports, { minItems: 1 }),
  healthCheck: Type.Optional(HealthCheck),
  env: Type.Optional(EnvMap),
  /** A real process on agent members (Debian's binary). */
  agent: Type.Optional(Obj({ command: CommandLine, args: Type.Optional(CommandLine) })),
  /** A container on Kubernetes members; `workload` is the controller the item needs there. */
  kubernetes: Obj({
    image: Text(LIMITS.image, { minLength: 1 }),
    workload: Enum(['Deployment', 'StatefulSet']),
    args: Type.Optional(CommandLine),
  }),
});
export type ComponentTemplate = Static<typeof ComponentTemplate>;

export const CatalogItemSpec = Obj({
  displayName: Text(),
  category: Enum([...CATALOG_CATEGORIES]),
  description: Text(LIMITS.message),
  versions: List(CatalogVersion, CATALOG_LIMITS.versions, { minItems: 1 }),
  plans: List(CatalogPlan, CATALOG_LIMITS.plans, { minItems: 1 }),
  dependencies: Type.Optional(List(CatalogDependency, CATALOG_LIMITS.dependencies)),
  template: Obj({
    components: List(ComponentTemplate, LIMITS.components, { minItems: 1 }),
  }),
  /** Connection details a Binding exposes, as env names (after the prefix) to templates. */
  outputs: Type.Record(Type.String(), Text(LIMITS.envValue), {
    propertyNames: Type.String({
      pattern: '^[A-Z][A-Z0-9_]{0,62}$',
      'x-expected': 'an upper-case env name such as HOST or URL',
    }),
    maxProperties: CATALOG_LIMITS.outputs,
    'x-expected': `a map of at most ${CATALOG_LIMITS.outputs} outputs`,
  }),
  /**
   * How state moves between versions and clouds: `replicate-then-promote`
   * (a new member follows the old one, then takes over) or `dump-and-restore`;
   * `none` for stateless items. `replicates` says the item keeps serving when
   * one of its clouds fails.
   */
  lifecycle: Obj({
    upgrade: Enum(['rolling', 'replicate-then-promote', 'dump-and-restore']),
    backup: Enum(['none', 'snapshot', 'dump-and-restore']),
    migration: Enum(['none', 'replicate-then-promote', 'dump-and-restore']),
    replicates: Type.Boolean(),
  }),
});
export type CatalogItemSpec = Static<typeof CatalogItemSpec>;

export const CatalogItemResource = ResourceSchema('CatalogItem', CatalogItemSpec, Obj({}));
export type CatalogItem = Static<typeof CatalogItemResource>;

// ---------------------------------------------------------------- Instance

export const VersionPin = Obj({
  clusters: List(Name, LIMITS.list, { minItems: 1 }),
  version: SemVer,
});

export const InstanceSpec = Obj({
  item: Name,
  version: SemVer,
  plan: Name,
  parameters: Type.Optional(
    Type.Record(Type.String(), ParameterValue, {
      propertyNames: ParameterName,
      maxProperties: CATALOG_LIMITS.parameters,
      'x-expected': `a map of at most ${CATALOG_LIMITS.parameters} parameters`,
    }),
  ),
  /** The kind of member it is rendered for (default: agent where the item has a process form). */
  memberKind: Type.Optional(Enum(['agent', 'kubernetes', 'sim'])),
  placement: Type.Optional(Placement),
  /** Install on every cluster the placement allows, including clusters that join later. */
  fleetWide: Type.Optional(Type.Boolean()),
  pins: Type.Optional(List(VersionPin, CATALOG_LIMITS.pins)),
});
export type InstanceSpec = Static<typeof InstanceSpec>;

export const InstanceStatus = Obj({
  observedGeneration: Type.Optional(SafeCount),
  /** The Application the instance renders into (same namespace). */
  application: Type.Optional(Name),
  /** The version rendered now, and the one before it (what `rollback` returns to). */
  version: Type.Optional(SemVer),
  previousVersion: Type.Optional(SemVer),
  /** When the rendered version last changed. */
  versionChangedAt: Type.Optional(Time),
  conditions: Type.Optional(List(Condition, LIMITS.conditions)),
});
export type InstanceStatus = Static<typeof InstanceStatus>;

export const InstanceResource = ResourceSchema('Instance', InstanceSpec, InstanceStatus);
export type Instance = Static<typeof InstanceResource>;

// ---------------------------------------------------------------- Binding

export const BindingSpec = Obj({
  instance: Name,
  application: Name,
  /** Env names are the item's outputs behind this prefix (default: the instance name upper-cased + "_"). */
  envPrefix: Type.Optional(
    Type.String({
      pattern: '^[A-Z][A-Z0-9_]{0,62}$',
      'x-expected': 'an upper-case env prefix such as CACHE_',
    }),
  ),
});
export type BindingSpec = Static<typeof BindingSpec>;

export const BindingStatus = Obj({
  observedGeneration: Type.Optional(SafeCount),
  /** The Secret holding the connection details. */
  secret: Type.Optional(Name),
  /** Env names injected into the consuming application. */
  env: Type.Optional(List(Text(LIMITS.envName), CATALOG_LIMITS.outputs)),
  conditions: Type.Optional(List(Condition, LIMITS.conditions)),
});
export type BindingStatus = Static<typeof BindingStatus>;

export const BindingResource = ResourceSchema('Binding', BindingSpec, BindingStatus);
export type Binding = Static<typeof BindingResource>;
