// The Application kind: components, where they may run (placement), per-cluster
// overrides, traffic and failover, and the status the application controller writes.
import Type, { type Static } from 'typebox';
import {
  CommandLine,
  Condition,
  Cpu,
  Endpoint,
  EnvMap,
  Enum,
  Gpus,
  Int,
  LIMITS,
  LabelKey,
  LabelMap,
  List,
  Memory,
  Name,
  NonNegative,
  Obj,
  Platform,
  Port,
  Preference,
  Replicas,
  ResourceSchema,
  SafeCount,
  Seconds,
  Text,
  Threshold,
  Time,
  Weight,
} from './common.ts';

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

/** The path an HTTP health check requests. */
const HttpPath = Type.String({
  pattern: '^/',
  maxLength: LIMITS.path,
  'x-expected': `a path starting with / of at most ${LIMITS.path} characters`,
});

export const HealthCheck = Obj({
  http: Type.Optional(
    Obj({
      path: HttpPath,
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

/** DNS answers for an application's host live this long when `spec.traffic.ttl` is not set. */
export const DEFAULT_TRAFFIC_TTL_SECONDS = 5;

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
          path: HttpPath,
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

/**
 * Written by the migration controller only, for the Migration named here:
 * `surge` runs the app where it runs (the target excluded) plus a full copy on
 * the target; `restore` excludes the target (a rollback); `move` runs it on the
 * target only (finalizing). DNS and the gateway send `targetWeight` percent of
 * the app's traffic to the target's endpoints and the rest to the others.
 */
export const ApplicationMigration = Obj({
  name: Name,
  target: Obj({
    clouds: Type.Optional(NameList),
    sites: Type.Optional(NameList),
    clusters: Type.Optional(NameList),
  }),
  mode: Enum(['surge', 'restore', 'move']),
  targetWeight: Int(0, 100, 'a percentage from 0 to 100'),
});
export type ApplicationMigration = Static<typeof ApplicationMigration>;

export const ApplicationSpec = Obj({
  components: List(Component, LIMITS.components, {
    minItems: 1,
    'x-expected': `1 to ${LIMITS.components} components`,
  }),
  placement: Type.Optional(Placement),
  overrides: Type.Optional(List(Override, LIMITS.terms)),
  traffic: Type.Optional(Traffic),
  failover: Type.Optional(FailoverPolicy),
  migration: Type.Optional(ApplicationMigration),
  /** Applications in the same namespace this one needs: a MigrationPlan moves them first. */
  dependsOn: Type.Optional(List(Name, LIMITS.list)),
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

export const ApplicationResource = ResourceSchema(
  'Application',
  ApplicationSpec,
  ApplicationStatus,
);
export type Application = Static<typeof ApplicationResource>;
