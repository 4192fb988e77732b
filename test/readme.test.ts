// The README's tour quotes what the demo fleet and the CLI show; these checks
// keep the quotes true when the fleet or the table columns change.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { generateDemoFleet } from '../src/fleet/index.ts';

const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
const fleet = generateDemoFleet({ alibabaMachineMetaPath: false });

void describe('README', () => {
  void test('every "N clouds" it states is the demo fleet cloud count', () => {
    const stated = [...readme.matchAll(/\b(\d+) clouds\b/g)].map((m) => Number(m[1]));
    assert.ok(stated.length >= 2, 'the README states the cloud count');
    for (const n of stated) assert.equal(n, fleet.clouds.length);
  });

  void test('the public vendors it names are the fleet public clouds', () => {
    const publicClouds = fleet.clouds.filter((c) => c.spec.type === 'public').length;
    assert.match(readme, /ten public vendors/);
    assert.equal(publicClouds, 10);
  });

  void test('cluster readiness is described with the READY column values', () => {
    // `get clusters` prints READY True/False; "NotReady" is a condition reason and event name only.
    assert.doesNotMatch(readme, /get clusters[^\n]*# NotReady/);
  });
});
