// Key-encryption keys (KEKs) for data encrypted at rest, kept in a YAML file
// shaped like the key list of a Kubernetes EncryptionConfiguration provider:
//
//   keys:
//     - name: k20250101-120000-1a2b3c
//       secret: <base64 of 32 random bytes>
//
// The first key wraps the data keys of new writes; every key in the file
// unwraps, so a key stays readable until the operator (or `rotate-key
// --prune`) removes it. The file is only ever replaced whole (a temp file
// renamed over it, mode 0600), so a crash leaves the old or the new list,
// never a torn one.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { parse, stringify } from 'yaml';
import { InternalError, ValidationError, type FieldCause } from '../model/errors.ts';

/** AES-256. */
export const KEY_BYTES = 32;
const KEY_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;

const HEADER = `# Yunjian key-encryption keys. The first key encrypts new writes; every key
# listed here decrypts. Anyone who reads this file and the store reads the
# secrets: keep it out of the data directory's backups in production
# (yunjian server --encryption-key-file PATH). Rotate with
# \`yunjian secrets rotate-key\`.
`;

export interface KeyEncryptionKey {
  readonly name: string;
  readonly secret: Buffer;
}

export class KeyRing {
  readonly path: string;
  #keys: KeyEncryptionKey[];

  private constructor(path: string, keys: KeyEncryptionKey[]) {
    this.path = path;
    this.#keys = keys;
  }

  /** Reads the key file; a missing, unreadable or malformed file throws with the field to fix. */
  static load(path: string): KeyRing {
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (err) {
      throw fileError(path, [
        { field: 'file', message: `expected a readable key file: ${(err as Error).message}` },
      ]);
    }
    return new KeyRing(path, parseKeyFile(path, text));
  }

  /** Reads the key file, or creates one holding a single fresh key when none exists. */
  static loadOrCreate(path: string): { ring: KeyRing; created: boolean } {
    if (existsSync(path)) return { ring: KeyRing.load(path), created: false };
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    const keys = [newKey()];
    writeKeyFile(path, keys);
    return { ring: new KeyRing(path, keys), created: true };
  }

  /** The key new writes are encrypted with. */
  get primary(): KeyEncryptionKey {
    // The constructor's callers never pass an empty list.
    return this.#keys[0]!;
  }

  get names(): string[] {
    return this.#keys.map((k) => k.name);
  }

  find(name: string): KeyEncryptionKey | undefined {
    return this.#keys.find((k) => k.name === name);
  }

  /** Puts a fresh key first, in the file and then here. */
  rotate(): KeyEncryptionKey {
    let key = newKey();
    while (this.find(key.name) !== undefined) key = newKey();
    const keys = [key, ...this.#keys];
    writeKeyFile(this.path, keys);
    this.#keys = keys;
    return key;
  }

  /** Drops every key but the primary, in the file and then here; returns the dropped names. */
  prune(): string[] {
    const [primary, ...dropped] = this.#keys;
    if (primary === undefined || dropped.length === 0) return [];
    writeKeyFile(this.path, [primary]);
    this.#keys = [primary];
    return dropped.map((k) => k.name);
  }
}

function newKey(): KeyEncryptionKey {
  const stamp = new Date()
    .toISOString()
    .replace(/[-:]/g, '')
    .replace('T', '-')
    .replace(/\..*$/, '');
  return { name: `k${stamp}-${randomBytes(3).toString('hex')}`, secret: randomBytes(KEY_BYTES) };
}

function writeKeyFile(path: string, keys: readonly KeyEncryptionKey[]): void {
  const doc = { keys: keys.map((k) => ({ name: k.name, secret: k.secret.toString('base64') })) };
  const temp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    // The umask can only narrow 0600, so the key is never readable by others, not even briefly.
    writeFileSync(temp, HEADER + stringify(doc), { mode: 0o600, flag: 'wx', flush: true });
    renameSync(temp, path);
  } catch (err) {
    rmSync(temp, { force: true });
    throw new InternalError(
      `cannot write the encryption key file ${path}: ${(err as Error).message}`,
    );
  }
}

function fileError(path: string, causes: FieldCause[]): ValidationError {
  return new ValidationError(`encryption key file ${path}`, causes);
}

function parseKeyFile(path: string, text: string): KeyEncryptionKey[] {
  let doc: unknown;
  try {
    doc = parse(text);
  } catch (err) {
    throw fileError(path, [{ field: 'file', message: `expected YAML: ${(err as Error).message}` }]);
  }
  const list = (doc as { keys?: unknown } | null)?.keys;
  if (!Array.isArray(list) || list.length === 0) {
    throw fileError(path, [
      { field: 'keys', message: 'expected a non-empty list of {name, secret} keys' },
    ]);
  }
  const causes: FieldCause[] = [];
  const keys: KeyEncryptionKey[] = [];
  const seen = new Set<string>();
  list.forEach((entry: unknown, i) => {
    const { name, secret } = (entry ?? {}) as { name?: unknown; secret?: unknown };
    if (typeof name !== 'string' || !KEY_NAME.test(name)) {
      causes.push({
        field: `keys[${i}].name`,
        message: `expected a name of letters, digits, '.', '_' or '-' (at most 63), got ${JSON.stringify(name)}`,
      });
    } else if (seen.has(name)) {
      causes.push({
        field: `keys[${i}].name`,
        message: `expected a unique name; "${name}" repeats`,
      });
    } else {
      seen.add(name);
    }
    const bytes =
      typeof secret === 'string' && /^[A-Za-z0-9+/]+={0,2}$/.test(secret)
        ? Buffer.from(secret, 'base64')
        : undefined;
    if (bytes?.length !== KEY_BYTES) {
      causes.push({
        field: `keys[${i}].secret`,
        message: `expected the base64 of ${KEY_BYTES} bytes (a 256-bit key)${bytes === undefined ? '' : `, got ${bytes.length} bytes`}`,
      });
    }
    if (typeof name === 'string' && bytes?.length === KEY_BYTES) keys.push({ name, secret: bytes });
  });
  if (causes.length > 0) throw fileError(path, causes);
  return keys;
}
