// The min-heap: whatever order items go in, they come out by `less`; a
// seeded property run mixes pushes and pops against a sorted array.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MinHeap } from '../src/lib/heap.ts';
import { seededRandom } from '../src/lib/random.ts';

describe('MinHeap', () => {
  const cases = [
    { name: 'empty', input: [], out: [] },
    { name: 'one', input: [7], out: [7] },
    { name: 'reversed', input: [5, 4, 3, 2, 1], out: [1, 2, 3, 4, 5] },
    { name: 'duplicates', input: [2, 1, 2, 1, 3], out: [1, 1, 2, 2, 3] },
    {
      name: 'negatives and infinity',
      input: [0, -Infinity, Infinity, -1],
      out: [-Infinity, -1, 0, Infinity],
    },
  ];
  for (const c of cases)
    it(`pops in order: ${c.name}`, () => {
      const h = new MinHeap<number>((a, b) => a < b);
      for (const x of c.input) h.push(x);
      assert.equal(h.size, c.input.length);
      const out: number[] = [];
      for (let x = h.pop(); x !== undefined; x = h.pop()) out.push(x);
      assert.deepEqual(out, c.out);
      assert.equal(h.peek(), undefined);
    });

  it('agrees with a sorted array under random pushes and pops', () => {
    const random = seededRandom(7, 'heap');
    const h = new MinHeap<number>((a, b) => a < b);
    const model: number[] = [];
    for (let i = 0; i < 5000; i++) {
      if (random() < 0.6 || model.length === 0) {
        const x = Math.floor(random() * 100);
        h.push(x);
        model.push(x);
        model.sort((a, b) => a - b);
      } else assert.equal(h.pop(), model.shift());
      assert.equal(h.peek(), model[0]);
      assert.equal(h.size, model.length);
    }
    h.clear();
    assert.equal(h.size, 0);
  });
});
