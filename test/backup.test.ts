// `yunjian backup create|restore` and `yunjian store migrate`, run in-process
// through the CLI against real SQLite files and a real etcd (scripts/etcd.sh):
// a backup is one revision's snapshot with that revision in its header, holds
// Secrets only sealed, restores objects as they were into an empty store only
// (unless --force), and a migration checks every kind arrived.
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { run, type CliIo } from '../src/cli/program.ts';
import { EncryptedStore } from '../src/store/encrypted.ts';
import { openEtcdStore, openSqliteStore, type BackendStore } from '../src/store/index.ts';
import { KeyRing } from '../src/store/keys.ts';
import { compareDigests, digestByKind } from '../src/store/transfer.ts';
import type { StoredObject } from '../src/store/types.ts';
import { EtcdCluster, etcdMissing } from './etcd.harness.ts';

const missing = etcdMissing();
const tmp = mkdtempSync(join(tmpdir(), 'yunjian-backup-'));
after(() => rmSync(tmp, { recursive: true, force: true }));
let dirs = 0;
const freshDir = () => join(tmp, `d${++dirs}`);

async function yj(args: string[], env: Record<string, string> = {}) {
  const out: string[] = [];
  const err: string[] = [];
  const io: CliIo = {
    stdout: (t) => out.push(t),
    stderr: (t) => err.push(t),
    readStdin: () => Promise.resolve(''),
    env,
    home: tmp,
    now: () => Date.now(),
    interrupted: () => new AbortController().signal,
  };
  const code = await run(args, io);
  return { code, stdout: out.join(''), stderr: err.join('') };
}

function obj(kind: string, name: string, spec: unknown, namespace?: string): StoredObject {
  return {
    apiVersion: 'yunjian.io/v1alpha1',
    kind,
    metadata: { name, ...(namespace !== undefined ? { namespace } : {}), labels: { a: 'b' } },
    spec,
  };
}

/** Fills `backend` (through the encryption wrapper, as the server does); returns the Secret's plaintext. */
async function fill(backend: BackendStore, keyFile: string): Promise<string> {
  const store = new EncryptedStore({ inner: backend, keys: KeyRing.loadOrCreate(keyFile).ring });
  const plaintext = `canary-${randomBytes(12).toString('hex')}`;
  await store.create(obj('Secret', 'db', { type: 'kubeconfig', data: plaintext }, 'default'));
  const shop = await store.create(obj('Application', 'shop', { replicas: 1 }, 'default'));
  await store.update({ ...shop, spec: { replicas: 3 } });
  const key = { kind: 'Application', namespace: 'default', name: 'shop' };
  await store.updateStatus({ ...(await store.get(key)), status: { phase: 'Running' } });
  for (const c of ['aws', 'gcp', 'azure']) await store.create(obj('Cloud', c, { provider: c }));
  await store.delete({ kind: 'Cloud', name: 'gcp' });
  return plaintext;
}

/** Objects without resourceVersion, the one field a copy may change. */
async function contents(store: BackendStore) {
  return (await store.snapshot()).objects.map((o) => {
    const { resourceVersion: _rv, ...metadata } = o.metadata;
    return { ...o, metadata };
  });
}

