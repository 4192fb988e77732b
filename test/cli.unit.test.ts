// Unit tests of the CLI without a server: formatting, ages, how a command line
// maps to HTTP requests (through a recording fetch), config precedence, local
// syntax checks and error advice.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { KINDS } from '../src/model/kinds.ts';
import { YunjianClient } from '../src/cli/client.ts';
import {
  configFilePath,
  defaultDataDir,
  resolveConnection,
  type ConfigFile,
  type Env,
  type Setting,
} from '../src/cli/config.ts';
import { describe as describeResource } from '../src/cli/describe.ts';
import {
  formatAge,
  formatCores,
  renderResources,
  renderTable,
  resourceRef,
} from '../src/cli/format.ts';
import { parseJson, parseYaml, readManifests, toYamlStream } from '../src/cli/manifest.ts';
import {
  choiceOption,
  collect,
  integerOption,
  nonNegativeNumber,
  numberOption,
  positiveNumber,
} from '../src/cli/options.ts';
import { run, type CliIo } from '../src/cli/program.ts';
import { lookupKind, type KindInfo } from '../src/model/kinds.ts';
import type { AnyResource, Application, Cloud, Cluster, Site } from '../src/model/schema.ts';

const NOW = Date.parse('2025-06-01T12:00:00Z');
const ago = (ms: number) => new Date(NOW - ms).toISOString();
const S = 1000;
const M = 60 * S;
const H = 60 * M;
const D = 24 * H;

function kind(name: string): KindInfo {
  const k = lookupKind(name);
  assert.ok(k, name);
  return k;
}

// ---------------------------------------------------------------- fixtures

const cloud: Cloud = {
  apiVersion: 'yunjian.io/v1alpha1',
  kind: 'Cloud',
  metadata: { name: 'aws', creationTimestamp: ago(3 * H) },
  spec: {
    vendor: 'aws',
    type: 'public',
    displayName: 'Amazon Web Services',
    prices: { cpuCoreHour: 0.048 },
  },
};

const site: Site = {
  apiVersion: 'yunjian.io/v1alpha1',
  kind: 'Site',
  metadata: { name: 'aws-us-east-1', creationTimestamp: ago(2 * D) },
  spec: {
    cloud: 'aws',
    kind: 'region',
    region: 'us-east-1',
    country: 'US',
    city: 'Ashburn',
    latitude: 39.04,
    longitude: -77.49,
    zones: ['a', 'b', 'c'],
  },
};

const cluster: Cluster = {
  apiVersion: 'yunjian.io/v1alpha1',
  kind: 'Cluster',
  metadata: {
    name: 'aws-use1-a',
    creationTimestamp: ago(5 * M),
    resourceVersion: '42',
    generation: 1,
    labels: { tier: 'prod' },
  },
  spec: {
    cloud: 'aws',
    site: 'aws-us-east-1',
    zone: 'a',
    driver: {
      type: 'sim',
      sim: {
        nodePools: [{ name: 'general', count: 10, arch: 'amd64', cpu: '16', memory: '64Gi' }],
      },
    },
    taints: [{ key: 'edge', value: 'true', effect: 'NoSchedule' }],
  },
  status: {
    nodeCount: 12,
    nodesByArch: { amd64: 10, arm64: 2, riscv64: 0 },
    capacity: { cpu: 192, memory: 768 * 2 ** 30, gpu: 0, pods: 1320 },
    allocatable: { cpu: 180, memory: 700 * 2 ** 30, gpu: 0, pods: 1320 },
    allocated: { cpu: 12.5, memory: 24 * 2 ** 30, gpu: 0, pods: 20 },
    conditions: [
      { type: 'Ready', status: 'True', reason: 'HeartbeatOK', lastTransitionTime: ago(4 * M) },
    ],
  },
};

const app: Application = {
  apiVersion: 'yunjian.io/v1alpha1',
  kind: 'Application',
  metadata: {
    name: 'shop',
    namespace: 'retail',
    creationTimestamp: ago(90 * S),
    generation: 2,
    resourceVersion: '77',
  },
  spec: {
    components: [
      {
        name: 'web',
        image: 'example/web:1',
        platforms: ['linux/amd64', 'linux/arm64'],
        replicas: 4,
        resources: { cpu: '500m', memory: '512Mi' },
        ports: [{ name: 'http', port: 8080 }],
      },
      { name: 'api', image: 'example/api:1', replicas: 2 },
    ],
    placement: {
      clusterAffinity: { clouds: ['aws', 'aliyun'] },
      spread: [{ by: 'cloud', min: 2 }],
    },
    traffic: {
      host: 'shop.example.com',
      strategy: 'failover',
      failover: { order: [{ cloud: 'aws' }, { cloud: 'aliyun' }] },
    },
  },
  status: {
    observedGeneration: 2,
    replicas: { desired: 6, ready: 5 },
    conditions: [{ type: 'Ready', status: 'False', reason: 'ReplicasStarting' }],
    placements: [
      { component: 'web', cluster: 'aws-use1-a', cloud: 'aws', desired: 2, ready: 2 },
      { component: 'web', cluster: 'ali-hz-a', cloud: 'aliyun', desired: 2, ready: 1 },
      { component: 'api', cluster: 'aws-use1-a', cloud: 'aws', desired: 2, ready: 2 },
    ],
    reasons: [{ component: 'web', count: 1, reason: 'starting on ali-hz-a' }],
  },
};

// ---------------------------------------------------------------- formatting

describe('formatAge follows kubectl', () => {
  const cases: [number, string][] = [
    [-5 * S, '<invalid>'],
    [-500, '0s'],
    [0, '0s'],
    [59 * S, '59s'],
    [119 * S, '119s'],
    [2 * M, '2m'],
    [7 * M + 30 * S, '7m30s'],
    [10 * M + 30 * S, '10m'],
    [179 * M, '179m'],
    [3 * H, '3h'],
    [5 * H + 20 * M, '5h20m'],
    [30 * H, '30h'],
    [2 * D, '2d'],
    [3 * D + 4 * H, '3d4h'],
    [100 * D, '100d'],
    [3 * 365 * D + 20 * D, '3y20d'],
    [10 * 365 * D, '10y'],
  ];
  for (const [ms, want] of cases)
    test(`${ms}ms -> ${want}`, () => assert.equal(formatAge(ms), want));
});

test('formatCores', () => {
  const cases: [number, string][] = [
    [24, '24'],
    [0.5, '500m'],
    [0.25, '250m'],
    [12.5, '12.5'],
    [1234.56, '1234.6'],
  ];
  for (const [n, want] of cases) assert.equal(formatCores(n), want, String(n));
});

test('renderTable aligns columns three spaces apart with no trailing blanks', () => {
  const out = renderTable(
    ['NAME', 'X'],
    [
      ['a', '1'],
      ['longer-name', ''],
    ],
  );
  assert.equal(out, 'NAME          X\na             1\nlonger-name\n');
});

