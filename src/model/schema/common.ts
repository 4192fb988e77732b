// Building blocks every kind's schema shares: the API version, LIMITS, the
// closed-object and enum helpers, names, labels, quantities, bounded scalars,
// metadata and the resource envelope. The kinds themselves are in the sibling
// files, one per kind family; ../schema.ts is the one entry point importers use.
//
// Conventions: every object is closed (`additionalProperties: false`) so an
// unknown or misspelt field is an error, never silently dropped. `x-expected`
// carries the words shown to a user when a value does not match.
import Type, { type Static, type TSchema } from 'typebox';
import {
  CPU_PATTERN,
  MAX_CPU_CORES,
  MAX_GPUS,
  MAX_MEMORY_BYTES,
  MAX_NODE_CPU_CORES,
  MAX_NODE_MEMORY_BYTES,
  MAX_QUANTITY_LENGTH,
  MEMORY_PATTERN,
} from '../quantity.ts';

export const API_VERSION = 'yunjian.io/v1alpha1';

/**
 * Upper bounds on everything a user sends. They keep one document's cost to
 * store, validate, schedule and reconcile bounded (a probe once stored
 * `replicas: 1e9` and a reconcile spun on it). Quantity bounds live in
 * quantity.ts. docs/api.md lists them; the tests take them from here.
 */
export const LIMITS = {
  /** Replicas of one component (and of one override's patch): 10x the largest app the benchmarks place per component. */
  replicas: 10_000,
  components: 64,
  /** Ports of one component. */
  ports: 64,
  /** metadata.labels entries (and node pool labels, matchLabels). */
  labels: 64,
  labelKeyPrefix: 253,
  labelKeyName: 63,
  labelValue: 63,
  annotations: 256,
  /** Bytes of every annotation key and value together (Kubernetes' limit). */
  annotationsTotalBytes: 256 * 1024,
  image: 512,
  envVars: 256,
  envName: 256,
  envValue: 32 * 1024,
  /** Entries of command, and of args. */
  commandArgs: 256,
  commandArg: 4096,
  /** Short free-form strings: display names, cities, GPU models, reasons, keys. */
  text: 1024,
  /** Messages and other long free-form strings. */
  message: 32 * 1024,
  path: 2048,
  /** Lists of names (clouds, sites, clusters, components, countries, zones) and similar lists of terms. */
  list: 256,
  /** Lists of terms that each cost a scheduler pass over the candidates (spread, tolerations, overrides, expressions). */
  terms: 64,
  /** Node pools of one sim cluster. */
  nodePools: 64,
  /** Nodes in one sim node pool (the 10M-core benchmark fleet needs ~2,500). */
  poolNodes: 100_000,
  podsPerNode: 10_000,
  /** Health-check and failure thresholds (checks in a row). */
  threshold: 10_000,
  /** Seconds any timing field takes: a day (timers in Node overflow past ~24.8 days). */
  seconds: 86_400,
  progressDeadlineSeconds: 7 * 86_400,
  /** Relative weights (static replica weights, traffic weights). */
  weight: 10_000,
  /** Score weights in placement.preferences. */
  preference: 1_000,
  /** List prices per core-hour, GiB-hour or GPU-hour. */
  price: 1_000_000,
  /** Rates and bursts of a sim cluster's API throttling. */
  apiRate: 1_000_000,
  /** Status lists (placements, reasons, replicas, endpoints) written back through the API. */
  statusItems: 100_000,
  conditions: 64,
  /** A Secret's data, e.g. a kubeconfig with embedded certificates. */
  secretData: 1024 * 1024,
} as const;

const closed = { additionalProperties: false } as const;

export function Obj<P extends Type.TProperties>(properties: P, description?: string) {
  return Type.Object(properties, description === undefined ? closed : { ...closed, description });
}

export function Enum<const V extends string[]>(values: [...V], description?: string) {
  return Type.Union(
    values.map((v) => Type.Literal(v)),
    { 'x-expected': `one of ${values.join(', ')}`, ...(description ? { description } : {}) },
  ) as unknown as Type.TUnion<{ [K in keyof V]: Type.TLiteral<V[K]> }>;
}

