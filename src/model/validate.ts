// Turns an untrusted document into a typed resource or a ValidationError that
// lists every problem with its field path. Two passes, in this order: the JSON
// Schema (shape, types, unknown fields) and then semantic rules that a schema
// cannot express (references between fields). Semantic rules only run on a
// document whose shape is valid, so they can rely on the types.
import { Compile } from 'typebox/compile';
import { Settings } from 'typebox/system';
import type { TSchema } from 'typebox';
import { ValidationError, type FieldCause } from './errors.ts';
import { KINDS, lookupKind, type KindInfo } from './kinds.ts';
import { API_VERSION, type AnyResource, type Application, type Cluster } from './schema.ts';

// Users fix a document in one go only if they see every error, not the first 8.
Settings.Set({ maxErrors: 1000 });

type Validator = ReturnType<typeof Compile<TSchema>>;
const validators = new Map<string, Validator>(KINDS.map((k) => [k.kind, Compile(k.schema)]));

interface SchemaError {
  keyword: string;
  schemaPath: string;
  instancePath: string;
  params: Record<string, unknown>;
  message: string;
}

/** `/spec/components/0/resources/cpu` -> `spec.components[0].resources.cpu` */
export function toFieldPath(pointer: string): string {
  if (pointer === '') return '(document)';
  let out = '';
  for (const raw of pointer.slice(1).split('/')) {
    const seg = raw.replaceAll('~1', '/').replaceAll('~0', '~');
    if (/^[0-9]+$/.test(seg)) out += `[${seg}]`;
    else if (/^[A-Za-z_][A-Za-z0-9_]*$/.test(seg)) out += out === '' ? seg : `.${seg}`;
    else out += `[${JSON.stringify(seg)}]`;
  }
  return out;
}

