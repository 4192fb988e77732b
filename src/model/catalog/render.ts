// Rendering: what an Instance of a catalog item deploys, as an Application
// spec, and what a Binding exposes, as env. Pure functions of plain values;
// the catalog controller (controllers/catalog) supplies what it read.
//
// Template strings hold `{{ path }}` references (schema/catalog.ts
// ComponentTemplate lists them). `${PORT}` and `${HOST}` are not ours: the
// agent substitutes them per replica. Two versions of an item may differ only
// in `values`, so a per-cluster version pin is an Application override that
// patches image and env (renderPins refuses one that would need more).
import { canonical } from '../canonical.ts';
import type { FieldCause } from '../errors.ts';
import type { ApplicationSpec, Component, Override } from '../schema/application.ts';
import type {
  CatalogItem,
  CatalogVersion,
  ComponentTemplate,
  Instance,
} from '../schema/catalog.ts';
import type { MemberKind } from './members.ts';
import { withDefaults, type ParameterValues } from './parameters.ts';

/** Labels the controller puts on what it renders, so it finds (and garbage-collects) them. */
export const INSTANCE_LABEL = 'catalog.yunjian.io/instance';
export const ITEM_LABEL = 'catalog.yunjian.io/item';
/** On a consuming Application: JSON { binding: [env names it injected] }. */
export const BOUND_ENV_ANNOTATION = 'catalog.yunjian.io/bound-env';

export class RenderError extends Error {
  readonly causes: FieldCause[];
  constructor(causes: FieldCause[]) {
    super(causes.map((c) => `${c.field}: ${c.message}`).join('; '));
    this.causes = causes;
  }
}

type Scope = Readonly<Record<string, string | number | boolean | undefined>>;

/** Replaces every `{{ name }}` from `scope`; an unknown name is a RenderError naming `field`. */
export function substitute(text: string, scope: Scope, field: string): string {
  return text.replace(/\{\{\s*([A-Za-z0-9_.]+)\s*\}\}/g, (_whole, name: string) => {
    const v = scope[name];
    if (v === undefined)
      throw new RenderError([{ field, message: `unknown template reference {{ ${name} }}` }]);
    return String(v);
  });
}

/** The member kind an instance renders for: its own choice, else agent where the item has a process form. */
export function memberKindOf(item: CatalogItem, instance: Instance): MemberKind {
  if (instance.spec.memberKind !== undefined) return instance.spec.memberKind;
  return item.spec.template.components.every((c) => c.agent !== undefined) ? 'agent' : 'kubernetes';
}

export interface RenderContext {
  /** The instance's generated password (kept in its Secret). */
  password: string;
  /** fleetWide: how many clusters the placement allows now (one replica set on each). */
  fleetClusters?: number;
}

function versionOf(item: CatalogItem, version: string): CatalogVersion {
  const v = item.spec.versions.find((x) => x.version === version);
  if (v === undefined)
    throw new RenderError([
      { field: 'spec.version', message: `${item.metadata.name} has no version "${version}"` },
    ]);
  return v;
}

function scopeOf(
  item: CatalogItem,
  instance: Instance,
  version: CatalogVersion,
  ctx: RenderContext,
): Record<string, string | number | boolean> {
  const plan = item.spec.plans.find((p) => p.name === instance.spec.plan);
  if (plan === undefined)
    throw new RenderError([
      { field: 'spec.plan', message: `${item.metadata.name} has no plan "${instance.spec.plan}"` },
    ]);
  const params: ParameterValues = withDefaults(version, instance.spec.parameters ?? {});
  const scope: Record<string, string | number | boolean> = {
    version: version.version,
    'instance.name': instance.metadata.name,
    'instance.namespace': instance.metadata.namespace ?? 'default',
    'plan.name': plan.name,
    'plan.replicas': plan.replicas,
    'plan.cpu': String(plan.resources.cpu),
    'plan.memory': String(plan.resources.memory),
    'credentials.password': ctx.password,
  };
  for (const [k, v] of Object.entries(params)) scope[`parameters.${k}`] = v;
  for (const t of item.spec.template.components)
    for (const p of t.ports) scope[`ports.${p.name}`] = p.port;
  for (const [k, v] of Object.entries(version.values ?? {})) scope[`values.${k}`] = v;
  return scope;
}

