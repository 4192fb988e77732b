// Join tokens and agent credentials. Only a SHA-256 of each secret is stored
// (as an AgentToken object, so tokens survive restarts and live in whatever
// store backend runs). A join token is `yjt_<id>.<secret>`: the id names the
// stored object, the whole string is hashed. An agent credential is
// `yja_<secret>`, stored as `agent-<cluster>`: it is the cluster's identity,
// created by the first join and replaced only by a join token made with
// `replace`.
import { randomBytes } from 'node:crypto';
import { sameDigest, sha256Hex } from '../../lib/hash.ts';
import {
  ConflictError,
  NotFoundError,
  UnauthorizedError,
  ValidationError,
  type FieldCause,
} from '../../model/errors.ts';
import {
  API_VERSION,
  DEFAULT_JOIN_TOKEN_TTL_SECONDS,
  type AgentToken,
  type JoinTokenRequest,
} from '../../model/schema.ts';
import type { Store } from '../../store/types.ts';

const PURPOSE_LABEL = 'yunjian.io/token-purpose';

export interface CreatedToken {
  token: string;
  name: string;
  expires: string;
}

/** Rules between fields that the request schema cannot express. */
function bindingCauses(request: JoinTokenRequest): FieldCause[] {
  const causes: FieldCause[] = [];
  if (request.cluster === undefined && request.clusterPrefix === undefined)
    causes.push({
      field: 'cluster',
      message:
        'required: the cluster name the token may join (--cluster), or clusterPrefix for names that start with it (--cluster-prefix)',
    });
  if (request.cluster !== undefined && request.clusterPrefix !== undefined)
    causes.push({
      field: 'clusterPrefix',
      message: 'give either cluster or clusterPrefix, not both',
    });
  if (request.replace === true && request.cluster === undefined)
    causes.push({
      field: 'replace',
      message: "a token that replaces a cluster's agent must name that one cluster (--cluster)",
    });
  if (request.replace === true && request.reusable === true)
    causes.push({ field: 'reusable', message: 'a token that replaces an agent is single-use' });
  return causes;
}

/** Creates a join token from a request whose shape was validated against JoinTokenRequest. */
export async function createJoinToken(
  store: Store,
  request: JoinTokenRequest & { now: number },
): Promise<CreatedToken> {
  const causes = bindingCauses(request);
  if (causes.length > 0) throw new ValidationError('join token request', causes);
  const id = randomBytes(4).toString('hex');
  const token = `yjt_${id}.${randomBytes(24).toString('base64url')}`;
  const name = `join-${id}`;
  const ttlSeconds = request.ttlSeconds ?? DEFAULT_JOIN_TOKEN_TTL_SECONDS;
  const expires = new Date(request.now + ttlSeconds * 1000).toISOString();
  const doc: AgentToken = {
    apiVersion: API_VERSION,
    kind: 'AgentToken',
    metadata: { name, labels: { [PURPOSE_LABEL]: 'join' } },
    spec: {
      purpose: 'join',
      tokenHash: sha256Hex(token),
      ...(request.cluster !== undefined ? { cluster: request.cluster } : {}),
      ...(request.clusterPrefix !== undefined ? { clusterPrefix: request.clusterPrefix } : {}),
      ...(request.reusable === true ? { reusable: true } : {}),
      ...(request.replace === true ? { replace: true } : {}),
      ...(request.description !== undefined ? { description: request.description } : {}),
      expires,
    },
  };
  await store.create(doc);
  return { token, name, expires };
}

export async function listJoinTokens(store: Store): Promise<AgentToken[]> {
  const list = await store.list('AgentToken', { labelSelector: `${PURPOSE_LABEL}=join` });
  return list.items as AgentToken[];
}

/** Deletes a join token by object name (`join-<id>`) or id. */
export async function revokeJoinToken(store: Store, nameOrId: string): Promise<string> {
  const name = nameOrId.startsWith('join-') ? nameOrId : `join-${nameOrId}`;
  try {
    await store.delete({ kind: 'AgentToken', name });
  } catch (err) {
    if (err instanceof NotFoundError)
      throw new NotFoundError(`join token ${nameOrId} not found; see "yunjian token list"`, {
        kind: 'AgentToken',
        name,
      });
    throw err;
  }
  return name;
}

async function load(store: Store, name: string): Promise<AgentToken | undefined> {
  try {
    return (await store.get({ kind: 'AgentToken', name })) as AgentToken;
  } catch (err) {
    if (err instanceof NotFoundError) return undefined;
    throw err;
  }
}

export function isJoinToken(bearer: string): boolean {
  return bearer.startsWith('yjt_');
}

/**
 * The stored join token `token` is, as read (its resourceVersion is what
 * `consumeJoinToken` compares against). Throws UnauthorizedError unless it is
 * a stored join token that has not expired and has not been used up.
 */
