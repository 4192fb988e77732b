// How a built-in catalog item is written: the plans, the agent replica's
// state directory and shell form, the TCP health check, and the two builders
// (`item` for any item, `imageItem` for one that deploys only from its image).
import { API_VERSION } from '../../schema/common.ts';
import type {
  CatalogItem,
  CatalogItemSpec,
  CatalogPlan,
  ComponentTemplate,
  ParameterSchema,
} from '../../schema/catalog.ts';

export const DATA_DIR: ParameterSchema = {
  type: 'string',
  description: 'Where agent replicas keep their state (one directory per instance and member).',
  default: '/var/tmp/yunjian-catalog',
  pattern: '^/[A-Za-z0-9._/-]*$',
  maxLength: 256,
  'x-expected': 'an absolute path of letters, digits, ".", "_", "-" and "/"',
};

export const PLANS: CatalogPlan[] = [
  {
    name: 'small',
    description: 'one replica, 250m cpu, 256Mi',
    replicas: 1,
    resources: { cpu: '250m', memory: '256Mi' },
  },
  {
    name: 'medium',
    description: 'one replica, 1 cpu, 1Gi',
    replicas: 1,
    resources: { cpu: '1', memory: '1Gi' },
  },
];

export const STATELESS_PLANS: CatalogPlan[] = [
  ...PLANS,
  {
    name: 'ha',
    description: 'three replicas, 500m cpu, 512Mi each',
    replicas: 3,
    resources: { cpu: '500m', memory: '512Mi' },
  },
];

/** The replica's state directory (shell), per member and replica port. */
export const REPLICA_DIR =
  'D="{{ parameters.dataDir }}/{{ instance.namespace }}.{{ instance.name }}/${HOST}-${PORT}"; mkdir -p "$D"';

export function sh(script: string): { command: string[] } {
  return { command: ['/bin/sh', '-c', script] };
}

export const TCP_CHECK = { tcp: {}, intervalSeconds: 1, failureThreshold: 3 };

export interface ItemInput {
  name: string;
  displayName: string;
  category: CatalogItemSpec['category'];
  description: string;
  versions: CatalogItemSpec['versions'];
  components: ComponentTemplate[];
  outputs: Record<string, string>;
  lifecycle?: CatalogItemSpec['lifecycle'];
  plans?: CatalogPlan[];
  dependencies?: CatalogItemSpec['dependencies'];
}

export const STATELESS: CatalogItemSpec['lifecycle'] = {
  upgrade: 'rolling',
  backup: 'none',
  migration: 'none',
  replicates: true,
};

export function item(i: ItemInput): CatalogItem {
  return {
    apiVersion: API_VERSION,
    kind: 'CatalogItem',
    metadata: { name: i.name, labels: { 'catalog.yunjian.io/builtin': 'true' } },
    spec: {
      displayName: i.displayName,
      category: i.category,
      description: i.description,
      versions: i.versions,
      plans: i.plans ?? PLANS,
      ...(i.dependencies ? { dependencies: i.dependencies } : {}),
      template: { components: i.components },
      outputs: i.outputs,
      lifecycle: i.lifecycle ?? STATELESS,
    },
  };
}

/** A parameters schema from its properties (every one optional, with defaults). */
export function params(properties: Record<string, ParameterSchema>, required: string[] = []) {
  return {
    type: 'object' as const,
    properties,
    ...(required.length > 0 ? { required } : {}),
    additionalProperties: false as const,
  };
}

/** An item that deploys only from its image (twin and Kubernetes members). */
export function imageItem(
  name: string,
  displayName: string,
  category: CatalogItemSpec['category'],
  description: string,
  image: string,
  version: string,
  port: number,
  outputs: Record<string, string> = { URL: `http://{{ host }}:{{ port.http }}` },
): CatalogItem {
  return item({
    name,
    displayName,
    category,
    description,
    versions: [
      {
        version,
        values: { tag: version },
        parameters: params({
          logLevel: {
            type: 'string',
            description: 'How much the service logs.',
            enum: ['debug', 'info', 'warn', 'error'],
            default: 'info',
          },
        }),
      },
    ],
    plans: STATELESS_PLANS,
    components: [
      {
        name,
        ports: [{ name: 'http', port }],
        env: { LOG_LEVEL: '{{ parameters.logLevel }}' },
        kubernetes: { image: `${image}:{{ values.tag }}`, workload: 'Deployment' },
      },
    ],
    outputs,
  });
}