test('resourceRef uses the kubectl spelling', () => {
  assert.equal(resourceRef('Application', 'shop'), 'application.yunjian.io/shop');
  assert.equal(resourceRef('Cluster', 'c1'), 'cluster.yunjian.io/c1');
});

describe('get tables per kind', () => {
  const cases: {
    name: string;
    kind: string;
    obj: Cloud | Site | Cluster | Application;
    wide: boolean;
    ns: boolean;
    want: string;
  }[] = [
    {
      name: 'clouds',
      kind: 'clouds',
      obj: cloud,
      wide: false,
      ns: false,
      want: 'NAME   VENDOR   TYPE     DISPLAY-NAME          CPU$/CORE-H   AGE\naws    aws      public   Amazon Web Services   0.048         3h\n',
    },
    {
      name: 'sites wide',
      kind: 'sites',
      obj: site,
      wide: true,
      ns: false,
      want:
        'NAME            CLOUD   KIND     COUNTRY   CITY      ZONES   AGE   REGION      LAT     LON\n' +
        'aws-us-east-1   aws     region   US        Ashburn   3       2d    us-east-1   39.04   -77.49\n',
    },
    {
      name: 'clusters',
      kind: 'clusters',
      obj: cluster,
      wide: false,
      ns: false,
      want:
        'NAME         CLOUD   SITE            DRIVER   READY   NODES   CPU(ALLOC/ALLOCATABLE)   AGE\n' +
        'aws-use1-a   aws     aws-us-east-1   sim      True    12      12.5/180                 5m\n',
    },
    {
      name: 'clusters wide',
      kind: 'clusters',
      obj: cluster,
      wide: true,
      ns: false,
      want:
        'NAME         CLOUD   SITE            DRIVER   READY   NODES   CPU(ALLOC/ALLOCATABLE)   AGE   AMD64   ARM64   RISCV64   MEMORY       GPU   TAINTS\n' +
        'aws-use1-a   aws     aws-us-east-1   sim      True    12      12.5/180                 5m    10      2       0         24Gi/700Gi   0/0   edge=true:NoSchedule\n',
    },
    {
      name: 'applications across namespaces',
      kind: 'apps',
      obj: app,
      wide: false,
      ns: true,
      want:
        'NAMESPACE   NAME   COMPONENTS   READY   STATUS             CLOUDS       AGE\n' +
        'retail      shop   2            5/6     ReplicasStarting   aws,aliyun   90s\n',
    },
    {
      name: 'applications wide',
      kind: 'apps',
      obj: app,
      wide: true,
      ns: false,
      want:
        'NAME   COMPONENTS   READY   STATUS             CLOUDS       AGE   CLUSTERS              PLACEMENTS\n' +
        'shop   2            5/6     ReplicasStarting   aws,aliyun   90s   aws-use1-a,ali-hz-a   web@aws-use1-a 2/2,web@ali-hz-a 1/2,api@aws-use1-a 2/2\n',
    },
  ];
  for (const c of cases) {
    test(c.name, () => {
      assert.equal(
        renderResources(kind(c.kind), [c.obj], { wide: c.wide, namespaceColumn: c.ns }, NOW),
        c.want,
      );
    });
  }

  test('an application without status is Pending', () => {
    const { status: _status, ...fresh } = app;
    const out = renderResources(
      kind('apps'),
      [fresh],
      { wide: false, namespaceColumn: false },
      NOW,
    );
    assert.match(out, /shop\s+2\s+<none>\s+Pending\s+<none>\s+90s/);
  });
});

describe('describe', () => {
  test('cluster: driver, taints, capacity by arch, allocation, conditions', () => {
    const out = describeResource(cluster, NOW);
    for (const want of [
      /^Name:\s+aws-use1-a$/m,
      /^Labels:\s+tier=prod$/m,
      /^Resource Version:\s+42$/m,
      /Driver:\s+sim \(1 node pool\)\n\s+general: 10 x amd64/,
      /Taints:\s+edge=true:NoSchedule/,
      /Nodes:\s+12 \(amd64 10, arm64 2, riscv64 0\)/,
      /Allocated:\s+cpu 12.5 \(6.9%\)/,
      /TYPE\s+STATUS\s+REASON\s+AGE\s+MESSAGE\n\s+Ready\s+True\s+HeartbeatOK\s+4m/,
    ]) {
      assert.match(out, want);
    }
  });

  test('application: components, placement, traffic, status tables', () => {
    const out = describeResource(app, NOW);
    for (const want of [
      /^Namespace:\s+retail$/m,
      /^ {2}web:\n\s+Image:\s+example\/web:1\n\s+Platforms:\s+linux\/amd64, linux\/arm64\n\s+Replicas:\s+4\n\s+Resources:\s+cpu=500m memory=512Mi\n\s+Ports:\s+http 8080\/TCP/m,
      /Placement:\n\s+Clouds:\s+aws, aliyun\n\s+Spread:\s+by cloud min 2/,
      /Strategy:\s+failover/,
      /Failover Order:\s+aws > aliyun/,
      /Replicas:\s+5\/6 ready/,
      /COMPONENT\s+CLUSTER\s+CLOUD\s+DESIRED\s+READY\s+STATE\s+ENDPOINTS\n\s+web\s+aws-use1-a\s+aws\s+2\s+2\s+Active/,
      /Reasons:\n\s+COMPONENT\s+COUNT\s+REASON\n\s+web\s+1\s+starting on ali-hz-a/,
    ]) {
      assert.match(out, want);
    }
  });

  test('kinds without their own layout show spec and status fields', () => {
    const migration = {
      apiVersion: 'yunjian.io/v1alpha1',
      kind: 'Migration',
      metadata: { name: 'shop-to-gcp', namespace: 'retail' },
      spec: { application: 'shop', to: { cloud: 'gcp' } },
      status: { phase: 'Shifting', step: 1 },
    } as unknown as AnyResource;
    const out = describeResource(migration, NOW);
    for (const want of [
      /^Name:\s+shop-to-gcp$/m,
      /^Spec:\n\s+Application:\s+shop\n\s+To:\s+\{"cloud":"gcp"\}$/m,
      /^Status:\n\s+Phase:\s+Shifting\n\s+Step:\s+1$/m,
    ])
      assert.match(out, want);
  });
});

// ---------------------------------------------------------------- config precedence

