// Choosing a backend from a store URL, for `yunjian server --store`, backup,
// restore and `store migrate`:
//
//   sqlite              the data directory's yunjian.db (the default)
//   sqlite:DIR          DIR/yunjian.db (DIR is a data directory)
//   etcd://h:p[,h:p]    an etcd cluster (TLS, user and key prefix from EtcdAccess)
import { join } from 'node:path';
import { BadRequestError } from '../model/errors.ts';
import { parseEtcdUrl } from './etcd/connection.ts';
import { openEtcdStore, type EtcdStoreOptions } from './etcd/store.ts';
import { openSqliteStore } from './sqlite.ts';
import type { BackendStore } from './types.ts';

export type StoreLocation =
  { type: 'sqlite'; path: string } | { type: 'etcd'; endpoints: string[] };

/** How to reach etcd besides its endpoints. */
export type EtcdAccess = Pick<EtcdStoreOptions, 'tls' | 'auth' | 'prefix'>;

/** `url` as a location; `dataDir` is where plain `sqlite` lives. BadRequestError names --store. */
export function parseStoreUrl(url: string, dataDir?: string): StoreLocation {
  if (url === 'sqlite') {
    if (dataDir === undefined)
      throw new BadRequestError('--store sqlite needs a data directory: use sqlite:DIR');
    return { type: 'sqlite', path: join(dataDir, 'yunjian.db') };
  }
  if (url.startsWith('sqlite:')) {
    const dir = url.slice('sqlite:'.length);
    if (dir === '') throw new BadRequestError('--store sqlite:DIR: the data directory is missing');
    return { type: 'sqlite', path: join(dir, 'yunjian.db') };
  }
  if (url.startsWith('etcd://')) return { type: 'etcd', endpoints: parseEtcdUrl(url) };
  throw new BadRequestError(
    `--store: expected sqlite, sqlite:DIR or etcd://host:port[,host:port...], got ${JSON.stringify(url)}`,
  );
}

export function describeLocation(location: StoreLocation): string {
  return location.type === 'sqlite'
    ? `sqlite ${location.path}`
    : `etcd ${location.endpoints.join(',')}`;
}

export function openBackend(location: StoreLocation, etcd: EtcdAccess = {}): BackendStore {
  if (location.type === 'sqlite') return openSqliteStore({ path: location.path });
  return openEtcdStore({ ...etcd, endpoints: location.endpoints });
}
