// Secrets encrypted at rest: the EncryptedStore over a real SQLite file, the
// key file, rotation through the API and the CLI, and the server's start-up
// migration of plaintext Secrets. "Not on disk" is checked the blunt way: every
// byte of every file in the data directory is searched for the secret.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { runServer } from '../src/cmd/server.ts';
import { run, type CliIo } from '../src/cli/program.ts';
import { kubeconfigSource } from '../src/drivers/kubernetes/provider.ts';
import { YunjianError } from '../src/model/errors.ts';
import { runStoreConformance } from '../src/store/conformance/index.ts';
import { EncryptedStore } from '../src/store/encrypted.ts';
import { KeyRing } from '../src/store/keys.ts';
import { openSqliteStore, type SqliteStore } from '../src/store/sqlite.ts';
import type { StoredObject } from '../src/store/types.ts';
import { inProcessServer } from './server.harness.ts';

const API = '/api/v1alpha1';

/** A value that occurs nowhere by chance. */
function canary(): string {
  return `yj-canary-${randomBytes(12).toString('hex')}`;
}

function secret(name: string, data: string, namespace?: string): StoredObject {
  return {
    apiVersion: 'yunjian.io/v1alpha1',
    kind: 'Secret',
    metadata: { name, ...(namespace !== undefined ? { namespace } : {}) },
    spec: { type: 'kubeconfig', data },
  };
}

/** Files under `dir` (recursively) whose bytes contain `needle`. */
async function filesContaining(dir: string, needle: string): Promise<string[]> {
  const hits: string[] = [];
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const path = join(entry.parentPath, entry.name);
    if ((await readFile(path)).includes(needle)) hits.push(path);
  }
  return hits;
}

/** Asserts that neither `value` nor its base64 is in any file under `dir`. */
async function assertNotOnDisk(dir: string, value: string, what: string): Promise<void> {
  for (const needle of [value, Buffer.from(value).toString('base64')]) {
    assert.deepEqual(await filesContaining(dir, needle), [], `${what} (${needle}) is on disk`);
  }
}

/** An EncryptedStore over a SQLite file in a fresh directory, with its key file there too. */
class Lab {
  readonly dir: string;
  readonly keyFile: string;
  readonly dbPath: string;
  readonly kinds: readonly string[] | undefined;
  backend: SqliteStore;
  store: EncryptedStore;

  constructor(dir: string, kinds?: readonly string[]) {
    this.dir = dir;
    this.keyFile = join(dir, 'keys', 'encryption-keys.yaml');
    this.dbPath = join(dir, 'store.db');
    this.kinds = kinds;
    [this.backend, this.store] = this.#open();
  }

  static async create(kinds?: readonly string[]): Promise<Lab> {
    return new Lab(await mkdtemp(join(tmpdir(), 'yunjian-secrets-')), kinds);
  }

  /** Closes the store and opens the same files with the key file as it is now. */
  async reopen(): Promise<void> {
    await this.store.close();
    [this.backend, this.store] = this.#open();
  }

  async cleanup(): Promise<void> {
    await this.store.close();
    await rm(this.dir, { recursive: true, force: true });
  }

  #open(): [SqliteStore, EncryptedStore] {
    const backend = openSqliteStore({ path: this.dbPath, eventRetention: 1000 });
    const store = new EncryptedStore({
      inner: backend,
      keys: KeyRing.loadOrCreate(this.keyFile).ring,
      ...(this.kinds !== undefined ? { kinds: this.kinds } : {}),
      purgeHistory: () => backend.purgeHistory(),
    });
    return [backend, store];
  }
}

/** Runs `fn` with a fresh Lab and always removes it. */
async function withLab(fn: (lab: Lab) => Promise<void>): Promise<void> {
  const lab = await Lab.create();
  try {
    await fn(lab);
  } finally {
    await lab.cleanup();
  }
}

async function expectInternal(promise: Promise<unknown>, message: RegExp): Promise<void> {
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(err instanceof YunjianError, String(err));
    assert.equal(err.reason, 'InternalError');
    assert.match(err.message, message);
    return true;
  });
}

// ---- the wrapper passes the shared contract --------------------------------

