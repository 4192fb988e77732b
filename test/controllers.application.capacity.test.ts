// Freed capacity, table-driven: which cluster updates offer room to apps that
// could not be placed.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { freedCapacity } from '../src/controllers/application/capacity.ts';
import type { Cluster, ResourceAmounts } from '../src/model/schema.ts';
import { cluster } from './controllers.application.fixtures.ts';

const amounts = (cpu: number, memory = 8, gpu = 0, pods = 10): ResourceAmounts => ({
  cpu,
  memory,
  gpu,
  pods,
});
const withRoom = (status: {
  allocatable?: ResourceAmounts;
  capacity?: ResourceAmounts;
  allocated?: ResourceAmounts;
}): Cluster => {
  const c = cluster('a');
  return { ...c, status: { ...c.status, ...status } };
};

describe('freedCapacity', () => {
  const cases: { name: string; before: Cluster; after: Cluster; want: boolean }[] = [
    {
      name: 'nodes added',
      before: withRoom({ allocatable: amounts(4) }),
      after: withRoom({ allocatable: amounts(8) }),
      want: true,
    },
    {
      name: 'replicas gone',
      before: withRoom({ allocatable: amounts(4), allocated: amounts(4, 8, 0, 10) }),
      after: withRoom({ allocatable: amounts(4), allocated: amounts(4, 8, 0, 9) }),
      want: true,
    },
    {
      name: 'more allocated',
      before: withRoom({ allocatable: amounts(4) }),
      after: withRoom({ allocatable: amounts(4), allocated: amounts(1, 0, 0, 1) }),
      want: false,
    },
    {
      name: 'capacity stands in for allocatable',
      before: withRoom({ capacity: amounts(4) }),
      after: withRoom({ capacity: amounts(4, 16) }),
      want: true,
    },
    {
      name: 'first report of resources',
      before: withRoom({}),
      after: withRoom({ allocatable: amounts(1) }),
      want: true,
    },
    {
      name: 'resources no longer reported',
      before: withRoom({ allocatable: amounts(1) }),
      after: withRoom({}),
      want: false,
    },
    {
      name: 'nothing changed',
      before: withRoom({ allocatable: amounts(4) }),
      after: withRoom({ allocatable: amounts(4) }),
      want: false,
    },
  ];
  for (const c of cases) it(c.name, () => assert.equal(freedCapacity(c.before, c.after), c.want));
});
