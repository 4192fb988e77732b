// The project's hashes: one fast stable hash for names, one digest for secrets.
import { createHash, timingSafeEqual } from 'node:crypto';

/**
 * FNV-1a over a string's UTF-16 code units, 32 bits: the one stable hash for
 * names (sim addresses and usage shapes, seeded random streams, rendezvous
 * ranking). Stable across processes and releases: persisted or user-visible
 * values (a sim cluster's address, a site's generated shape) are derived from it.
 */
export function fnv1a32(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/**
 * SHA-256 of a secret, hex: how tokens, codes and session ids are kept, so what
 * is stored or held in memory can be compared but not replayed.
 */
export function sha256Hex(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}

/** Whether two hex digests are equal, in time that says nothing about where they differ. */
export function sameDigest(a: string, b: string): boolean {
  return a.length === b.length && timingSafeEqual(Buffer.from(a, 'hex'), Buffer.from(b, 'hex'));
}
