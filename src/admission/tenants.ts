// Tenant admission: an Application written into a tenant's namespace must fit
// the tenant's quota and be placeable only on the clusters the tenant may use.
// Called by the API (api/authz.ts) once the principal is authorized, for a
// single object and for every Application of an apply at once.
import { QuotaExceededError, ValidationError, type FieldCause } from '../model/errors.ts';
import { DEFAULT_NAMESPACE } from '../model/kinds.ts';
import { parseCpuMillis, parseMemoryBytes } from '../model/quantity.ts';
import type { Tenant, TenantQuota } from '../model/access.ts';
import type { Application } from '../model/schema.ts';
import type { Store } from '../store/types.ts';

export function tenantOf(tenants: readonly Tenant[], namespace: string): Tenant | undefined {
  return tenants.find((t) => t.spec.namespaces.includes(namespace));
}

interface Usage {
  cpuMillis: number;
  memoryBytes: number;
  gpu: number;
  applications: number;
  replicas: number;
}

function usageOf(app: Application): Usage {
  const u: Usage = { cpuMillis: 0, memoryBytes: 0, gpu: 0, applications: 1, replicas: 0 };
  for (const c of app.spec.components) {
    u.replicas += c.replicas;
    u.cpuMillis += c.replicas * parseCpuMillis(c.resources?.cpu ?? 0);
    u.memoryBytes += c.replicas * parseMemoryBytes(c.resources?.memory ?? 0);
    u.gpu += c.replicas * (c.resources?.gpu ?? 0);
  }
  return u;
}

/** Quotas as (name, limit in usage units, usage, shown). */
function quotaChecks(
  quota: TenantQuota,
  u: Usage,
): { name: string; over: boolean; text: string }[] {
  const out: { name: string; over: boolean; text: string }[] = [];
  if (quota.cpu !== undefined) {
    const limit = parseCpuMillis(quota.cpu);
    out.push({ name: 'cpu', over: u.cpuMillis > limit, text: `${u.cpuMillis}m of ${limit}m` });
  }
  if (quota.memory !== undefined) {
    const limit = parseMemoryBytes(quota.memory);
    out.push({
      name: 'memory',
      over: u.memoryBytes > limit,
      text: `${u.memoryBytes} of ${limit} bytes`,
    });
  }
  if (quota.gpu !== undefined)
    out.push({ name: 'gpu', over: u.gpu > quota.gpu, text: `${u.gpu} of ${quota.gpu}` });
  if (quota.applications !== undefined)
    out.push({
      name: 'applications',
      over: u.applications > quota.applications,
      text: `${u.applications} of ${quota.applications}`,
    });
  if (quota.replicas !== undefined)
    out.push({
      name: 'replicas',
      over: u.replicas > quota.replicas,
      text: `${u.replicas} of ${quota.replicas}`,
    });
  return out;
}

/**
 * A tenant's app must not be able to land outside the tenant's allowed
 * clusters. clusterAffinity lists are intersected by the scheduler, so an app
 * whose list for every dimension the tenant restricts is a non-empty subset of
 * the tenant's can only be placed where the tenant may run.
 */
function placementCauses(tenant: Tenant, app: Application, prefix: string): FieldCause[] {
  const allowed = tenant.spec.allowed;
  if (allowed === undefined) return [];
  const affinity = app.spec.placement?.clusterAffinity;
  const causes: FieldCause[] = [];
  for (const dim of ['clouds', 'sites', 'clusters'] as const) {
    const may = allowed[dim];
    if (may === undefined) continue;
    const asked = affinity?.[dim];
    if (asked === undefined || asked.length === 0 || asked.some((n) => !may.includes(n)))
      causes.push({
        field: `${prefix}spec.placement.clusterAffinity.${dim}`,
        message: `expected a non-empty subset of tenant "${tenant.metadata.name}"'s allowed ${dim} (${may.join(', ')}), got ${asked?.length ? asked.join(', ') : 'none'}`,
      });
  }
  return causes;
}

/** Quota and allowed clusters for Applications about to be written into tenants' namespaces. */
export async function admitApplications(
  store: Store,
  tenants: readonly Tenant[],
  apps: readonly { app: Application; prefix: string }[],
): Promise<void> {
  const causes: FieldCause[] = [];
  const byTenant = new Map<Tenant, Application[]>();
  for (const { app, prefix } of apps) {
    const tenant = tenantOf(tenants, app.metadata.namespace ?? DEFAULT_NAMESPACE);
    if (!tenant) continue;
    causes.push(...placementCauses(tenant, app, prefix));
    byTenant.set(tenant, [...(byTenant.get(tenant) ?? []), app]);
  }
  if (causes.length > 0) throw new ValidationError('placement', causes);
  for (const [tenant, incoming] of byTenant) {
    const quota = tenant.spec.quota;
    if (quota === undefined) continue;
    const key = (a: { metadata: { namespace?: string; name: string } }) =>
      `${a.metadata.namespace ?? ''}/${a.metadata.name}`;
    const replaced = new Set(incoming.map(key));
    const existing: Application[] = [];
    for (const ns of tenant.spec.namespaces)
      existing.push(
        ...((await store.list('Application', { namespace: ns })).items as unknown as Application[]),
      );
    const total: Usage = { cpuMillis: 0, memoryBytes: 0, gpu: 0, applications: 0, replicas: 0 };
    for (const app of [...existing.filter((a) => !replaced.has(key(a))), ...incoming]) {
      const u = usageOf(app);
      total.cpuMillis += u.cpuMillis;
      total.memoryBytes += u.memoryBytes;
      total.gpu += u.gpu;
      total.applications += u.applications;
      total.replicas += u.replicas;
    }
    const over = quotaChecks(quota, total).filter((q) => q.over);
    if (over.length > 0)
      throw new QuotaExceededError(
        `tenant "${tenant.metadata.name}" quota exceeded: ${over.map((q) => `${q.name} ${q.text}`).join(', ')}`,
        {
          kind: 'Tenant',
          name: tenant.metadata.name,
          causes: over.map((q) => ({
            field: `spec.quota.${q.name}`,
            message: `would use ${q.text}`,
          })),
        },
      );
  }
}
