// Loopback checks, table-driven: socket addresses (the gateway's stats
// endpoint, the health checker's source address) and URL hosts (OIDC issuers).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isLoopbackAddress, isLoopbackHost } from '../src/lib/net.ts';

describe('isLoopbackAddress', () => {
  const cases: [string | undefined, boolean][] = [
    ['127.0.0.1', true],
    ['127.23.4.5', true],
    ['::1', true],
    ['::ffff:127.0.0.1', true],
    ['::FFFF:127.0.0.1', true],
    ['10.0.0.1', false],
    ['128.0.0.1', false],
    ['127.evil.example', false],
    ['::ffff:10.0.0.1', false],
    ['localhost', false],
    ['', false],
    [undefined, false],
  ];
  for (const [address, loopback] of cases)
    it(`${String(address)} -> ${loopback}`, () =>
      assert.equal(isLoopbackAddress(address), loopback));
});

describe('isLoopbackHost', () => {
  const cases: [string, boolean][] = [
    ['localhost', true],
    ['LOCALHOST', true],
    ['127.0.0.1', true],
    ['[::1]', true],
    ['127.0.0.1.nip.io', false],
    ['example.com', false],
  ];
  for (const [host, loopback] of cases)
    it(`${host} -> ${loopback}`, () => assert.equal(isLoopbackHost(host), loopback));
});
