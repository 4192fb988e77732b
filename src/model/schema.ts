// The one schema source for every resource kind: TypeBox builds JSON Schema that
// is at the same time the runtime validator (validate.ts), the OpenAPI document
// (api/openapi.ts) and, through `Static`, the TypeScript types.
//
// Conventions: every object is closed (`additionalProperties: false`) so an
// unknown or misspelt field is an error, never silently dropped. `x-expected`
// carries the words shown to a user when a value does not match.
import Type, { type Static, type TSchema } from 'typebox';
import { CPU_PATTERN, MEMORY_PATTERN } from './quantity.ts';

export const API_VERSION = 'yunjian.io/v1alpha1';

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

export const Name = Type.String({
  pattern: '^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$',
  'x-expected':
    'a lower-case DNS name (a-z, 0-9, "-" and "."; starts and ends alphanumeric; at most 253 characters)',
});

const StringMap = Type.Record(Type.String(), Type.String(), {
  'x-expected': 'a map of string keys to string values',
});

const Cpu = Type.Union([Type.String({ pattern: CPU_PATTERN }), Type.Number({ minimum: 0 })], {
  'x-expected': 'a CPU quantity such as "500m", "2" or 1.5',
});
const Memory = Type.Union(
  [Type.String({ pattern: MEMORY_PATTERN }), Type.Integer({ minimum: 0 })],
  {
    'x-expected': 'a memory quantity such as "512Mi", "4Gi" or a number of bytes',
  },
);
const NonNegative = Type.Number({ minimum: 0, 'x-expected': 'a number >= 0' });
const Count = Type.Integer({ minimum: 0, 'x-expected': 'an integer >= 0' });
const Port = Type.Integer({
  minimum: 1,
  maximum: 65535,
  'x-expected': 'a port number from 1 to 65535',
});
const Seconds = Type.Number({ minimum: 0, 'x-expected': 'a number of seconds >= 0' });

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
  namespace: Type.Optional(Name),
  labels: Type.Optional(StringMap),
  annotations: Type.Optional(StringMap),
  uid: Type.Optional(Type.String()),
  resourceVersion: Type.Optional(
    Type.String({
      pattern: '^[0-9]+$',
      'x-expected': 'a resourceVersion as returned by the server',
    }),
  ),
  generation: Type.Optional(Type.Integer()),
  creationTimestamp: Type.Optional(Type.String()),
});
export type ObjectMeta = Static<typeof ObjectMeta>;

export const Condition = Obj({
  type: Type.String(),
  status: Enum(['True', 'False', 'Unknown']),
  reason: Type.Optional(Type.String()),
  message: Type.Optional(Type.String()),
  lastTransitionTime: Type.Optional(Type.String()),
  /** An application making progress: when its ready replicas last rose (the progress deadline counts from it). */
  lastProgressTime: Type.Optional(Type.String()),
});
export type Condition = Static<typeof Condition>;

export const Prices = Obj(
  {
    cpuCoreHour: Type.Optional(NonNegative),
    memoryGiBHour: Type.Optional(NonNegative),
    gpuHour: Type.Optional(NonNegative),
    currency: Type.Optional(Type.String()),
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
  displayName: Type.Optional(Type.String()),
  prices: Type.Optional(Prices),
});
export type CloudSpec = Static<typeof CloudSpec>;

export const CloudStatus = Obj({
  conditions: Type.Optional(Type.Array(Condition)),
});

// ---------------------------------------------------------------- Site

export const SiteSpec = Obj({
  cloud: Name,
  kind: Enum(['region', 'datacenter', 'edge']),
  region: Type.Optional(Type.String({ description: 'Provider region code, e.g. us-east-1' })),
  country: Type.String({
    pattern: '^[A-Z]{2}$',
    'x-expected': 'an ISO 3166-1 alpha-2 country code such as CN or DE',
  }),
  city: Type.String({ minLength: 1 }),
  latitude: Type.Number({ minimum: -90, maximum: 90, 'x-expected': 'a latitude from -90 to 90' }),
  longitude: Type.Number({
    minimum: -180,
    maximum: 180,
    'x-expected': 'a longitude from -180 to 180',
  }),
  zones: Type.Optional(Type.Array(Name)),
});
export type SiteSpec = Static<typeof SiteSpec>;

