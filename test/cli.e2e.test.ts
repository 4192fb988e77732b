// End to end: the real server in-process with the demo fleet, and bin/yunjian
// run as a child process against it, exactly as a user would. The children
// are spawned asynchronously because the server shares this event loop.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { inProcessServer } from './server.harness.ts';

const BIN = new URL('../bin/yunjian', import.meta.url).pathname;

const cp = inProcessServer('cli-e2e');
/** The CLI's home: config and files the tests write, apart from the server's data. */
let tmp: string;

before(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'yunjian-cli-home-'));
});

after(async () => {
  await rm(tmp, { recursive: true, force: true });
});

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

interface RunOptions {
  /** Pass --token (default true). */
  auth?: boolean;
  env?: Record<string, string>;
  stdin?: string;
}

/** Only what the CLI needs: no config file and no admin token unless a test provides them. */
function childEnv(extra: Record<string, string> = {}): Record<string, string> {
  return {
    PATH: process.env['PATH'] ?? '/usr/bin:/bin',
    HOME: tmp,
    XDG_CONFIG_HOME: join(tmp, 'config'),
    YUNJIAN_DATA_DIR: join(tmp, 'no-data'),
    ...extra,
  };
}

function args(list: string[], auth: boolean): string[] {
  return ['--server', cp.url, ...(auth ? ['--token', cp.token] : []), ...list];
}

async function yj(list: string[], options: RunOptions = {}): Promise<Run> {
  const child = spawn(BIN, args(list, options.auth ?? true), { env: childEnv(options.env) });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
  child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  child.stdin.end(options.stdin ?? '');
  const [code] = (await once(child, 'close')) as [number | null];
  return { code, stdout, stderr };
}

function rows(table: string): string[] {
  return table.trimEnd().split('\n').slice(1);
}

const SHOP = `apiVersion: yunjian.io/v1alpha1
kind: Application
metadata:
  name: shop
  labels: {team: retail}
spec:
  components:
    - name: web
      image: registry.example.com/shop/web:1.4.2
      platforms: [linux/amd64, linux/arm64]
      replicas: 4
      resources: {cpu: 500m, memory: 512Mi}
      ports: [{name: http, port: 8080, protocol: TCP}]
      dependsOn: [api]
    - name: api
      image: registry.example.com/shop/api:1.4.2
      replicas: 2
      resources: {cpu: "1", memory: 1Gi}
  placement:
    clusterAffinity: {clouds: [aws, aliyun]}
    spread: [{by: cloud, min: 2}]
  traffic:
    host: shop.example.com
    strategy: failover
    failover: {order: [{cloud: aws}, {cloud: aliyun}]}
`;

/** A minimal valid application; each invalid case below breaks exactly one thing. */
function app(name: string, component: string): string {
  return `apiVersion: yunjian.io/v1alpha1
kind: Application
metadata: {name: ${name}}
spec:
  components:
${component}`;
}

const INVALID: { name: string; doc: string; field: string }[] = [
  {
    name: 'unknown kind',
    doc: 'apiVersion: yunjian.io/v1alpha1\nkind: Widget\nmetadata: {name: bad-kind}\nspec: {}\n',
    field: 'kind',
  },
  {
    name: 'missing replicas',
    doc: app('bad-replicas', '    - {name: web, image: web:1}\n'),
    field: 'spec.components[0].replicas',
  },
  {
    name: 'cpu "abc"',
    doc: app('bad-cpu', '    - {name: web, image: web:1, replicas: 1, resources: {cpu: abc}}\n'),
    field: 'spec.components[0].resources.cpu',
  },
  {
    name: 'unknown field',
    doc: app(
      'bad-field',
      '    - {name: web, image: web:1, replicas: 1, imagePullPolicy: Always}\n',
    ),
    field: 'spec.components[0].imagePullPolicy',
  },
  {
    name: 'negative port',
    doc: app('bad-port', '    - {name: web, image: web:1, replicas: 1, ports: [{port: -80}]}\n'),
    field: 'spec.components[0].ports[0].port',
  },
];

