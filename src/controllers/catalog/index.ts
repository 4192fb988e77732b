// The catalog controller: an Instance becomes an Application it owns (same
// namespace and name, labelled catalog.yunjian.io/instance), rendered from its
// item for its version, plan, parameters, pins and member kind; from there the
// normal scheduler, delivery, failover and traffic take over. A Binding
// becomes a Secret with the connection details (type connection, sealed at
// rest by the store) and the same details as env in every component of the
// consuming Application, recorded in its catalog.yunjian.io/bound-env
// annotation so that a deleted or changed binding takes back exactly what it
// put there.
//
// Ordering invariants:
// - An instance's credentials Secret is written before the Application that
//   uses the password, so a crash between the two never renders a second one.
// - status.version moves to a new version only once the Application carrying
//   it is written; the version it replaced becomes status.previousVersion
//   (what `yunjian instance rollback` returns to).
// - A binding's Secret is written before the consuming application's env, so
//   env never names details the Secret does not hold.
import { randomBytes } from 'node:crypto';
import { canonical } from '../../model/canonical.ts';
import { instanceCauses } from '../../model/catalog/parameters.ts';
import {
  BOUND_ENV_ANNOTATION,
  INSTANCE_LABEL,
  ITEM_LABEL,
  RenderError,
  defaultEnvPrefix,
  memberKindOf,
  renderApplication,
  renderBindingEnv,
  type EndpointOf,
} from '../../model/catalog/render.ts';
import { satisfies } from '../../model/catalog/semver.ts';
import { isClusterReady } from '../../model/cluster.ts';
import { systemClock, type Clock } from '../../lib/clock.ts';
import { AlreadyExistsError, NotFoundError } from '../../model/errors.ts';
import {
  API_VERSION,
  type Application,
  type Binding,
  type CatalogItem,
  type Cluster,
  type Condition,
  type Instance,
  type Secret,
} from '../../model/schema.ts';
import type { Store } from '../../store/types.ts';
import { Controller } from '../runtime/controller.ts';
import { objectKey, type Informer } from '../runtime/informer.ts';

export interface CatalogControllerOptions {
  store: Store;
  items: Informer<CatalogItem>;
  instances: Informer<Instance>;
  bindings: Informer<Binding>;
  apps: Informer<Application>;
  clusters: Informer<Cluster>;
  log: (line: string) => void;
  /** The clock of timestamps and requeue delays (the system clock; the what-if's twin runs faster). */
  clock?: Clock;
}

/** How often a binding waiting for its instance's endpoints looks again. */
const ENDPOINT_POLL_MS = 1000;

export function instanceSecretName(namespace: string, name: string): string {
  return `catalog-instance.${namespace}.${name}`;
}
export function bindingSecretName(namespace: string, name: string): string {
  return `catalog-binding.${namespace}.${name}`;
}

function split(key: string): { namespace: string; name: string } {
  const [namespace = '', name = ''] = key.split('/');
  return { namespace, name };
}

function condition(status: boolean, reason: string, message: string): Condition {
  return { type: 'Ready', status: status ? 'True' : 'False', reason, message };
}

/** Bound env per binding, as the consuming application's annotation records it. */
function boundEnv(app: Application): Record<string, string[]> {
  const raw = app.metadata.annotations?.[BOUND_ENV_ANNOTATION];
  if (raw === undefined) return {};
  try {
    const parsed = JSON.parse(raw) as unknown;
    return typeof parsed === 'object' && parsed !== null
      ? (parsed as Record<string, string[]>)
      : {};
  } catch {
    return {};
  }
}

/**
 * The consuming application with `binding`'s env replaced by `env` (removed
 * when `env` is undefined) in every component; undefined when nothing changes.
 */
export function withBindingEnv(
  app: Application,
  binding: string,
  env: Record<string, string> | undefined,
): Application | undefined {
  const bound = boundEnv(app);
  const previous = bound[binding] ?? [];
  const next = structuredClone(app);
  for (const c of next.spec.components) {
    const e = { ...(c.env ?? {}) };
    for (const k of previous) delete e[k];
    Object.assign(e, env ?? {});
    if (Object.keys(e).length > 0) c.env = e;
    else delete c.env;
  }
  if (env === undefined) delete bound[binding];
  else bound[binding] = Object.keys(env).sort();
  const annotations = { ...(next.metadata.annotations ?? {}) };
  if (Object.keys(bound).length > 0) annotations[BOUND_ENV_ANNOTATION] = JSON.stringify(bound);
  else delete annotations[BOUND_ENV_ANNOTATION];
  if (Object.keys(annotations).length > 0) next.metadata.annotations = annotations;
  else delete next.metadata.annotations;
  const same =
    canonical(next.spec) === canonical(app.spec) &&
    canonical(next.metadata.annotations ?? {}) === canonical(app.metadata.annotations ?? {});
  return same ? undefined : next;
}

