// Turns an untrusted document into a typed resource or a ValidationError that
// lists every problem with its field path. Two passes, in this order: the JSON
// Schema (shape, types, unknown fields, sizes) together with the bounds a schema
// cannot express (quantity strings, the annotations' total size), and then
// semantic rules (references between fields). Semantic rules only run on a
// document whose shape is valid, so they can rely on the types.
import { Compile } from 'typebox/compile';
import { Settings } from 'typebox/system';
import type { TSchema } from 'typebox';
import { MAX_TENANT_QUOTA } from './access.ts';
import { ValidationError, type FieldCause } from './errors.ts';
import { migrationRules } from './migration.ts';
import { migrationPlanRules } from './migrationplan.ts';
import { KINDS, lookupKind, type KindInfo } from './kinds.ts';
import {
  CPU_PATTERN,
  MAX_CPU_CORES,
  MAX_MEMORY_BYTES,
  MAX_NODE_CPU_CORES,
  MAX_NODE_MEMORY_BYTES,
  MAX_QUANTITY_LENGTH,
  MEMORY_PATTERN,
  cpuOutOfBounds,
  memoryOutOfBounds,
} from './quantity.ts';
import { API_VERSION, LIMITS, type AnyResource, type Application, type Cluster } from './schema.ts';

// Users fix a document in one go only if they see every error, not the first 8.
Settings.Set({ maxErrors: 1000 });

type Validator = ReturnType<typeof Compile<TSchema>>;
// Compiled on a kind's first validation, not at import: a CLI call that validates
// one kind (or none) does not pay for compiling every kind's schema at start.
const validators = new Map<string, Validator>();
function validatorFor(info: KindInfo): Validator {
  let validator = validators.get(info.kind);
  if (validator === undefined) {
    validator = Compile(info.schema);
    validators.set(info.kind, validator);
  }
  return validator;
}

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
  if (typeof v === 'string' && v.length > 40)
    return `${JSON.stringify(v.slice(0, 30))}... (${v.length} characters)`;
  let s: string | undefined;
  try {
    s = JSON.stringify(v);
  } catch {
    return 'a value that cannot be written as JSON'; // a YAML alias cycle, say
  }
  return s === undefined ? 'nothing' : s.length > 40 ? `${s.slice(0, 37)}...` : s;
}

/** The last segment of a JSON pointer: the key a `propertyNames` error is about. */
function lastKey(pointer: string): string {
  return (pointer.split('/').pop() ?? '').replaceAll('~1', '/').replaceAll('~0', '~');
}

/** How many items or entries a value has, for size errors. */
function sizeOf(v: unknown): number {
  if (typeof v === 'string' || Array.isArray(v)) return v.length;
  return typeof v === 'object' && v !== null ? Object.keys(v).length : 0;
}