export const SiteStatus = Obj({
  conditions: Type.Optional(Type.Array(Condition)),
});

// ---------------------------------------------------------------- Cluster

export const Taint = Obj({
  key: Type.String({ minLength: 1 }),
  value: Type.Optional(Type.String()),
  effect: Enum(['NoSchedule', 'PreferNoSchedule', 'NoExecute']),
});
export type Taint = Static<typeof Taint>;

export const SimNodePool = Obj({
  name: Name,
  count: Count,
  arch: Arch,
  cpu: Cpu,
  memory: Memory,
  gpu: Type.Optional(Count),
  gpuModel: Type.Optional(Type.String()),
  maxPods: Type.Optional(Count),
  labels: Type.Optional(StringMap),
});
export type SimNodePool = Static<typeof SimNodePool>;

export const SimDriverConfig = Obj(
  {
    nodePools: Type.Array(SimNodePool),
    startupSeconds: Type.Optional(Seconds),
    apiQps: Type.Optional(
      Type.Number({ exclusiveMinimum: 0, 'x-expected': 'a rate > 0 requests per second' }),
    ),
    apiBurst: Type.Optional(Type.Integer({ minimum: 1, 'x-expected': 'an integer >= 1' })),
  },
  'The digital twin: nodes generated from pools, replicas with start-up delay and API throttling.',
);
export type SimDriverConfig = Static<typeof SimDriverConfig>;

export const AgentDriverConfig = Obj({
  address: Type.Optional(
    Type.String({ description: 'Loopback or host address the agent serves on' }),
  ),
});

export const KubernetesDriverConfig = Obj(
  {
    kubeconfigSecret: Type.Optional(Name),
    kubeconfigPath: Type.Optional(Type.String({ minLength: 1 })),
    context: Type.Optional(Type.String({ minLength: 1 })),
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
  taints: Type.Optional(Type.Array(Taint)),
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
  conditions: Type.Optional(Type.Array(Condition)),
  capacity: Type.Optional(ResourceAmounts),
  allocatable: Type.Optional(ResourceAmounts),
  allocated: Type.Optional(ResourceAmounts),
  nodeCount: Type.Optional(Count),
  nodesByArch: Type.Optional(Obj({ amd64: Count, arm64: Count, riscv64: Count })),
  gpuModels: Type.Optional(Type.Record(Type.String(), Count)),
  lastHeartbeatTime: Type.Optional(Type.String()),
});
export type ClusterStatus = Static<typeof ClusterStatus>;

// ---------------------------------------------------------------- Application

export const ResourceRequests = Obj({
  cpu: Type.Optional(Cpu),
  memory: Type.Optional(Memory),
  gpu: Type.Optional(
    Type.Number({ minimum: 0, 'x-expected': 'a GPU count >= 0 (fractions share a GPU)' }),
  ),
  gpuModel: Type.Optional(Type.String()),
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
      path: Type.String({ pattern: '^/', 'x-expected': 'a path starting with /' }),
      port: Type.Optional(Port),
      scheme: Type.Optional(Enum(['HTTP', 'HTTPS'])),
    }),
  ),
  tcp: Type.Optional(Obj({ port: Type.Optional(Port) })),
  intervalSeconds: Type.Optional(Seconds),
  timeoutSeconds: Type.Optional(Seconds),
  failureThreshold: Type.Optional(Type.Integer({ minimum: 1, 'x-expected': 'an integer >= 1' })),
  successThreshold: Type.Optional(Type.Integer({ minimum: 1, 'x-expected': 'an integer >= 1' })),
  restartThreshold: Type.Optional(
    Type.Integer({
      minimum: 1,
      'x-expected': 'an integer >= 1',
      description:
        'Failed checks in a row, once the replica has been ready, after which it is restarted (a liveness check). Absent: failing checks only take it out of service.',
    }),
  ),
});

export const Component = Obj({
  name: Name,
  image: Type.String({ minLength: 1, 'x-expected': 'a container image reference' }),
  platforms: Type.Optional(Type.Array(Platform, { minItems: 1 })),
  replicas: Count,
  resources: Type.Optional(ResourceRequests),
  ports: Type.Optional(Type.Array(ContainerPort)),
  env: Type.Optional(StringMap),
  command: Type.Optional(Type.Array(Type.String())),
  args: Type.Optional(Type.Array(Type.String())),
  healthCheck: Type.Optional(HealthCheck),
  dependsOn: Type.Optional(Type.Array(Name)),
});
export type Component = Static<typeof Component>;