export async function verifyJoinToken(
  store: Store,
  token: string,
  now: number,
): Promise<AgentToken> {
  const m = /^yjt_([0-9a-f]{8})\.[A-Za-z0-9_-]+$/.exec(token);
  const stored = m?.[1] !== undefined ? await load(store, `join-${m[1]}`) : undefined;
  if (stored?.spec.purpose !== 'join' || !sameDigest(stored.spec.tokenHash, sha256Hex(token)))
    throw new UnauthorizedError('invalid join token: create one with "yunjian token create"');
  if (stored.spec.expires !== undefined && Date.parse(stored.spec.expires) <= now)
    throw new UnauthorizedError(
      `join token ${stored.metadata.name} expired at ${stored.spec.expires}: create a new one with "yunjian token create"`,
    );
  if (stored.spec.consumed !== undefined && stored.spec.reusable !== true)
    throw new UnauthorizedError(
      `join token ${stored.metadata.name} was already used (cluster ${stored.spec.consumed.cluster} at ${stored.spec.consumed.at}); a join token is single-use unless created with --reusable`,
    );
  return stored;
}

/** Whether the token is bound to `cluster`; a token bound to nothing predates binding. */
export function tokenAllows(token: AgentToken, cluster: string): boolean {
  const { cluster: exact, clusterPrefix } = token.spec;
  if (exact !== undefined) return exact === cluster;
  if (clusterPrefix !== undefined) return cluster.startsWith(clusterPrefix);
  return true;
}

/** What a join token is bound to, in words. */
export function describeBinding(token: AgentToken): string {
  if (token.spec.cluster !== undefined) return `cluster ${token.spec.cluster}`;
  if (token.spec.clusterPrefix !== undefined) return `clusters named ${token.spec.clusterPrefix}*`;
  return 'new clusters only (made before tokens were bound)';
}

/**
 * Records the join that used a single-use token, compare-and-set against the
 * version `verifyJoinToken` read: of two joins with one token, the second
 * write fails and that join gets 401. Reusable tokens are only read.
 */
export async function consumeJoinToken(
  store: Store,
  token: AgentToken,
  use: { cluster: string; from: string; now: number },
): Promise<void> {
  if (token.spec.reusable === true) return;
  const consumed = {
    cluster: use.cluster,
    at: new Date(use.now).toISOString(),
    from: use.from,
  };
  try {
    // `token` carries the resourceVersion it was read at: update compares against it.
    await store.update({ ...token, spec: { ...token.spec, consumed } });
  } catch (err) {
    if (!(err instanceof ConflictError) && !(err instanceof NotFoundError)) throw err;
    throw new UnauthorizedError(
      `join token ${token.metadata.name} was used or revoked by another request at the same time`,
    );
  }
}

function credentialName(cluster: string): string {
  return `agent-${cluster}`;
}

/** The cluster's current agent credential (its identity), if it has one. */
export function loadCredential(store: Store, cluster: string): Promise<AgentToken | undefined> {
  return load(store, credentialName(cluster));
}

/**
 * Creates the cluster's credential and returns it (shown once). Without
 * `replacing` it is created, so of two joins racing for one new cluster only
 * one gets a credential (the other's create throws AlreadyExistsError); with
 * it, that credential is overwritten compare-and-set.
 */
export async function issueCredential(
  store: Store,
  cluster: string,
  replacing?: AgentToken,
): Promise<{ credential: string; stored: AgentToken }> {
  const credential = `yja_${randomBytes(32).toString('base64url')}`;
  const doc: AgentToken = {
    apiVersion: API_VERSION,
    kind: 'AgentToken',
    // The replaced credential's metadata carries its resourceVersion: update compares against it.
    metadata: {
      ...replacing?.metadata,
      name: credentialName(cluster),
      labels: { [PURPOSE_LABEL]: 'agent' },
    },
    spec: { purpose: 'agent', cluster, tokenHash: sha256Hex(credential) },
  };
  const stored = replacing === undefined ? await store.create(doc) : await store.update(doc);
  return { credential, stored: stored as AgentToken };
}

/** Deletes a credential this request issued, unless something replaced it since. */
export async function withdrawCredential(store: Store, issued: AgentToken): Promise<void> {
  try {
    await store.delete(
      { kind: 'AgentToken', name: issued.metadata.name },
      { expectedResourceVersion: issued.metadata.resourceVersion ?? null },
    );
  } catch (err) {
    if (!(err instanceof ConflictError) && !(err instanceof NotFoundError)) throw err;
  }
}

/** Throws UnauthorizedError unless `credential` is the cluster's current agent credential. */
export async function verifyCredential(
  store: Store,
  cluster: string,
  credential: string,
): Promise<void> {
  const stored = await loadCredential(store, cluster);
  if (
    stored?.spec.purpose !== 'agent' ||
    stored.spec.cluster !== cluster ||
    !sameDigest(stored.spec.tokenHash, sha256Hex(credential))
  )
    throw new UnauthorizedError(
      `invalid agent credential for cluster ${cluster}: join again with a join token (--token)`,
    );
}
