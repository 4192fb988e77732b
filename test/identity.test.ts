// User tokens: shown once, stored hashed, expiring, revocable; a bad request
// is a 400 naming its field.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createUserToken, parseTokenRequest, userTokenVerifier } from '../src/api/identity.ts';
import { openSqliteStore } from '../src/store/index.ts';
import { inProcessServer } from './server.harness.ts';

describe('token requests', () => {
  const cases: { name: string; body: unknown; field?: string }[] = [
    {
      name: 'a user with a namespaced role',
      body: { user: 'ann', role: 'editor', namespace: 'a', ttl: '2h' },
    },
    { name: 'a service account, cluster-wide', body: { serviceAccount: 'ci', role: 'viewer' } },
    { name: 'no subject', body: { ttl: '1h' }, field: 'user' },
    { name: 'both subjects', body: { user: 'a', serviceAccount: 'b' }, field: 'user' },
    { name: 'a ttl that is no duration', body: { user: 'a', ttl: 'soon' }, field: 'ttl' },
    { name: 'a ttl over a year', body: { user: 'a', ttl: '400d' }, field: 'ttl' },
    { name: 'a ttl under a minute', body: { user: 'a', ttl: '5s' }, field: 'ttl' },
    { name: 'an unknown role', body: { user: 'a', role: 'root' }, field: 'role' },
    {
      name: 'cluster-admin in a namespace',
      body: { user: 'a', role: 'cluster-admin', namespace: 'x' },
      field: 'role',
    },
    {
      name: 'tenant-admin cluster-wide',
      body: { user: 'a', role: 'tenant-admin' },
      field: 'namespace',
    },
    { name: 'an unknown field', body: { user: 'a', group: 'x' }, field: 'group' },
  ];
  for (const c of cases) {
    it(`${c.name} -> ${c.field === undefined ? 'accepted' : `400 naming ${c.field}`}`, () => {
      if (c.field === undefined) return void parseTokenRequest(c.body);
      assert.throws(
        () => parseTokenRequest(c.body),
        (err: any) =>
          err.httpStatus === 400 && err.details.causes.some((x: any) => x.field === c.field),
      );
    });
  }
});

describe('token expiry', () => {
  it('a token verifies until it expires, never after, and only whole', async () => {
    const store = openSqliteStore({ path: ':memory:' });
    try {
      const t0 = Date.parse('2030-01-01T00:00:00Z');
      const created = await createUserToken(
        store,
        { subject: { kind: 'User', name: 'ann' }, ttlSeconds: 3600 },
        t0,
      );
      let now = t0 + 1000;
      const verify = userTokenVerifier(store, () => now);
      assert.deepEqual(await verify(created.token), {
        name: 'ann',
        kind: 'User',
        expires: t0 + 3600 * 1000,
      });
      assert.equal(await verify(`${created.token.slice(0, -1)}x`), undefined);
      now = t0 + 3600 * 1000;
      assert.equal(await verify(created.token), undefined);
      const stored: any = await store.get({ kind: 'UserToken', name: created.name });
      assert.ok(!JSON.stringify(stored).includes(created.token.split('.')[1] ?? '-'));
    } finally {
      await store.close();
    }
  });
});

describe('tokens over the API', () => {
  const h = inProcessServer('identity', { fleet: 'none' });

  it('creates a token and its binding, never shows the hash, and a revoked token is refused', async () => {
    const post = await fetch(`${h.url}/api/v1alpha1/tokens`, {
      method: 'POST',
      headers: { ...h.headers, 'content-type': 'application/json' },
      body: JSON.stringify({ user: 'bob', role: 'viewer', namespace: 'team', ttl: '1h' }),
    });
    assert.equal(post.status, 201);
    const created: any = await post.json();
    assert.equal(created.binding.kind, 'RoleBinding');
    const bob = { authorization: `Bearer ${created.token}` };
    const mine = await fetch(`${h.url}/api/v1alpha1/namespaces/team/applications`, {
      headers: bob,
    });
    assert.equal(mine.status, 200);
    const theirs = await fetch(`${h.url}/api/v1alpha1/namespaces/other/applications`, {
      headers: bob,
    });
    assert.equal(theirs.status, 403);
    const listed: any = await (
      await fetch(`${h.url}/api/v1alpha1/usertokens`, { headers: h.headers })
    ).json();
    assert.equal(listed.items.length, 1);
    assert.equal(listed.items[0].spec.tokenHash, undefined);
    const del = await fetch(`${h.url}/api/v1alpha1/usertokens/${created.name}`, {
      method: 'DELETE',
      headers: h.headers,
    });
    assert.equal(del.status, 200);
    const after = await fetch(`${h.url}/api/v1alpha1/namespaces/team/applications`, {
      headers: bob,
    });
    assert.equal(after.status, 401);
  });
});