const NameList = Type.Array(Name);

export const ClusterTarget = Obj({
  clouds: Type.Optional(NameList),
  sites: Type.Optional(NameList),
  clusters: Type.Optional(NameList),
  components: Type.Optional(NameList),
});

export const LabelSelector = Obj({
  matchLabels: Type.Optional(StringMap),
  matchExpressions: Type.Optional(
    Type.Array(
      Obj({
        key: Type.String({ minLength: 1 }),
        operator: Enum(['In', 'NotIn', 'Exists', 'DoesNotExist']),
        values: Type.Optional(Type.Array(Type.String())),
      }),
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
      countries: Type.Array(
        Type.String({ pattern: '^[A-Z]{2}$', 'x-expected': 'an ISO 3166-1 alpha-2 country code' }),
      ),
    }),
  ),
  spread: Type.Optional(
    Type.Array(
      Obj({
        by: Enum(['cloud', 'site', 'zone', 'cluster']),
        min: Type.Optional(Type.Integer({ minimum: 1, 'x-expected': 'an integer >= 1' })),
        max: Type.Optional(Type.Integer({ minimum: 1, 'x-expected': 'an integer >= 1' })),
      }),
    ),
  ),
  tolerations: Type.Optional(
    Type.Array(
      Obj({
        key: Type.Optional(Type.String()),
        operator: Type.Optional(Enum(['Exists', 'Equal'])),
        value: Type.Optional(Type.String()),
        effect: Type.Optional(Enum(['NoSchedule', 'PreferNoSchedule', 'NoExecute'])),
      }),
    ),
  ),
  replicaScheduling: Type.Optional(
    Obj({
      type: Enum(['Duplicated', 'Divided']),
      weighting: Type.Optional(Enum(['Static', 'AvailableCapacity', 'Cost'])),
      staticWeights: Type.Optional(
        Type.Array(
          Obj({
            clusters: NameList,
            weight: Type.Integer({ minimum: 0, 'x-expected': 'an integer weight >= 0' }),
          }),
        ),
      ),
    }),
  ),
  preferences: Type.Optional(
    Obj(
      {
        cost: Type.Optional(NonNegative),
        packing: Type.Optional(NonNegative),
        balance: Type.Optional(NonNegative),
        proximity: Type.Optional(NonNegative),
        userRegions: Type.Optional(Type.Array(Type.String())),
      },
      'Score weights (cost 1, packing 1, balance 0.5, proximity 1 by default) and where users are.',
    ),
  ),
  maxReplicasPerNode: Type.Optional(
    Type.Integer({
      minimum: 1,
      'x-expected': 'an integer >= 1',
      description: 'At most this many replicas of one component on one node.',
    }),
  ),
  antiAffinity: Type.Optional(
    Type.Array(
      Obj(
        { components: Type.Optional(NameList) },
        'At most one replica of these components (default: all of the app) on one node.',
      ),
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
            'x-expected': 'an integer >= 1',
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
    image: Type.Optional(Type.String({ minLength: 1 })),
    replicas: Type.Optional(Count),
    env: Type.Optional(StringMap),
    resources: Type.Optional(ResourceRequests),
  }),
});
export type Override = Static<typeof Override>;

const CloudOrSite = Obj({ cloud: Type.Optional(Name), site: Type.Optional(Name) });

