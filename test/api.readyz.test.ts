// /readyz, table-driven: 200 while ready; 503 with the reason while the
// control plane is a standby (not an error: nothing is logged, since a load
// balancer probes it every few seconds); a readiness check that fails for
// another reason is a 500 with an error id in the log.
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import { TokenAuthenticator } from '../src/api/auth.ts';
import { createApiServer } from '../src/api/server.ts';
import { UnavailableError } from '../src/model/errors.ts';
import { openSqliteStore } from '../src/store/sqlite.ts';

const cases: {
  name: string;
  ready: () => Promise<void>;
  status: number;
  reason?: string;
  message?: RegExp;
  logged: number;
}[] = [
  { name: 'leading', ready: () => Promise.resolve(), status: 200, logged: 0 },
  {
    name: 'a standby waiting for the lease',
    ready: () => Promise.reject(new UnavailableError('waiting for the leader lease')),
    status: 503,
    reason: 'Unavailable',
    message: /^waiting for the leader lease$/,
    logged: 0,
  },
  {
    name: 'a broken readiness check',
    ready: () => Promise.reject(new Error('boom')),
    status: 500,
    reason: 'InternalError',
    message: /error id [0-9a-f]+/,
    logged: 1,
  },
];

describe('/readyz', () => {
  for (const c of cases)
    it(`${c.name} -> ${c.status}, ${c.logged} log lines`, async () => {
      const store = openSqliteStore({ path: ':memory:' });
      const logs: string[] = [];
      const server = createApiServer({
        store,
        auth: new TokenAuthenticator(),
        version: 'test',
        ready: c.ready,
        log: (line) => logs.push(line),
      });
      try {
        await server.listen({ port: 0, host: '127.0.0.1' });
        const { port } = server.server.address() as AddressInfo;
        for (let probe = 0; probe < 3; probe++) {
          const res = await fetch(`http://127.0.0.1:${port}/readyz`);
          assert.equal(res.status, c.status);
          const body = (await res.json()) as { status?: string; reason?: string; message?: string };
          if (c.status === 200) assert.equal(body.status, 'ok');
          else {
            assert.equal(body.reason, c.reason);
            assert.match(body.message ?? '', c.message ?? /./);
          }
        }
        assert.equal(logs.length, c.logged * 3, logs.join('\n'));
      } finally {
        await server.close();
        await store.close();
      }
    });
});