void describe('backup and restore on SQLite', () => {
  const source = freshDir();
  const keyFile = join(tmp, 'keys.yaml');
  const file = join(tmp, 'sqlite.backup');
  let plaintext = '';
  let revision = '';

  before(async () => {
    const store = openSqliteStore({ path: join(source, 'yunjian.db') });
    plaintext = await fill(store, keyFile);
    revision = await store.revision();
    await store.close();
  });

  void it('backup create writes the snapshot at one revision, 0600, with Secrets sealed', async () => {
    const r = await yj(['backup', 'create', file, '--store', `sqlite:${source}`]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`backed up 4 objects at revision ${revision} to `));
    assert.equal(statSync(file).mode & 0o777, 0o600);
    const text = readFileSync(file, 'utf8');
    const header = JSON.parse(text.split('\n')[0]!) as { revision: string; objects: number };
    assert.equal(header.revision, revision);
    assert.equal(header.objects, 4);
    assert.ok(!text.includes(plaintext), 'the Secret is in the file only as ciphertext');
    assert.match(text, /"ciphertext"/);
  });

  void it('backup restore writes every object as it was; the same key file decrypts the Secret', async () => {
    const target = freshDir();
    const r = await yj(['backup', 'restore', file, '--store', `sqlite:${target}`]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`restored 4 objects \\(backed up at revision ${revision}`));
    const from = openSqliteStore({ path: join(source, 'yunjian.db') });
    const to = openSqliteStore({ path: join(target, 'yunjian.db') });
    try {
      assert.deepEqual(await contents(to), await contents(from));
      const decrypted = new EncryptedStore({ inner: to, keys: KeyRing.load(keyFile) });
      const secret = await decrypted.get({ kind: 'Secret', namespace: 'default', name: 'db' });
      assert.deepEqual(secret.spec, { type: 'kubeconfig', data: plaintext });
    } finally {
      await from.close();
      await to.close();
    }
  });

  void it('restore refuses a store that is not empty, and replaces it with --force', async () => {
    const target = freshDir();
    const store = openSqliteStore({ path: join(target, 'yunjian.db') });
    await store.create(obj('Cloud', 'stray', {}));
    await store.close();
    const refused = await yj(['backup', 'restore', file, '--store', `sqlite:${target}`]);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /not empty \(1 objects\).*--force/);
    const forced = await yj(['backup', 'restore', file, '--store', `sqlite:${target}`, '--force']);
    assert.equal(forced.code, 0, forced.stderr);
    const after = openSqliteStore({ path: join(target, 'yunjian.db') });
    try {
      const names = (await after.snapshot()).objects.map((o) => o.metadata.name);
      assert.deepEqual(names.sort(), ['aws', 'azure', 'db', 'shop']);
    } finally {
      await after.close();
    }
  });

  interface UsageCase {
    title: string;
    args: (file: string) => string[];
    env?: Record<string, string>;
    message: RegExp;
  }
  const usage: UsageCase[] = [
    {
      title: 'a malformed --store',
      args: (f) => ['backup', 'create', f, '--store', 'postgres://x'],
      message: /--store: expected sqlite, sqlite:DIR or etcd:\/\//,
    },
    {
      title: 'a store that does not exist',
      args: (f) => ['backup', 'create', f, '--store', `sqlite:${join(tmp, 'nope')}`],
      message: /--store: no store at .*nope/,
    },
    {
      title: 'etcd flags on a SQLite store',
      args: (f) => ['backup', 'create', f, '--store', `sqlite:${source}`, '--etcd-cacert', f],
      message: /--etcd-cacert: only with an etcd:\/\/ store/,
    },
    {
      title: '--etcd-user without the password variable',
      args: (f) => ['backup', 'create', f, '--store', 'etcd://127.0.0.1:1', '--etcd-user', 'root'],
      message: /--etcd-user: set the password in YUNJIAN_ETCD_PASSWORD/,
    },
    {
      title: 'an etcd endpoint that is not host:port',
      args: () => ['store', 'migrate', '--from', `sqlite:${source}`, '--to', 'etcd://a:b'],
      message: /--to: etcd endpoint "a:b" is not host:port/,
    },
    {
      title: 'a truncated backup file',
      args: () => {
        const cut = join(tmp, 'cut.backup');
        writeFileSync(cut, readFileSync(file, 'utf8').split('\n').slice(0, 3).join('\n'));
        return ['backup', 'restore', cut, '--store', `sqlite:${freshDir()}`];
      },
      message: /promises 4 objects, the file holds 2; it is truncated/,
    },
  ];
  for (const c of usage) {
    void it(`fails with a message naming the problem: ${c.title}`, async () => {
      const r = await yj(c.args(join(tmp, 'unused.backup')), c.env);
      assert.equal(r.code, 1, r.stdout);
      assert.match(r.stderr, c.message);
    });
  }
});

