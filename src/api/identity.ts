// Users and service accounts: bearer tokens stored as a SHA-256 (UserToken
// objects, so they survive restarts and live in whatever store backend runs),
// shown once, always expiring, revoked by deleting the object. A token is
// `yju_<id>.<secret>`: the id names the stored object (`token-<id>`), the whole
// string is hashed. `POST /api/v1alpha1/tokens` creates a token and, when it
// names a role, the binding that grants it, so one command gives a user access.
import { randomBytes } from 'node:crypto';
import { sameDigest, sha256Hex } from '../lib/hash.ts';
import type { FastifyInstance } from 'fastify';
import {
  CLUSTER_ROLES,
  NAMESPACE_ROLES,
  ROLES,
  SUBJECT_NAME,
  type ClusterRoleBinding,
  type RoleBinding,
  type RoleName,
  type Subject,
  type UserToken,
} from '../model/access.ts';
import { BadRequestError, NotFoundError, type FieldCause } from '../model/errors.ts';
import { API_VERSION } from '../model/schema.ts';
import type { Store } from '../store/types.ts';
import type { Principal, SessionOptions, TokenVerifier } from './auth.ts';
import type { RouteDoc } from './openapi.ts';
import type { ApiPlugin } from './server.ts';

/** Bounds of a user token's lifetime. */
export const MIN_TOKEN_TTL_SECONDS = 60;
export const MAX_TOKEN_TTL_SECONDS = 366 * 86_400;
export const DEFAULT_TOKEN_TTL_SECONDS = 30 * 86_400;

const TOKEN_RE = /^yju_([0-9a-f]{12})\.[A-Za-z0-9_-]{32}$/;
const NAMESPACE_RE = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;

/** `30m`, `24h`, `90d` (or plain seconds) to seconds; undefined when it is not a duration. */
export function parseTtl(raw: string): number | undefined {
  const m = /^([0-9]+)(s|m|h|d)?$/.exec(raw);
  if (m?.[1] === undefined) return undefined;
  return Number(m[1]) * { s: 1, m: 60, h: 3600, d: 86_400 }[(m[2] ?? 's') as 's' | 'm' | 'h' | 'd'];
}

/** The stored UserToken a `yju_` token names when its hash matches, expired or not. */
async function storedToken(store: Store, token: string): Promise<UserToken | undefined> {
  const m = TOKEN_RE.exec(token);
  if (m?.[1] === undefined) return undefined;
  const stored = (await store
    .get({ kind: 'UserToken', name: `token-${m[1]}` })
    .catch((err: unknown) => {
      if (err instanceof NotFoundError) return undefined;
      throw err;
    })) as UserToken | undefined;
  if (stored === undefined) return undefined;
  return sameDigest(stored.spec.tokenHash, sha256Hex(token)) ? stored : undefined;
}

/** Looks a `yju_` token up in the store: unknown, expired or revoked tokens are undefined. */
export function userTokenVerifier(store: Store, now: () => number = Date.now): TokenVerifier {
  return async (token: string): Promise<Principal | undefined> => {
    const stored = await storedToken(store, token);
    if (stored === undefined || !(Date.parse(stored.spec.expires) > now())) return undefined;
    return {
      name: stored.spec.subject.name,
      kind: stored.spec.subject.kind,
      expires: Date.parse(stored.spec.expires),
    };
  };
}

/**
 * For a console session signed in with a user token: it ends when the token
 * expires, and with the token's revocation (its object deleted or replaced),
 * checked on each request. Only the token's object name and hash are kept,
 * never the token. Undefined when the token is no valid user token.
 */
export async function userTokenSession(
  store: Store,
  token: string,
): Promise<SessionOptions | undefined> {
  const stored = await storedToken(store, token);
  if (stored === undefined) return undefined;
  const { name } = stored.metadata;
  const tokenHash = stored.spec.tokenHash;
  return {
    expiresBy: Date.parse(stored.spec.expires),
    stillValid: async () => {
      const current = (await store.get({ kind: 'UserToken', name }).catch((err: unknown) => {
        if (err instanceof NotFoundError) return undefined;
        throw err;
      })) as UserToken | undefined;
      return current?.spec.tokenHash === tokenHash;
    },
  };
}