const SIZE_UNITS: Readonly<Record<string, string>> = {
  maxLength: 'characters',
  maxItems: 'items',
  maxProperties: 'entries',
};

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
    const sizeUnit = SIZE_UNITS[e.keyword];
    if (e.keyword === 'boolean') {
      add(e.instancePath, 'unknown field'); // from additionalProperties: false
    } else if (e.keyword === 'additionalProperties' || e.keyword === 'propertyNames') {
      continue; // already reported per field (`boolean`) or per key (the key's own error)
    } else if (e.schemaPath.endsWith('/propertyNames')) {
      add(
        e.instancePath,
        `expected ${expected ?? 'a different key'}, got the key ${describeValue(lastKey(e.instancePath))}`,
      );
    } else if (sizeUnit !== undefined && union < 0) {
      add(
        e.instancePath,
        `expected at most ${String(e.params['limit'])} ${sizeUnit}, got ${sizeOf(valueAt(doc, e.instancePath))}`,
      );
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

const cpuRe = new RegExp(CPU_PATTERN);
const memoryRe = new RegExp(MEMORY_PATTERN);

/** Fields of a document, by path, that are objects (anything else is the schema's to report). */
function objectsAt(
  node: unknown,
  path: string,
  segments: readonly string[],
): [string, Record<string, unknown>][] {
  if (typeof node !== 'object' || node === null) return [];
  const [head, ...rest] = segments;
  if (head === undefined)
    return Array.isArray(node) ? [] : [[path, node as Record<string, unknown>]];
  if (head === '*')
    return Array.isArray(node)
      ? node.flatMap((item, i) => objectsAt(item, `${path}[${i}]`, rest))
      : [];
  if (Array.isArray(node)) return [];
  return objectsAt(
    (node as Record<string, unknown>)[head],
    path === '' ? head : `${path}.${head}`,
    rest,
  );
}

/** Where each kind carries cpu and memory quantities, and their bounds. */
const QUANTITIES: Readonly<Record<string, { at: string[]; maxCores: number; maxBytes: number }[]>> =
  {
    Application: [
      {
        at: ['spec', 'components', '*', 'resources'],
        maxCores: MAX_CPU_CORES,
        maxBytes: MAX_MEMORY_BYTES,
      },
      {
        at: ['spec', 'overrides', '*', 'patches', 'resources'],
        maxCores: MAX_CPU_CORES,
        maxBytes: MAX_MEMORY_BYTES,
      },
    ],
    Cluster: [
      {
        at: ['spec', 'driver', 'sim', 'nodePools', '*'],
        maxCores: MAX_NODE_CPU_CORES,
        maxBytes: MAX_NODE_MEMORY_BYTES,
      },
    ],
    Tenant: [
      {
        at: ['spec', 'quota'],
        maxCores: MAX_TENANT_QUOTA.cpuCores,
        maxBytes: MAX_TENANT_QUOTA.memoryBytes,
      },
    ],
  };

/**
 * Bounds JSON Schema cannot state: the value of a quantity string (the schema
 * checks its spelling and bounds quantity numbers) and the total size of the
 * annotations. They look only at values of the right type, so they never
 * repeat a schema error and can run on a document of any shape.
 */
function boundsCauses(kind: string, doc: Record<string, unknown>): FieldCause[] {
  const causes: FieldCause[] = [];
  const quantity = (
    path: string,
    q: unknown,
    re: RegExp,
    outOfBounds: (q: string) => string | undefined,
  ) => {
    if (typeof q !== 'string' || q.length > MAX_QUANTITY_LENGTH || !re.test(q)) return;
    const message = outOfBounds(q);
    if (message !== undefined) causes.push({ field: path, message });
  };
  for (const { at, maxCores, maxBytes } of QUANTITIES[kind] ?? []) {
    for (const [path, r] of objectsAt(doc, '', at)) {
      quantity(`${path}.cpu`, r['cpu'], cpuRe, (q) => cpuOutOfBounds(q, maxCores));
      quantity(`${path}.memory`, r['memory'], memoryRe, (q) => memoryOutOfBounds(q, maxBytes));
    }
  }
  for (const [path, annotations] of objectsAt(doc, '', ['metadata', 'annotations'])) {
    let bytes = 0;
    for (const [k, v] of Object.entries(annotations))
      bytes += Buffer.byteLength(k) + (typeof v === 'string' ? Buffer.byteLength(v) : 0);
    if (bytes > LIMITS.annotationsTotalBytes)
      causes.push({
        field: path,
        message: `expected at most ${LIMITS.annotationsTotalBytes} bytes of keys and values together, got ${bytes}`,
      });
  }
  return causes;
}

function semanticCauses(resource: AnyResource): FieldCause[] {
  switch (resource.kind) {
    case 'Application':
      return applicationRules(resource);
    case 'Cluster':
      return clusterRules(resource);
    case 'Migration':
      return migrationRules(resource);
    case 'MigrationPlan':
      return migrationPlanRules(resource);
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
  const validator = validatorFor(info);
  const errors = [...(validator.Errors(doc) as Iterable<SchemaError>)];
  const causes = [
    ...head.filter((c) => c.field !== 'apiVersion' || errors.length === 0),
    ...schemaCauses(info.schema, doc, errors),
    ...boundsCauses(info.kind, d),
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

/**
 * A validator for a request body that is not a resource (join requests, token
 * requests, ...): the same field-path messages as resource validation, so
 * every 4xx reads alike. Compiled once, when the route is defined.
 */
export function bodyValidator<T>(schema: TSchema, subject: string): (body: unknown) => T {
  const compiled = Compile(schema);
  return (body) => {
    if (compiled.Check(body)) return body as T;
    const errors = [...(compiled.Errors(body) as Iterable<SchemaError>)];
    throw new ValidationError(subject, dedupe(schemaCauses(schema, body, errors)));
  };
}
