// The built-in catalog and instance parameters. The bad-value table is
// generated from the catalog itself: for every item, every version and every
// parameter, values of the wrong type and just outside each declared bound are
// rejected naming `spec.parameters.<name>`; a new item or parameter is covered
// without touching this file.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BUILTIN_CATALOG } from '../src/model/catalog/builtin.ts';
import { catalogItemCauses } from '../src/model/catalog/items.ts';
import { instanceCauses } from '../src/model/catalog/parameters.ts';
import { satisfies } from '../src/model/catalog/semver.ts';
import { validateResource } from '../src/model/validate.ts';
import {
  API_VERSION,
  CATALOG_CATEGORIES,
  type CatalogItem,
  type Instance,
  type ParameterSchema,
} from '../src/model/schema.ts';
import { inProcessServer } from './server.harness.ts';

function instance(item: CatalogItem, spec: Partial<Instance['spec']> = {}): Instance {
  return {
    apiVersion: API_VERSION,
    kind: 'Instance',
    metadata: { name: 'i', namespace: 'default' },
    spec: {
      item: item.metadata.name,
      version: item.spec.versions[0]?.version ?? '',
      plan: item.spec.plans[0]?.name ?? '',
      ...spec,
    },
  };
}

/** Values a parameter must refuse: the wrong type, then one step past each bound it declares. */
function badValues(p: ParameterSchema): { why: string; value: string | number | boolean }[] {
  const out: { why: string; value: string | number | boolean }[] = [];
  out.push(
    p.type === 'string'
      ? { why: 'a number for a string', value: 42 }
      : p.type === 'boolean'
        ? { why: 'a string for a boolean', value: 'yes' }
        : { why: `a string for ${p.type === 'integer' ? 'an integer' : 'a number'}`, value: 'x' },
  );
  if (p.type === 'integer') out.push({ why: 'a fraction for an integer', value: 1.5 });
  if (p.minimum !== undefined) out.push({ why: 'below the minimum', value: p.minimum - 1 });
  if (p.maximum !== undefined) out.push({ why: 'above the maximum', value: p.maximum + 1 });
  if (p.enum !== undefined) out.push({ why: 'outside the enum', value: 'not-a-choice' });
  if (p.pattern !== undefined) out.push({ why: 'not matching the pattern', value: '!! bad !!' });
  if (p.maxLength !== undefined)
    out.push({ why: 'over the maximum length', value: '/'.padEnd(p.maxLength + 1, 'a') });
  return out;
}

describe('built-in catalog', () => {
  it('covers the sixteen categories', () => {
    const covered = new Set(BUILTIN_CATALOG.map((i) => i.spec.category));
    assert.deepEqual(
      [...CATALOG_CATEGORIES].filter((c) => !covered.has(c)),
      [],
    );
    assert.equal(CATALOG_CATEGORIES.length, 16);
  });

  it('has unique item names', () => {
    const names = BUILTIN_CATALOG.map((i) => i.metadata.name);
    assert.equal(new Set(names).size, names.length);
  });

  for (const item of BUILTIN_CATALOG) {
    it(`${item.metadata.name}: schema-valid and consistent (templates resolve for every version and member kind)`, () => {
      validateResource(structuredClone(item));
      assert.deepEqual(catalogItemCauses(item), []);
    });
    for (const d of item.spec.dependencies ?? [])
      it(`${item.metadata.name}: dependency ${d.item} ${d.versions} is in the catalog`, () => {
        const dep = BUILTIN_CATALOG.find((i) => i.metadata.name === d.item);
        assert.ok(dep, `no item ${d.item}`);
        assert.ok(dep.spec.versions.some((v) => satisfies(v.version, d.versions)));
      });
  }

  const real = [
    'postgresql',
    'mariadb',
    'redis',
    'memcached',
    'rabbitmq',
    'nats',
    'mosquitto',
    'nginx',
    'prometheus',
  ];
  for (const name of real)
    it(`${name} has a process form for agents and a Kubernetes form`, () => {
      const item = BUILTIN_CATALOG.find((i) => i.metadata.name === name);
      assert.ok(item);
      for (const c of item.spec.template.components) {
        assert.ok(c.agent, `${name}/${c.name} has no agent form`);
        assert.ok(c.kubernetes.image.length > 0);
      }
    });
});