void describe('migration check', () => {
  const base = [obj('Cloud', 'aws', { p: 1 }), obj('Application', 'a', { r: 1 }, 'default')];
  const cases: Array<[string, StoredObject[], string[]]> = [
    [
      'identical (resourceVersions may differ)',
      base.map((o) => ({ ...o, metadata: { ...o.metadata, resourceVersion: '99' } })),
      [],
    ],
    [
      'one object changed',
      [base[0]!, obj('Application', 'a', { r: 2 }, 'default')],
      ['Application'],
    ],
    ['one object missing', [base[1]!], ['Cloud']],
    ['one object extra', [...base, obj('Cloud', 'gcp', {})], ['Cloud']],
  ];
  for (const [title, arrived, bad] of cases) {
    void it(`compares count and content per kind: ${title}`, () => {
      const checks = compareDigests(digestByKind(base), digestByKind(arrived));
      assert.deepEqual(
        checks.filter((c) => !c.ok).map((c) => c.kind),
        bad,
      );
    });
  }
});

void describe('backup, restore and migrate with etcd', { skip: missing }, () => {
  let cluster: EtcdCluster;
  before(async () => {
    cluster = await EtcdCluster.start(1);
  });
  after(async () => {
    await cluster.stop();
  });
  const etcd = (prefix: string) =>
    openEtcdStore({ endpoints: cluster.endpoints, prefix, compactionIntervalMs: 0 });

  void it('store migrate copies a SQLite store into etcd and checks every kind; backup from etcd restores into another prefix', async () => {
    const source = freshDir();
    const sqlite = openSqliteStore({ path: join(source, 'yunjian.db') });
    const plaintext = await fill(sqlite, join(tmp, 'migrate-keys.yaml'));
    await sqlite.close();
    const prefix = `/m-${randomUUID()}/`;
    const migrated = await yj([
      'store',
      'migrate',
      '--from',
      `sqlite:${source}`,
      '--to',
      cluster.url,
      '--etcd-prefix',
      prefix,
    ]);
    assert.equal(migrated.code, 0, migrated.stderr);
    assert.match(migrated.stdout, /copied 4 objects at revision \d+ from sqlite .* to etcd /);
    assert.match(migrated.stdout, /Application\s+1\s+1\s+ok\n/);
    assert.match(migrated.stdout, /Cloud\s+2\s+2\s+ok\n/);
    assert.match(migrated.stdout, /Secret\s+1\s+1\s+ok\n/);

    const again = await yj([
      'store',
      'migrate',
      '--from',
      `sqlite:${source}`,
      '--to',
      cluster.url,
      '--etcd-prefix',
      prefix,
    ]);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /not empty/);

    const file = join(tmp, 'etcd.backup');
    const created = await yj([
      'backup',
      'create',
      file,
      '--store',
      cluster.url,
      '--etcd-prefix',
      prefix,
    ]);
    assert.equal(created.code, 0, created.stderr);
    assert.ok(!readFileSync(file, 'utf8').includes(plaintext));
    const other = `/r-${randomUUID()}/`;
    const restored = await yj([
      'backup',
      'restore',
      file,
      '--store',
      cluster.url,
      '--etcd-prefix',
      other,
    ]);
    assert.equal(restored.code, 0, restored.stderr);

    const from = openSqliteStore({ path: join(source, 'yunjian.db') });
    const [viaMigrate, viaRestore] = [etcd(prefix), etcd(other)];
    try {
      const want = await contents(from);
      assert.deepEqual(await contents(viaMigrate), want);
      assert.deepEqual(await contents(viaRestore), want);
    } finally {
      await from.close();
      await viaMigrate.close();
      await viaRestore.close();
    }
  });
});