export interface TokenRequest {
  subject: Subject;
  ttlSeconds: number;
  role?: RoleName;
  /** With a role: the namespace it is granted in; absent: cluster-wide. */
  namespace?: string;
  description?: string;
}

export interface CreatedUserToken {
  /** Shown once; only its hash is kept. */
  token: string;
  name: string;
  subject: Subject;
  expires: string;
  binding?: { kind: 'RoleBinding' | 'ClusterRoleBinding'; namespace?: string; name: string };
}

/** Reads and checks a `POST /tokens` body: a 400 naming every bad field. */
export function parseTokenRequest(body: unknown): TokenRequest {
  const b = (typeof body === 'object' && body !== null ? body : {}) as Record<string, unknown>;
  const causes: FieldCause[] = [];
  const known = new Set(['user', 'serviceAccount', 'role', 'namespace', 'ttl', 'description']);
  for (const k of Object.keys(b))
    if (!known.has(k)) causes.push({ field: k, message: 'unknown field' });
  const user = b['user'];
  const sa = b['serviceAccount'];
  let subject: Subject | undefined;
  if ((user === undefined) === (sa === undefined)) {
    causes.push({ field: 'user', message: 'expected exactly one of user or serviceAccount' });
  } else {
    const field = user !== undefined ? 'user' : 'serviceAccount';
    const name = user ?? sa;
    if (typeof name !== 'string' || !SUBJECT_NAME.test(name))
      causes.push({
        field,
        message: `expected a name of letters, digits, ".", "_", "@", "-" (at most 128), got ${JSON.stringify(name)}`,
      });
    else subject = { kind: user !== undefined ? 'User' : 'ServiceAccount', name };
  }
  const ttlRaw = b['ttl'];
  let ttlSeconds = DEFAULT_TOKEN_TTL_SECONDS;
  if (ttlRaw !== undefined) {
    const ttl = typeof ttlRaw === 'string' ? parseTtl(ttlRaw) : undefined;
    if (ttl === undefined || ttl < MIN_TOKEN_TTL_SECONDS || ttl > MAX_TOKEN_TTL_SECONDS)
      causes.push({
        field: 'ttl',
        message: `expected a duration from 1m to 366d such as 30m, 24h or 90d, got ${JSON.stringify(ttlRaw)}`,
      });
    else ttlSeconds = ttl;
  }
  const role = b['role'];
  const namespace = b['namespace'];
  if (role !== undefined && !(ROLES as readonly unknown[]).includes(role))
    causes.push({
      field: 'role',
      message: `expected one of ${ROLES.join(', ')}, got ${JSON.stringify(role)}`,
    });
  if (namespace !== undefined) {
    if (typeof namespace !== 'string' || !NAMESPACE_RE.test(namespace))
      causes.push({
        field: 'namespace',
        message: `expected a lower-case DNS name, got ${JSON.stringify(namespace)}`,
      });
    else if (role === undefined)
      causes.push({ field: 'namespace', message: 'expected only together with a role' });
    else if (!(NAMESPACE_ROLES as readonly unknown[]).includes(role))
      causes.push({
        field: 'role',
        message: `expected one of ${NAMESPACE_ROLES.join(', ')} in a namespace (the others are cluster-wide), got ${JSON.stringify(role)}`,
      });
  } else if (role !== undefined && !(CLUSTER_ROLES as readonly unknown[]).includes(role)) {
    causes.push({
      field: 'namespace',
      message: `expected a namespace for role ${JSON.stringify(role)}`,
    });
  }
  const description = b['description'];
  if (description !== undefined && (typeof description !== 'string' || description.length > 256))
    causes.push({ field: 'description', message: 'expected a string of at most 256 characters' });
  if (causes.length > 0 || subject === undefined)
    throw new BadRequestError(
      `token request is invalid:\n${causes.map((c) => `  ${c.field}: ${c.message}`).join('\n')}`,
      { causes },
    );
  return {
    subject,
    ttlSeconds,
    ...(role !== undefined ? { role: role as RoleName } : {}),
    ...(typeof namespace === 'string' ? { namespace } : {}),
    ...(typeof description === 'string' ? { description } : {}),
  };
}

