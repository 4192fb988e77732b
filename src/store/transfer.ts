// Backup, restore and migration between backends, on BackendStore (below
// EncryptedStore, so Secrets stay sealed: a backup file holds their
// ciphertext, and a restored or migrated store needs the same key file).
//
// A backup file is JSON lines: a header with the revision the snapshot
// reflects, then one object per line in (kind, namespace, name) order. It is
// written to a temp file (mode 0600) renamed over FILE, so a crash leaves the
// old file or the new one, never a torn one.
import { createHash } from 'node:crypto';
import { readFile, rename, rm, writeFile } from 'node:fs/promises';
import { canonical } from '../model/canonical.ts';
import { BadRequestError, ConflictError } from '../model/errors.ts';
import type { BackendStore, StoredObject } from './types.ts';

const FORMAT = 'yunjian-backup';
const VERSION = 1;
/** Objects per restore call: each is one transaction (2 etcd operations per object). */
const RESTORE_CHUNK = 50;

export interface BackupHeader {
  format: typeof FORMAT;
  version: typeof VERSION;
  /** The store revision the snapshot reflects. */
  revision: string;
  createdAt: string;
  /** Where it was taken (`sqlite PATH` or `etcd ENDPOINTS`). */
  source: string;
  objects: number;
}

export interface Backup {
  header: BackupHeader;
  objects: StoredObject[];
}

export async function writeBackup(
  store: BackendStore,
  file: string,
  source: string,
): Promise<BackupHeader> {
  const snapshot = await store.snapshot();
  const header: BackupHeader = {
    format: FORMAT,
    version: VERSION,
    revision: snapshot.revision,
    createdAt: new Date().toISOString(),
    source,
    objects: snapshot.objects.length,
  };
  const lines = [header, ...snapshot.objects].map((o) => `${JSON.stringify(o)}\n`);
  const temp = `${file}.${process.pid}.tmp`;
  try {
    await writeFile(temp, lines.join(''), { mode: 0o600, flag: 'wx' });
    await rename(temp, file);
  } catch (err) {
    await rm(temp, { force: true });
    throw err;
  }
  return header;
}

/** The file's header and objects; BadRequestError naming the line that is wrong. */
export async function readBackup(file: string): Promise<Backup> {
  const lines = (await readFile(file, 'utf8')).split('\n').filter((l) => l !== '');
  const parse = (line: string, n: number): unknown => {
    try {
      return JSON.parse(line);
    } catch {
      throw new BadRequestError(`${file}:${n}: not JSON; is this a yunjian backup file?`);
    }
  };
  const header = parse(lines[0] ?? '{}', 1) as Partial<BackupHeader>;
  if (header.format !== FORMAT || header.version !== VERSION)
    throw new BadRequestError(`${file}:1: expected a ${FORMAT} header of version ${VERSION}`);
  const objects = lines.slice(1).map((line, i) => {
    const obj = parse(line, i + 2) as Partial<StoredObject>;
    if (typeof obj.kind !== 'string' || typeof obj.metadata?.name !== 'string')
      throw new BadRequestError(`${file}:${i + 2}: an object needs kind and metadata.name`);
    return obj as StoredObject;
  });
  if (objects.length !== header.objects)
    throw new BadRequestError(
      `${file}: the header promises ${header.objects} objects, the file holds ${objects.length}; it is truncated`,
    );
  return { header: header as BackupHeader, objects };
}

/**
 * Writes `objects` into `store` as they were (see BackendStore.restore). An
 * empty store only, unless `force`, which first deletes every object there.
 */
export async function restoreInto(
  store: BackendStore,
  objects: readonly StoredObject[],
  options: { force: boolean },
): Promise<void> {
  const existing = (await store.snapshot()).objects;
  if (existing.length > 0 && !options.force)
    throw new ConflictError(
      `the target store is not empty (${existing.length} objects); restore into an empty store, or pass --force to replace what is there`,
    );
  for (let i = 0; i < existing.length; i += RESTORE_CHUNK) {
    await store.batch(
      existing.slice(i, i + RESTORE_CHUNK).map((o) => ({
        op: 'delete' as const,
        key: { kind: o.kind, namespace: o.metadata.namespace, name: o.metadata.name },
        options: { expectedResourceVersion: null },
      })),
    );
  }
  for (let i = 0; i < objects.length; i += RESTORE_CHUNK)
    await store.restore(objects.slice(i, i + RESTORE_CHUNK));
}

export interface KindDigest {
  count: number;
  /** SHA-256 over the kind's objects in key order, each without its resourceVersion. */
  sha256: string;
}

/** Per kind, what must match after a copy: the count and a content hash. */
export function digestByKind(objects: readonly StoredObject[]): Map<string, KindDigest> {
  const byKind = new Map<string, string[]>();
  for (const o of objects) {
    const { resourceVersion: _differs, ...metadata } = o.metadata;
    const key = `${o.metadata.namespace ?? ''}\0${o.metadata.name}`;
    const list = byKind.get(o.kind) ?? [];
    list.push(`${key}\0${canonical({ ...o, metadata })}`);
    byKind.set(o.kind, list);
  }
  const digests = new Map<string, KindDigest>();
  for (const [kind, entries] of [...byKind].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    const hash = createHash('sha256');
    for (const e of entries.sort()) hash.update(e).update('\n');
    digests.set(kind, { count: entries.length, sha256: hash.digest('hex') });
  }
  return digests;
}

export interface KindCheck {
  kind: string;
  from: KindDigest | undefined;
  to: KindDigest | undefined;
  ok: boolean;
}

/** Every kind of either side, and whether its count and hash agree. */
export function compareDigests(
  from: Map<string, KindDigest>,
  to: Map<string, KindDigest>,
): KindCheck[] {
  const kinds = [...new Set([...from.keys(), ...to.keys()])].sort();
  return kinds.map((kind) => {
    const a = from.get(kind);
    const b = to.get(kind);
    return { kind, from: a, to: b, ok: a?.count === b?.count && a?.sha256 === b?.sha256 };
  });
}

export interface MigrationResult {
  /** The source revision the copy reflects. */
  revision: string;
  copied: number;
  checks: KindCheck[];
}

/** Copies a snapshot of `from` into `to` (see restoreInto), then compares both per kind. */
export async function migrate(
  from: BackendStore,
  to: BackendStore,
  options: { force: boolean },
): Promise<MigrationResult> {
  const snapshot = await from.snapshot();
  await restoreInto(to, snapshot.objects, options);
  const arrived = await to.snapshot();
  return {
    revision: snapshot.revision,
    copied: snapshot.objects.length,
    checks: compareDigests(digestByKind(snapshot.objects), digestByKind(arrived.objects)),
  };
}
