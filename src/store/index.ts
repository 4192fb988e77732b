// The store's public surface. The conformance suite (conformance.ts) is not
// re-exported here because it pulls in node:test; tests import it directly.
export type {
  BatchOperation,
  ListOptions,
  ListResult,
  ObjectKey,
  Store,
  StoredObject,
  Watch,
  WatchEvent,
  WatchEventType,
  WatchOptions,
  WriteOptions,
} from './types.ts';
export { openSqliteStore, SqliteStore, type SqliteStoreOptions } from './sqlite.ts';