describe('connection precedence: flag > env > config file > default', () => {
  const adminToken: Setting = { value: 'admin-secret', source: '/data/admin.token' };
  const cases: {
    name: string;
    flags?: { server?: string; token?: string };
    env?: Env;
    file?: ConfigFile;
    admin?: Setting;
    server: [string, string];
    token: [string, string] | undefined;
  }[] = [
    { name: 'defaults', server: ['http://localhost:7080', 'default'], token: undefined },
    {
      name: 'default token from the admin token file',
      admin: adminToken,
      server: ['http://localhost:7080', 'default'],
      token: ['admin-secret', '/data/admin.token'],
    },
    {
      name: 'config file beats defaults',
      file: { server: 'http://cfg:1/', token: 'cfg' },
      admin: adminToken,
      server: ['http://cfg:1', '/cfg.yaml'],
      token: ['cfg', '/cfg.yaml'],
    },
    {
      name: 'env beats config file',
      env: { YUNJIAN_SERVER: 'http://env:2', YUNJIAN_TOKEN: 'env' },
      file: { server: 'http://cfg:1', token: 'cfg' },
      server: ['http://env:2', 'YUNJIAN_SERVER'],
      token: ['env', 'YUNJIAN_TOKEN'],
    },
    {
      name: 'flags beat env',
      flags: { server: 'https://flag:3', token: 'flag' },
      env: { YUNJIAN_SERVER: 'http://env:2', YUNJIAN_TOKEN: 'env' },
      file: { server: 'http://cfg:1', token: 'cfg' },
      server: ['https://flag:3', '--server flag'],
      token: ['flag', '--token flag'],
    },
    {
      name: 'empty env counts as unset',
      env: { YUNJIAN_SERVER: '', YUNJIAN_TOKEN: '' },
      file: { token: 'cfg' },
      server: ['http://localhost:7080', 'default'],
      token: ['cfg', '/cfg.yaml'],
    },
    {
      name: 'settings resolve independently',
      env: { YUNJIAN_TOKEN: 'env' },
      file: { server: 'http://cfg:1' },
      server: ['http://cfg:1', '/cfg.yaml'],
      token: ['env', 'YUNJIAN_TOKEN'],
    },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const conn = resolveConnection({
        flags: c.flags ?? {},
        env: c.env ?? {},
        file: c.file ?? {},
        filePath: '/cfg.yaml',
        defaultToken: () => c.admin,
      });
      assert.deepEqual([conn.server.value, conn.server.source], c.server);
      assert.deepEqual(conn.token && [conn.token.value, conn.token.source], c.token);
    });
  }

  test('an invalid server URL names its source', () => {
    assert.throws(
      () =>
        resolveConnection({
          flags: {},
          env: { YUNJIAN_SERVER: 'localhost:7080' },
          file: {},
          filePath: '/c',
          defaultToken: () => undefined,
        }),
      /invalid server URL "localhost:7080" \(from YUNJIAN_SERVER\)/,
    );
  });

  test('data and config directories follow YUNJIAN_DATA_DIR and XDG', () => {
    const cases: [Env, string, string][] = [
      [{}, '/home/u/.local/share/yunjian', '/home/u/.config/yunjian/config.yaml'],
      [
        { XDG_DATA_HOME: '/x/data', XDG_CONFIG_HOME: '/x/config' },
        '/x/data/yunjian',
        '/x/config/yunjian/config.yaml',
      ],
      [
        { YUNJIAN_DATA_DIR: '/srv/yj', XDG_DATA_HOME: '/x/data' },
        '/srv/yj',
        '/home/u/.config/yunjian/config.yaml',
      ],
      [
        { XDG_DATA_HOME: 'relative', XDG_CONFIG_HOME: 'relative' },
        '/home/u/.local/share/yunjian',
        '/home/u/.config/yunjian/config.yaml',
      ],
    ];
    for (const [env, data, config] of cases) {
      assert.equal(defaultDataDir(env, '/home/u'), data);
      assert.equal(configFilePath(env, '/home/u'), config);
    }
  });
});

// ---------------------------------------------------------------- command line -> requests

interface Recorded {
  method: string;
  path: string;
  headers: Record<string, string>;
  body: string | undefined;
}

type Responder = (req: Recorded) => Response;

const json = (body: unknown, status = 200) =>
  new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });
const emptyList = (kindName: string) =>
  json({
    kind: `${kindName}List`,
    apiVersion: 'yunjian.io/v1alpha1',
    metadata: { resourceVersion: '10' },
    items: [],
  });

let home: string;
before(async () => {
  home = await mkdtemp(join(tmpdir(), 'yunjian-cli-unit-'));
});
after(async () => {
  await rm(home, { recursive: true, force: true });
});

interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
  requests: Recorded[];
}

async function cli(
  argv: string[],
  respond: Responder = () => json({}),
  options: { env?: Env; stdin?: string; abort?: AbortController } = {},
): Promise<CliResult> {
  const requests: Recorded[] = [];
  let stdout = '';
  let stderr = '';
  const fakeFetch: typeof fetch = async (input, init) => {
    const url = new URL(input instanceof Request ? input.url : input.toString());
    const rec: Recorded = {
      method: init?.method ?? 'GET',
      path: url.pathname + url.search,
      headers: { ...(init?.headers as Record<string, string>) },
      body: typeof init?.body === 'string' ? init.body : undefined,
    };
    requests.push(rec);
    return respond(rec);
  };
  const abort = options.abort ?? new AbortController();
  const io: CliIo = {
    stdout: (s) => (stdout += s),
    stderr: (s) => (stderr += s),
    readStdin: async () => options.stdin ?? '',
    // An empty home and data dir: no config file and no admin token unless a test writes them.
    env: {
      YUNJIAN_DATA_DIR: join(home, 'no-data'),
      XDG_CONFIG_HOME: join(home, 'no-config'),
      ...options.env,
    },
    home,
    now: () => NOW,
    fetch: fakeFetch,
    interrupted: () => abort.signal,
  };
  const code = await run(argv, io);
  return { code, stdout, stderr, requests };
}

