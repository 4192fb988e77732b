// The store's public surface. The conformance suite (conformance/) is not
// re-exported here because it pulls in node:test; tests import it directly.
export type * from './types.ts';
export { openSqliteStore, SqliteStore, type SqliteStoreOptions } from './sqlite.ts';
export { openEtcdStore, EtcdStore, type EtcdStoreOptions } from './etcd/store.ts';
export {
  describeLocation,
  parseStoreUrl,
  type EtcdAccess,
  type StoreLocation,
} from './location.ts';
export { openBackend } from './open.ts';
