// The Store conformance suite: one set of node:test cases every backend must
// pass unchanged (SQLite today, etcd later). It uses only the Store interface
// and the factory it is given, so what it checks is the contract in ../types.ts,
// not one implementation.
//
// The factory must return a fresh, empty store each time, and `cleanup` must
// tolerate a store that the test already closed. Configure the backend to keep
// a window of between 1000 and ~10000 change events: the concurrent-watch case
// replays ~500 events from its start, and the compaction case writes until an
// old revision expires.
import { describe } from 'node:test';
import { batchCases } from './batch.ts';
import { createAndGetCases, updateSemanticsCases } from './crud.ts';
import { fenceCases } from './fence.ts';
import { storeTest, type OpenStore } from './harness.ts';
import { listCases } from './list.ts';
import { compareAndSetCases, revisionCases } from './revisions.ts';
import { watchCases } from './watch.ts';

export type { OpenStore } from './harness.ts';

export function runStoreConformance(name: string, open: OpenStore): void {
  const test = storeTest(open);
  void describe(`Store conformance: ${name}`, () => {
    createAndGetCases(test);
    revisionCases(test);
    compareAndSetCases(test);
    updateSemanticsCases(test);
    batchCases(test);
    fenceCases(test);
    listCases(test);
    watchCases(test);
  });
}