describe('arguments map to requests', () => {
  const cases: { argv: string[]; method: string; path: string }[] = [
    { argv: ['get', 'clouds'], method: 'GET', path: '/api/v1alpha1/clouds?limit=500' },
    { argv: ['get', 'cl', '--chunk-size', '0'], method: 'GET', path: '/api/v1alpha1/clusters' },
    {
      argv: ['get', 'sites', '-n', 'ignored'],
      method: 'GET',
      path: '/api/v1alpha1/sites?limit=500',
    },
    {
      argv: ['get', 'apps'],
      method: 'GET',
      path: '/api/v1alpha1/namespaces/default/applications?limit=500',
    },
    {
      argv: ['get', 'application', '-A', '-l', 'team=retail'],
      method: 'GET',
      path: '/api/v1alpha1/applications?labelSelector=team%3Dretail&limit=500',
    },
    {
      argv: ['get', 'app', 'shop', '-n', 'prod'],
      method: 'GET',
      path: '/api/v1alpha1/namespaces/prod/applications/shop',
    },
    { argv: ['get', 'Cluster/c-1'], method: 'GET', path: '/api/v1alpha1/clusters/c-1' },
    {
      argv: ['describe', 'apps', 'shop'],
      method: 'GET',
      path: '/api/v1alpha1/namespaces/default/applications/shop',
    },
    {
      argv: ['delete', 'app', 'shop', '-n', 'prod'],
      method: 'DELETE',
      path: '/api/v1alpha1/namespaces/prod/applications/shop',
    },
    { argv: ['delete', 'clusters/c1'], method: 'DELETE', path: '/api/v1alpha1/clusters/c1' },
    { argv: ['chaos', 'list'], method: 'GET', path: '/api/v1alpha1/chaos' },
  ];
  for (const c of cases) {
    test(c.argv.join(' '), async () => {
      const r = await cli(c.argv, (req) =>
        req.method === 'GET' && !req.path.includes('/chaos') && !/\/(shop|c-1)$/.test(req.path)
          ? emptyList('X')
          : json({ items: [], ...app }),
      );
      // describe also reads the object's recent events, after the object.
      assert.equal(r.requests.length, c.argv[0] === 'describe' ? 2 : 1, r.stderr);
      assert.deepEqual([r.requests[0]?.method, r.requests[0]?.path], [c.method, c.path]);
    });
  }

  test('the token is sent as a bearer header; the server comes from the environment', async () => {
    const r = await cli(['get', 'clouds', '--token', 's3cret'], () => emptyList('Cloud'), {
      env: { YUNJIAN_SERVER: 'http://example.test:9' },
    });
    assert.equal(r.requests[0]?.headers['authorization'], 'Bearer s3cret');
    assert.equal(r.stderr, 'No resources found.\n');
    assert.equal(r.code, 0);
  });

  test('no token, no header', async () => {
    const r = await cli(['get', 'clouds'], () => emptyList('Cloud'));
    assert.equal(r.requests[0]?.headers['authorization'], undefined);
  });

  test('list pages are followed with continue and merged', async () => {
    const page = (n: number, cont?: string) =>
      json({
        kind: 'CloudList',
        apiVersion: 'yunjian.io/v1alpha1',
        metadata: { resourceVersion: String(10 + n), ...(cont ? { continue: cont } : {}) },
        items: [{ ...cloud, metadata: { ...cloud.metadata, name: `c${n}` } }],
      });
    const r = await cli(['get', 'clouds', '--chunk-size', '1', '-o', 'json'], (req) =>
      req.path.includes('continue=t2')
        ? page(3)
        : req.path.includes('continue=t1')
          ? page(2, 't2')
          : page(1, 't1'),
    );
    assert.deepEqual(
      r.requests.map((q) => q.path),
      [
        '/api/v1alpha1/clouds?limit=1',
        '/api/v1alpha1/clouds?limit=1&continue=t1',
        '/api/v1alpha1/clouds?limit=1&continue=t2',
      ],
    );
    const out = JSON.parse(r.stdout) as {
      kind: string;
      metadata: { resourceVersion: string; continue?: string };
      items: { metadata: { name: string } }[];
    };
    assert.equal(out.kind, 'CloudList');
    assert.deepEqual(out.metadata, { resourceVersion: '11' });
    assert.deepEqual(
      out.items.map((i) => i.metadata.name),
      ['c1', 'c2', 'c3'],
    );
  });

  test('get -o name and -o yaml of one object', async () => {
    const byName = await cli(['get', 'app', 'shop', '-o', 'name'], () => json(app));
    assert.equal(byName.stdout, 'application.yunjian.io/shop\n');
    const yaml = await cli(['get', 'app', 'shop', '-o', 'yaml'], () => json(app));
    assert.match(yaml.stdout, /^apiVersion: yunjian.io\/v1alpha1\nkind: Application\n/);
  });

  test('apply sends every document in one YAML request and prints kubectl-style lines', async (t) => {
    const dir = join(home, 'apply');
    await mkdir(join(dir, 'nested'), { recursive: true });
    await writeFile(
      join(dir, 'b.yaml'),
      'kind: Application\nmetadata: {name: b}\n---\nkind: Application\nmetadata: {name: c}\n',
    );
    await writeFile(
      join(dir, 'nested', 'a.json'),
      JSON.stringify({ kind: 'Cloud', metadata: { name: 'a' } }),
    );
    await writeFile(join(dir, 'notes.txt'), 'ignored');
    t.after(() => rm(dir, { recursive: true }));
    const r = await cli(['apply', '-f', dir, '-n', 'shop', '--dry-run'], () =>
      json({
        kind: 'ApplyResult',
        items: [
          {
            kind: 'Application',
            namespace: 'shop',
            name: 'b',
            action: 'created',
            resourceVersion: '1',
          },
          {
            kind: 'Application',
            namespace: 'shop',
            name: 'c',
            action: 'unchanged',
            resourceVersion: '2',
          },
          { kind: 'Cloud', name: 'a', action: 'configured', resourceVersion: '3' },
        ],
      }),
    );
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.requests.length, 1);
    const req = r.requests[0];
    assert.equal(req?.method, 'POST');
    assert.equal(req?.path, '/api/v1alpha1/apply?namespace=shop&dryRun=true');
    assert.equal(req?.headers['content-type'], 'application/yaml');
    // Sorted paths: b.yaml before nested/a.json.
    assert.equal(
      req?.body,
      `---\n# source: ${join(dir, 'b.yaml')}, document 1\nkind: Application\nmetadata:\n  name: b\n` +
        `---\n# source: ${join(dir, 'b.yaml')}, document 2\nkind: Application\nmetadata:\n  name: c\n` +
        `---\n# source: ${join(dir, 'nested', 'a.json')}\nkind: Cloud\nmetadata:\n  name: a\n`,
    );
    assert.equal(
      r.stdout,
      'application.yunjian.io/b created (server dry run)\napplication.yunjian.io/c unchanged (server dry run)\ncloud.yunjian.io/a configured (server dry run)\n',
    );
  });

  test('apply -f - reads standard input; without --dry-run or -n no parameters', async () => {
    const r = await cli(['apply', '-f', '-'], () => json({ kind: 'ApplyResult', items: [] }), {
      stdin: 'kind: Cloud\nmetadata: {name: x}\n',
    });
    assert.equal(r.requests[0]?.path, '/api/v1alpha1/apply');
    assert.match(r.requests[0]?.body ?? '', /# source: <stdin>\nkind: Cloud/);
  });

  test('a syntax error fails before sending, naming the file and line', async (t) => {
    const file = join(home, 'broken.yaml');
    await writeFile(file, 'kind: Application\nmetadata:\n  name: x\n  labels: a: b\n');
    t.after(() => rm(file));
    const r = await cli(['apply', '-f', file]);
    assert.equal(r.code, 1);
    assert.equal(r.requests.length, 0);
    assert.match(r.stderr, new RegExp(`^error: syntax error in ${file}:4:\\d+: `));
  });

  test('chaos fail posts the action and prints a summary', async () => {
    const r = await cli(['chaos', 'fail', 'cloud', 'aws'], () =>
      json({
        scope: 'cloud',
        name: 'aws',
        clusters: ['a', 'b', 'c', 'd', 'e', 'f', 'g'],
        nodes: 120,
      }),
    );
    assert.equal(r.requests[0]?.path, '/api/v1alpha1/chaos');
    assert.deepEqual(JSON.parse(r.requests[0]?.body ?? ''), {
      action: 'fail',
      scope: 'cloud',
      name: 'aws',
    });
    assert.equal(
      r.stdout,
      'cloud/aws failed: 7 clusters (a, b, c, d, e, +2 more), 120 nodes affected\n',
    );
  });

  test('chaos rejects an unknown scope before sending', async () => {
    const r = await cli(['chaos', 'fail', 'region', 'x']);
    assert.equal(r.code, 1);
    assert.equal(r.requests.length, 0);
    assert.match(r.stderr, /Allowed choices are cloud, site, cluster, node/);
  });

  test('chaos list', async () => {
    const r = await cli(['chaos', 'list'], () =>
      json({ items: [{ scope: 'site', name: 'aws-us-east-1', since: ago(3 * M) }] }),
    );
    assert.equal(r.stdout, 'SCOPE   NAME            AGE\nsite    aws-us-east-1   3m\n');
  });

  test('delete -f deletes each document, defaulting the namespace', async (t) => {
    const file = join(home, 'del.yaml');
    await writeFile(
      file,
      'kind: Application\nmetadata: {name: shop}\n---\nkind: Cluster\nmetadata: {name: c1}\n---\nkind: app\nmetadata: {name: x, namespace: other}\n',
    );
    t.after(() => rm(file));
    const r = await cli(['delete', '-f', file, '-n', 'prod'], () => json({}));
    assert.deepEqual(
      r.requests.map((q) => `${q.method} ${q.path}`),
      [
        'DELETE /api/v1alpha1/namespaces/prod/applications/shop',
        'DELETE /api/v1alpha1/clusters/c1',
        'DELETE /api/v1alpha1/namespaces/other/applications/x',
      ],
    );
    assert.equal(
      r.stdout,
      'application.yunjian.io/shop deleted\ncluster.yunjian.io/c1 deleted\napplication.yunjian.io/x deleted\n',
    );
  });

  test('delete of several names reports a missing one and goes on, exiting 1', async () => {
    const r = await cli(['delete', 'clusters', 'a', 'gone', 'b'], (req) =>
      req.path.endsWith('/gone')
        ? json(
            {
              kind: 'Status',
              apiVersion: 'v1',
              status: 'Failure',
              code: 404,
              reason: 'NotFound',
              message: 'clusters "gone" not found',
            },
            404,
          )
        : json({}),
    );
    assert.equal(r.code, 1);
    assert.equal(r.stdout, 'cluster.yunjian.io/a deleted\ncluster.yunjian.io/b deleted\n');
    assert.equal(r.stderr, 'error: clusters "gone" not found\n');
  });

  test('server option validation fails before starting anything', async () => {
    for (const argv of [
      ['server', '--port', '70000'],
      ['server', '--port', 'http'],
      ['server', '--fleet-scale', '0'],
      ['server', '--fleet-scale', 'x'],
      ['server', '--usage-sample-seconds', '0'],
    ]) {
      const r = await cli(argv);
      assert.equal(r.code, 1, argv.join(' '));
      assert.match(
        r.stderr,
        /error: option '--(port|fleet-scale|usage-sample-seconds) <\w+>' argument '.*' is invalid\. expected (a port from 0 to 65535|a number > 0)/,
      );
    }
    const r = await cli(['server', '--fleet', join(home, 'missing.yaml')]);
    assert.equal(r.code, 1);
    assert.match(
      r.stderr,
      /--fleet: no fleet file at .*missing\.yaml \(use demo, none or the path of a fleet YAML file\)/,
    );
  });
});

