// Where a store is, from a store URL, for `yunjian server --store`, backup,
// restore and `store migrate`:
//
//   sqlite              the data directory's yunjian.db (the default)
//   sqlite:DIR          DIR/yunjian.db (DIR is a data directory)
//   etcd://h:p[,h:p]    an etcd cluster (TLS, user and key prefix from EtcdAccess)
//
// Parsing only: nothing here loads a backend, so the CLI can check a flag
// without paying for the etcd client (store/open.ts opens one).
import { join } from 'node:path';
import { BadRequestError } from '../model/errors.ts';
import type { EtcdStoreOptions } from './etcd/store.ts';

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

/** The endpoints of `etcd://host:port[,host:port...]`; BadRequestError naming what is wrong. */
export function parseEtcdUrl(url: string): string[] {
  const m = /^etcd:\/\/(.+)$/.exec(url);
  if (!m)
    throw new BadRequestError(
      `--store: expected etcd://host:port[,host:port...], got ${JSON.stringify(url)}`,
    );
  const endpoints = m[1]!.replace(/\/$/, '').split(',');
  for (const e of endpoints) {
    const hp = /^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(e);
    if (!hp || Number(hp[2]) < 1 || Number(hp[2]) > 65535)
      throw new BadRequestError(
        `--store: etcd endpoint ${JSON.stringify(e)} is not host:port (port 1-65535)`,
      );
  }
  return endpoints;
}
