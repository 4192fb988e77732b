// Seeded randomness: the one PRNG for everything that must repeat for the same
// seed (scheduler tie-breaks, the fleet generator's per-site shapes, the
// benchmarks' workloads). A stream is named, so each consumer draws from its
// own sequence and adding another consumer never reshuffles the rest.
import { fnv1a32 } from './hash.ts';

export type Random = () => number;

/** mulberry32 seeded from (seed, FNV-1a of the stream's name): uniform in [0, 1). */
export function seededRandom(seed: number, stream: string): Random {
  let state = (fnv1a32(stream) ^ Math.imul(seed | 0, 0x9e3779b1)) >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** An integer in [lo, hi]. */
export function between(random: Random, lo: number, hi: number): number {
  return lo + Math.floor(random() * (hi - lo + 1));
}