/** A binding name per (subject, role): creating a second token for the same grant reuses it. */
function bindingName(subject: Subject, role: RoleName): string {
  const who = subject.name
    .toLowerCase()
    .replace(/[^a-z0-9.-]/g, '-')
    .replace(/^[-.]+|[-.]+$/g, '');
  const id = sha256Hex(`${subject.kind}/${subject.name}`).slice(0, 8);
  return `${subject.kind === 'User' ? 'user' : 'sa'}-${who.slice(0, 40) || 'x'}-${role}-${id}`;
}

export async function createUserToken(
  store: Store,
  request: TokenRequest,
  now: number = Date.now(),
): Promise<CreatedUserToken> {
  const id = randomBytes(6).toString('hex');
  const token = `yju_${id}.${randomBytes(24).toString('base64url')}`;
  const expires = new Date(now + request.ttlSeconds * 1000).toISOString();
  let binding: CreatedUserToken['binding'];
  if (request.role !== undefined) {
    const name = bindingName(request.subject, request.role);
    const doc: RoleBinding | ClusterRoleBinding =
      request.namespace !== undefined
        ? {
            apiVersion: API_VERSION,
            kind: 'RoleBinding',
            metadata: { name, namespace: request.namespace },
            spec: {
              subject: request.subject,
              role: request.role as RoleBinding['spec']['role'],
            },
          }
        : {
            apiVersion: API_VERSION,
            kind: 'ClusterRoleBinding',
            metadata: { name },
            spec: {
              subject: request.subject,
              role: request.role as ClusterRoleBinding['spec']['role'],
            },
          };
    await store.create(doc).catch(async (err: unknown) => {
      // The same grant already exists: keep it.
      const existing = await store
        .get({ kind: doc.kind, namespace: doc.metadata.namespace, name })
        .catch(() => undefined);
      if (existing === undefined) throw err;
    });
    binding = {
      kind: doc.kind,
      ...(request.namespace !== undefined ? { namespace: request.namespace } : {}),
      name,
    };
  }
  const stored: UserToken = {
    apiVersion: API_VERSION,
    kind: 'UserToken',
    metadata: { name: `token-${id}` },
    spec: {
      subject: request.subject,
      tokenHash: sha256Hex(token),
      expires,
      ...(request.description !== undefined ? { description: request.description } : {}),
    },
  };
  await store.create(stored);
  return {
    token,
    name: stored.metadata.name,
    subject: request.subject,
    expires,
    ...(binding !== undefined ? { binding } : {}),
  };
}

// The body is checked by parseTokenRequest, which names every bad field; this
// is what it takes.
const TOKEN_DOC: RouteDoc = {
  tags: ['UserToken'],
  summary:
    'Create a user or service-account token (shown once), with a role binding when a role is given',
  body: {
    type: 'object',
    additionalProperties: false,
    properties: {
      user: { type: 'string', description: 'Exactly one of user or serviceAccount' },
      serviceAccount: { type: 'string' },
      role: { enum: ROLES },
      namespace: { type: 'string', description: 'Where a namespaced role is granted' },
      ttl: { type: 'string', description: 'A duration from 1m to 366d, e.g. 24h (default 30d)' },
      description: { type: 'string', maxLength: 256 },
    },
  },
  response: { status: 201, description: 'The token (shown only here), its name and expiry' },
  errors: { '400': 'BadRequest: every bad field' },
};

/** `POST /api/v1alpha1/tokens`; listing and revoking use the UserToken kind's own routes. */
export function identityPlugin(store: Store, now: () => number = Date.now): ApiPlugin {
  return {
    name: 'identity',
    register(app: FastifyInstance) {
      app.post('/api/v1alpha1/tokens', { config: { doc: TOKEN_DOC } }, async (request, reply) =>
        reply.code(201).send(await createUserToken(store, parseTokenRequest(request.body), now())),
      );
    },
  };
}