function renderComponent(
  t: ComponentTemplate,
  i: number,
  kind: MemberKind,
  scope: Scope,
  plan: { replicas: number; resources: { cpu: string | number; memory: string | number } },
): Component {
  const at = `spec.template.components[${i}]`;
  const sub = (s: string, field: string) => substitute(s, scope, `${at}.${field}`);
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(t.env ?? {})) env[k] = sub(v, `env.${k}`);
  const image = sub(t.kubernetes.image, 'kubernetes.image');
  const component: Component = {
    name: t.name,
    image,
    replicas: plan.replicas,
    resources: { cpu: plan.resources.cpu, memory: plan.resources.memory },
    ports: t.ports.map((p) => ({ name: p.name, port: p.port })),
  };
  if (Object.keys(env).length > 0) component.env = env;
  if (t.healthCheck !== undefined) component.healthCheck = t.healthCheck;
  if (kind === 'agent') {
    if (t.agent === undefined)
      throw new RenderError([
        { field: `${at}.agent`, message: 'this item has no process form for agent members' },
      ]);
    component.command = t.agent.command.map((a, j) => sub(a, `agent.command[${j}]`));
    if (t.agent.args) component.args = t.agent.args.map((a, j) => sub(a, `agent.args[${j}]`));
  } else if (kind === 'kubernetes' && t.kubernetes.args !== undefined) {
    component.args = t.kubernetes.args.map((a, j) => sub(a, `kubernetes.args[${j}]`));
  }
  return component;
}

/** The components of one version of an instance, for its member kind. */
export function renderComponents(
  item: CatalogItem,
  instance: Instance,
  version: string,
  ctx: RenderContext,
): Component[] {
  const v = versionOf(item, version);
  const scope = scopeOf(item, instance, v, ctx);
  const plan = item.spec.plans.find((p) => p.name === instance.spec.plan);
  if (plan === undefined) throw new RenderError([{ field: 'spec.plan', message: 'no such plan' }]);
  const kind = memberKindOf(item, instance);
  return item.spec.template.components.map((t, i) => renderComponent(t, i, kind, scope, plan));
}

/**
 * Per-cluster version pins as overrides: the pinned version's components
 * differ from the instance's version only in image and env, which an override
 * patches; a pin needing anything else is refused naming the pin.
 */
export function renderPins(
  item: CatalogItem,
  instance: Instance,
  base: readonly Component[],
  ctx: RenderContext,
): Override[] {
  const out: Override[] = [];
  instance.spec.pins?.forEach((pin, i) => {
    const pinned = renderComponents(item, instance, pin.version, ctx);
    pinned.forEach((c, j) => {
      const b = base[j];
      if (b === undefined) return;
      const { image: _ci, env: ce, ...crest } = c;
      const { image: _bi, env: _be, ...brest } = b;
      if (canonical(crest) !== canonical(brest))
        throw new RenderError([
          {
            field: `spec.pins[${i}].version`,
            message: `version ${pin.version} of ${item.metadata.name} differs from ${instance.spec.version} in more than image and env (component ${c.name}); it cannot be pinned per cluster`,
          },
        ]);
      out.push({
        target: { clusters: [...pin.clusters], components: [c.name] },
        patches: { image: c.image, ...(ce !== undefined ? { env: ce } : {}) },
      });
    });
  });
  return out;
}

/** The Application spec an instance renders into. */
export function renderApplication(
  item: CatalogItem,
  instance: Instance,
  ctx: RenderContext,
): ApplicationSpec {
  const components = renderComponents(item, instance, instance.spec.version, ctx);
  const overrides = renderPins(item, instance, components, ctx);
  const placement = structuredClone(instance.spec.placement ?? {});
  if (instance.spec.fleetWide === true) {
    // Every allowed cluster runs the plan's replicas; the spread minimum follows
    // the fleet (the controller re-renders when clusters join or leave).
    placement.replicaScheduling = { type: 'Duplicated' };
    placement.spread = [{ by: 'cluster', min: Math.max(1, ctx.fleetClusters ?? 1) }];
  }
  return {
    components,
    ...(Object.keys(placement).length > 0 ? { placement } : {}),
    ...(overrides.length > 0 ? { overrides } : {}),
    failover: { enabled: true, gracePeriodSeconds: 0 },
  };
}

export interface EndpointOf {
  component: string;
  port: string;
  address: string;
  number: number;
}

/**
 * A binding's env: the item's outputs rendered with the instance's endpoint
 * (host and each named port) and credentials, behind the env prefix.
 */
export function renderBindingEnv(
  item: CatalogItem,
  instance: Instance,
  endpoints: readonly EndpointOf[],
  prefix: string,
  password: string,
): Record<string, string> {
  const version = versionOf(item, instance.spec.version);
  const scope: Record<string, string | number | boolean> = {
    ...scopeOf(item, instance, version, { password }),
  };
  const first = endpoints[0];
  if (first !== undefined) scope['host'] = first.address;
  for (const e of endpoints) scope[`port.${e.port}`] ??= e.number;
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(item.spec.outputs))
    env[`${prefix}${k}`] = substitute(v, scope, `spec.outputs.${k}`);
  return env;
}

/** The default env prefix of a binding: the instance name, upper-cased, then "_". */
export function defaultEnvPrefix(instanceName: string): string {
  return `${instanceName.toUpperCase().replace(/[^A-Z0-9]/g, '_')}_`;
}
