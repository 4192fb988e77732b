// An Instance's parameters against the JSON Schema of its item's version. The
// version's `parameters` is a JSON-Schema document (schema/catalog.ts
// ParametersSchema); it is compiled with the same validator and turned into
// the same field-path messages as every other document, under
// `spec.parameters`.
import { ValidationError, type FieldCause } from '../errors.ts';
import type { CatalogItem, CatalogVersion, Instance, ParametersSchema } from '../schema/catalog.ts';
import { bodyValidator } from '../validate.ts';

export type ParameterValues = Record<string, string | number | boolean>;

const compiled = new WeakMap<ParametersSchema, (body: unknown) => ParameterValues>();

function validatorFor(schema: ParametersSchema): (body: unknown) => ParameterValues {
  let v = compiled.get(schema);
  if (v === undefined) {
    v = bodyValidator<ParameterValues>(schema, 'parameters');
    compiled.set(schema, v);
  }
  return v;
}

/** The version's parameters with their defaults filled in for those the instance leaves out. */
export function withDefaults(version: CatalogVersion, given: ParameterValues): ParameterValues {
  const out: ParameterValues = {};
  for (const [name, p] of Object.entries(version.parameters.properties))
    if (p.default !== undefined) out[name] = p.default;
  return { ...out, ...given };
}

/**
 * Field errors of `given` against the version's schema, each under
 * `spec.parameters` (a missing required one, an unknown one, a bad value).
 */
export function parameterCauses(version: CatalogVersion, given: ParameterValues): FieldCause[] {
  try {
    validatorFor(version.parameters)(withDefaults(version, given));
    return [];
  } catch (err) {
    if (!(err instanceof ValidationError)) throw err;
    return err.causes.map((c) => ({
      field: c.field === '(document)' ? 'spec.parameters' : `spec.parameters.${c.field}`,
      message: c.message,
    }));
  }
}

/**
 * What an Instance refers to in its item, or the field errors that say why it
 * cannot be rendered: an unknown item, version or plan, bad parameters or pins.
 */
export function instanceCauses(instance: Instance, item: CatalogItem | undefined): FieldCause[] {
  if (item === undefined)
    return [
      {
        field: 'spec.item',
        message: `expected the name of a catalog item, got "${instance.spec.item}" (yunjian catalog list)`,
      },
    ];
  const versions = item.spec.versions.map((v) => v.version);
  const causes: FieldCause[] = [];
  const version = item.spec.versions.find((v) => v.version === instance.spec.version);
  if (version === undefined)
    causes.push({
      field: 'spec.version',
      message: `expected a version of ${item.metadata.name} (${versions.join(', ')}), got "${instance.spec.version}"`,
    });
  if (!item.spec.plans.some((p) => p.name === instance.spec.plan))
    causes.push({
      field: 'spec.plan',
      message: `expected a plan of ${item.metadata.name} (${item.spec.plans.map((p) => p.name).join(', ')}), got "${instance.spec.plan}"`,
    });
  instance.spec.pins?.forEach((pin, i) => {
    if (!versions.includes(pin.version))
      causes.push({
        field: `spec.pins[${i}].version`,
        message: `expected a version of ${item.metadata.name} (${versions.join(', ')}), got "${pin.version}"`,
      });
  });
  if (version !== undefined)
    causes.push(...parameterCauses(version, instance.spec.parameters ?? {}));
  return causes;
}
