// Schemas of the fleet: clouds, their sites, and the member clusters at those
// sites with the driver that reaches each (the digital twin's node pools included).
import Type, { type Static } from 'typebox';
import { MAX_GPUS } from '../quantity.ts';
import {
  Arch,
  Condition,
  Enum,
  Int,
  LIMITS,
  LabelMap,
  List,
  Name,
  NodeCpu,
  NodeMemory,
  NonNegative,
  Obj,
  Price,
  ResourceSchema,
  SafeCount,
  Seconds,
  Text,
  Time,
} from './common.ts';

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

export const CloudResource = ResourceSchema('Cloud', CloudSpec, CloudStatus);
export const SiteResource = ResourceSchema('Site', SiteSpec, SiteStatus);
export const ClusterResource = ResourceSchema('Cluster', ClusterSpec, ClusterStatus);

export type Cloud = Static<typeof CloudResource>;
export type Site = Static<typeof SiteResource>;
export type Cluster = Static<typeof ClusterResource>;
