// The audit trail: mutating and refused requests are recorded with who, what,
// from where and the result, in the trail and the JSON-lines file; no body is,
// so a Secret's value never appears. Retention keeps the newest entries.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { AuditLog, parseSince } from '../src/api/audit.ts';
import { inProcessServer } from './server.harness.ts';

const SECRET_VALUE = 'apiVersion: v1 # audit-canary-7f3a';

describe('audit over the API', () => {
  const dir = mkdtempSync(join(tmpdir(), 'yunjian-audit-file-'));
  const file = () => join(dir, 'audit.jsonl');
  after(() => rmSync(dir, { recursive: true, force: true }));
  const h = inProcessServer('audit', { fleet: 'none', auditLog: join(dir, 'audit.jsonl') });

  it('records writes and refusals, never bodies, and filters by user, kind and time', async () => {
    const secret = await fetch(`${h.url}/api/v1alpha1/secrets`, {
      method: 'POST',
      headers: { ...h.headers, 'content-type': 'application/json' },
      body: JSON.stringify({
        apiVersion: 'yunjian.io/v1alpha1',
        kind: 'Secret',
        metadata: { name: 'kc' },
        spec: { type: 'kubeconfig', data: SECRET_VALUE },
      }),
    });
    assert.equal(secret.status, 201);
    const refused = await fetch(`${h.url}/api/v1alpha1/clusters`, {
      headers: { authorization: 'Bearer wrong' },
    });
    assert.equal(refused.status, 401);
    const read = await fetch(`${h.url}/api/v1alpha1/clusters`, { headers: h.headers });
    assert.equal(read.status, 200);

    const all: any = await (
      await fetch(`${h.url}/api/v1alpha1/audit`, { headers: h.headers })
    ).json();
    const entries = all.items.map((e: any) => [e.user, e.verb, e.resource, e.name ?? '', e.code]);
    assert.deepEqual(entries, [
      ['system:anonymous', 'get', 'unknown', '', 401],
      ['admin', 'create', 'secrets', '', 201],
    ]);
    for (const e of all.items) {
      assert.match(e.id, /^[0-9a-f-]{36}$/);
      assert.equal(e.source, '127.0.0.1');
      assert.ok(Date.parse(e.time) > 0);
    }
    const byKind: any = await (
      await fetch(`${h.url}/api/v1alpha1/audit?kind=Secret&user=admin&since=1h`, {
        headers: h.headers,
      })
    ).json();
    assert.equal(byKind.items.length, 1);
    const lines = readFileSync(file(), 'utf8').trim().split('\n');
    assert.equal(lines.length, 2);
    assert.ok(!readFileSync(join(h.dataDir, 'audit.db')).includes('audit-canary'));
    assert.ok(!lines.join('\n').includes('audit-canary'));
  });
});

describe('audit retention', () => {
  it('keeps the newest entries within the count and drops those past the age', async () => {
    let now = 1_000_000;
    const log = new AuditLog({
      path: ':memory:',
      maxEntries: 3,
      maxAgeSeconds: 60,
      now: () => now,
    });
    const entry = (user: string) => ({
      user,
      userKind: 'User' as const,
      verb: 'create',
      method: 'POST',
      path: '/x',
      resource: 'applications',
      source: '127.0.0.1',
      code: 201,
    });
    for (const u of ['a', 'b', 'c', 'd', 'e']) log.record(entry(u));
    log.prune();
    assert.deepEqual(
      log.query({ limit: 10 }).map((e) => e.user),
      ['e', 'd', 'c'],
    );
    now += 61_000;
    log.record(entry('f'));
    log.prune();
    assert.deepEqual(
      log.query({ limit: 10 }).map((e) => e.user),
      ['f'],
    );
    await log.close();
  });

  it('reads --since as a duration back from now or an RFC 3339 time', () => {
    assert.equal(parseSince('2h', 10_000_000), 10_000_000 - 7_200_000);
    assert.equal(parseSince('2030-01-01T00:00:00Z'), Date.parse('2030-01-01T00:00:00Z'));
    assert.throws(() => parseSince('yesterday'), /since: expected/);
  });
});
