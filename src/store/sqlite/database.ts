// The SQLite file behind the store: its tables, its file modes, its prepared
// statements and the transactions every other part runs in.
//
// Tables:
//   objects (kind, namespace, name) -> revision, doc   current state; namespace '' = cluster-scoped
//   events  revision -> type, kind, namespace, name, doc   one row per write; feeds watch
//   meta    'revision'  the last revision handed out (never decreases, deletes included)
//           'compacted' every event with revision <= this has been removed
import { chmodSync, closeSync, existsSync, mkdirSync, openSync } from 'node:fs';
import { dirname } from 'node:path';
import { DatabaseSync, type SQLOutputValue, type StatementSync } from 'node:sqlite';
import { UnavailableError } from '../../model/errors.ts';
import type { StoredObject } from '../types.ts';

const SCHEMA_VERSION = 1;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (
  key   TEXT PRIMARY KEY,
  value INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS objects (
  kind      TEXT NOT NULL,
  namespace TEXT NOT NULL,
  name      TEXT NOT NULL,
  revision  INTEGER NOT NULL,
  doc       TEXT NOT NULL,
  PRIMARY KEY (kind, namespace, name)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS events (
  revision  INTEGER PRIMARY KEY,
  type      TEXT NOT NULL,
  kind      TEXT NOT NULL,
  namespace TEXT NOT NULL,
  name      TEXT NOT NULL,
  doc       TEXT NOT NULL
);
INSERT OR IGNORE INTO meta (key, value) VALUES
  ('schema_version', ${SCHEMA_VERSION}), ('revision', 0), ('compacted', 0);
`;

export type Statements = ReturnType<typeof prepareStatements>;

/** One open store file (or `:memory:`), WAL-journalled with synchronous=FULL. */
export class SqliteDatabase {
  readonly path: string;
  readonly stmt: Statements;
  readonly #db: DatabaseSync;
  readonly #queries = new Map<string, StatementSync>();
  #closed = false;

  constructor(path: string) {
    this.path = path;
    if (path !== ':memory:') ownerOnly(path);
    this.#db = new DatabaseSync(path, { timeout: 5000 });
    try {
      const mode = this.#db.prepare('PRAGMA journal_mode = WAL').get()?.journal_mode;
      if (path !== ':memory:' && mode !== 'wal') {
        throw new Error(`SQLite store ${path}: could not enable WAL journal (got ${String(mode)})`);
      }
      this.#db.exec('PRAGMA synchronous = FULL');
      this.transaction(() => this.#db.exec(SCHEMA));
      this.stmt = prepareStatements(this.#db);
      const version = this.meta('schema_version');
      if (version !== SCHEMA_VERSION) {
        throw new Error(
          `SQLite store ${path}: schema version ${version} is not supported (expected ${SCHEMA_VERSION})`,
        );
      }
    } catch (err) {
      this.#db.close();
      throw err;
    }
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Throws UnavailableError once the store is closed. */
  assertOpen(): void {
    if (this.#closed) throw new UnavailableError(`the store ${this.path} is closed`);
  }

  meta(key: string): number {
    return int(this.stmt.getMeta.get(key), 'value');
  }

  transaction<T>(fn: () => T, begin = 'BEGIN IMMEDIATE'): T {
    this.#db.exec(begin);
    try {
      const result = fn();
      this.#db.exec('COMMIT');
      return result;
    } catch (err) {
      if (this.#db.isTransaction) this.#db.exec('ROLLBACK');
      throw err;
    }
  }

  /**
   * Runs `fn` inside a SAVEPOINT of the open transaction. If `fn` throws, what
   * it wrote is rolled back, the rest of the transaction is kept, and its error
   * is returned; an error in the rollback itself is thrown.
   */
  savepoint<T>(fn: () => T): { result: T } | { error: unknown } {
    this.#db.exec('SAVEPOINT write');
    try {
      const result = fn();
      this.#db.exec('RELEASE write');
      return { result };
    } catch (error) {
      this.#db.exec('ROLLBACK TO write');
      this.#db.exec('RELEASE write');
      return { error };
    }
  }

  /** `sql` prepared once per distinct text (list queries differ by which filters are set). */
  query(sql: string): StatementSync {
    const stmt = this.#queries.get(sql) ?? this.#db.prepare(sql);
    this.#queries.set(sql, stmt);
    return stmt;
  }

  /**
   * Removes every change event, rewrites the file (VACUUM) and empties the WAL
   * (checkpoint TRUNCATE), so that no earlier version of any object is left in
   * the files.
   */
  purgeHistory(): void {
    this.transaction(() => {
      const revision = this.meta('revision');
      this.stmt.deleteEventsUpTo.run(revision);
      this.stmt.setMeta.run(revision, 'compacted');
    });
    this.#db.exec('VACUUM');
    const checkpoint = this.#db.prepare('PRAGMA wal_checkpoint(TRUNCATE)').get();
    if (checkpoint?.busy !== 0)
      throw new UnavailableError(`the store ${this.path}: the WAL checkpoint could not finish`);
  }

  close(): void {
    this.#closed = true;
    this.#db.close();
  }
}

function prepareStatements(db: DatabaseSync) {
  return {
    getMeta: db.prepare('SELECT value FROM meta WHERE key = ?'),
    setMeta: db.prepare('UPDATE meta SET value = ? WHERE key = ?'),
    getObject: db.prepare(
      'SELECT revision, doc FROM objects WHERE kind = ? AND namespace = ? AND name = ?',
    ),
    putObject: db.prepare(
      `INSERT INTO objects (kind, namespace, name, revision, doc) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (kind, namespace, name) DO UPDATE SET revision = excluded.revision, doc = excluded.doc`,
    ),
    deleteObject: db.prepare('DELETE FROM objects WHERE kind = ? AND namespace = ? AND name = ?'),
    insertEvent: db.prepare(
      'INSERT INTO events (revision, type, kind, namespace, name, doc) VALUES (?, ?, ?, ?, ?, ?)',
    ),
    readEvents: db.prepare(
      `SELECT revision, type, kind, namespace, name, doc FROM events
       WHERE revision > ?1 AND (?2 IS NULL OR kind = ?2) AND (?3 IS NULL OR namespace = ?3)
       ORDER BY revision LIMIT ?4`,
    ),
    deleteEventsUpTo: db.prepare('DELETE FROM events WHERE revision <= ?'),
  };
}

/**
 * Makes the database readable by its owner alone before SQLite opens it: a
 * missing directory is created 0700, the file is created (or narrowed) to
 * 0600, and so are a -wal and -shm left from before. SQLite creates new -wal
 * and -shm files with the database file's mode, so they follow.
 */
function ownerOnly(path: string): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  closeSync(openSync(path, 'a', 0o600));
  for (const file of [path, `${path}-wal`, `${path}-shm`])
    if (existsSync(file)) chmodSync(file, 0o600);
}

export function parseDoc(row: Record<string, SQLOutputValue>): StoredObject {
  return JSON.parse(str(row, 'doc')) as StoredObject;
}

export function str(row: Record<string, SQLOutputValue> | undefined, column: string): string {
  const v = row?.[column];
  if (typeof v !== 'string') throw new Error(`SQLite store: column ${column} is not text`);
  return v;
}

export function int(row: Record<string, SQLOutputValue> | undefined, column: string): number {
  const v = row?.[column];
  if (typeof v !== 'number') throw new Error(`SQLite store: column ${column} is not an integer`);
  return v;
}