describe('instance parameters (generated from the catalog)', () => {
  for (const item of BUILTIN_CATALOG) {
    for (const version of item.spec.versions) {
      const at = `${item.metadata.name}@${version.version}`;
      it(`${at}: the defaults are accepted`, () => {
        assert.deepEqual(instanceCauses(instance(item, { version: version.version }), item), []);
      });
      it(`${at}: an undeclared parameter is rejected`, () => {
        const causes = instanceCauses(
          instance(item, { version: version.version, parameters: { notDeclared: 1 } }),
          item,
        );
        assert.ok(
          causes.some((c) => c.field === 'spec.parameters.notDeclared'),
          JSON.stringify(causes),
        );
      });
      for (const [name, p] of Object.entries(version.parameters.properties))
        for (const { why, value } of badValues(p))
          it(`${at}: ${name} rejects ${why} (${JSON.stringify(value)})`, () => {
            const causes = instanceCauses(
              instance(item, { version: version.version, parameters: { [name]: value } }),
              item,
            );
            const cause = causes.find((c) => c.field === `spec.parameters.${name}`);
            assert.ok(cause, `no cause for spec.parameters.${name}: ${JSON.stringify(causes)}`);
            assert.match(cause.message, /expected/);
          });
    }
  }

  const redis = BUILTIN_CATALOG.find((i) => i.metadata.name === 'redis');
  assert.ok(redis);
  const cases: { name: string; spec: Partial<Instance['spec']>; field: string }[] = [
    { name: 'an unknown version', spec: { version: '9.9.9' }, field: 'spec.version' },
    { name: 'an unknown plan', spec: { plan: 'huge' }, field: 'spec.plan' },
    {
      name: 'a pin to an unknown version',
      spec: { pins: [{ clusters: ['a'], version: '1.0.0' }] },
      field: 'spec.pins[0].version',
    },
  ];
  for (const c of cases)
    it(`rejects ${c.name} naming ${c.field}`, () => {
      const causes = instanceCauses(instance(redis, c.spec), redis);
      assert.ok(
        causes.some((x) => x.field === c.field),
        JSON.stringify(causes),
      );
    });
  it('rejects an unknown item naming spec.item', () => {
    assert.equal(instanceCauses(instance(redis), undefined)[0]?.field, 'spec.item');
  });
});

describe('semver ranges', () => {
  const table: [string, string, boolean][] = [
    ['7.0.15', '^7.0.0', true],
    ['8.0.0', '^7.0.0', false],
    ['7.2.0', '~7.0.0', false],
    ['7.0.9', '~7.0.0', true],
    ['0.3.1', '^0.3.0', true],
    ['0.4.0', '^0.3.0', false],
    ['2.42.0', '>=2.40.0 <3', true],
    ['3.0.0', '>=2.40.0 <3', false],
    ['1.2.3', '1.x', true],
    ['2.0.0', '1.x', false],
    ['5.5.5', '*', true],
    ['1.0.0-rc.1', '>=1.0.0', false],
  ];
  for (const [v, r, want] of table)
    it(`${v} ${want ? 'satisfies' : 'does not satisfy'} ${r}`, () =>
      assert.equal(satisfies(v, r), want));
});

describe('catalog admission over the API (422 with field paths)', () => {
  const server = inProcessServer('catalog-params', { fleet: 'none' });
  const post = (path: string, body: unknown) =>
    fetch(`${server.url}/api/v1alpha1${path}`, {
      method: 'POST',
      headers: { ...server.headers, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });

  it('loads the built-in catalog at start', async () => {
    const res = await fetch(`${server.url}/api/v1alpha1/catalogitems`, { headers: server.headers });
    assert.equal(res.status, 200);
    const list = (await res.json()) as { items: CatalogItem[] };
    assert.equal(list.items.length, BUILTIN_CATALOG.length);
  });

  it('refuses an instance whose parameter is bad, on create and on apply', async () => {
    const redis = BUILTIN_CATALOG.find((i) => i.metadata.name === 'redis');
    assert.ok(redis);
    const bad = instance(redis, { parameters: { maxMemory: 'lots' } });
    for (const res of [
      await post('/namespaces/default/instances', bad),
      await post('/apply', [bad]),
    ]) {
      assert.equal(res.status, 422);
      const body = (await res.json()) as { details?: { causes?: { field: string }[] } };
      assert.ok(
        body.details?.causes?.some((c) => c.field.endsWith('spec.parameters.maxMemory')),
        JSON.stringify(body),
      );
    }
    const good = await post('/namespaces/default/instances', instance(redis));
    assert.equal(good.status, 201);
  });

  it('refuses a catalog item whose template names an unknown reference', async () => {
    const redis = structuredClone(BUILTIN_CATALOG.find((i) => i.metadata.name === 'redis'));
    assert.ok(redis);
    redis.metadata = { name: 'broken' };
    redis.spec.outputs = { URL: '{{ nowhere }}' };
    const res = await post('/catalogitems', redis);
    assert.equal(res.status, 422);
    const body = (await res.json()) as { details?: { causes?: { field: string }[] } };
    assert.ok(
      body.details?.causes?.some((c) => c.field === 'spec.outputs.URL'),
      JSON.stringify(body),
    );
  });
});
