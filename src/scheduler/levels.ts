// Free-space levels: the rows and columns of the placer's cell grid. A node's
// free share of a resource falls in one of LEVELS levels, finer near empty;
// a node whose level is below a request's cannot hold it, so the placer
// searches only the cells at or above the request's levels.

/** Levels per resource: a class has LEVELS rows x LEVELS columns of cells. */
export const LEVELS = 16;
export const CELLS = LEVELS * LEVELS;

/**
 * Lower bounds of the 16 levels, as fractions of capacity: finer near empty so
 * that slivers too small for any request sit below the level small requests
 * start from, instead of in front of them. All are multiples of 1/1024.
 */
const LEVEL_FLOOR = [
  0,
  1 / 256,
  1 / 128,
  1 / 64,
  1 / 32,
  1 / 16,
  1 / 8,
  3 / 16,
  1 / 4,
  3 / 8,
  1 / 2,
  5 / 8,
  3 / 4,
  13 / 16,
  7 / 8,
  15 / 16,
];
/** Level of a fraction f, looked up as LEVEL_OF[floor(f * 1024)]. */
const LEVEL_OF = (() => {
  const t = new Uint8Array(1025);
  for (let q = 0; q <= 1024; q++) {
    let l = 0;
    while (l + 1 < LEVELS && LEVEL_FLOOR[l + 1]! * 1024 <= q) l++;
    t[q] = l;
  }
  return t;
})();

/** The level of `amount` out of `cap`: nodes below the level of a request cannot hold it. */
export function level(amount: number, cap: number): number {
  if (cap <= 0 || amount <= 0) return 0;
  const q = Math.floor((amount / cap) * 1024);
  return LEVEL_OF[q >= 1024 ? 1024 : q]!;
}

/** Lowest set bit's index of a non-zero 32-bit value. */
export function lowestBit(m: number): number {
  return 31 - Math.clz32(m & -m);
}
