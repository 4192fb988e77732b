// The one schema source for every resource kind: TypeBox builds JSON Schema that
// is at the same time the runtime validator (validate.ts), the OpenAPI document
// (api/openapi.ts) and, through `Static`, the TypeScript types.
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
} from './quantity.ts';

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

function Obj<P extends Type.TProperties>(properties: P, description?: string) {
  return Type.Object(properties, description === undefined ? closed : { ...closed, description });
}

function Enum<const V extends string[]>(values: [...V], description?: string) {
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
function Text(
  max: number = LIMITS.text,
  options: { minLength?: number; description?: string } = {},
) {
  return Type.String({ maxLength: max, ...options });
}

/** An integer from `min` to `max`, both within the safe integers. */
function Int(min: number, max: number, expected = `an integer from ${min} to ${max}`) {
  return Type.Integer({ minimum: min, maximum: max, 'x-expected': expected });
}

/** A server-set integer (generation, counters): any safe integer >= 0. */
const SafeCount = Int(0, Number.MAX_SAFE_INTEGER, 'a safe integer >= 0');

/** A list of at most `max` items. */
function List<T extends TSchema>(
  items: T,
  max: number = LIMITS.list,
  options: { minItems?: number; 'x-expected'?: string } = {},
) {
  return Type.Array(items, { maxItems: max, ...options });
}

const LabelKey = Type.String({
  pattern: `^([^/]{1,${LIMITS.labelKeyPrefix}}/)?[^/]{1,${LIMITS.labelKeyName}}$`,
  'x-expected': `a key: an optional prefix of at most ${LIMITS.labelKeyPrefix} characters and "/", then a name of 1 to ${LIMITS.labelKeyName} characters`,
});

/** Labels: Kubernetes' key and value lengths; values are short because selectors match them. */
const LabelMap = Type.Record(Type.String(), Text(LIMITS.labelValue), {
  propertyNames: LabelKey,
  maxProperties: LIMITS.labels,
  'x-expected': `a map of at most ${LIMITS.labels} labels`,
});

/** Annotations: values may be long; their total size is checked in validate.ts. */
const AnnotationMap = Type.Record(Type.String(), Type.String(), {
  propertyNames: LabelKey,
  maxProperties: LIMITS.annotations,
  'x-expected': `a map of at most ${LIMITS.annotations} annotations`,
});

const EnvMap = Type.Record(Type.String(), Text(LIMITS.envValue), {
  propertyNames: Type.String({
    minLength: 1,
    maxLength: LIMITS.envName,
    'x-expected': `an environment variable name of 1 to ${LIMITS.envName} characters`,
  }),
  maxProperties: LIMITS.envVars,
  'x-expected': `a map of at most ${LIMITS.envVars} environment variables`,
});

/** Quantity strings are bounded in value by validate.ts (a pattern cannot say "at most 1024"). */
function CpuQuantity(maxCores: number, what: string) {
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
function MemoryQuantity(maxBytes: number, what: string) {
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
const Cpu = CpuQuantity(MAX_CPU_CORES, 'per replica');
const Memory = MemoryQuantity(MAX_MEMORY_BYTES, 'per replica');
const NodeCpu = CpuQuantity(MAX_NODE_CPU_CORES, 'per node');
const NodeMemory = MemoryQuantity(MAX_NODE_MEMORY_BYTES, 'per node');
/** A server-computed amount: finite and within the safe integers. */
const NonNegative = Type.Number({
  minimum: 0,
  maximum: Number.MAX_SAFE_INTEGER,
  'x-expected': 'a number >= 0',
});
const Replicas = Int(0, LIMITS.replicas);
const Gpus = Type.Number({
  minimum: 0,
  maximum: MAX_GPUS,
  'x-expected': `a GPU count from 0 to ${MAX_GPUS} (fractions share a GPU)`,
});
const Port = Int(1, 65535, 'a port number from 1 to 65535');
const Seconds = Type.Number({
  minimum: 0,
  maximum: LIMITS.seconds,
  'x-expected': `a number of seconds from 0 to ${LIMITS.seconds}`,
});
const Threshold = Int(1, LIMITS.threshold);
const Price = Type.Number({
  minimum: 0,
  maximum: LIMITS.price,
  'x-expected': `a price from 0 to ${LIMITS.price}`,
});
const Preference = Type.Number({
  minimum: 0,
  maximum: LIMITS.preference,
  'x-expected': `a score weight from 0 to ${LIMITS.preference}`,
});
const Weight = Int(0, LIMITS.weight, `an integer weight from 0 to ${LIMITS.weight}`);
/** An RFC 3339 time (server-set; long enough for any fraction and offset). */
const Time = Text(64);

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

export const Prices = Obj(
  {
    cpuCoreHour: Type.Optional(Price),
    memoryGiBHour: Type.Optional(Price),
    gpuHour: Type.Optional(Price),
    currency: Type.Optional(Text(16)),
  },
  'On-demand list prices (default currency USD).',
);
export type Prices = Static<typeof Prices>;

// ---------------------------------------------------------------- Cloud

export const CloudSpec = Obj({
  vendor: Enum([
    'aws',
    'azure',
    'gcp',
    'aliyun',
    'huawei',
    'tencent',
    'jdcloud',
    'oracle',
    'ibm',
    'baidu',
    'openstack',
    'vmware',
    'baremetal',
    'edge',
    'other',
  ]),
  type: Enum(['public', 'private', 'edge']),
  displayName: Type.Optional(Text()),
  prices: Type.Optional(Prices),
});
export type CloudSpec = Static<typeof CloudSpec>;

export const CloudStatus = Obj({
  conditions: Type.Optional(List(Condition, LIMITS.conditions)),
});

// ---------------------------------------------------------------- Site

export const SiteSpec = Obj({
  cloud: Name,
  kind: Enum(['region', 'datacenter', 'edge']),
  region: Type.Optional(Text(LIMITS.text, { description: 'Provider region code, e.g. us-east-1' })),
  country: Type.String({
    pattern: '^[A-Z]{2}$',
    'x-expected': 'an ISO 3166-1 alpha-2 country code such as CN or DE',
  }),
  city: Text(LIMITS.text, { minLength: 1 }),
  latitude: Type.Number({ minimum: -90, maximum: 90, 'x-expected': 'a latitude from -90 to 90' }),
  longitude: Type.Number({
    minimum: -180,
    maximum: 180,
    'x-expected': 'a longitude from -180 to 180',
  }),
  zones: Type.Optional(List(Name)),
});
export type SiteSpec = Static<typeof SiteSpec>;

export const SiteStatus = Obj({
  conditions: Type.Optional(List(Condition, LIMITS.conditions)),
});

// ---------------------------------------------------------------- Cluster

export const Taint = Obj({
  key: Text(LIMITS.text, { minLength: 1 }),
  value: Type.Optional(Text()),
  effect: Enum(['NoSchedule', 'PreferNoSchedule', 'NoExecute']),
});
export type Taint = Static<typeof Taint>;

export const SimNodePool = Obj({
  name: Name,
  count: Int(0, LIMITS.poolNodes),
  arch: Arch,
  cpu: NodeCpu,
  memory: NodeMemory,
  gpu: Type.Optional(Int(0, MAX_GPUS)),
  gpuModel: Type.Optional(Text()),
  maxPods: Type.Optional(Int(0, LIMITS.podsPerNode)),
  labels: Type.Optional(LabelMap),
});
export type SimNodePool = Static<typeof SimNodePool>;

export const SimDriverConfig = Obj(
  {
    nodePools: List(SimNodePool, LIMITS.nodePools),
    startupSeconds: Type.Optional(Seconds),
    apiQps: Type.Optional(
      Type.Number({
        exclusiveMinimum: 0,
        maximum: LIMITS.apiRate,
        'x-expected': `a rate > 0 and at most ${LIMITS.apiRate} requests per second`,
      }),
    ),
    apiBurst: Type.Optional(Int(1, LIMITS.apiRate)),
  },
  'The digital twin: nodes generated from pools, replicas with start-up delay and API throttling.',
);
export type SimDriverConfig = Static<typeof SimDriverConfig>;

export const AgentDriverConfig = Obj({
  address: Type.Optional(
    Text(256, { description: 'Loopback or host address the agent serves on' }),
  ),
});

export const KubernetesDriverConfig = Obj(
  {
    kubeconfigSecret: Type.Optional(Name),
    kubeconfigPath: Type.Optional(Text(4096, { minLength: 1 })),
    context: Type.Optional(Text(LIMITS.text, { minLength: 1 })),
  },
  'A member reached through its Kubernetes API: the kubeconfig from a Secret of type kubeconfig (what `cluster join` stores) or a file on the control-plane host.',
);

export const ClusterDriver = Obj({
  type: Enum(['sim', 'agent', 'kubernetes']),
  sim: Type.Optional(SimDriverConfig),
  agent: Type.Optional(AgentDriverConfig),
  kubernetes: Type.Optional(KubernetesDriverConfig),
});
export type ClusterDriver = Static<typeof ClusterDriver>;

export const ClusterSpec = Obj({
  cloud: Name,
  site: Name,
  zone: Type.Optional(Name),
  driver: ClusterDriver,
  taints: Type.Optional(List(Taint, LIMITS.terms)),
  prices: Type.Optional(Prices),
});
export type ClusterSpec = Static<typeof ClusterSpec>;

/** Resource amounts in status: cpu in cores, memory in bytes, gpu in devices, pods as a count. */
export const ResourceAmounts = Obj({
  cpu: NonNegative,
  memory: NonNegative,
  gpu: NonNegative,
  pods: NonNegative,
});
export type ResourceAmounts = Static<typeof ResourceAmounts>;

export const ClusterStatus = Obj({
  conditions: Type.Optional(List(Condition, LIMITS.conditions)),
  capacity: Type.Optional(ResourceAmounts),
  allocatable: Type.Optional(ResourceAmounts),
  allocated: Type.Optional(ResourceAmounts),
  nodeCount: Type.Optional(SafeCount),
  nodesByArch: Type.Optional(Obj({ amd64: SafeCount, arm64: SafeCount, riscv64: SafeCount })),
  gpuModels: Type.Optional(
    Type.Record(Type.String(), SafeCount, {
      propertyNames: Text(),
      maxProperties: LIMITS.list,
      'x-expected': `a map of at most ${LIMITS.list} GPU models to counts`,
    }),
  ),
  lastHeartbeatTime: Type.Optional(Time),
});
export type ClusterStatus = Static<typeof ClusterStatus>;

// ---------------------------------------------------------------- Application

export const ResourceRequests = Obj({
  cpu: Type.Optional(Cpu),
  memory: Type.Optional(Memory),
  gpu: Type.Optional(Gpus),
  gpuModel: Type.Optional(Text()),
});
export type ResourceRequests = Static<typeof ResourceRequests>;

export const ContainerPort = Obj({
  name: Type.Optional(Name),
  port: Port,
  protocol: Type.Optional(Enum(['TCP', 'UDP'])),
});

export const HealthCheck = Obj({
  http: Type.Optional(
    Obj({
      path: Type.String({
        pattern: '^/',
        maxLength: LIMITS.path,
        'x-expected': `a path starting with / of at most ${LIMITS.path} characters`,
      }),
      port: Type.Optional(Port),
      scheme: Type.Optional(Enum(['HTTP', 'HTTPS'])),
    }),
  ),
  tcp: Type.Optional(Obj({ port: Type.Optional(Port) })),
  intervalSeconds: Type.Optional(Seconds),
  timeoutSeconds: Type.Optional(Seconds),
  failureThreshold: Type.Optional(Threshold),
  successThreshold: Type.Optional(Threshold),
  restartThreshold: Type.Optional(
    Type.Integer({
      minimum: 1,
      maximum: LIMITS.threshold,
      'x-expected': `an integer from 1 to ${LIMITS.threshold}`,
      description:
        'Failed checks in a row, once the replica has been ready, after which it is restarted (a liveness check). Absent: failing checks only take it out of service.',
    }),
  ),
});

const Image = Type.String({
  minLength: 1,
  maxLength: LIMITS.image,
  'x-expected': `a container image reference of 1 to ${LIMITS.image} characters`,
});
const CommandLine = List(Text(LIMITS.commandArg), LIMITS.commandArgs);

export const Component = Obj({
  name: Name,
  image: Image,
  platforms: Type.Optional(List(Platform, 3, { minItems: 1 })),
  replicas: Replicas,
  resources: Type.Optional(ResourceRequests),
  ports: Type.Optional(List(ContainerPort, LIMITS.ports)),
  env: Type.Optional(EnvMap),
  command: Type.Optional(CommandLine),
  args: Type.Optional(CommandLine),
  healthCheck: Type.Optional(HealthCheck),
  dependsOn: Type.Optional(List(Name, LIMITS.components)),
});
export type Component = Static<typeof Component>;

const NameList = List(Name);

export const ClusterTarget = Obj({
  clouds: Type.Optional(NameList),
  sites: Type.Optional(NameList),
  clusters: Type.Optional(NameList),
  components: Type.Optional(NameList),
});

export const LabelSelector = Obj({
  matchLabels: Type.Optional(LabelMap),
  matchExpressions: Type.Optional(
    List(
      Obj({
        key: LabelKey,
        operator: Enum(['In', 'NotIn', 'Exists', 'DoesNotExist']),
        values: Type.Optional(List(Text(LIMITS.labelValue))),
      }),
      LIMITS.terms,
    ),
  ),
});
export type LabelSelector = Static<typeof LabelSelector>;

/** placement.colocation settings an application leaves out. */
export const COLOCATION_DEFAULTS = { percentile: 95, minSamples: 10, cpuLimit: 0.8 } as const;

export const Placement = Obj({
  clusterAffinity: Type.Optional(
    Obj({
      clouds: Type.Optional(NameList),
      sites: Type.Optional(NameList),
      clusters: Type.Optional(NameList),
      labelSelector: Type.Optional(LabelSelector),
      exclude: Type.Optional(
        Obj({
          clouds: Type.Optional(NameList),
          sites: Type.Optional(NameList),
          clusters: Type.Optional(NameList),
        }),
      ),
    }),
  ),
  residency: Type.Optional(
    Obj({
      countries: List(
        Type.String({ pattern: '^[A-Z]{2}$', 'x-expected': 'an ISO 3166-1 alpha-2 country code' }),
      ),
    }),
  ),
  spread: Type.Optional(
    List(
      Obj({
        by: Enum(['cloud', 'site', 'zone', 'cluster']),
        min: Type.Optional(Int(1, LIMITS.replicas)),
        max: Type.Optional(Int(1, LIMITS.replicas)),
      }),
      LIMITS.terms,
    ),
  ),
  tolerations: Type.Optional(
    List(
      Obj({
        key: Type.Optional(Text()),
        operator: Type.Optional(Enum(['Exists', 'Equal'])),
        value: Type.Optional(Text()),
        effect: Type.Optional(Enum(['NoSchedule', 'PreferNoSchedule', 'NoExecute'])),
      }),
      LIMITS.terms,
    ),
  ),
  replicaScheduling: Type.Optional(
    Obj({
      type: Enum(['Duplicated', 'Divided']),
      weighting: Type.Optional(Enum(['Static', 'AvailableCapacity', 'Cost'])),
      staticWeights: Type.Optional(List(Obj({ clusters: NameList, weight: Weight }))),
    }),
  ),
  preferences: Type.Optional(
    Obj(
      {
        cost: Type.Optional(Preference),
        packing: Type.Optional(Preference),
        balance: Type.Optional(Preference),
        proximity: Type.Optional(Preference),
        userRegions: Type.Optional(List(Text())),
      },
      'Score weights (cost 1, packing 1, balance 0.5, proximity 1 by default) and where users are.',
    ),
  ),
  maxReplicasPerNode: Type.Optional(
    Type.Integer({
      minimum: 1,
      maximum: LIMITS.replicas,
      'x-expected': `an integer from 1 to ${LIMITS.replicas}`,
      description: 'At most this many replicas of one component on one node.',
    }),
  ),
  antiAffinity: Type.Optional(
    List(
      Obj(
        { components: Type.Optional(NameList) },
        'At most one replica of these components (default: all of the app) on one node.',
      ),
      LIMITS.terms,
    ),
  ),
  colocation: Type.Optional(
    Obj(
      {
        percentile: Type.Optional(
          Type.Integer({
            minimum: 50,
            maximum: 100,
            'x-expected': 'an integer percentile from 50 to 100',
            description: 'Percentile of observed per-replica cpu use a replica reserves (95).',
          }),
        ),
        minSamples: Type.Optional(
          Type.Integer({
            minimum: 1,
            maximum: LIMITS.threshold,
            'x-expected': `an integer from 1 to ${LIMITS.threshold}`,
            description: 'Observations needed before the reservation follows use (10).',
          }),
        ),
        cpuLimit: Type.Optional(
          Type.Number({
            exclusiveMinimum: 0,
            maximum: 1,
            'x-expected': 'a fraction of node cpu in (0, 1]',
            description:
              "New replicas go only where the node's reserved cpu stays within this share (0.8).",
          }),
        ),
      },
      'Usage-aware placement: each replica reserves a percentile of its observed cpu use instead of its request (which stays its limit), under a per-node safety limit.',
    ),
  ),
});
export type Placement = Static<typeof Placement>;

export const Override = Obj({
  target: ClusterTarget,
  patches: Obj({
    image: Type.Optional(Image),
    replicas: Type.Optional(Replicas),
    env: Type.Optional(EnvMap),
    resources: Type.Optional(ResourceRequests),
  }),
});
export type Override = Static<typeof Override>;

const CloudOrSite = Obj({ cloud: Type.Optional(Name), site: Type.Optional(Name) });

export const Traffic = Obj({
  host: Type.String({
    pattern: '^([a-z0-9]([-a-z0-9]*[a-z0-9])?\\.)+[a-z]{2,}$',
    maxLength: 253,
    'x-expected': 'a fully qualified lower-case host name such as shop.example.com',
  }),
  strategy: Enum(['failover', 'weighted', 'geo', 'roundRobin', 'unit']),
  ttl: Type.Optional(
    Type.Integer({ minimum: 0, maximum: 86400, 'x-expected': 'a TTL from 0 to 86400 seconds' }),
  ),
  port: Type.Optional(
    Text(LIMITS.labelKeyName, { description: 'Name of the component port that serves the host' }),
  ),
  component: Type.Optional(Name),
  failover: Type.Optional(Obj({ order: List(CloudOrSite) })),
  weights: Type.Optional(
    List(Obj({ cloud: Type.Optional(Name), site: Type.Optional(Name), weight: Weight })),
  ),
  units: Type.Optional(
    Obj({
      key: Type.String({
        pattern: '^(header|cookie|query):.+$',
        maxLength: LIMITS.text,
        'x-expected': 'header:NAME, cookie:NAME or query:NAME',
      }),
      cells: List(Obj({ name: Name, cloud: Type.Optional(Name), site: Type.Optional(Name) })),
    }),
  ),
  healthCheck: Type.Optional(
    Obj({
      http: Type.Optional(
        Obj({
          path: Type.String({
            pattern: '^/',
            maxLength: LIMITS.path,
            'x-expected': `a path starting with / of at most ${LIMITS.path} characters`,
          }),
          scheme: Type.Optional(Enum(['HTTP', 'HTTPS'])),
        }),
      ),
      tcp: Type.Optional(Obj({})),
      intervalSeconds: Type.Optional(Seconds),
      timeoutSeconds: Type.Optional(Seconds),
      unhealthyThreshold: Type.Optional(Threshold),
      healthyThreshold: Type.Optional(Threshold),
    }),
  ),
  whenAllDown: Type.Optional(Enum(['failOpen', 'failClosed'])),
});

/** Failback waits this long after a failed cluster is Ready again, unless the app says otherwise. */
export const DEFAULT_STABILIZATION_SECONDS = 60;

/** An app whose ready replicas do not rise for this long says ProgressDeadlineExceeded (Kubernetes' default). */
export const DEFAULT_PROGRESS_DEADLINE_SECONDS = 600;

export const FailoverPolicy = Obj({
  enabled: Type.Optional(Type.Boolean()),
  gracePeriodSeconds: Type.Optional(Seconds),
  failback: Type.Optional(
    Obj({ enabled: Type.Optional(Type.Boolean()), stabilizationSeconds: Type.Optional(Seconds) }),
  ),
});

export const ApplicationSpec = Obj({
  components: List(Component, LIMITS.components, {
    minItems: 1,
    'x-expected': `1 to ${LIMITS.components} components`,
  }),
  placement: Type.Optional(Placement),
  overrides: Type.Optional(List(Override, LIMITS.terms)),
  traffic: Type.Optional(Traffic),
  failover: Type.Optional(FailoverPolicy),
  progressDeadlineSeconds: Type.Optional(
    Type.Number({
      minimum: 1,
      maximum: LIMITS.progressDeadlineSeconds,
      'x-expected': `a number of seconds from 1 to ${LIMITS.progressDeadlineSeconds}`,
      description:
        'How long the app may make no progress (no replica turning ready) while not all its replicas are ready before Ready says ProgressDeadlineExceeded (600). Nothing is undone: replicas being replaced keep serving.',
    }),
  ),
});
export type ApplicationSpec = Static<typeof ApplicationSpec>;

const Endpoint = Obj({ name: Type.Optional(Name), address: Text(256), port: Port });

export const PlacementStatus = Obj({
  component: Name,
  cluster: Name,
  cloud: Name,
  site: Type.Optional(Name),
  desired: SafeCount,
  ready: SafeCount,
  /** Replicas the scheduler assigned here, before overrides patch the count. */
  assigned: Type.Optional(SafeCount),
  /**
   * Being replaced (failover, failback, rebalance): kept running until the
   * replacement replicas are ready, then deleted.
   */
  draining: Type.Optional(Type.Boolean()),
  /** Where the component's ports are reachable in this cluster (from the driver). */
  endpoints: Type.Optional(List(Endpoint, LIMITS.statusItems)),
});
export type PlacementStatus = Static<typeof PlacementStatus>;

export const ApplicationStatus = Obj({
  observedGeneration: Type.Optional(SafeCount),
  placements: Type.Optional(List(PlacementStatus, LIMITS.statusItems)),
  replicas: Type.Optional(Obj({ desired: SafeCount, ready: SafeCount })),
  conditions: Type.Optional(List(Condition, LIMITS.conditions)),
  reasons: Type.Optional(
    List(
      Obj({ component: Type.Optional(Name), count: SafeCount, reason: Text(LIMITS.message) }),
      LIMITS.statusItems,
    ),
  ),
  /**
   * Replicas moved off a failed cluster, remembered for failback: once the
   * cluster has been Ready for the stabilisation window they return there and
   * their replacements (`replacedBy`) give them back.
   */
  displaced: Type.Optional(
    List(
      Obj({
        component: Name,
        cluster: Name,
        replicas: SafeCount,
        replacedBy: List(Name, LIMITS.statusItems),
        since: Time,
      }),
      LIMITS.statusItems,
    ),
  ),
  /** The `yunjian.io/rebalance` annotation value last acted on. */
  rebalanced: Type.Optional(Text()),
  /** placement.colocation: what each component's replicas use and reserve. */
  colocation: Type.Optional(
    Obj({
      components: List(
        Obj({
          component: Name,
          /** Per-replica cpu samples in the current window. */
          samples: SafeCount,
          /** Latest per-replica cpu use, millicores. */
          observedCpuMillis: Type.Optional(NonNegative),
          /** The percentile of the window, millicores. */
          predictedCpuMillis: Type.Optional(NonNegative),
          /** What each replica reserves on its node now, millicores (the request until learnt). */
          reservedCpuMillis: NonNegative,
          requestCpuMillis: NonNegative,
        }),
        LIMITS.components,
      ),
      /** Highest overload probability of the nodes the last placement put replicas on. */
      maxOverloadProbability: Type.Optional(Type.Number({ minimum: 0, maximum: 1 })),
    }),
  ),
});
export type ApplicationStatus = Static<typeof ApplicationStatus>;

// ---------------------------------------------------------------- Event

export const EventSpec = Obj(
  {
    involvedObject: Obj({ kind: Text(), namespace: Type.Optional(Name), name: Name }),
    type: Enum(['Normal', 'Warning']),
    reason: Type.String({
      minLength: 1,
      maxLength: LIMITS.text,
      description:
        'Machine-readable cause: ClusterNotReady, ClusterReady, Failover, Failback, Rebalance, ...',
    }),
    message: Text(LIMITS.message),
    /** How many times the same event repeated (same object, reason and message). */
    count: Int(1, Number.MAX_SAFE_INTEGER, 'a safe integer >= 1'),
    firstTimestamp: Time,
    lastTimestamp: Time,
    /** The controller that recorded it. */
    source: Type.Optional(Text()),
  },
  'Something that happened to a resource; written by controllers, kept for a bounded time.',
);
export type EventSpec = Static<typeof EventSpec>;

// ---------------------------------------------------------------- Lease

export const LeaseSpec = Obj(
  {
    holderIdentity: Text(LIMITS.text, { minLength: 1 }),
    leaseDurationSeconds: Type.Number({
      exclusiveMinimum: 0,
      maximum: LIMITS.seconds,
      'x-expected': `a number of seconds > 0 and at most ${LIMITS.seconds}`,
    }),
    acquireTime: Time,
    renewTime: Time,
    leaseTransitions: SafeCount,
  },
  'Leader lock: the holder acts while it renews within the duration.',
);
export type LeaseSpec = Static<typeof LeaseSpec>;

// ---------------------------------------------------------------- Workload

/**
 * One component of one application as it should run on one agent cluster
 * (the driver's WorkloadSpec), kept in the store so desired state survives a
 * control-plane crash; the agent pulls it and reports `status`.
 */
export const WorkloadResourceSpec = Obj(
  {
    cluster: Name,
    key: Obj({ namespace: Name, app: Name, component: Name }),
    hash: Text(LIMITS.text, { minLength: 1 }),
    image: Text(LIMITS.image),
    replicas: Replicas,
    architectures: List(Arch, 3),
    cpuMillis: Type.Number({ minimum: 0, maximum: MAX_CPU_CORES * 1000 }),
    /** Colocated workloads: replicas may use up to this; cpuMillis is what they reserve. */
    cpuLimitMillis: Type.Optional(Type.Number({ minimum: 0, maximum: MAX_CPU_CORES * 1000 })),
    memoryBytes: Type.Number({ minimum: 0, maximum: MAX_MEMORY_BYTES }),
    gpu: Gpus,
    gpuModel: Type.Optional(Text()),
    maxReplicasPerNode: Type.Optional(Int(0, LIMITS.replicas)),
    antiAffinity: Type.Optional(List(Name, LIMITS.components)),
    ports: List(
      Obj({ name: Type.Optional(Name), port: Port, protocol: Enum(['TCP', 'UDP']) }),
      LIMITS.ports,
    ),
    env: EnvMap,
    command: CommandLine,
    args: CommandLine,
    healthCheck: Type.Optional(
      Obj({
        http: Type.Optional(
          Obj({
            path: Text(LIMITS.path),
            port: Type.Optional(Port),
            scheme: Type.Optional(Enum(['HTTP', 'HTTPS'])),
          }),
        ),
        tcp: Type.Optional(Obj({ port: Type.Optional(Port) })),
        intervalSeconds: Seconds,
        timeoutSeconds: Seconds,
        failureThreshold: Threshold,
        restartThreshold: Type.Optional(Threshold),
      }),
    ),
  },
  'A component placed on an agent cluster: what the agent runs there.',
);
export type WorkloadResourceSpec = Static<typeof WorkloadResourceSpec>;

export const ReplicaStatus = Obj({
  id: Text(),
  hash: Text(),
  state: Enum(['starting', 'running', 'backoff', 'stopping']),
  ready: Type.Boolean(),
  pid: Type.Optional(SafeCount),
  port: Type.Optional(Port),
  restarts: SafeCount,
  /** Cpu the replica's process used over the agent's last sampling interval, millicores. */
  cpuMillis: Type.Optional(NonNegative),
  lastExit: Type.Optional(Text(LIMITS.message)),
  startedAt: Type.Optional(Time),
});
export type ReplicaStatus = Static<typeof ReplicaStatus>;

export const WorkloadResourceStatus = Obj({
  /** The spec hash the agent last converged to. */
  hash: Type.Optional(Text()),
  desired: SafeCount,
  scheduled: SafeCount,
  ready: SafeCount,
  message: Type.Optional(Text(LIMITS.message)),
  endpoints: Type.Optional(List(Endpoint, LIMITS.statusItems)),
  replicas: Type.Optional(List(ReplicaStatus, LIMITS.statusItems)),
  /** Cpu the running replicas use together, millicores (summed per-replica samples). */
  cpuUsageMillis: Type.Optional(NonNegative),
});
export type WorkloadResourceStatus = Static<typeof WorkloadResourceStatus>;

// ---------------------------------------------------------------- AgentToken

/** The longest a join token may live: a year. */
export const MAX_JOIN_TOKEN_TTL_SECONDS = 365 * 86_400;
/** A join token's lifetime when none is given: a day. */
export const DEFAULT_JOIN_TOKEN_TTL_SECONDS = 86_400;

/** The start of a cluster name: a Name without the rule that it ends alphanumeric. */
const ClusterNamePrefix = Type.String({
  pattern: '^[a-z0-9][-a-z0-9.]{0,251}$',
  'x-expected':
    'the start of a cluster name (a-z, 0-9, "-" and "."; starts alphanumeric; at most 252 characters)',
});

/**
 * A secret an agent presents: a join token (`purpose: join`, created with
 * `yunjian token create`) or the per-cluster credential a join hands out
 * (`purpose: agent`). Only a SHA-256 of the secret is stored.
 *
 * A join token names the cluster it may join (`cluster`) or the start of the
 * names it may join (`clusterPrefix`); a stored token with neither (made
 * before tokens were bound) may only create a cluster that does not exist. It
 * is single-use unless `reusable`: the join that uses it records `consumed`
 * with a compare-and-set write, so one join wins. Only a token with `replace`
 * (bound to one exact name) may join a cluster that already has a credential,
 * replacing it.
 */
export const AgentTokenSpec = Obj(
  {
    purpose: Enum(['join', 'agent']),
    /** Hex SHA-256 of the whole token. */
    tokenHash: Type.String({ pattern: '^[0-9a-f]{64}$', 'x-expected': 'a hex SHA-256' }),
    /** The cluster a join token may join; the cluster an agent credential belongs to. */
    cluster: Type.Optional(Name),
    clusterPrefix: Type.Optional(ClusterNamePrefix),
    reusable: Type.Optional(Type.Boolean()),
    replace: Type.Optional(Type.Boolean()),
    consumed: Type.Optional(
      Obj({
        cluster: Name,
        /** RFC 3339. */
        at: Type.String(),
        /** The address the join came from. */
        from: Type.String(),
      }),
    ),
    description: Type.Optional(Type.String()),
    /** RFC 3339; absent never expires. */
    expires: Type.Optional(Type.String()),
  },
  'A join token or agent credential, stored as a hash.',
);
export type AgentTokenSpec = Static<typeof AgentTokenSpec>;

/** `POST /api/v1alpha1/agent/tokens`: a new join token. */
export const JoinTokenRequest = Obj(
  {
    cluster: Type.Optional(Name),
    clusterPrefix: Type.Optional(ClusterNamePrefix),
    reusable: Type.Optional(Type.Boolean()),
    replace: Type.Optional(Type.Boolean()),
    ttlSeconds: Type.Optional(
      Type.Integer({
        minimum: 1,
        maximum: MAX_JOIN_TOKEN_TTL_SECONDS,
        'x-expected': `an integer number of seconds from 1 to ${MAX_JOIN_TOKEN_TTL_SECONDS} (365 days)`,
      }),
    ),
    description: Type.Optional(Type.String({ maxLength: 1024 })),
  },
  'A join token to create: bound to one cluster name or a name prefix.',
);
export type JoinTokenRequest = Static<typeof JoinTokenRequest>;

// ---------------------------------------------------------------- Secret

/**
 * Credentials the control plane needs to reach a member (a kubeconfig). The API
 * accepts `data` but never returns it (KindInfo.writeOnly), so `get -o yaml`
 * and watches show only that a secret exists.
 */
export const SecretSpec = Obj(
  {
    type: Enum(['kubeconfig']),
    data: Type.String({
      minLength: 1,
      maxLength: LIMITS.secretData,
      'x-expected': `the secret content, e.g. a kubeconfig, of 1 to ${LIMITS.secretData} characters`,
    }),
  },
  'A credential kept in the store and never returned by the API.',
);
export type SecretSpec = Static<typeof SecretSpec>;

const NoStatus = Obj({});

// ---------------------------------------------------------------- kinds

function ResourceSchema<K extends string, S extends TSchema, St extends TSchema>(
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

export const CloudResource = ResourceSchema('Cloud', CloudSpec, CloudStatus);
export const SiteResource = ResourceSchema('Site', SiteSpec, SiteStatus);
export const ClusterResource = ResourceSchema('Cluster', ClusterSpec, ClusterStatus);
export const ApplicationResource = ResourceSchema(
  'Application',
  ApplicationSpec,
  ApplicationStatus,
);

export const EventResource = ResourceSchema('Event', EventSpec, NoStatus);
export const LeaseResource = ResourceSchema('Lease', LeaseSpec, NoStatus);
export const WorkloadResource = ResourceSchema(
  'Workload',
  WorkloadResourceSpec,
  WorkloadResourceStatus,
);
export const AgentTokenResource = ResourceSchema('AgentToken', AgentTokenSpec, NoStatus);
export const SecretResource = ResourceSchema('Secret', SecretSpec, NoStatus);

export type Cloud = Static<typeof CloudResource>;
export type Site = Static<typeof SiteResource>;
export type Cluster = Static<typeof ClusterResource>;
export type Application = Static<typeof ApplicationResource>;
export type Event = Static<typeof EventResource>;
export type Lease = Static<typeof LeaseResource>;
export type Workload = Static<typeof WorkloadResource>;
export type AgentToken = Static<typeof AgentTokenResource>;
export type Secret = Static<typeof SecretResource>;
export type AnyResource =
  Cloud | Site | Cluster | Application | Event | Lease | Workload | AgentToken | Secret;
export type KindName = AnyResource['kind'];
