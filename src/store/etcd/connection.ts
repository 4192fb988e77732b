// Connecting to etcd (endpoints, TLS, user and password), the `etcd://` store
// URL, and the one place where what the etcd client throws becomes a typed
// Yunjian error.
import { readFileSync } from 'node:fs';
import { Etcd3, type IOptions } from 'etcd3';
import {
  BadRequestError,
  ExpiredError,
  PayloadTooLargeError,
  UnavailableError,
  YunjianError,
} from '../../model/errors.ts';

export interface EtcdConnectionOptions {
  /** `host:port` of each member (any subset will do: the client finds the others' answers through them). */
  endpoints: string[];
  /** PEM files; with any of them the connection uses TLS. */
  tls?:
    | { caFile?: string | undefined; certFile?: string | undefined; keyFile?: string | undefined }
    | undefined;
  /** etcd's own authentication (`etcdctl user add`); the password should come from the environment. */
  auth?: { username: string; password: string } | undefined;
  /**
   * How long one request may wait for an answer. Without a quorum etcd neither
   * answers nor fails, so this is how soon callers learn it. Default 5000.
   */
  requestTimeoutMs?: number | undefined;
}

export function connect(options: EtcdConnectionOptions): Etcd3 {
  if (options.endpoints.length === 0) throw new BadRequestError('etcd store: no endpoints');
  const timeout = options.requestTimeoutMs ?? 5000;
  const tls = options.tls;
  const secure = tls !== undefined && Object.values(tls).some((f) => f !== undefined);
  const config: IOptions = {
    hosts: options.endpoints.map((e) => `${secure ? 'https' : 'http'}://${e}`),
    dialTimeout: timeout,
    // Streams (watches) live until closed; every other call gets a deadline.
    defaultCallOptions: (ctx) => (ctx.isStream ? {} : { deadline: Date.now() + timeout }),
  };
  if (secure) {
    const read = (file: string | undefined, what: string) => {
      if (file === undefined) return undefined;
      try {
        return readFileSync(file);
      } catch (err) {
        throw new BadRequestError(`${what} ${file}: ${(err as Error).message}`);
      }
    };
    const ca = read(tls.caFile, '--etcd-cacert');
    const cert = read(tls.certFile, '--etcd-cert');
    const key = read(tls.keyFile, '--etcd-key');
    if ((cert === undefined) !== (key === undefined))
      throw new BadRequestError('--etcd-cert and --etcd-key go together: give both or neither');
    config.credentials = {
      rootCertificate: ca ?? Buffer.alloc(0),
      ...(key !== undefined ? { privateKey: key } : {}),
      ...(cert !== undefined ? { certChain: cert } : {}),
    };
  }
  if (options.auth !== undefined) config.auth = { ...options.auth };
  return new Etcd3(config);
}

/**
 * What the etcd client threw, as a Yunjian error. A Yunjian error passes
 * through; a compacted revision is Expired; an over-size transaction names
 * the etcd limit; everything else (no member reachable, no leader, a timeout
 * while a majority is down, refused credentials) is Unavailable (503, retryable),
 * saying that etcd needs a quorum.
 */
export function storeError(err: unknown, endpoints: readonly string[]): unknown {
  if (err instanceof YunjianError) return err;
  const message = err instanceof Error ? err.message : String(err);
  if (/required revision has been compacted/.test(message))
    return new ExpiredError(`etcd: ${message}; re-list and watch from the list's resourceVersion`);
  if (/too many operations in txn request|request is too large/.test(message))
    return new PayloadTooLargeError(
      `etcd refused the transaction (${message}): a batch of N writes is one transaction of 2N+1 operations; raise etcd's --max-txn-ops / --max-request-bytes (scripts/etcd.sh uses 20000 and 32 MiB)`,
    );
  return new UnavailableError(
    `etcd store unavailable at ${endpoints.join(',')}: ${message}. etcd answers only while a majority (quorum) of its members is up and reachable`,
  );
}