// ---------------------------------------------------------------- watch

function ndjsonStream(chunks: string[], onEnd?: () => void): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  return new ReadableStream({
    pull(controller) {
      const next = chunks.shift();
      if (next === undefined) {
        onEnd?.();
        controller.close();
      } else controller.enqueue(encoder.encode(next));
    },
  });
}

describe('watch', () => {
  test('the client splits NDJSON across chunk boundaries and skips blank lines', async () => {
    const lines = [
      JSON.stringify({ type: 'ADDED', object: cloud }),
      JSON.stringify({ type: 'BOOKMARK', object: { metadata: { resourceVersion: '12' } } }),
      JSON.stringify({
        type: 'DELETED',
        object: { ...cloud, metadata: { ...cloud.metadata, resourceVersion: '13' } },
      }),
    ].join('\n\n');
    const chunks = [lines.slice(0, 10), lines.slice(10, 200), lines.slice(200)];
    let url = '';
    const client = new YunjianClient({
      server: 'http://x',
      fetch: async (input) => {
        url = input instanceof Request ? input.url : input.toString();
        return new Response(ndjsonStream(chunks));
      },
    });
    const events = [];
    for await (const e of client.watch(kind('clouds'), { resourceVersion: '11' }))
      events.push(e.type);
    assert.deepEqual(events, ['ADDED', 'BOOKMARK', 'DELETED']);
    assert.equal(url, 'http://x/api/v1alpha1/clouds?watch=true&resourceVersion=11');
  });

  test('an ERROR event throws the typed error it carries', async () => {
    const client = new YunjianClient({
      server: 'http://x',
      fetch: async () =>
        new Response(
          ndjsonStream([
            JSON.stringify({
              type: 'ERROR',
              object: {
                kind: 'Status',
                apiVersion: 'v1',
                status: 'Failure',
                code: 410,
                reason: 'Expired',
                message: 'too old',
              },
            }) + '\n',
          ]),
        ),
    });
    await assert.rejects(
      async () => {
        for await (const _ of client.watch(kind('clouds'), { resourceVersion: '1' }));
      },
      { name: 'ExpiredError', message: 'too old' },
    );
  });

  test('get -w prints the current state, then a row per event, until interrupted', async () => {
    const abort = new AbortController();
    const modified = {
      ...cluster,
      metadata: { ...cluster.metadata, resourceVersion: '50' },
      status: { ...cluster.status, nodeCount: 13 },
    };
    const r = await cli(
      ['get', 'clusters', '-w'],
      (req) =>
        req.path.includes('watch=true')
          ? new Response(
              ndjsonStream([JSON.stringify({ type: 'MODIFIED', object: modified }) + '\n'], () =>
                abort.abort('SIGINT'),
              ),
            )
          : json({
              kind: 'ClusterList',
              apiVersion: 'yunjian.io/v1alpha1',
              metadata: { resourceVersion: '45' },
              items: [cluster],
            }),
      { abort },
    );
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.requests[1]?.path, '/api/v1alpha1/clusters?watch=true&resourceVersion=45');
    const lines = r.stdout.trimEnd().split('\n');
    assert.equal(lines.length, 3);
    assert.match(lines[0] ?? '', /^EVENT\s+NAME\s+CLOUD/);
    assert.match(lines[1] ?? '', /^ADDED\s+aws-use1-a\s+aws\s+aws-us-east-1\s+sim\s+True\s+12\s/);
    assert.match(
      lines[2] ?? '',
      /^MODIFIED\s+aws-use1-a\s+aws\s+aws-us-east-1\s+sim\s+True\s+13\s/,
    );
  });
});

// ---------------------------------------------------------------- get nodes

