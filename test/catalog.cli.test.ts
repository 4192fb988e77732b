// The catalog's command line: `catalog list` shows all sixteen categories,
// `--set` values are typed by the item's schema, `instance diff` tells pins
// from undeclared differences; and the commands against a running server
// (create with a bad --set exits non-zero naming the field).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { renderCatalogList } from '../src/cli/commands/catalog.ts';
import { instanceDiff, parseSets } from '../src/cli/commands/instance.ts';
import { BUILTIN_CATALOG } from '../src/model/catalog/builtin.ts';
import {
  API_VERSION,
  CATALOG_CATEGORIES,
  type Application,
  type Instance,
  type Workload,
} from '../src/model/schema.ts';
import { inProcessServer } from './server.harness.ts';

const redis = BUILTIN_CATALOG.find((i) => i.metadata.name === 'redis');
assert.ok(redis);

describe('catalog CLI (pure parts)', () => {
  it('lists every category', () => {
    const text = renderCatalogList(BUILTIN_CATALOG);
    for (const c of CATALOG_CATEGORIES) assert.match(text, new RegExp(`^${c} `, 'm'));
    assert.doesNotMatch(renderCatalogList(BUILTIN_CATALOG, 'databases'), /^iot /m);
  });

  const sets: [string, unknown][] = [
    ['appendOnly=true', true],
    ['maxMemory=128mb', '128mb'],
    ['unknown=5', '5'],
  ];
  for (const [set, want] of sets)
    it(`types --set ${set} by the schema`, () => {
      const [name = ''] = set.split('=');
      assert.deepEqual(parseSets([set], redis, '7.0.15')[name], want);
    });
  it('refuses a --set without =', () => assert.throws(() => parseSets(['x'], redis, '7.0.15')));

  it('diff: a pin is declared, another override and a drifted member are flagged', () => {
    const instance: Instance = {
      apiVersion: API_VERSION,
      kind: 'Instance',
      metadata: { name: 'cache', namespace: 'default' },
      spec: {
        item: 'redis',
        version: '7.0.15',
        plan: 'small',
        pins: [{ clusters: ['b'], version: '7.2.0' }],
      },
    };
    const component = { name: 'redis', image: 'redis:7.0.15', replicas: 1, env: { A: '1' } };
    const app: Application = {
      apiVersion: API_VERSION,
      kind: 'Application',
      metadata: { name: 'cache', namespace: 'default' },
      spec: {
        components: [component],
        overrides: [
          { target: { clusters: ['b'], components: ['redis'] }, patches: { image: 'redis:7.2.0' } },
          { target: { clouds: ['z'] }, patches: { env: { A: '2' } } },
        ],
      },
      status: {
        placements: ['a', 'b', 'c'].map((c) => ({
          component: 'redis',
          cluster: c,
          cloud: c === 'c' ? 'z' : 'y',
          desired: 1,
          ready: 1,
        })),
      },
    };
    const workload = {
      spec: {
        cluster: 'a',
        key: { namespace: 'default', app: 'cache', component: 'redis' },
        image: 'redis:6',
        env: { A: '1' },
        command: [],
        args: [],
      },
    } as unknown as Workload;
    const [a, b, c] = instanceDiff(instance, app, [workload]);
    assert.deepEqual(a?.flagged, [
      'image: the member runs something else than the application says',
    ]);
    assert.deepEqual(b?.declared, ['image (version pin)']);
    assert.deepEqual(b?.flagged, []);
    assert.deepEqual(c?.flagged, ['env: override not declared by the instance']);
  });
});

describe('catalog CLI against a server', () => {
  const server = inProcessServer('catalog-cli', { fleet: 'none' });
  const cli = (...args: string[]) =>
    new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
      const child = spawn(
        process.execPath,
        [
          join(import.meta.dirname, '../src/cli/main.ts'),
          '--server',
          server.url,
          '--token',
          server.token,
          ...args,
        ],
        { stdio: ['ignore', 'pipe', 'pipe'] },
      );
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      child.on('exit', (code) => resolve({ code: code ?? 1, stdout, stderr }));
    });

  it('lists, shows, creates, refuses a bad --set and binds', async () => {
    const list = await cli('catalog', 'list');
    assert.equal(list.code, 0, list.stderr);
    for (const c of CATALOG_CATEGORIES) assert.match(list.stdout, new RegExp(`^${c} `, 'm'));
    const show = await cli('catalog', 'show', 'redis');
    assert.equal(show.code, 0, show.stderr);
    assert.match(show.stdout, /maxMemory \(string, default "64mb"/);
    const bad = await cli(
      'instance',
      'create',
      'c1',
      '--item',
      'redis',
      '--plan',
      'small',
      '--set',
      'maxMemory=lots',
    );
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /spec\.parameters\.maxMemory/);
    const good = await cli(
      'instance',
      'create',
      'c1',
      '--item',
      'redis',
      '--plan',
      'small',
      '--item-version',
      '7.0.15',
      '--member-kind',
      'sim',
    );
    assert.equal(good.code, 0, good.stderr);
    const got = await cli('instance', 'get', 'c1', '-o', 'json');
    assert.equal(got.code, 0, got.stderr + got.stdout);
    assert.equal((JSON.parse(got.stdout) as Instance).spec.version, '7.0.15');
    const up = await cli('instance', 'upgrade', 'c1', '--to', '7.2.0');
    assert.equal(up.code, 0, up.stderr);
    assert.match(up.stdout, /7\.0\.15 -> 7\.2\.0/);
    const bind = await cli('binding', 'create', 'b1', '--instance', 'c1', '--app', 'web');
    assert.equal(bind.code, 0, bind.stderr);
    const del = await cli('instance', 'delete', 'c1');
    assert.equal(del.code, 0, del.stderr);
  });
});
