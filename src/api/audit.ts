// The audit trail: every mutating request and every refused one (401, 403),
// with who, what, from where and the result. Bodies are never recorded, so a
// Secret's value (or a token) cannot end up here. Entries go to their own
// append-only SQLite table (not the resource store: no revisions, no watches,
// nothing the API could write) pruned by count and age, and optionally to a
// JSON-lines file for shipping elsewhere.
import { randomUUID } from 'node:crypto';
import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs';
import { dirname } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import type { FastifyInstance } from 'fastify';
import { BadRequestError } from '../model/errors.ts';
import { lookupKind } from '../model/kinds.ts';
import { API_VERSION } from '../model/schema.ts';
import { accessOf } from './authz.ts';
import { clusterScope, seenNamespaces } from './roles.ts';
import type { RouteDoc } from './openapi.ts';
import type { ApiPlugin } from './server.ts';

export interface AuditEntry {
  id: string;
  /** RFC 3339. */
  time: string;
  user: string;
  userKind: 'User' | 'ServiceAccount' | 'Anonymous';
  verb: string;
  method: string;
  path: string;
  /** The resource the route acts on: a kind's plural or chaos, apply, tokens, ... */
  resource: string;
  namespace?: string;
  name?: string;
  source: string;
  code: number;
}

export interface AuditQuery {
  user?: string;
  /** Entries at or after this time (ms since the epoch). */
  sinceMs?: number;
  resource?: string;
  /** Only entries in these namespaces; absent: every entry. */
  namespaces?: ReadonlySet<string>;
  limit: number;
}

export interface AuditLogOptions {
  /** SQLite file of the trail (':memory:' in tests). */
  path: string;
  /** A JSON-lines file every entry is also appended to. */
  file?: string;
  /** Entries kept (newest); 100,000 by default. */
  maxEntries?: number;
  /** Seconds an entry is kept; 30 days by default. */
  maxAgeSeconds?: number;
  now?: () => number;
}

const PRUNE_EVERY = 256;

export class AuditLog {
  readonly #db: DatabaseSync;
  readonly #file: WriteStream | undefined;
  readonly #maxEntries: number;
  readonly #maxAgeMs: number;
  readonly #now: () => number;
  #sincePrune = 0;