describe('get nodes', () => {
  const GiB = 2 ** 30;
  const nodeList = () =>
    json({
      apiVersion: 'yunjian.io/v1alpha1',
      kind: 'NodeList',
      items: [
        {
          name: 'gpu-0',
          arch: 'amd64',
          healthy: true,
          gpuModel: 'A100',
          zone: 'a',
          capacity: { cpu: 64, memory: 512 * GiB, gpu: 8, pods: 110 },
          allocated: { cpu: 12.5, memory: 96 * GiB, gpu: 4, pods: 7 },
        },
        {
          name: 'arm-1',
          arch: 'arm64',
          healthy: false,
          capacity: { cpu: 16, memory: 64 * GiB, gpu: 0, pods: 110 },
          allocated: { cpu: 0.5, memory: 0, gpu: 0, pods: 1 },
        },
      ],
    });

  const tables: { argv: string[]; want: string }[] = [
    {
      argv: ['get', 'nodes', '--cluster', 'c 1'],
      want:
        'NAME    STATUS     ARCH    CPU(ALLOC/CAP)   MEMORY(ALLOC/CAP)   GPU   PODS\n' +
        'gpu-0   Ready      amd64   12.5/64          96Gi/512Gi          4/8   7/110\n' +
        'arm-1   NotReady   arm64   500m/16          0/64Gi              0/0   1/110\n',
    },
    {
      argv: ['get', 'no', '--cluster', 'c 1', '-o', 'wide'],
      want:
        'NAME    STATUS     ARCH    CPU(ALLOC/CAP)   MEMORY(ALLOC/CAP)   GPU   PODS    ZONE     GPU-MODEL\n' +
        'gpu-0   Ready      amd64   12.5/64          96Gi/512Gi          4/8   7/110   a        A100\n' +
        'arm-1   NotReady   arm64   500m/16          0/64Gi              0/0   1/110   <none>   <none>\n',
    },
    { argv: ['get', 'Node', '--cluster', 'c 1', '-o', 'name'], want: 'node/gpu-0\nnode/arm-1\n' },
  ];
  for (const c of tables) {
    test(c.argv.join(' '), async () => {
      const r = await cli(c.argv, nodeList);
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(
        r.requests.map((q) => `${q.method} ${q.path}`),
        ['GET /api/v1alpha1/clusters/c%201/nodes'],
      );
      assert.equal(r.stdout, c.want);
    });
  }

  test('-o json prints the NodeList document', async () => {
    const r = await cli(['get', 'nodes', '--cluster', 'c1', '-o', 'json'], nodeList);
    const out = JSON.parse(r.stdout) as { kind: string; items: { name: string }[] };
    assert.equal(out.kind, 'NodeList');
    assert.deepEqual(
      out.items.map((n) => n.name),
      ['gpu-0', 'arm-1'],
    );
  });

  test('a cluster without nodes says so on stderr', async () => {
    const r = await cli(['get', 'nodes', '--cluster', 'c1'], () =>
      json({ apiVersion: 'yunjian.io/v1alpha1', kind: 'NodeList', items: [] }),
    );
    assert.equal(r.code, 0);
    assert.equal(r.stdout, '');
    assert.equal(r.stderr, 'No nodes found in cluster c1.\n');
  });

  const usage: { argv: string[]; error: RegExp }[] = [
    { argv: ['get', 'nodes'], error: /^error: get nodes needs --cluster NAME/ },
    { argv: ['get', 'nodes', 'n1', '--cluster', 'c1'], error: /takes no node name/ },
    { argv: ['get', 'nodes/n1', '--cluster', 'c1'], error: /takes no node name/ },
    { argv: ['get', 'nodes', '--cluster', 'c1', '-w'], error: /takes no --watch/ },
    { argv: ['get', 'nodes', '--cluster', 'c1', '-l', 'a=b'], error: /takes no --selector/ },
    { argv: ['get', 'apps', '--cluster', 'c1'], error: /applications take no --cluster/ },
  ];
  for (const c of usage) {
    test(`usage error before sending: ${c.argv.join(' ')}`, async () => {
      const r = await cli(c.argv, nodeList);
      assert.equal(r.code, 1);
      assert.equal(r.requests.length, 0);
      assert.match(r.stderr, c.error);
    });
  }

  test("an unknown cluster is the server's NotFound", async () => {
    const r = await cli(['get', 'nodes', '--cluster', 'gone'], () =>
      json(
        {
          kind: 'Status',
          apiVersion: 'v1',
          status: 'Failure',
          code: 404,
          reason: 'NotFound',
          message: 'clusters "gone" not found',
        },
        404,
      ),
    );
    assert.equal(r.code, 1);
    assert.equal(r.stderr, 'error: clusters "gone" not found\n');
  });
});

// ---------------------------------------------------------------- errors and advice

describe('errors', () => {
  const invalid = (message: string, causes: { field: string; message: string }[]) =>
    json(
      {
        kind: 'Status',
        apiVersion: 'v1',
        status: 'Failure',
        code: 422,
        reason: 'Invalid',
        message,
        details: { causes },
      },
      422,
    );

  test('a validation Status prints every field path, naming the source', async () => {
    const r = await cli(
      ['apply', '-f', '-'],
      () =>
        invalid(
          'document Application "shop" is invalid:\n  spec.components[0].replicas: required field is missing',
          [
            { field: 'spec.components[0].replicas', message: 'required field is missing' },
            {
              field: 'spec.components[0].ports[0].port',
              message: 'expected a port number from 1 to 65535, got -1',
            },
          ],
        ),
      { stdin: 'kind: Application\n' },
    );
    assert.equal(r.code, 1);
    assert.equal(
      r.stderr,
      'error: document Application "shop" is invalid (from <stdin>):\n' +
        '  spec.components[0].replicas: required field is missing\n' +
        // Not in the server's message, so added from the causes.
        '  spec.components[0].ports[0].port: expected a port number from 1 to 65535, got -1\n',
    );
  });

  test('in a multi-document apply each numbered document is traced to its file', async () => {
    const r = await cli(
      ['apply', '-f', '-'],
      () =>
        invalid(
          'document 1 Cloud "a" is invalid:\n  spec.vendor: expected one of aws\ndocument 2 Application "b" is invalid:\n  spec.components: required field is missing',
          [
            { field: '[0].spec.vendor', message: 'expected one of aws' },
            { field: '[1].spec.components', message: 'required field is missing' },
          ],
        ),
      { stdin: 'kind: Cloud\n---\nkind: Application\n' },
    );
    assert.equal(
      r.stderr,
      'error: document 1 Cloud "a" is invalid (from <stdin>, document 1):\n  spec.vendor: expected one of aws\n' +
        'document 2 Application "b" is invalid (from <stdin>, document 2):\n  spec.components: required field is missing\n',
    );
  });

  test('401 says how to pass a token and where the admin token is', async () => {
    const unauthorized = () =>
      json(
        {
          kind: 'Status',
          apiVersion: 'v1',
          status: 'Failure',
          code: 401,
          reason: 'Unauthorized',
          message: 'missing bearer token',
        },
        401,
      );
    const none = await cli(['get', 'clouds'], unauthorized);
    assert.equal(none.code, 1);
    assert.equal(
      none.stderr,
      'error: unauthorized by http://localhost:7080: missing bearer token\n' +
        'No token was sent. Pass one with --token TOKEN, the YUNJIAN_TOKEN variable or `yunjian config set token TOKEN`;\n' +
        `a local server writes its admin token to <data dir>/admin.token (here ${join(home, 'no-data')}/admin.token).\n`,
    );
    const wrong = await cli(['get', 'clouds'], unauthorized, { env: { YUNJIAN_TOKEN: 'stale' } });
    assert.match(
      wrong.stderr,
      /\nThe token from YUNJIAN_TOKEN was not accepted\. Pass another with --token TOKEN/,
    );
  });

  test('an unreachable server names the URL and how to start one', async () => {
    const r = await cli(['get', 'clouds', '--server', 'http://127.0.0.1:1'], () => {
      throw new TypeError('fetch failed', {
        cause: Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), {
          code: 'ECONNREFUSED',
        }),
      });
    });
    assert.equal(r.code, 1);
    assert.equal(
      r.stderr,
      'error: cannot reach the Yunjian server at http://127.0.0.1:1 (connect ECONNREFUSED 127.0.0.1:1).\n' +
        'Start one with `npm start` or `yunjian server`, or point at another with --server URL or YUNJIAN_SERVER.\n',
    );
  });

  test('an unknown kind lists the known ones', async () => {
    const r = await cli(['get', 'pods']);
    assert.equal(r.code, 1);
    assert.equal(r.requests.length, 0);
    assert.equal(
      r.stderr,
      `error: unknown kind "pods"; known kinds: ${KINDS.map((k) => (k.shortNames.length > 0 ? `${k.plural} (${k.shortNames.join(', ')})` : k.plural)).join(', ')}\n`,
    );
  });

  test('a non-Status error body still fails cleanly', async () => {
    const r = await cli(
      ['get', 'clouds'],
      () => new Response('<html>bad gateway</html>', { status: 502 }),
    );
    assert.equal(r.code, 1);
    assert.equal(r.stderr, 'error: unexpected HTTP 502 response\n');
  });
});