/** Where an instance's application serves, ready placements first, in a stable order. */
export function instanceEndpoints(app: Application | undefined): EndpointOf[] {
  const placements = [...(app?.status?.placements ?? [])]
    .filter((p) => p.ready > 0 && p.draining !== true)
    .sort((a, b) => (a.cluster < b.cluster ? -1 : a.cluster > b.cluster ? 1 : 0));
  return placements.flatMap((p) =>
    (p.endpoints ?? []).map((e) => ({
      component: p.component,
      port: e.name ?? '',
      address: e.address,
      number: e.port,
    })),
  );
}

export function createCatalogController(o: CatalogControllerOptions): Controller {
  const { store } = o;
  const clock = o.clock ?? systemClock;
  const ignoreMissing = (err: unknown) => {
    if (!(err instanceof NotFoundError)) throw err;
  };

  async function readSecret(name: string): Promise<Secret | undefined> {
    try {
      return (await store.get({ kind: 'Secret', name })) as unknown as Secret;
    } catch (err) {
      ignoreMissing(err);
      return undefined;
    }
  }

  /** The instance's password, generated and kept in its Secret the first time. */
  async function passwordOf(namespace: string, name: string): Promise<string> {
    const secretName = instanceSecretName(namespace, name);
    const existing = await readSecret(secretName);
    if (existing !== undefined) {
      const parsed = JSON.parse(existing.spec.data) as { password?: string };
      if (typeof parsed.password === 'string') return parsed.password;
    }
    const password = randomBytes(18).toString('base64url');
    const secret: Secret = {
      apiVersion: API_VERSION,
      kind: 'Secret',
      metadata: { name: secretName, labels: { [INSTANCE_LABEL]: name } },
      spec: { type: 'connection', data: JSON.stringify({ password }) },
    };
    try {
      await store.create(secret);
    } catch (err) {
      // Another term wrote it first: use theirs.
      if (!(err instanceof AlreadyExistsError)) throw err;
      return passwordOf(namespace, name);
    }
    return password;
  }

  /** Clusters a fleet-wide instance runs on now: Ready, of its member kind, inside its affinity. */
  function fleetClusters(instance: Instance, item: CatalogItem): number {
    const kind = memberKindOf(item, instance);
    const a = instance.spec.placement?.clusterAffinity;
    return o.clusters
      .list()
      .filter(
        (c) =>
          isClusterReady(c) &&
          c.spec.driver.type === kind &&
          (a?.clouds?.includes(c.spec.cloud) ?? true) &&
          (a?.sites?.includes(c.spec.site) ?? true) &&
          (a?.clusters?.includes(c.metadata.name) ?? true),
      ).length;
  }

  /** A dependency the namespace lacks: no instance of the item at a version in range. */
  function missingDependency(instance: Instance, item: CatalogItem): string | undefined {
    const ns = instance.metadata.namespace;
    for (const d of item.spec.dependencies ?? []) {
      const found = o.instances
        .list()
        .some(
          (i) =>
            i.metadata.namespace === ns &&
            i.spec.item === d.item &&
            satisfies(i.status?.version ?? i.spec.version, d.versions),
        );
      if (!found) return `${d.item} ${d.versions}`;
    }
    return undefined;
  }

  async function writeInstanceStatus(
    instance: Instance,
    status: Instance['status'],
  ): Promise<void> {
    if (canonical(status ?? {}) === canonical(instance.status ?? {})) return;
    await store.updateStatus(
      { ...instance, status },
      {
        expectedResourceVersion: instance.metadata.resourceVersion ?? null,
      },
    );
  }

  async function reconcileInstance(namespace: string, name: string): Promise<void> {
    const instance = o.instances.get(`${namespace}/${name}`);
    const app = o.apps.get(`${namespace}/${name}`);
    const owned = app?.metadata.labels?.[INSTANCE_LABEL] === name;
    if (instance === undefined) {
      if (owned) await store.delete({ kind: 'Application', namespace, name }).catch(ignoreMissing);
      await store
        .delete({ kind: 'Secret', name: instanceSecretName(namespace, name) })
        .catch(ignoreMissing);
      return;
    }
    const base = {
      ...instance.status,
      observedGeneration: instance.metadata.generation ?? 0,
      application: name,
    };
    const fail = (reason: string, message: string) =>
      writeInstanceStatus(instance, { ...base, conditions: [condition(false, reason, message)] });
    if (app !== undefined && !owned)
      return fail('NameTaken', `an application "${name}" not made by this instance exists`);
    const item = o.items.get(instance.spec.item);
    const causes = instanceCauses(instance, item);
    if (item === undefined || causes.length > 0)
      return fail('InvalidSpec', causes.map((c) => `${c.field}: ${c.message}`).join('; '));
    const missing = missingDependency(instance, item);
    if (missing !== undefined)
      return fail('DependencyMissing', `needs an instance of ${missing} in namespace ${namespace}`);
    const password = await passwordOf(namespace, name);
    let spec: Application['spec'];
    try {
      spec = renderApplication(item, instance, {
        password,
        fleetClusters: fleetClusters(instance, item),
      });
    } catch (err) {
      if (!(err instanceof RenderError)) throw err;
      return fail('RenderFailed', err.message);
    }
    const labels = {
      ...(app?.metadata.labels ?? {}),
      [INSTANCE_LABEL]: name,
      [ITEM_LABEL]: item.metadata.name,
    };
    if (app === undefined) {
      await store.create({
        apiVersion: API_VERSION,
        kind: 'Application',
        metadata: { name, namespace, labels },
        spec,
      });
    } else if (
      canonical(spec) !== canonical(app.spec) ||
      canonical(labels) !== canonical(app.metadata.labels)
    ) {
      await store.update(
        { ...app, metadata: { ...app.metadata, labels }, spec },
        {
          expectedResourceVersion: app.metadata.resourceVersion ?? null,
        },
      );
    }
    const changed = instance.status?.version !== instance.spec.version;
    const previous = changed ? instance.status?.version : instance.status?.previousVersion;
    const appReady = app?.status?.conditions?.find((c) => c.type === 'Ready');
    const ready =
      appReady === undefined
        ? condition(false, 'Rendering', `application ${name} written; waiting for its status`)
        : condition(
            appReady.status === 'True',
            appReady.reason ?? 'Application',
            appReady.message ?? '',
          );
    await writeInstanceStatus(instance, {
      ...base,
      version: instance.spec.version,
      ...(previous !== undefined ? { previousVersion: previous } : {}),
      ...(changed
        ? { versionChangedAt: new Date(clock.now()).toISOString() }
        : instance.status?.versionChangedAt !== undefined
          ? { versionChangedAt: instance.status.versionChangedAt }
          : {}),
      conditions: [ready],
    });
  }

  async function writeBindingStatus(binding: Binding, status: Binding['status']): Promise<void> {
    if (canonical(status ?? {}) === canonical(binding.status ?? {})) return;
    await store.updateStatus(
      { ...binding, status },
      {
        expectedResourceVersion: binding.metadata.resourceVersion ?? null,
      },
    );
  }

  /** Takes a binding's env out of every application of the namespace that carries it. */
  async function unbind(namespace: string, name: string, except?: string): Promise<void> {
    for (const app of o.apps.list()) {
      if (app.metadata.namespace !== namespace || app.metadata.name === except) continue;
      if (boundEnv(app)[name] === undefined) continue;
      const next = withBindingEnv(app, name, undefined);
      if (next !== undefined)
        await store.update(next, {
          expectedResourceVersion: app.metadata.resourceVersion ?? null,
        });
    }
  }

  async function reconcileBinding(
    namespace: string,
    name: string,
  ): Promise<{ requeueAfterMs?: number }> {
    const binding = o.bindings.get(`${namespace}/${name}`);
    if (binding === undefined) {
      await unbind(namespace, name);
      await store
        .delete({ kind: 'Secret', name: bindingSecretName(namespace, name) })
        .catch(ignoreMissing);
      return {};
    }
    // A binding moved to another application leaves the old one.
    await unbind(namespace, name, binding.spec.application);
    const base = { ...binding.status, observedGeneration: binding.metadata.generation ?? 0 };
    const pending = async (reason: string, message: string) => {
      await writeBindingStatus(binding, {
        ...base,
        conditions: [condition(false, reason, message)],
      });
      return { requeueAfterMs: ENDPOINT_POLL_MS };
    };
    const instance = o.instances.get(`${namespace}/${binding.spec.instance}`);
    const item = instance ? o.items.get(instance.spec.item) : undefined;
    if (instance === undefined || item === undefined)
      return pending('InstanceMissing', `no instance "${binding.spec.instance}" in ${namespace}`);
    const consumer = o.apps.get(`${namespace}/${binding.spec.application}`);
    if (consumer === undefined)
      return pending(
        'ApplicationMissing',
        `no application "${binding.spec.application}" in ${namespace}`,
      );
    const endpoints = instanceEndpoints(o.apps.get(`${namespace}/${binding.spec.instance}`));
    if (endpoints.length === 0)
      return pending(
        'EndpointsPending',
        `instance ${binding.spec.instance} has no ready endpoint yet`,
      );
    const password = await passwordOf(namespace, instance.metadata.name);
    const prefix = binding.spec.envPrefix ?? defaultEnvPrefix(instance.metadata.name);
    let env: Record<string, string>;
    try {
      env = renderBindingEnv(item, instance, endpoints, prefix, password);
    } catch (err) {
      if (!(err instanceof RenderError)) throw err;
      return pending('RenderFailed', err.message);
    }
    const secretName = bindingSecretName(namespace, name);
    const data = JSON.stringify(env);
    const secret = await readSecret(secretName);
    const desired = {
      apiVersion: API_VERSION,
      kind: 'Secret',
      metadata: { name: secretName, labels: { [INSTANCE_LABEL]: instance.metadata.name } },
      spec: { type: 'connection', data },
    };
    if (secret === undefined) await store.create(desired);
    else if (secret.spec.data !== data)
      await store.update(
        {
          ...desired,
          metadata: { ...secret.metadata, ...desired.metadata },
        },
        {
          expectedResourceVersion: secret.metadata.resourceVersion ?? null,
        },
      );
    const next = withBindingEnv(consumer, name, env);
    if (next !== undefined)
      await store.update(next, {
        expectedResourceVersion: consumer.metadata.resourceVersion ?? null,
      });
    await writeBindingStatus(binding, {
      ...base,
      secret: secretName,
      env: Object.keys(env).sort(),
      conditions: [
        condition(
          true,
          'Bound',
          `${Object.keys(env).length} env vars in ${binding.spec.application}`,
        ),
      ],
    });
    // Endpoints move (failover, rollout): look again while bound.
    return { requeueAfterMs: ENDPOINT_POLL_MS * 5 };
  }

  const controller = new Controller(
    'catalog',
    async (key) => {
      const [kind, rest = ''] = key.split(':', 2) as [string, string?];
      const { namespace, name } = split(rest);
      if (kind === 'instance') return reconcileInstance(namespace, name);
      return reconcileBinding(namespace, name);
    },
    o.log,
    { workers: 2, clock },
  );
  const enqueueInstance = (i: Instance) => {
    controller.enqueue(`instance:${objectKey(i)}`);
    for (const b of o.bindings.list())
      if (b.metadata.namespace === i.metadata.namespace && b.spec.instance === i.metadata.name)
        controller.enqueue(`binding:${objectKey(b)}`);
    // Instances that depend on this one's item may now be satisfied.
    for (const other of o.instances.list())
      if (other.metadata.namespace === i.metadata.namespace && other !== i)
        controller.enqueue(`instance:${objectKey(other)}`);
  };
  o.instances.addHandlers({
    onAdd: enqueueInstance,
    onUpdate: (_a, b) => enqueueInstance(b),
    onDelete: enqueueInstance,
  });
  const enqueueBinding = (b: Binding) => controller.enqueue(`binding:${objectKey(b)}`);
  o.bindings.addHandlers({
    onAdd: enqueueBinding,
    onUpdate: (_a, b) => enqueueBinding(b),
    onDelete: enqueueBinding,
  });
  const onItem = (item: CatalogItem) => {
    for (const i of o.instances.list()) if (i.spec.item === item.metadata.name) enqueueInstance(i);
  };
  o.items.addHandlers({ onAdd: onItem, onUpdate: (_a, b) => onItem(b), onDelete: onItem });
  const onApp = (app: Application) => {
    const ns = app.metadata.namespace;
    const owner = app.metadata.labels?.[INSTANCE_LABEL];
    if (owner !== undefined) {
      const i = o.instances.get(`${ns ?? ''}/${owner}`);
      if (i) enqueueInstance(i);
      else controller.enqueue(`instance:${ns ?? ''}/${owner}`);
    }
    for (const b of o.bindings.list())
      if (b.metadata.namespace === ns && b.spec.application === app.metadata.name)
        enqueueBinding(b);
  };
  o.apps.addHandlers({ onAdd: onApp, onUpdate: (_a, b) => onApp(b), onDelete: onApp });
  // A fleet-wide instance follows the fleet: clusters joining, leaving, turning (not) Ready.
  const onFleet = () => {
    for (const i of o.instances.list()) if (i.spec.fleetWide === true) enqueueInstance(i);
  };
  o.clusters.addHandlers({
    onAdd: onFleet,
    onUpdate: (a, b) => {
      if (isClusterReady(a) !== isClusterReady(b)) onFleet();
    },
    onDelete: onFleet,
  });
  return controller;
}