export const Traffic = Obj({
  host: Type.String({
    pattern: '^([a-z0-9]([-a-z0-9]*[a-z0-9])?\\.)+[a-z]{2,}$',
    'x-expected': 'a fully qualified lower-case host name such as shop.example.com',
  }),
  strategy: Enum(['failover', 'weighted', 'geo', 'roundRobin', 'unit']),
  ttl: Type.Optional(
    Type.Integer({ minimum: 0, maximum: 86400, 'x-expected': 'a TTL from 0 to 86400 seconds' }),
  ),
  port: Type.Optional(
    Type.String({ description: 'Name of the component port that serves the host' }),
  ),
  component: Type.Optional(Name),
  failover: Type.Optional(Obj({ order: Type.Array(CloudOrSite) })),
  weights: Type.Optional(
    Type.Array(
      Obj({
        cloud: Type.Optional(Name),
        site: Type.Optional(Name),
        weight: Type.Integer({ minimum: 0, 'x-expected': 'an integer weight >= 0' }),
      }),
    ),
  ),
  units: Type.Optional(
    Obj({
      key: Type.String({
        pattern: '^(header|cookie|query):.+$',
        'x-expected': 'header:NAME, cookie:NAME or query:NAME',
      }),
      cells: Type.Array(Obj({ name: Name, cloud: Type.Optional(Name), site: Type.Optional(Name) })),
    }),
  ),
  healthCheck: Type.Optional(
    Obj({
      http: Type.Optional(
        Obj({
          path: Type.String({ pattern: '^/', 'x-expected': 'a path starting with /' }),
          scheme: Type.Optional(Enum(['HTTP', 'HTTPS'])),
        }),
      ),
      tcp: Type.Optional(Obj({})),
      intervalSeconds: Type.Optional(Seconds),
      timeoutSeconds: Type.Optional(Seconds),
      unhealthyThreshold: Type.Optional(
        Type.Integer({ minimum: 1, 'x-expected': 'an integer >= 1' }),
      ),
      healthyThreshold: Type.Optional(
        Type.Integer({ minimum: 1, 'x-expected': 'an integer >= 1' }),
      ),
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
  components: Type.Array(Component, { minItems: 1, 'x-expected': 'at least one component' }),
  placement: Type.Optional(Placement),
  overrides: Type.Optional(Type.Array(Override)),
  traffic: Type.Optional(Traffic),
  failover: Type.Optional(FailoverPolicy),
  progressDeadlineSeconds: Type.Optional(
    Type.Number({
      minimum: 1,
      'x-expected': 'a number of seconds >= 1',
      description:
        'How long the app may make no progress (no replica turning ready) while not all its replicas are ready before Ready says ProgressDeadlineExceeded (600). Nothing is undone: replicas being replaced keep serving.',
    }),
  ),
});
export type ApplicationSpec = Static<typeof ApplicationSpec>;

export const PlacementStatus = Obj({
  component: Name,
  cluster: Name,
  cloud: Name,
  site: Type.Optional(Name),
  desired: Count,
  ready: Count,
  /** Replicas the scheduler assigned here, before overrides patch the count. */
  assigned: Type.Optional(Count),
  /**
   * Being replaced (failover, failback, rebalance): kept running until the
   * replacement replicas are ready, then deleted.
   */
  draining: Type.Optional(Type.Boolean()),
  /** Where the component's ports are reachable in this cluster (from the driver). */
  endpoints: Type.Optional(
    Type.Array(Obj({ name: Type.Optional(Name), address: Type.String(), port: Port })),
  ),
});
export type PlacementStatus = Static<typeof PlacementStatus>;

export const ApplicationStatus = Obj({
  observedGeneration: Type.Optional(Type.Integer()),
  placements: Type.Optional(Type.Array(PlacementStatus)),
  replicas: Type.Optional(Obj({ desired: Count, ready: Count })),
  conditions: Type.Optional(Type.Array(Condition)),
  reasons: Type.Optional(
    Type.Array(Obj({ component: Type.Optional(Name), count: Count, reason: Type.String() })),
  ),
  /**
   * Replicas moved off a failed cluster, remembered for failback: once the
   * cluster has been Ready for the stabilisation window they return there and
   * their replacements (`replacedBy`) give them back.
   */
  displaced: Type.Optional(
    Type.Array(
      Obj({
        component: Name,
        cluster: Name,
        replicas: Count,
        replacedBy: Type.Array(Name),
        since: Type.String(),
      }),
    ),
  ),
  /** The `yunjian.io/rebalance` annotation value last acted on. */
  rebalanced: Type.Optional(Type.String()),
  /** placement.colocation: what each component's replicas use and reserve. */
  colocation: Type.Optional(
    Obj({
      components: Type.Array(
        Obj({
          component: Name,
          /** Per-replica cpu samples in the current window. */
          samples: Count,
          /** Latest per-replica cpu use, millicores. */
          observedCpuMillis: Type.Optional(NonNegative),
          /** The percentile of the window, millicores. */
          predictedCpuMillis: Type.Optional(NonNegative),
          /** What each replica reserves on its node now, millicores (the request until learnt). */
          reservedCpuMillis: NonNegative,
          requestCpuMillis: NonNegative,
        }),
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
    involvedObject: Obj({ kind: Type.String(), namespace: Type.Optional(Name), name: Name }),
    type: Enum(['Normal', 'Warning']),
    reason: Type.String({
      minLength: 1,
      description:
        'Machine-readable cause: ClusterNotReady, ClusterReady, Failover, Failback, Rebalance, ...',
    }),
    message: Type.String(),
    /** How many times the same event repeated (same object, reason and message). */
    count: Type.Integer({ minimum: 1, 'x-expected': 'an integer >= 1' }),
    firstTimestamp: Type.String(),
    lastTimestamp: Type.String(),
    /** The controller that recorded it. */
    source: Type.Optional(Type.String()),
  },
  'Something that happened to a resource; written by controllers, kept for a bounded time.',
);
export type EventSpec = Static<typeof EventSpec>;

// ---------------------------------------------------------------- Lease

export const LeaseSpec = Obj(
  {
    holderIdentity: Type.String({ minLength: 1 }),
    leaseDurationSeconds: Type.Number({ exclusiveMinimum: 0, 'x-expected': 'a number > 0' }),
    acquireTime: Type.String(),
    renewTime: Type.String(),
    leaseTransitions: Count,
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
    hash: Type.String({ minLength: 1 }),
    image: Type.String(),
    replicas: Count,
    architectures: Type.Array(Arch),
    cpuMillis: NonNegative,
    /** Colocated workloads: replicas may use up to this; cpuMillis is what they reserve. */
    cpuLimitMillis: Type.Optional(NonNegative),
    memoryBytes: NonNegative,
    gpu: NonNegative,
    gpuModel: Type.Optional(Type.String()),
    maxReplicasPerNode: Type.Optional(Count),
    antiAffinity: Type.Optional(Type.Array(Name)),
    ports: Type.Array(
      Obj({ name: Type.Optional(Name), port: Port, protocol: Enum(['TCP', 'UDP']) }),
    ),
    env: StringMap,
    command: Type.Array(Type.String()),
    args: Type.Array(Type.String()),
    healthCheck: Type.Optional(
      Obj({
        http: Type.Optional(
          Obj({
            path: Type.String(),
            port: Type.Optional(Port),
            scheme: Type.Optional(Enum(['HTTP', 'HTTPS'])),
          }),
        ),
        tcp: Type.Optional(Obj({ port: Type.Optional(Port) })),
        intervalSeconds: Seconds,
        timeoutSeconds: Seconds,
        failureThreshold: Type.Integer({ minimum: 1 }),
        restartThreshold: Type.Optional(Type.Integer({ minimum: 1 })),
      }),
    ),
  },
  'A component placed on an agent cluster: what the agent runs there.',
);
export type WorkloadResourceSpec = Static<typeof WorkloadResourceSpec>;

export const ReplicaStatus = Obj({
  id: Type.String(),
  hash: Type.String(),
  state: Enum(['starting', 'running', 'backoff', 'stopping']),
  ready: Type.Boolean(),
  pid: Type.Optional(Count),
  port: Type.Optional(Port),
  restarts: Count,
  /** Cpu the replica's process used over the agent's last sampling interval, millicores. */
  cpuMillis: Type.Optional(NonNegative),
  lastExit: Type.Optional(Type.String()),
  startedAt: Type.Optional(Type.String()),
});
export type ReplicaStatus = Static<typeof ReplicaStatus>;

export const WorkloadResourceStatus = Obj({
  /** The spec hash the agent last converged to. */
  hash: Type.Optional(Type.String()),
  desired: Count,
  scheduled: Count,
  ready: Count,
  message: Type.Optional(Type.String()),
  endpoints: Type.Optional(
    Type.Array(Obj({ name: Type.Optional(Name), address: Type.String(), port: Port })),
  ),
  replicas: Type.Optional(Type.Array(ReplicaStatus)),
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
    data: Type.String({ minLength: 1, 'x-expected': 'the secret content, e.g. a kubeconfig' }),
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