// ---------------------------------------------------------------- local input and config file

describe('manifests', () => {
  test('lists and arrays are flattened; empty documents skipped', async (t) => {
    const file = join(home, 'list.yaml');
    await writeFile(
      file,
      '---\n---\nkind: CloudList\nitems:\n  - {kind: Cloud, metadata: {name: a}}\n  - {kind: Cloud, metadata: {name: b}}\n',
    );
    t.after(() => rm(file));
    const ms = await readManifests([file], async () => '');
    assert.deepEqual(
      ms.map((m) => [m.index, (m.object['metadata'] as { name: string }).name]),
      [
        [1, 'a'],
        [2, 'b'],
      ],
    );
    assert.equal(toYamlStream(ms).match(/# source: .*list\.yaml, document [12]\n/g)?.length, 2);
  });

  test('YAML errors carry file:line:col and the offending line', () => {
    assert.throws(
      () => parseYaml('a: 1\nb: c: d\n', 'f.yaml'),
      (err: Error) => {
        assert.equal(
          err.message,
          'syntax error in f.yaml:2:4: Nested mappings are not allowed in compact mappings\n    b: c: d\n       ^',
        );
        return true;
      },
    );
  });

  test('JSON is parsed strictly and errors are located', () => {
    const cases: [string, RegExp][] = [
      [
        '{\n  "a": }',
        /^syntax error in f.json:2:8: Unexpected token '}'\n {4} {2}"a": }\n {4} {7}\^$/,
      ],
      ['{"a" 1}', /^syntax error in f.json:1:6: Expected ':' after property name/],
      ['{\n"a": 1,\n', /^syntax error in f.json:3:1: /],
    ];
    for (const [text, want] of cases)
      assert.throws(
        () => parseJson(text, 'f.json'),
        (err: Error) => (assert.match(err.message, want), true),
      );
    assert.deepEqual(parseJson('{"a": [1, 2]}', 'f.json'), { a: [1, 2] });
  });

  test('a missing file and a scalar document are usage errors', async () => {
    await assert.rejects(
      readManifests([join(home, 'nope.yaml')], async () => ''),
      /nope\.yaml: no such file or directory/,
    );
    await assert.rejects(
      readManifests(['-'], async () => '42\n'),
      /<stdin>: document 1 is not a mapping \(got 42\)/,
    );
    await assert.rejects(
      readManifests(['-'], async () => '# nothing\n'),
      /no objects found in -/,
    );
  });
});

describe('config command', () => {
  test('config set writes a 0600 file that later commands use, and config view shows sources', async () => {
    const env = { XDG_CONFIG_HOME: join(home, 'cfg') };
    assert.equal(
      (await cli(['config', 'set', 'server', 'http://cfg.example:8/'], undefined, { env })).code,
      0,
    );
    const set = await cli(['config', 'set', 'token', 'tok'], undefined, { env });
    const path = join(home, 'cfg', 'yunjian', 'config.yaml');
    assert.equal(set.stdout, `token set in ${path}\n`);
    assert.equal((await stat(path)).mode & 0o777, 0o600);
    assert.equal(await readFile(path, 'utf8'), 'server: http://cfg.example:8\ntoken: tok\n');

    const view = await cli(['config', 'view'], undefined, {
      env: { ...env, YUNJIAN_TOKEN: 'from-env' },
    });
    assert.equal(
      view.stdout,
      `# config file: ${path}\nserver: http://cfg.example:8 # from ${path}\ntoken: REDACTED # from YUNJIAN_TOKEN\n`,
    );

    const r = await cli(['get', 'clouds'], () => emptyList('Cloud'), { env });
    assert.equal(r.requests[0]?.headers['authorization'], 'Bearer tok');
  });

  test('config set rejects a bad server URL', async () => {
    const r = await cli(['config', 'set', 'server', 'not a url'], undefined, {
      env: { XDG_CONFIG_HOME: join(home, 'cfg2') },
    });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /invalid server URL "not a url"/);
  });

  test('a malformed config file is reported with its path', async () => {
    const dir = join(home, 'cfg3', 'yunjian');
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'config.yaml'), 'server: [\n');
    const r = await cli(['get', 'clouds'], undefined, {
      env: { XDG_CONFIG_HOME: join(home, 'cfg3') },
    });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /cannot parse config file .*cfg3\/yunjian\/config\.yaml/);
  });

  test('the admin token in the data dir is the default token', async () => {
    const data = join(home, 'data');
    await mkdir(data, { recursive: true });
    await writeFile(join(data, 'admin.token'), 'adm\n');
    const r = await cli(['get', 'clouds'], () => emptyList('Cloud'), {
      env: { YUNJIAN_DATA_DIR: data },
    });
    assert.equal(r.requests[0]?.headers['authorization'], 'Bearer adm');
  });
});

