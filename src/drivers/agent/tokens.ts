// Join tokens and agent credentials. Only a SHA-256 of each secret is stored
// (as an AgentToken object, so tokens survive restarts and live in whatever
// store backend runs). A join token is `yjt_<id>.<secret>`: the id names the
// stored object, the whole string is hashed. An agent credential is
// `yja_<secret>`, stored as `agent-<cluster>`; joining again replaces it.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { NotFoundError, UnauthorizedError } from '../../model/errors.ts';
import { API_VERSION, type AgentToken } from '../../model/schema.ts';
import type { Store } from '../../store/types.ts';

const PURPOSE_LABEL = 'yunjian.io/token-purpose';

export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

function sameHash(a: string, b: string): boolean {
  return a.length === b.length && timingSafeEqual(Buffer.from(a, 'hex'), Buffer.from(b, 'hex'));
}

export interface CreatedToken {
  token: string;
  name: string;
  expires?: string;
}

export async function createJoinToken(
  store: Store,
  options: { ttlSeconds?: number; description?: string; now: number },
): Promise<CreatedToken> {
  const id = randomBytes(4).toString('hex');
  const token = `yjt_${id}.${randomBytes(24).toString('base64url')}`;
  const name = `join-${id}`;
  const expires =
    options.ttlSeconds !== undefined && options.ttlSeconds > 0
      ? new Date(options.now + options.ttlSeconds * 1000).toISOString()
      : undefined;
  const doc: AgentToken = {
    apiVersion: API_VERSION,
    kind: 'AgentToken',
    metadata: { name, labels: { [PURPOSE_LABEL]: 'join' } },
    spec: {
      purpose: 'join',
      tokenHash: hashToken(token),
      ...(options.description !== undefined ? { description: options.description } : {}),
      ...(expires !== undefined ? { expires } : {}),
    },
  };
  await store.create(doc);
  return { token, name, ...(expires !== undefined ? { expires } : {}) };
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

/** Throws UnauthorizedError unless `token` is a stored, unexpired join token. */
export async function verifyJoinToken(store: Store, token: string, now: number): Promise<void> {
  const m = /^yjt_([0-9a-f]{8})\.[A-Za-z0-9_-]+$/.exec(token);
  const stored = m?.[1] !== undefined ? await load(store, `join-${m[1]}`) : undefined;
  if (stored?.spec.purpose !== 'join' || !sameHash(stored.spec.tokenHash, hashToken(token)))
    throw new UnauthorizedError('invalid join token: create one with "yunjian token create"');
  if (stored.spec.expires !== undefined && Date.parse(stored.spec.expires) <= now)
    throw new UnauthorizedError(
      `join token ${stored.metadata.name} expired at ${stored.spec.expires}: create a new one with "yunjian token create"`,
    );
}

/** Creates or replaces the cluster's credential and returns it (shown once). */
export async function issueCredential(store: Store, cluster: string): Promise<string> {
  const credential = `yja_${randomBytes(32).toString('base64url')}`;
  const doc: AgentToken = {
    apiVersion: API_VERSION,
    kind: 'AgentToken',
    metadata: { name: `agent-${cluster}`, labels: { [PURPOSE_LABEL]: 'agent' } },
    spec: { purpose: 'agent', cluster, tokenHash: hashToken(credential) },
  };
  const existing = await load(store, doc.metadata.name);
  if (existing === undefined) await store.create(doc);
  else await store.update(doc, { expectedResourceVersion: null });
  return credential;
}

/** Throws UnauthorizedError unless `credential` is the cluster's current agent credential. */
export async function verifyCredential(
  store: Store,
  cluster: string,
  credential: string,
): Promise<void> {
  const stored = await load(store, `agent-${cluster}`);
  if (
    stored?.spec.purpose !== 'agent' ||
    stored.spec.cluster !== cluster ||
    !sameHash(stored.spec.tokenHash, hashToken(credential))
  )
    throw new UnauthorizedError(
      `invalid agent credential for cluster ${cluster}: join again with a join token (--token)`,
    );
}