/** The longest object name: a DNS subdomain, as in Kubernetes. */
export const MAX_NAME_LENGTH = 253;
/** The longest namespace: a DNS label, as in Kubernetes. */
export const MAX_NAMESPACE_LENGTH = 63;

export const Name = Type.String({
  pattern: '^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$',
  'x-expected':
    'a lower-case DNS name (a-z, 0-9, "-" and "."; starts and ends alphanumeric; at most 253 characters)',
});

/** A namespace is a DNS label: no dots, so it is one path segment wherever it goes. */
export const Namespace = Type.String({
  pattern: '^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$',
  'x-expected':
    'a lower-case DNS label (a-z, 0-9 and "-"; starts and ends alphanumeric; at most 63 characters)',
});

/** A free-form string of at most `max` characters. */
export function Text(
  max: number = LIMITS.text,
  options: { minLength?: number; description?: string } = {},
) {
  return Type.String({ maxLength: max, ...options });
}

/** An integer from `min` to `max`, both within the safe integers. */
export function Int(min: number, max: number, expected = `an integer from ${min} to ${max}`) {
  return Type.Integer({ minimum: min, maximum: max, 'x-expected': expected });
}

/** A server-set integer (generation, counters): any safe integer >= 0. */
export const SafeCount = Int(0, Number.MAX_SAFE_INTEGER, 'a safe integer >= 0');

/** A list of at most `max` items. */
export function List<T extends TSchema>(
  items: T,
  max: number = LIMITS.list,
  options: { minItems?: number; 'x-expected'?: string } = {},
) {
  return Type.Array(items, { maxItems: max, ...options });
}

export const LabelKey = Type.String({
  pattern: `^([^/]{1,${LIMITS.labelKeyPrefix}}/)?[^/]{1,${LIMITS.labelKeyName}}$`,
  'x-expected': `a key: an optional prefix of at most ${LIMITS.labelKeyPrefix} characters and "/", then a name of 1 to ${LIMITS.labelKeyName} characters`,
});

/** Labels: Kubernetes' key and value lengths; values are short because selectors match them. */
export const LabelMap = Type.Record(Type.String(), Text(LIMITS.labelValue), {
  propertyNames: LabelKey,
  maxProperties: LIMITS.labels,
  'x-expected': `a map of at most ${LIMITS.labels} labels`,
});

/** Annotations: values may be long; their total size is checked in validate.ts. */
export const AnnotationMap = Type.Record(Type.String(), Type.String(), {
  propertyNames: LabelKey,
  maxProperties: LIMITS.annotations,
  'x-expected': `a map of at most ${LIMITS.annotations} annotations`,
});

export const EnvMap = Type.Record(Type.String(), Text(LIMITS.envValue), {
  propertyNames: Type.String({
    minLength: 1,
    maxLength: LIMITS.envName,
    'x-expected': `an environment variable name of 1 to ${LIMITS.envName} characters`,
  }),
  maxProperties: LIMITS.envVars,
  'x-expected': `a map of at most ${LIMITS.envVars} environment variables`,
});