for (const [title, kinds] of [
  ['encrypted sqlite (Secrets encrypted)', undefined],
  ['encrypted sqlite (every kind the suite writes encrypted)', ['Application', 'Cloud']],
] as const) {
  runStoreConformance(title, async () => {
    const lab = await Lab.create(kinds);
    return { store: lab.store, cleanup: () => lab.cleanup() };
  });
}

/** The stored (sealed) spec, read past the wrapper. */
async function sealed(lab: Lab, name: string, namespace?: string) {
  const raw = await lab.backend.get({ kind: 'Secret', namespace, name });
  return raw.spec as {
    encrypted: { keyId: string; wrappedKey: string; ciphertext: string; tag: string };
    data?: unknown;
  };
}

async function collect(watch: AsyncIterable<{ object: StoredObject }>, n: number) {
  const out: StoredObject[] = [];
  for await (const e of watch) {
    out.push(e.object);
    if (out.length === n) break;
  }
  return out;
}

const dataOf = (o: StoredObject) => (o.spec as { data?: string } | undefined)?.data;

// ---- the wrapper over a SQLite file ------------------------------------------

void describe('EncryptedStore over SQLite', () => {
  void it('keeps every version of a Secret off disk, and reads back what was written', () =>
    withLab(async (lab) => {
      const [v1, v2, other] = [canary(), canary(), canary()];
      await lab.store.create(secret('db', v1));
      const current = await lab.store.get({ kind: 'Secret', name: 'db' });
      await lab.store.update({ ...current, spec: { type: 'kubeconfig', data: v2 } });
      await lab.store.create(secret('db', other, 'team-a'));

      assert.equal(dataOf(await lab.store.get({ kind: 'Secret', name: 'db' })), v2);
      const listed = await lab.store.list('Secret');
      assert.deepEqual(listed.items.map(dataOf), [v2, other]);
      const history = await collect(lab.store.watch({ kind: 'Secret', fromRevision: '0' }), 3);
      assert.deepEqual(history.map(dataOf), [v1, v2, other], 'watch replays plaintext');

      const stored = await sealed(lab, 'db');
      assert.equal(stored.data, undefined);
      assert.equal(stored.encrypted.keyId, lab.store.keys.primary.name);
      // While the store is open (the WAL holds the writes) and after it closed.
      for (const value of [v1, v2, other]) await assertNotOnDisk(lab.dir, value, 'a secret');
      await lab.reopen();
      for (const value of [v1, v2, other]) await assertNotOnDisk(lab.dir, value, 'a secret');
      assert.equal(dataOf(await lab.store.get({ kind: 'Secret', name: 'db' })), v2);
    }));

  void it('an update that changes nothing keeps the ciphertext and the generation', () =>
    withLab(async (lab) => {
      const created = await lab.store.create(secret('db', canary()));
      const before = await sealed(lab, 'db');
      const same = await lab.store.update(created);
      assert.equal(same.metadata.generation, 1);
      assert.deepEqual(await sealed(lab, 'db'), before);
      const changed = await lab.store.update({ ...same, spec: { type: 'kubeconfig', data: 'x' } });
      assert.equal(changed.metadata.generation, 2);
      assert.notEqual((await sealed(lab, 'db')).encrypted.ciphertext, before.encrypted.ciphertext);
    }));

  void it('a batch seals every Secret it writes and returns them as written', () =>
    withLab(async (lab) => {
      const [a, b, c] = [canary(), canary(), canary()];
      await lab.store.create(secret('old', canary()));
      const written = await lab.store.batch([
        { op: 'create', object: secret('one', a) },
        { op: 'update', object: secret('old', b), options: { expectedResourceVersion: null } },
        { op: 'create', object: secret('two', c, 'team-a') },
        { op: 'delete', key: { kind: 'Secret', name: 'one' } },
      ]);
      assert.deepEqual(written.map(dataOf), [a, b, c, a]);
      assert.equal(dataOf(await lab.store.get({ kind: 'Secret', name: 'old' })), b);
      for (const name of ['old', 'two'])
        assert.equal(
          (await sealed(lab, name, name === 'two' ? 'team-a' : undefined)).encrypted.keyId,
          lab.store.keys.primary.name,
        );
      for (const value of [a, b, c]) await assertNotOnDisk(lab.dir, value, 'a batched secret');
    }));

  void it('seals plaintext Secrets written before encryption and purges their history', () =>
    withLab(async (lab) => {
      await lab.store.close();
      const [old, kept, deleted] = [canary(), canary(), canary()];
      const plain = openSqliteStore({ path: lab.dbPath });
      const created = await plain.create(secret('db', old));
      await plain.update({ ...created, spec: { type: 'kubeconfig', data: kept } });
      await plain.create(secret('gone', deleted));
      await plain.delete({ kind: 'Secret', name: 'gone' });
      const before = await plain.revision();
      await plain.close();
      // The search finds plaintext when there is some.
      assert.notDeepEqual(await filesContaining(lab.dir, kept), []);

      await lab.reopen();
      assert.equal(dataOf(await lab.store.get({ kind: 'Secret', name: 'db' })), kept);
      assert.equal(await lab.store.reencryptAll({ purge: 'if-rewritten' }), 1);
      assert.equal(await lab.store.reencryptAll({ purge: 'if-rewritten' }), 0, 'idempotent');
      for (const value of [old, kept, deleted]) await assertNotOnDisk(lab.dir, value, 'plaintext');
      assert.equal(dataOf(await lab.store.get({ kind: 'Secret', name: 'db' })), kept);
      // The purged history is gone for watchers too: they re-list.
      await assert.rejects(
        collect(lab.store.watch({ kind: 'Secret', fromRevision: String(Number(before) - 1) }), 1),
        (err: unknown) => err instanceof YunjianError && err.reason === 'Expired',
      );
    }));

  void it('rotateKey seals every Secret with a new key, drops the old ciphertext, prunes on request', () =>
    withLab(async (lab) => {
      const values = [canary(), canary(), canary()];
      for (const [i, v] of values.entries()) await lab.store.create(secret(`s${i}`, v));
      const first = lab.store.keys.primary.name;
      const oldCiphertexts = await Promise.all(values.map((_, i) => sealed(lab, `s${i}`)));

      const rotated = await lab.store.rotateKey({ prune: false });
      assert.equal(rotated.reencrypted, 3);
      assert.deepEqual(rotated.keys, [rotated.key, first]);
      assert.deepEqual(rotated.pruned, []);
      for (const [i, v] of values.entries()) {
        assert.equal((await sealed(lab, `s${i}`)).encrypted.keyId, rotated.key);
        assert.equal(dataOf(await lab.store.get({ kind: 'Secret', name: `s${i}` })), v);
      }
      for (const old of oldCiphertexts) {
        await assertNotOnDisk(lab.dir, old.encrypted.ciphertext, 'old ciphertext');
        await assertNotOnDisk(lab.dir, old.encrypted.wrappedKey, 'old wrapped key');
      }
      const file = parse(await readFile(lab.keyFile, 'utf8')) as { keys: { name: string }[] };
      assert.deepEqual(
        file.keys.map((k) => k.name),
        [rotated.key, first],
      );
      assert.equal((await stat(lab.keyFile)).mode & 0o777, 0o600);

      // What the file says is what a restarted server reads with.
      await lab.reopen();
      assert.equal(lab.store.keys.primary.name, rotated.key);
      assert.equal(dataOf(await lab.store.get({ kind: 'Secret', name: 's1' })), values[1]);

      const pruned = await lab.store.rotateKey({ prune: true });
      assert.deepEqual(pruned.pruned, [rotated.key, first]);
      assert.deepEqual(lab.store.keys.names, [pruned.key]);
      await lab.reopen();
      for (const [i, v] of values.entries())
        assert.equal(dataOf(await lab.store.get({ kind: 'Secret', name: `s${i}` })), v);
    }));

  void it('a key file that cannot be written fails the rotation and changes nothing', () =>
    withLab(async (lab) => {
      const value = canary();
      await lab.store.create(secret('db', value));
      const before = lab.store.keys.names;
      await rm(join(lab.dir, 'keys'), { recursive: true });
      await expectInternal(
        lab.store.rotateKey({ prune: false }),
        /cannot write the encryption key file .*encryption-keys\.yaml/,
      );
      assert.deepEqual(lab.store.keys.names, before);
      assert.equal((await sealed(lab, 'db')).encrypted.keyId, before[0]);
      assert.equal(dataOf(await lab.store.get({ kind: 'Secret', name: 'db' })), value);
    }));

  // [title, what is written in place of Secret "b"'s stored spec, expected error]
  type Spec = Awaited<ReturnType<typeof sealed>>;
  const flip = (b64: string) => {
    const bytes = Buffer.from(b64, 'base64');
    bytes[0] = (bytes[0] ?? 0) ^ 1;
    return bytes.toString('base64');
  };
  const tampering: [string, (a: Spec, b: Spec) => Spec, RegExp][] = [
    ['the envelope of another Secret', (a) => a, /does not unwrap its data key/],
    [
      'altered ciphertext',
      (_a, b) => ({ encrypted: { ...b.encrypted, ciphertext: flip(b.encrypted.ciphertext) } }),
      /ciphertext does not authenticate/,
    ],
    [
      'altered tag',
      (_a, b) => ({ encrypted: { ...b.encrypted, tag: flip(b.encrypted.tag) } }),
      /ciphertext does not authenticate/,
    ],
    [
      'altered wrapped key',
      (_a, b) => ({ encrypted: { ...b.encrypted, wrappedKey: flip(b.encrypted.wrappedKey) } }),
      /does not unwrap its data key/,
    ],
  ];
  for (const [title, tamper, message] of tampering) {
    void it(`refuses ${title} instead of returning another secret or garbage`, () =>
      withLab(async (lab) => {
        await lab.store.create(secret('a', canary()));
        // The same name in another namespace: the identity bound is the whole key.
        await lab.store.create(secret('a', canary(), 'other'));
        const b = await lab.backend.get({ kind: 'Secret', name: 'a', namespace: 'other' });
        const spec = tamper(await sealed(lab, 'a'), b.spec as Spec);
        await lab.backend.update({ ...b, spec }, { expectedResourceVersion: null });
        await expectInternal(
          lab.store.get({ kind: 'Secret', name: 'a', namespace: 'other' }),
          message,
        );
        await expectInternal(lab.store.list('Secret'), message);
      }));
  }

  void it('a missing or changed key is a clear error; the Secret can still be deleted', () =>
    withLab(async (lab) => {
      await lab.store.create(secret('db', canary()));
      const name = lab.store.keys.primary.name;
      const writeKey = (keyName: string) =>
        writeFile(
          lab.keyFile,
          `keys:\n  - name: ${keyName}\n    secret: ${randomBytes(32).toString('base64')}\n`,
        );

      await writeKey(name);
      await lab.reopen();
      await expectInternal(
        lab.store.get({ kind: 'Secret', name: 'db' }),
        new RegExp(
          `key "${name}" in .* does not unwrap its data key; the key's secret is not the one`,
        ),
      );

      await writeKey('another');
      await lab.reopen();
      await expectInternal(
        lab.store.get({ kind: 'Secret', name: 'db' }),
        new RegExp(
          `encrypted with key "${name}", which is not in the key file .* \\(it has another\\)`,
        ),
      );
      const deleted = await lab.store.delete({ kind: 'Secret', name: 'db' });
      assert.equal(deleted.metadata.name, 'db');
      assert.equal(deleted.spec, undefined);
    }));

  // [title, key file content, the field its error names]
  const key = randomBytes(32).toString('base64');
  const badKeyFiles: [string, string, string][] = [
    ['not YAML', 'keys: [', 'file'],
    ['no keys', 'keys: []\n', 'keys'],
    [
      'a short secret',
      `keys:\n  - name: k1\n    secret: ${randomBytes(16).toString('base64')}\n`,
      'keys[0].secret',
    ],
    [
      'a secret that is not base64',
      'keys:\n  - name: k1\n    secret: "not base64!"\n',
      'keys[0].secret',
    ],
    ['a bad name', `keys:\n  - name: "a b"\n    secret: ${key}\n`, 'keys[0].name'],
    [
      'a repeated name',
      `keys:\n  - name: k1\n    secret: ${key}\n  - name: k1\n    secret: ${key}\n`,
      'keys[1].name',
    ],
  ];
  for (const [title, content, field] of badKeyFiles) {
    void it(`a key file with ${title} is refused, naming ${field}`, async () => {
      const dir = await mkdtemp(join(tmpdir(), 'yunjian-keys-'));
      try {
        const path = join(dir, 'keys.yaml');
        await writeFile(path, content);
        assert.throws(
          () => KeyRing.load(path),
          (err: unknown) => {
            assert.ok(err instanceof YunjianError && err.reason === 'Invalid', String(err));
            assert.ok(err.message.includes(path), err.message);
            assert.match(
              err.message,
              new RegExp(`^  ${field.replace(/[[\]]/g, '\\$&')}: expected`, 'm'),
            );
            return true;
          },
        );
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    });
  }
});

// ---- the server: API, rotation, CLI, start-up migration -----------------------

void describe('the control plane', () => {
  const cp = inProcessServer('secrets', { fleet: 'none' });
  const value = canary();

  async function call(method: string, path: string, body?: unknown) {
    const res = await fetch(`${cp.url}${path}`, {
      method,
      headers: {
        ...cp.headers,
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  }

  const keyNames = async () =>
    (
      parse(await readFile(join(cp.dataDir, 'encryption-keys.yaml'), 'utf8')) as {
        keys: { name: string }[];
      }
    ).keys.map((k) => k.name);

  void it('stores a Secret created through the API only encrypted, and never shows it', async () => {
    const created = await call('POST', `${API}/secrets`, secret('prod-kubeconfig', value));
    assert.equal(created.status, 201, JSON.stringify(created.body));
    assert.ok(!JSON.stringify(created.body).includes(value));
    const read = await call('GET', `${API}/secrets/prod-kubeconfig`);
    assert.equal(read.status, 200);
    assert.ok(!JSON.stringify(read.body).includes(value));
    await assertNotOnDisk(cp.dataDir, value, 'the secret');
    assert.equal((await stat(join(cp.dataDir, 'encryption-keys.yaml'))).mode & 0o777, 0o600);
  });

  void it('rotate-key re-encrypts through the API, and the CLI prunes', async () => {
    const [first] = await keyNames();
    const rotated = await call('POST', `${API}/secrets/rotate-key`, {});
    assert.equal(rotated.status, 200, JSON.stringify(rotated.body));
    assert.equal(rotated.body.reencrypted, 1);
    assert.deepEqual(await keyNames(), [rotated.body.key, first]);
    await assertNotOnDisk(cp.dataDir, value, 'the secret');

    const out: string[] = [];
    const io: CliIo = {
      stdout: (t) => out.push(t),
      stderr: (t) => out.push(t),
      readStdin: () => Promise.resolve(''),
      env: { YUNJIAN_SERVER: cp.url, YUNJIAN_TOKEN: cp.token },
      home: cp.dataDir,
      now: () => Date.now(),
      interrupted: () => new AbortController().signal,
    };
    assert.equal(await run(['secrets', 'rotate-key', '--prune'], io), 0, out.join(''));
    assert.match(out.join(''), /now encrypts new writes; 1 secret re-encrypted\nremoved keys: /);
    const names = await keyNames();
    assert.equal(names.length, 1);
    assert.ok(!names.includes(first ?? ''));
  });

  void it('refuses a rotate-key request it does not understand, naming the field', async () => {
    const bad = await call('POST', `${API}/secrets/rotate-key`, { prune: 'yes' });
    assert.equal(bad.status, 422);
    assert.match(String(bad.body.message), /prune/);
  });
});

void it('a server started on plaintext Secrets seals them; the kubernetes driver still reads them', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'yunjian-secrets-upgrade-'));
  try {
    const [kubeconfig, removed] = [canary(), canary()];
    // The store as a version without encryption left it.
    const plain = openSqliteStore({ path: join(dir, 'yunjian.db') });
    await plain.create(secret('c1-kubeconfig', kubeconfig));
    await plain.create(secret('old', removed));
    await plain.delete({ kind: 'Secret', name: 'old' });
    await plain.close();

    const server = await runServer({
      port: 0,
      host: '127.0.0.1',
      dataDir: dir,
      fleet: 'none',
      fleetScale: 1,
      log: () => {},
    });
    await server.close();
    await assertNotOnDisk(dir, kubeconfig, 'the kubeconfig');
    await assertNotOnDisk(dir, removed, 'a deleted secret');

    const backend = openSqliteStore({ path: join(dir, 'yunjian.db') });
    const store = new EncryptedStore({
      inner: backend,
      keys: KeyRing.load(join(dir, 'encryption-keys.yaml')),
    });
    try {
      const source = await kubeconfigSource(store, 'c1', { kubeconfigSecret: 'c1-kubeconfig' });
      assert.equal(source.kubeconfig, kubeconfig);
    } finally {
      await store.close();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
