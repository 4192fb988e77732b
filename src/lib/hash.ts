// FNV-1a over a string's UTF-16 code units, 32 bits: the one stable hash for
// names (sim addresses and usage shapes, seeded random streams, rendezvous
// ranking). Stable across processes and releases: persisted or user-visible
// values (a sim cluster's address, a site's generated shape) are derived from it.
export function fnv1a32(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}
