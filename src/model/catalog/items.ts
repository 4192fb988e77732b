// Whether a CatalogItem hangs together beyond its schema: distinct versions,
// plans and components, version defaults that satisfy their own schema, and
// templates whose references all resolve, for every version and every member
// kind the item has a form for. Checked when an item is applied (and for the
// built-in catalog by its tests), so an instance never fails on the item.
import type { FieldCause } from '../errors.ts';
import type { CatalogItem, Instance } from '../schema/catalog.ts';
import { API_VERSION } from '../schema/common.ts';
import { parseVersion } from './semver.ts';
import { parameterCauses } from './parameters.ts';
import { memberKindsOf } from './members.ts';
import { RenderError, renderApplication, renderBindingEnv } from './render.ts';

function duplicates(names: readonly string[], field: (i: number) => string): FieldCause[] {
  const seen = new Map<string, number>();
  const out: FieldCause[] = [];
  names.forEach((n, i) => {
    const first = seen.get(n);
    if (first !== undefined)
      out.push({ field: field(i), message: `duplicate "${n}" (also ${field(first)})` });
    else seen.set(n, i);
  });
  return out;
}

export function catalogItemCauses(item: CatalogItem): FieldCause[] {
  const s = item.spec;
  const causes = [
    ...duplicates(
      s.versions.map((v) => v.version),
      (i) => `spec.versions[${i}].version`,
    ),
    ...duplicates(
      s.plans.map((p) => p.name),
      (i) => `spec.plans[${i}].name`,
    ),
    ...duplicates(
      s.template.components.map((c) => c.name),
      (i) => `spec.template.components[${i}].name`,
    ),
  ];
  s.versions.forEach((v, i) => {
    if (parseVersion(v.version) === undefined) return;
    for (const c of parameterCauses(v, {}))
      causes.push({
        field: `spec.versions[${i}].parameters`,
        message: `the defaults do not satisfy the schema: ${c.field}: ${c.message}`,
      });
  });
  if (causes.length > 0) return causes;
  const plan = s.plans[0]?.name ?? '';
  for (const v of s.versions) {
    for (const memberKind of memberKindsOf(item)) {
      const probe: Instance = {
        apiVersion: API_VERSION,
        kind: 'Instance',
        metadata: { name: 'probe', namespace: 'default' },
        spec: { item: item.metadata.name, version: v.version, plan, memberKind },
      };
      try {
        renderApplication(item, probe, { password: 'probe' });
        renderBindingEnv(
          item,
          probe,
          item.spec.template.components.flatMap((c) =>
            c.ports.map((p) => ({
              component: c.name,
              port: p.name,
              address: '0.0.0.0',
              number: p.port,
            })),
          ),
          'P_',
          'probe',
        );
      } catch (err) {
        if (!(err instanceof RenderError)) throw err;
        causes.push(
          ...err.causes.map((c) => ({ ...c, message: `version ${v.version}: ${c.message}` })),
        );
      }
    }
  }
  return causes;
}