/** Quantity strings are bounded in value by validate.ts (a pattern cannot say "at most 1024"). */
export function CpuQuantity(maxCores: number, what: string) {
  return Type.Union(
    [
      Type.String({ pattern: CPU_PATTERN, maxLength: MAX_QUANTITY_LENGTH }),
      Type.Number({ minimum: 0, maximum: maxCores }),
    ],
    {
      'x-expected': `a CPU quantity of at most ${maxCores} cores ${what}, such as "500m", "2" or 1.5`,
    },
  );
}
export function MemoryQuantity(maxBytes: number, what: string) {
  return Type.Union(
    [
      Type.String({ pattern: MEMORY_PATTERN, maxLength: MAX_QUANTITY_LENGTH }),
      Type.Integer({ minimum: 0, maximum: maxBytes }),
    ],
    {
      'x-expected': `a memory quantity of at most ${maxBytes / 2 ** 40}Ti ${what}, such as "512Mi", "4Gi" or a number of bytes`,
    },
  );
}
export const Cpu = CpuQuantity(MAX_CPU_CORES, 'per replica');
export const Memory = MemoryQuantity(MAX_MEMORY_BYTES, 'per replica');
export const NodeCpu = CpuQuantity(MAX_NODE_CPU_CORES, 'per node');
export const NodeMemory = MemoryQuantity(MAX_NODE_MEMORY_BYTES, 'per node');
/** A server-computed amount: finite and within the safe integers. */
export const NonNegative = Type.Number({
  minimum: 0,
  maximum: Number.MAX_SAFE_INTEGER,
  'x-expected': 'a number >= 0',
});
export const Replicas = Int(0, LIMITS.replicas);
export const Gpus = Type.Number({
  minimum: 0,
  maximum: MAX_GPUS,
  'x-expected': `a GPU count from 0 to ${MAX_GPUS} (fractions share a GPU)`,
});
export const Port = Int(1, 65535, 'a port number from 1 to 65535');
export const Seconds = Type.Number({
  minimum: 0,
  maximum: LIMITS.seconds,
  'x-expected': `a number of seconds from 0 to ${LIMITS.seconds}`,
});
export const Threshold = Int(1, LIMITS.threshold);
export const Price = Type.Number({
  minimum: 0,
  maximum: LIMITS.price,
  'x-expected': `a price from 0 to ${LIMITS.price}`,
});
export const Preference = Type.Number({
  minimum: 0,
  maximum: LIMITS.preference,
  'x-expected': `a score weight from 0 to ${LIMITS.preference}`,
});
export const Weight = Int(0, LIMITS.weight, `an integer weight from 0 to ${LIMITS.weight}`);
/** An RFC 3339 time (server-set; long enough for any fraction and offset). */
export const Time = Text(64);
/**
 * An RFC 3339 time a client may send and the server compares (a token's
 * expiry, when a join used it): its spelling is checked, not only its length.
 */
export const DateTime = Type.String({
  format: 'date-time',
  maxLength: 64,
  'x-expected': 'an RFC 3339 date-time such as "2030-01-31T12:00:00Z"',
});

export const Arch = Enum(['amd64', 'arm64', 'riscv64'], 'CPU architecture');
export type Arch = Static<typeof Arch>;
export const ARCHES: readonly Arch[] = ['amd64', 'arm64', 'riscv64'];

export const Platform = Type.String({
  pattern: '^linux/(amd64|arm64|riscv64)$',
  'x-expected': 'an image platform: linux/amd64, linux/arm64 or linux/riscv64',
});

// ---------------------------------------------------------------- metadata

export const ObjectMeta = Obj({
  name: Name,
  namespace: Type.Optional(Namespace),
  labels: Type.Optional(LabelMap),
  annotations: Type.Optional(AnnotationMap),
  uid: Type.Optional(Text(64)),
  resourceVersion: Type.Optional(
    Type.String({
      pattern: '^[0-9]+$',
      maxLength: 20,
      'x-expected': 'a resourceVersion as returned by the server',
    }),
  ),
  generation: Type.Optional(SafeCount),
  creationTimestamp: Type.Optional(Time),
});
export type ObjectMeta = Static<typeof ObjectMeta>;

export const Condition = Obj({
  type: Text(),
  status: Enum(['True', 'False', 'Unknown']),
  reason: Type.Optional(Text()),
  message: Type.Optional(Text(LIMITS.message)),
  lastTransitionTime: Type.Optional(Time),
  /** An application making progress: when its ready replicas last rose (the progress deadline counts from it). */
  lastProgressTime: Type.Optional(Time),
});
export type Condition = Static<typeof Condition>;

/** Where a component's port is reachable (application placements, agent workloads). */
export const Endpoint = Obj({ name: Type.Optional(Name), address: Text(256), port: Port });

export const CommandLine = List(Text(LIMITS.commandArg), LIMITS.commandArgs);

export const NoStatus = Obj({});

export function ResourceSchema<K extends string, S extends TSchema, St extends TSchema>(
  kind: K,
  spec: S,
  status: St,
) {
  return Obj({
    apiVersion: Type.Literal(API_VERSION, { 'x-expected': `"${API_VERSION}"` }),
    kind: Type.Literal(kind),
    metadata: ObjectMeta,
    spec,
    status: Type.Optional(status),
  });
}