/** Read straight from the API (not through the CLI under test): names of all stored applications. */
async function storedApps(): Promise<string[]> {
  const res = await fetch(`${cp.url}/api/v1alpha1/applications`, {
    headers: cp.headers,
  });
  assert.equal(res.status, 200);
  const list = (await res.json()) as { items: { metadata: { namespace: string; name: string } }[] };
  return list.items.map((i) => `${i.metadata.namespace}/${i.metadata.name}`).sort();
}

describe('yunjian against a live server', () => {
  test('get clouds lists the demo fleet', async () => {
    const r = await yj(['get', 'clouds']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^NAME\s+VENDOR\s+TYPE\s+DISPLAY-NAME\s+CPU\$\/CORE-H\s+AGE\n/);
    assert.ok(rows(r.stdout).length >= 12, r.stdout);
  });

  test('get sites pages through every site', async () => {
    const r = await yj(['get', 'sites', '--chunk-size', '50']);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(rows(r.stdout).length >= 170, `${rows(r.stdout).length} sites`);
  });

  test('get clusters -o wide', async () => {
    const r = await yj(['get', 'clusters', '-o', 'wide']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(
      r.stdout,
      /^NAME\s+CLOUD\s+SITE\s+DRIVER\s+READY\s+NODES\s+CPU\(ALLOC\/ALLOCATABLE\)\s+AGE\s+AMD64\s+ARM64\s+RISCV64\s+MEMORY\s+GPU\s+TAINTS\n/,
    );
    const lines = rows(r.stdout);
    assert.ok(lines.length > 0);
    assert.match(
      lines[0] ?? '',
      /\ssim\s+(True|False|Unknown)\s+\d+\s+[\d.m]+\/[\d.]+\s+\S+\s+\d+\s+\d+\s+\d+\s+\S+\/\S+\s+\d+\/\d+\s/,
    );
  });

  test("get nodes lists a cluster's nodes from its driver, and needs --cluster", async () => {
    const res = await fetch(`${cp.url}/api/v1alpha1/clusters?limit=1`, { headers: cp.headers });
    const name = ((await res.json()) as { items: { metadata: { name: string } }[] }).items[0]
      ?.metadata.name;
    assert.ok(name !== undefined, 'the demo fleet has clusters');

    const table = await yj(['get', 'nodes', '--cluster', name, '-o', 'wide']);
    assert.equal(table.code, 0, table.stderr);
    assert.match(
      table.stdout,
      /^NAME\s+STATUS\s+ARCH\s+CPU\(ALLOC\/CAP\)\s+MEMORY\(ALLOC\/CAP\)\s+GPU\s+PODS\s+ZONE\s+GPU-MODEL\n/,
    );
    const lines = rows(table.stdout);
    assert.ok(lines.length > 0, table.stdout);
    for (const line of lines)
      assert.match(
        line,
        /^\S+\s+(Ready|NotReady)\s+(amd64|arm64|riscv64)\s+[\d.m]+\/[\d.]+\s+\S+\/\S+\s+\d+\/\d+\s+\d+\/\d+\s/,
      );

    const asJson = await yj(['get', 'nodes', '--cluster', name, '-o', 'json']);
    const list = JSON.parse(asJson.stdout) as { kind: string; items: { name: string }[] };
    assert.equal(list.kind, 'NodeList');
    assert.deepEqual(
      list.items.map((n) => n.name),
      lines.map((l) => l.split(/\s+/)[0]),
    );

    const bare = await yj(['get', 'nodes']);
    assert.equal(bare.code, 1);
    assert.match(bare.stderr, /--cluster NAME/);
    const missing = await yj(['get', 'nodes', '--cluster', 'no-such-cluster']);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /no-such-cluster/);
  });

  test('apply an application, then get and describe it', async () => {
    const file = join(tmp, 'shop.yaml');
    await writeFile(file, SHOP);
    const dry = await yj(['apply', '-f', file, '--dry-run']);
    assert.equal(dry.code, 0, dry.stderr);
    assert.equal(dry.stdout, 'application.yunjian.io/shop created (server dry run)\n');
    assert.deepEqual(await storedApps(), []);

    const created = await yj(['apply', '-f', file]);
    assert.equal(created.code, 0, created.stderr);
    assert.equal(created.stdout, 'application.yunjian.io/shop created\n');
    const again = await yj(['apply', '-f', file]);
    assert.equal(again.stdout, 'application.yunjian.io/shop unchanged\n');

    const table = await yj(['get', 'apps']);
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, /^NAME\s+COMPONENTS\s+READY\s+STATUS\s+CLOUDS\s+AGE\nshop\s+2\s/);

    const all = await yj(['get', 'apps', '-A', '-l', 'team=retail']);
    assert.match(all.stdout, /^NAMESPACE\s+NAME\s.*\ndefault\s+shop\s/);

    const asJson = await yj(['get', 'application', 'shop', '-o', 'json']);
    const obj = JSON.parse(asJson.stdout) as {
      kind: string;
      metadata: { name: string; namespace: string };
    };
    assert.deepEqual(
      [obj.kind, obj.metadata.name, obj.metadata.namespace],
      ['Application', 'shop', 'default'],
    );

    const d = await yj(['describe', 'app', 'shop']);
    assert.equal(d.code, 0, d.stderr);
    for (const want of [
      /^Name:\s+shop$/m,
      /^Namespace:\s+default$/m,
      /^Labels:\s+team=retail$/m,
      /^Components:\n {2}web:\n\s+Image:\s+registry.example.com\/shop\/web:1.4.2$/m,
      /Ports:\s+http 8080\/TCP/,
      /Depends On:\s+api/,
      /^Placement:\n\s+Clouds:\s+aws, aliyun$/m,
      /^Traffic:\n\s+Host:\s+shop.example.com$/m,
      /^Status:$/m,
      /^ {2}Placements:/m,
    ]) {
      assert.match(d.stdout, want);
    }
  });

  for (const c of INVALID) {
    test(`invalid document (${c.name}) is refused with its field path`, async () => {
      const before = await storedApps();
      const r = await yj(['apply', '-f', '-'], { stdin: c.doc });
      assert.equal(r.code, 1);
      assert.ok(r.stderr.startsWith('error: '), r.stderr);
      assert.ok(r.stderr.includes(`${c.field}:`), r.stderr);
      assert.deepEqual(await storedApps(), before);
    });
  }

  test('a batch with invalid documents stores nothing and reports every field path', async () => {
    const before = await storedApps();
    const file = join(tmp, 'batch.yaml');
    const good = app('good-in-bad-batch', '    - {name: web, image: web:1, replicas: 1}\n');
    await writeFile(file, [good, ...INVALID.map((c) => c.doc)].join('---\n'));
    const r = await yj(['apply', '-f', file]);
    assert.equal(r.code, 1);
    for (const c of INVALID)
      assert.ok(r.stderr.includes(`${c.field}:`), `${c.field} missing from:\n${r.stderr}`);
    assert.ok(r.stderr.includes(`(from ${file}, document 3)`), r.stderr);
    assert.deepEqual(await storedApps(), before);
  });

  test("apply keeps a document's own namespace, and -n must agree with it (as kubectl)", async () => {
    const doc = app('ns-own', '    - {name: web, image: web:1, replicas: 1}\n').replace(
      'metadata: {name: ns-own}',
      'metadata: {name: ns-own, namespace: team-a}',
    );
    const own = await yj(['apply', '-f', '-'], { stdin: doc });
    assert.equal(own.code, 0, own.stderr);
    const res = await fetch(`${cp.url}/api/v1alpha1/namespaces/team-a/applications/ns-own`, {
      headers: { authorization: `Bearer ${cp.token}` },
    });
    assert.equal(res.status, 200);

    const same = await yj(['apply', '-n', 'team-a', '-f', '-'], { stdin: doc });
    assert.equal(same.code, 0, same.stderr);
    const other = await yj(['apply', '-n', 'team-b', '-f', '-'], { stdin: doc });
    assert.equal(other.code, 1);
    assert.match(other.stderr, /metadata\.namespace/);
    await yj(['delete', 'app', 'ns-own', '-n', 'team-a']);
  });

  test('a local syntax error is reported with file and line, and nothing is sent', async () => {
    const file = join(tmp, 'broken.yaml');
    await writeFile(file, 'kind: Application\nmetadata:\n  name: x\n  labels: a: b\n');
    const r = await yj(['apply', '-f', file], {
      auth: false,
      env: { YUNJIAN_SERVER: 'http://127.0.0.1:1' },
    });
    assert.equal(r.code, 1);
    assert.match(r.stderr, new RegExp(`^error: syntax error in ${file}:4:`));
  });

  test('without a token the server refuses and the CLI says how to pass one', async () => {
    const r = await yj(['get', 'clouds'], { auth: false });
    assert.equal(r.code, 1);
    assert.match(
      r.stderr,
      /^error: unauthorized by http:\/\/127\.0\.0\.1:\d+: .*\nNo token was sent\. Pass one with --token TOKEN/,
    );
    assert.match(
      r.stderr,
      /--token TOKEN, the YUNJIAN_TOKEN variable or `yunjian config set token TOKEN`/,
    );
    assert.match(r.stderr, /admin\.token/);
    assert.equal(r.stdout, '');
  });

  test('the admin token of the data directory is used by default', async () => {
    const r = await yj(['get', 'clouds', '-o', 'name'], {
      auth: false,
      env: { YUNJIAN_DATA_DIR: cp.dataDir },
    });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^cloud\.yunjian\.io\/aws$/m);
  });

  test('an unreachable server names the URL and how to start one', async () => {
    const r = await yj(['get', 'clouds', '--server', 'http://127.0.0.1:1']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^error: cannot reach the Yunjian server at http:\/\/127\.0\.0\.1:1 /);
    assert.match(r.stderr, /`npm start` or `yunjian server`/);
  });

  test('chaos fail, list and recover a cluster', async () => {
    const names = await yj(['get', 'clusters', '-o', 'name']);
    const cluster = names.stdout.split('\n')[0]?.split('/')[1] ?? '';
    const failed = await yj(['chaos', 'fail', 'cluster', cluster]);
    assert.equal(failed.code, 0, failed.stderr);
    assert.match(
      failed.stdout,
      new RegExp(`^cluster/${cluster} failed: 1 cluster \\(${cluster}\\), \\d+ nodes affected\\n$`),
    );
    const list = await yj(['chaos', 'list']);
    assert.match(list.stdout, new RegExp(`^SCOPE\\s+NAME\\s+AGE\\ncluster\\s+${cluster}\\s`));
    const recovered = await yj(['chaos', 'recover', 'cluster', cluster]);
    assert.equal(recovered.code, 0, recovered.stderr);
    assert.match(recovered.stdout, new RegExp(`^cluster/${cluster} recovered: `));
  });

  test('get -w prints the current state, then changes, and exits 0 on SIGINT', async () => {
    const child = spawn(BIN, args(['get', 'apps', '-w'], true), { env: childEnv() });
    let stdout = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
    const waitFor = async (re: RegExp) => {
      const deadline = Date.now() + 10_000;
      while (!re.test(stdout)) {
        assert.ok(Date.now() < deadline, `timed out waiting for ${re} in:\n${stdout}`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    };
    await waitFor(/^EVENT\s+NAME\s.*\nADDED\s+shop\s/m);
    const applied = await yj(['apply', '-f', '-'], {
      stdin: app('watched', '    - {name: web, image: web:1, replicas: 1}\n'),
    });
    assert.equal(applied.code, 0, applied.stderr);
    await waitFor(/^ADDED\s+watched\s/m);
    child.kill('SIGINT');
    const [code] = (await once(child, 'close')) as [number | null];
    assert.equal(code, 0);
    assert.equal((await yj(['delete', 'app', 'watched'])).code, 0);
  });

  test('delete removes the application', async () => {
    const r = await yj(['delete', 'app', 'shop']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'application.yunjian.io/shop deleted\n');
    const gone = await yj(['get', 'app', 'shop']);
    assert.equal(gone.code, 1);
    assert.match(gone.stderr, /^error: .*shop.*not found/);
  });
});