describe('shell completion', () => {
  const names = (req: Recorded) =>
    req.path.startsWith('/api/v1alpha1/namespaces/prod/applications')
      ? json({ kind: 'ApplicationList', metadata: {}, items: [{ metadata: { name: 'shop' } }] })
      : req.path.startsWith('/api/v1alpha1/clusters')
        ? json({
            kind: 'ClusterList',
            metadata: {},
            items: [{ metadata: { name: 'c1' } }, { metadata: { name: 'c2' } }],
          })
        : emptyList('Any');
  const cases: { line: string[]; want: string[] }[] = [
    { line: ['g'], want: ['gateway', 'get'] },
    { line: ['get', 'ap'], want: ['app', 'application', 'applications', 'apps'] },
    { line: ['get', '-o', 'w'], want: ['wide'] },
    { line: ['get', '--wa'], want: ['--watch'] },
    { line: ['token', ''], want: ['create', 'list', 'revoke'] },
    { line: ['explain', ''], want: ['app'] },
    { line: ['explain', 'app', '-n', 'prod', 's'], want: ['shop'] },
    { line: ['describe', 'app', '--namespace', 'prod', ''], want: ['shop'] },
    { line: ['chaos', 'fail', ''], want: ['cloud', 'cluster', 'node', 'site'] },
    { line: ['get', 'n'], want: ['no', 'node', 'nodes'] },
    { line: ['describe', 'n'], want: [] },
    { line: ['get', 'nodes', '--cluster', ''], want: ['c1', 'c2'] },
    { line: ['logs', 'app', 'shop', '--cluster', 'c'], want: ['c1', 'c2'] },
  ];
  for (const c of cases) {
    test(`yunjian ${c.line.join(' ')}<TAB>`, async () => {
      const words = ['yunjian', ...c.line];
      const r = await cli(['__complete', String(words.length - 1), '--', ...words], names);
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(r.stdout.split('\n').filter(Boolean), c.want);
    });
  }

  test('names are left out, silently, when the server cannot be reached', async () => {
    const words = ['yunjian', 'get', 'apps', ''];
    const r = await cli(['__complete', '3', '--', ...words], () => {
      throw new TypeError('fetch failed');
    });
    assert.equal(r.code, 0);
    assert.equal(r.stdout + r.stderr, '');
  });

  test('the bash script completes through bash itself', async () => {
    const script = (await cli(['completion', 'bash'])).stdout;
    const bin = new URL('../bin/yunjian', import.meta.url).pathname;
    const run = spawnSync(
      'bash',
      [
        '-c',
        `${script}\nCOMP_WORDS=(${bin} get clu); COMP_CWORD=2; _yunjian; printf '%s\\n' "\${COMPREPLY[@]}"`,
      ],
      { encoding: 'utf8', env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', HOME: home } },
    );
    assert.equal(run.status, 0, run.stderr);
    const kindWords = KINDS.flatMap((k) => [k.plural, k.singular, ...k.shortNames]);
    assert.deepEqual(
      run.stdout.split('\n').filter(Boolean),
      [...new Set(kindWords.filter((w) => w.startsWith('clu')))].sort(),
    );
  });
});

// ---------------------------------------------------------------- option parsers

describe('option parsers', () => {
  const port = integerOption('a port from 0 to 65535', 0, 65535);
  const positiveInteger = integerOption('an integer > 0', 1);
  const seconds = numberOption('a number of seconds from 0.05', 0.05, 3600);
  const pass = choiceOption(['instant', 'fleet', 'both']);
  const cases: { parse: (raw: string) => unknown; raw: string; want: unknown }[] = [
    { parse: port, raw: '7080', want: 7080 },
    { parse: port, raw: '0', want: 0 },
    { parse: port, raw: '65536', want: 'expected a port from 0 to 65535, got "65536".' },
    { parse: port, raw: '80.5', want: 'expected a port from 0 to 65535, got "80.5".' },
    { parse: port, raw: '', want: 'expected a port from 0 to 65535, got "".' },
    { parse: positiveInteger, raw: '10_000_000', want: 10_000_000 },
    { parse: positiveInteger, raw: '0', want: 'expected an integer > 0, got "0".' },
    { parse: positiveInteger, raw: '_1', want: 'expected an integer > 0, got "_1".' },
    {
      parse: positiveInteger,
      raw: '9007199254740993',
      want: 'expected an integer > 0, got "9007199254740993".',
    },
    { parse: seconds, raw: '0.05', want: 0.05 },
    { parse: seconds, raw: '0.01', want: 'expected a number of seconds from 0.05, got "0.01".' },
    { parse: positiveNumber, raw: '1.5', want: 1.5 },
    { parse: positiveNumber, raw: '0', want: 'expected a number > 0, got "0".' },
    { parse: nonNegativeNumber, raw: '0', want: 0 },
    { parse: nonNegativeNumber, raw: '-1', want: 'expected a number >= 0, got "-1".' },
    { parse: nonNegativeNumber, raw: 'Infinity', want: 'expected a number >= 0, got "Infinity".' },
    { parse: pass, raw: 'fleet', want: 'fleet' },
    { parse: pass, raw: 'x', want: 'expected instant, fleet or both, got "x".' },
  ];
  for (const c of cases) {
    test(`${JSON.stringify(c.raw)} -> ${String(c.want)}`, () => {
      if (typeof c.want === 'string' && c.want.startsWith('expected '))
        assert.throws(() => c.parse(c.raw), { name: 'InvalidArgumentError', message: c.want });
      else assert.equal(c.parse(c.raw), c.want);
    });
  }

  test('collect keeps repeated values in order', () => {
    assert.deepEqual(collect('b', collect('a', undefined)), ['a', 'b']);
  });
});

// ---------------------------------------------------------------- module structure

test('src/cli has no import cycle; only main.ts imports program.ts', async () => {
  const root = new URL('../src/cli/', import.meta.url).pathname;
  const files = (await readdir(root, { recursive: true }))
    .filter((f) => f.endsWith('.ts'))
    .map((f) => join(root, f));
  const imports = new Map<string, string[]>();
  for (const f of files) {
    const text = await readFile(f, 'utf8');
    const targets = [...text.matchAll(/(?:from|import\()\s*'(\.[^']+\.ts)'/g)]
      .map((m) => join(dirname(f), m[1] ?? ''))
      .filter((p) => p.startsWith(root));
    imports.set(f, targets);
  }
  const program = join(root, 'program.ts');
  assert.deepEqual(
    [...imports].filter(([, targets]) => targets.includes(program)).map(([f]) => f),
    [join(root, 'main.ts')],
  );
  // Depth-first search; a module met again while still on the path closes a cycle.
  const done = new Set<string>();
  const visit = (f: string, path: string[]): void => {
    if (path.includes(f)) assert.fail(`import cycle: ${[...path, f].join(' -> ')}`);
    if (done.has(f)) return;
    for (const g of imports.get(f) ?? []) visit(g, [...path, f]);
    done.add(f);
  };
  for (const f of files) visit(f, []);
  assert.ok(files.length > 20, `found ${files.length} modules`);
});