function schemaAt(root: TSchema, schemaPath: string): Record<string, unknown> | undefined {
  let node: unknown = root;
  for (const seg of schemaPath.replace(/^#\/?/, '').split('/')) {
    if (seg === '') continue;
    if (typeof node !== 'object' || node === null) return undefined;
    node = (node as Record<string, unknown>)[seg];
  }
  return typeof node === 'object' && node !== null ? (node as Record<string, unknown>) : undefined;
}

function valueAt(doc: unknown, pointer: string): unknown {
  let node = doc;
  for (const seg of pointer.split('/').slice(1)) {
    if (typeof node !== 'object' || node === null) return undefined;
    node = (node as Record<string, unknown>)[seg];
  }
  return node;
}

function describeValue(v: unknown): string {
  const s = JSON.stringify(v);
  return s === undefined ? 'nothing' : s.length > 40 ? `${s.slice(0, 37)}...` : s;
}

/**
 * Schema errors are reported once per field. A value that matches no branch of
 * a union (an enum, or a quantity that is neither string nor number) yields one
 * error per branch; they collapse into one cause with the union's `x-expected`.
 */
function schemaCauses(schema: TSchema, doc: unknown, errors: readonly SchemaError[]): FieldCause[] {
  const causes = new Map<string, FieldCause>();
  const add = (pointer: string, message: string) => {
    const field = toFieldPath(pointer);
    if (!causes.has(field)) causes.set(field, { field, message });
  };
  const got = (pointer: string) => describeValue(valueAt(doc, pointer));
  for (const e of errors) {
    const union = e.schemaPath.lastIndexOf('/anyOf/');
    const node = schemaAt(schema, union >= 0 ? e.schemaPath.slice(0, union) : e.schemaPath);
    const expected = typeof node?.['x-expected'] === 'string' ? node['x-expected'] : undefined;
    if (e.keyword === 'boolean') {
      add(e.instancePath, 'unknown field'); // from additionalProperties: false
    } else if (e.keyword === 'additionalProperties') {
      continue; // already reported per field by the `boolean` error
    } else if (e.keyword === 'required') {
      const missing = (e.params['requiredProperties'] as string[] | undefined) ?? [];
      for (const name of missing) add(`${e.instancePath}/${name}`, 'required field is missing');
    } else if (union >= 0 || expected !== undefined) {
      add(
        e.instancePath,
        `expected ${expected ?? 'a different value'}, got ${got(e.instancePath)}`,
      );
    } else {
      add(e.instancePath, `expected a value that ${e.message}, got ${got(e.instancePath)}`);
    }
  }
  return [...causes.values()];
}

function semanticCauses(resource: AnyResource): FieldCause[] {
  switch (resource.kind) {
    case 'Application':
      return applicationRules(resource);
    case 'Cluster':
      return clusterRules(resource);
    default:
      return [];
  }
}

function applicationRules(app: Application): FieldCause[] {
  const causes: FieldCause[] = [];
  const names = new Map<string, number>();
  app.spec.components.forEach((c, i) => {
    const first = names.get(c.name);
    if (first !== undefined) {
      causes.push({
        field: `spec.components[${i}].name`,
        message: `duplicate component name "${c.name}" (also spec.components[${first}])`,
      });
    } else names.set(c.name, i);
  });
  app.spec.components.forEach((c, i) => {
    c.dependsOn?.forEach((d, j) => {
      if (!names.has(d))
        causes.push({
          field: `spec.components[${i}].dependsOn[${j}]`,
          message: `expected the name of another component, got "${d}"`,
        });
      else if (d === c.name)
        causes.push({
          field: `spec.components[${i}].dependsOn[${j}]`,
          message: 'a component cannot depend on itself',
        });
    });
    const portNames = new Set<string>();
    c.ports?.forEach((p, j) => {
      if (p.name !== undefined) {
        if (portNames.has(p.name))
          causes.push({
            field: `spec.components[${i}].ports[${j}].name`,
            message: `duplicate port name "${p.name}"`,
          });
        portNames.add(p.name);
      }
    });
    if (c.healthCheck && c.healthCheck.http && c.healthCheck.tcp) {
      causes.push({
        field: `spec.components[${i}].healthCheck`,
        message: 'expected exactly one of http or tcp',
      });
    }
  });
  const cycle = dependencyCycle(app);
  if (cycle)
    causes.push({
      field: 'spec.components',
      message: `dependsOn forms a cycle: ${cycle.join(' -> ')}`,
    });

  app.spec.placement?.spread?.forEach((s, i) => {
    if (s.min !== undefined && s.max !== undefined && s.min > s.max) {
      causes.push({
        field: `spec.placement.spread[${i}]`,
        message: `min (${s.min}) must not exceed max (${s.max})`,
      });
    }
  });
  const rs = app.spec.placement?.replicaScheduling;
  if (rs?.weighting === 'Static' && (rs.staticWeights?.length ?? 0) === 0) {
    causes.push({
      field: 'spec.placement.replicaScheduling.staticWeights',
      message: 'required when weighting is Static',
    });
  }
  app.spec.placement?.antiAffinity?.forEach((a, i) => {
    a.components?.forEach((n, j) => {
      if (!names.has(n))
        causes.push({
          field: `spec.placement.antiAffinity[${i}].components[${j}]`,
          message: `expected the name of a component, got "${n}"`,
        });
    });
  });
  app.spec.overrides?.forEach((o, i) => {
    o.target.components?.forEach((n, j) => {
      if (!names.has(n))
        causes.push({
          field: `spec.overrides[${i}].target.components[${j}]`,
          message: `expected the name of a component, got "${n}"`,
        });
    });
  });
  const t = app.spec.traffic;
  if (t) {
    const needs: Record<string, [keyof typeof t, string]> = {
      failover: ['failover', 'spec.traffic.failover'],
      weighted: ['weights', 'spec.traffic.weights'],
      unit: ['units', 'spec.traffic.units'],
    };
    const need = needs[t.strategy];
    if (need && t[need[0]] === undefined)
      causes.push({ field: need[1], message: `required when strategy is ${t.strategy}` });
    if (t.component !== undefined && !names.has(t.component)) {
      causes.push({
        field: 'spec.traffic.component',
        message: `expected the name of a component, got "${t.component}"`,
      });
    }
  }
  return causes;
}

function dependencyCycle(app: Application): string[] | undefined {
  const deps = new Map(app.spec.components.map((c) => [c.name, c.dependsOn ?? []]));
  const state = new Map<string, 'visiting' | 'done'>();
  const stack: string[] = [];
  const visit = (n: string): string[] | undefined => {
    if (state.get(n) === 'done') return undefined;
    if (state.get(n) === 'visiting') return [...stack.slice(stack.indexOf(n)), n];
    state.set(n, 'visiting');
    stack.push(n);
    for (const d of deps.get(n) ?? []) {
      if (d === n || !deps.has(d)) continue;
      const c = visit(d);
      if (c) return c;
    }
    stack.pop();
    state.set(n, 'done');
    return undefined;
  };
  for (const n of deps.keys()) {
    const c = visit(n);
    if (c) return c;
  }
  return undefined;
}

function clusterRules(cluster: Cluster): FieldCause[] {
  const d = cluster.spec.driver;
  const causes: FieldCause[] = [];
  if (d.type === 'sim' && !d.sim)
    causes.push({ field: 'spec.driver.sim', message: 'required when driver type is sim' });
  for (const other of ['sim', 'agent', 'kubernetes'] as const) {
    if (other !== d.type && d[other] !== undefined) {
      causes.push({
        field: `spec.driver.${other}`,
        message: `not allowed when driver type is ${d.type}`,
      });
    }
  }
  return causes;
}

/**
 * Validates one document. `namespaced` kinds get `metadata.namespace` defaulted
 * by the caller (the API knows the URL's namespace); cluster-scoped kinds must
 * not carry one.
 */
export function validateResource(doc: unknown, subject = 'document'): AnyResource {
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) {
    throw new ValidationError(subject, [
      { field: '(document)', message: `expected an object, got ${describeValue(doc)}` },
    ]);
  }
  const d = doc as Record<string, unknown>;
  const head: FieldCause[] = [];
  if (d['apiVersion'] !== API_VERSION) {
    head.push({
      field: 'apiVersion',
      message: `expected "${API_VERSION}", got ${describeValue(d['apiVersion'])}`,
    });
  }
  const info = typeof d['kind'] === 'string' ? kindInfoExact(d['kind']) : undefined;
  if (!info) {
    head.push({
      field: 'kind',
      message: `expected one of ${KINDS.map((k) => k.kind).join(', ')}, got ${describeValue(d['kind'])}`,
    });
    throw new ValidationError(subject, head);
  }
  const validator = validators.get(info.kind);
  if (!validator) throw new Error(`no validator for ${info.kind}`);
  const errors = [...(validator.Errors(doc) as Iterable<SchemaError>)];
  const causes = [
    ...head.filter((c) => c.field !== 'apiVersion' || errors.length === 0),
    ...schemaCauses(info.schema, doc, errors),
  ];
  const meta = d['metadata'] as Record<string, unknown> | undefined;
  if (!info.namespaced && meta && meta['namespace'] !== undefined) {
    causes.push({
      field: 'metadata.namespace',
      message: `${info.kind} is cluster-scoped and takes no namespace`,
    });
  }
  if (causes.length > 0) throw new ValidationError(subjectOf(subject, info, meta), dedupe(causes));
  const resource = doc as AnyResource;
  const semantic = semanticCauses(resource);
  if (semantic.length > 0) throw new ValidationError(subjectOf(subject, info, meta), semantic);
  return resource;
}

function dedupe(causes: FieldCause[]): FieldCause[] {
  const seen = new Set<string>();
  return causes.filter((c) => {
    const k = `${c.field}\u0000${c.message}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

function subjectOf(
  subject: string,
  info: KindInfo,
  meta: Record<string, unknown> | undefined,
): string {
  const name = typeof meta?.['name'] === 'string' ? meta['name'] : undefined;
  return name ? `${subject} ${info.kind} "${name}"` : `${subject} ${info.kind}`;
}

function kindInfoExact(kind: string): KindInfo | undefined {
  const info = lookupKind(kind);
  return info?.kind === kind ? info : undefined;
}