  constructor(options: AuditLogOptions) {
    if (options.path !== ':memory:') mkdirSync(dirname(options.path), { recursive: true });
    this.#db = new DatabaseSync(options.path);
    this.#db.exec(`PRAGMA journal_mode = WAL;
      CREATE TABLE IF NOT EXISTS audit (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        time_ms INTEGER NOT NULL,
        user TEXT NOT NULL,
        resource TEXT NOT NULL,
        namespace TEXT,
        entry TEXT NOT NULL
      );
      CREATE INDEX IF NOT EXISTS audit_time ON audit (time_ms);`);
    if (options.file !== undefined) {
      mkdirSync(dirname(options.file), { recursive: true });
      this.#file = createWriteStream(options.file, { flags: 'a', mode: 0o600 });
    }
    this.#maxEntries = options.maxEntries ?? 100_000;
    this.#maxAgeMs = (options.maxAgeSeconds ?? 30 * 86_400) * 1000;
    this.#now = options.now ?? Date.now;
  }

  record(entry: Omit<AuditEntry, 'id' | 'time'>): AuditEntry {
    const now = this.#now();
    const full: AuditEntry = { id: randomUUID(), time: new Date(now).toISOString(), ...entry };
    const json = JSON.stringify(full);
    this.#db
      .prepare(
        'INSERT INTO audit (time_ms, user, resource, namespace, entry) VALUES (?, ?, ?, ?, ?)',
      )
      .run(now, full.user, full.resource, full.namespace ?? null, json);
    this.#file?.write(`${json}\n`);
    if (++this.#sincePrune >= PRUNE_EVERY) this.prune();
    return full;
  }

  /** Drops entries past the age limit and all but the newest `maxEntries`. */
  prune(): void {
    this.#sincePrune = 0;
    this.#db.prepare('DELETE FROM audit WHERE time_ms < ?').run(this.#now() - this.#maxAgeMs);
    this.#db
      .prepare('DELETE FROM audit WHERE seq <= (SELECT MAX(seq) FROM audit) - ?')
      .run(this.#maxEntries);
  }

  /** Newest first. */
  query(q: AuditQuery): AuditEntry[] {
    const where: string[] = [];
    const args: (string | number)[] = [];
    if (q.user !== undefined) {
      where.push('user = ?');
      args.push(q.user);
    }
    if (q.sinceMs !== undefined) {
      where.push('time_ms >= ?');
      args.push(q.sinceMs);
    }
    if (q.resource !== undefined) {
      where.push('resource = ?');
      args.push(q.resource);
    }
    if (q.namespaces !== undefined) {
      where.push(`namespace IN (${[...q.namespaces].map(() => '?').join(',') || 'NULL'})`);
      args.push(...q.namespaces);
    }
    const sql = `SELECT entry FROM audit ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY seq DESC LIMIT ?`;
    const rows = this.#db.prepare(sql).all(...args, q.limit) as { entry: string }[];
    return rows.map((r) => JSON.parse(r.entry) as AuditEntry);
  }

  async close(): Promise<void> {
    this.#db.close();
    const file = this.#file;
    if (file) await new Promise<void>((resolve) => file.end(resolve));
  }
}

const SAFE = new Set(['GET', 'HEAD', 'OPTIONS']);
/** Liveness traffic of agents: recorded only when refused. */
const ROUTINE = new Set(['POST /api/v1alpha1/agent/heartbeat']);

/** Records mutating and refused requests after their response is sent. */
export function installAudit(app: FastifyInstance, log: AuditLog): void {
  app.addHook('onResponse', async (request, reply) => {
    const code = reply.statusCode;
    const denied = code === 401 || code === 403;
    if (!denied && SAFE.has(request.method)) return;
    const route = request.routeOptions.url;
    if (route === undefined && !denied) return;
    if (!denied && ROUTINE.has(`${request.method} ${route ?? ''}`)) return;
    const decision = accessOf(request);
    const params = request.params as { namespace?: string; name?: string } | undefined;
    const query = request.query as { namespace?: string } | undefined;
    const principal = decision?.access.principal;
    const namespace = params?.namespace ?? query?.namespace;
    log.record({
      user: principal?.name ?? 'system:anonymous',
      userKind: principal?.kind ?? 'Anonymous',
      verb: decision?.rule?.verb ?? request.method.toLowerCase(),
      method: request.method,
      path: request.url.split('?')[0] ?? '',
      resource: decision?.rule?.resource ?? 'unknown',
      ...(namespace !== undefined ? { namespace } : {}),
      ...(params?.name !== undefined ? { name: params.name } : {}),
      source: request.ip,
      code,
    });
  });
}

const AUDIT_DOC: RouteDoc = {
  tags: ['Audit'],
  summary: 'Audit entries, newest first: who did what to which object, and the answer',
  query: [
    { name: 'user', type: 'string', description: 'Only this principal' },
    {
      name: 'since',
      type: 'string',
      description: 'RFC 3339 time, or a duration back (15m, 2h, 7d)',
    },
    { name: 'kind', type: 'string', description: 'Only this kind (or resource)' },
    { name: 'limit', type: 'integer', description: 'At most this many, 1 to 10000 (500)' },
  ],
  response: { status: 200, description: 'AuditEntryList' },
  errors: { '400': 'BadRequest: since or limit' },
};

/** `GET /api/v1alpha1/audit?user=&since=&kind=&limit=`: cluster-admins see all, tenant-admins their namespaces. */
export function auditPlugin(log: AuditLog): ApiPlugin {
  return {
    name: 'audit',
    register(app: FastifyInstance) {
      app.get<{ Querystring: { user?: string; since?: string; kind?: string; limit?: string } }>(
        '/api/v1alpha1/audit',
        { config: { doc: AUDIT_DOC } },
        async (request) => {
          const q = request.query;
          const sinceMs = q.since === undefined || q.since === '' ? undefined : parseSince(q.since);
          let resource: string | undefined;
          if (q.kind !== undefined && q.kind !== '') {
            const kind = lookupKind(q.kind);
            resource = kind?.plural ?? q.kind;
          }
          const limit = q.limit === undefined ? 500 : Number(q.limit);
          if (!Number.isInteger(limit) || limit < 1 || limit > 10_000)
            throw new BadRequestError(
              `limit: expected an integer from 1 to 10000, got "${q.limit ?? ''}"`,
            );
          const access = accessOf(request)?.access;
          // Route authorization let a tenant-admin through ('some'); it sees
          // the entries of the namespaces it administers.
          const namespaces =
            access === undefined || clusterScope(access, 'list', 'audit') === 'all'
              ? undefined
              : seenNamespaces(access, 'list', 'audit');
          const items = log.query({
            ...(q.user !== undefined && q.user !== '' ? { user: q.user } : {}),
            ...(sinceMs !== undefined ? { sinceMs } : {}),
            ...(resource !== undefined ? { resource } : {}),
            ...(namespaces !== undefined ? { namespaces } : {}),
            limit,
          });
          return { apiVersion: API_VERSION, kind: 'AuditEntryList', items };
        },
      );
    },
  };
}

/** An RFC 3339 time or a duration back from now (30s, 15m, 2h, 7d). */
export function parseSince(raw: string, now: number = Date.now()): number {
  const m = /^([0-9]+)(s|m|h|d)$/.exec(raw);
  if (m?.[1] !== undefined && m[2] !== undefined)
    return (
      now - Number(m[1]) * { s: 1, m: 60, h: 3600, d: 86_400 }[m[2] as 's' | 'm' | 'h' | 'd'] * 1000
    );
  const t = Date.parse(raw);
  if (Number.isNaN(t) || !/^[0-9]{4}-/.test(raw))
    throw new BadRequestError(
      `since: expected an RFC 3339 time or a duration such as 15m, 2h or 7d, got "${raw}"`,
    );
  return t;
}
