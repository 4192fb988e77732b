// Opening the backend a store location names (store/location.ts parses it).
import { openEtcdStore } from './etcd/store.ts';
import type { EtcdAccess, StoreLocation } from './location.ts';
import { openSqliteStore } from './sqlite.ts';
import type { BackendStore } from './types.ts';

export function openBackend(location: StoreLocation, etcd: EtcdAccess = {}): BackendStore {
  if (location.type === 'sqlite') return openSqliteStore({ path: location.path });
  return openEtcdStore({ ...etcd, endpoints: location.endpoints });
}
