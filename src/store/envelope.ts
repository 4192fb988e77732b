// Envelope encryption: each value gets a fresh 256-bit data key (DEK) and is
// sealed with AES-256-GCM; the DEK is itself sealed (wrapped) with AES-256-GCM
// under a key-encryption key from the KeyRing. Only the wrapped DEK is stored,
// next to the key's name, so rotating the KEK re-wraps without new data keys
// being needed elsewhere and a stolen store file alone reveals nothing.
//
// Both seals take the caller's `context` (the object's identity) as additional
// authenticated data: an envelope copied onto another object fails to open
// instead of yielding the other object's secret.
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { InternalError } from '../model/errors.ts';
import { KEY_BYTES, type KeyEncryptionKey, type KeyRing } from './keys.ts';

const ALGORITHM = 'aes-256-gcm';
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
/** Keeps a wrapped DEK from ever verifying as data under the same key, and vice versa. */
const WRAP_DOMAIN = 'yunjian.io/data-key\0';
const DATA_DOMAIN = 'yunjian.io/data\0';

export interface Envelope {
  /** The format: 1 is an AES-256-GCM data key wrapped with AES-256-GCM. */
  version: 1;
  /** Name of the key-encryption key that wrapped the data key. */
  keyId: string;
  /** The wrapped data key: nonce, ciphertext and tag, concatenated, base64. */
  wrappedKey: string;
  nonce: string;
  tag: string;
  ciphertext: string;
}

export function seal(plaintext: Buffer, kek: KeyEncryptionKey, context: string): Envelope {
  const dek = randomBytes(KEY_BYTES);
  const wrapped = gcmSeal(kek.secret, dek, WRAP_DOMAIN + context);
  const data = gcmSeal(dek, plaintext, DATA_DOMAIN + context);
  return {
    version: 1,
    keyId: kek.name,
    wrappedKey: Buffer.concat([wrapped.nonce, wrapped.ciphertext, wrapped.tag]).toString('base64'),
    nonce: data.nonce.toString('base64'),
    tag: data.tag.toString('base64'),
    ciphertext: data.ciphertext.toString('base64'),
  };
}

/**
 * The plaintext, or an InternalError that says what is wrong (missing key,
 * changed key, altered or moved ciphertext) rather than returning garbage.
 * `subject` names the value in messages.
 */
export function open(envelope: Envelope, keys: KeyRing, context: string, subject: string): Buffer {
  const kek = keys.find(envelope.keyId);
  if (kek === undefined) {
    throw new InternalError(
      `${subject} is encrypted with key "${envelope.keyId}", which is not in the key file ${keys.path} (it has ${keys.names.join(', ')}); put that key back to read it`,
    );
  }
  const wrapped = Buffer.from(envelope.wrappedKey, 'base64');
  let dek: Buffer;
  try {
    dek = gcmOpen(kek.secret, {
      nonce: wrapped.subarray(0, NONCE_BYTES),
      ciphertext: wrapped.subarray(NONCE_BYTES, wrapped.length - TAG_BYTES),
      tag: wrapped.subarray(wrapped.length - TAG_BYTES),
      aad: WRAP_DOMAIN + context,
    });
  } catch {
    throw new InternalError(
      `${subject}: key "${envelope.keyId}" in ${keys.path} does not unwrap its data key; the key's secret is not the one it was encrypted with, or the data was moved from another object`,
    );
  }
  try {
    return gcmOpen(dek, {
      nonce: Buffer.from(envelope.nonce, 'base64'),
      ciphertext: Buffer.from(envelope.ciphertext, 'base64'),
      tag: Buffer.from(envelope.tag, 'base64'),
      aad: DATA_DOMAIN + context,
    });
  } catch {
    throw new InternalError(`${subject}: the ciphertext does not authenticate; it was altered`);
  }
}

/** Whether `value` has an envelope's shape (not whether it opens). */
export function isEnvelope(value: unknown): value is Envelope {
  if (typeof value !== 'object' || value === null) return false;
  const e = value as Record<string, unknown>;
  return (
    e.version === 1 &&
    ['keyId', 'wrappedKey', 'nonce', 'tag', 'ciphertext'].every((f) => typeof e[f] === 'string')
  );
}

interface Sealed {
  nonce: Buffer;
  ciphertext: Buffer;
  tag: Buffer;
}

function gcmSeal(key: Buffer, plaintext: Buffer, aad: string): Sealed {
  const nonce = randomBytes(NONCE_BYTES);
  const cipher = createCipheriv(ALGORITHM, key, nonce, { authTagLength: TAG_BYTES });
  cipher.setAAD(Buffer.from(aad, 'utf8'));
  const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return { nonce, ciphertext, tag: cipher.getAuthTag() };
}

function gcmOpen(key: Buffer, sealed: Sealed & { aad: string }): Buffer {
  // A short tag would let a forger succeed with far fewer guesses.
  if (sealed.tag.length !== TAG_BYTES || sealed.nonce.length !== NONCE_BYTES)
    throw new Error('malformed nonce or tag');
  const decipher = createDecipheriv(ALGORITHM, key, sealed.nonce, { authTagLength: TAG_BYTES });
  decipher.setAAD(Buffer.from(sealed.aad, 'utf8'));
  decipher.setAuthTag(sealed.tag);
  return Buffer.concat([decipher.update(sealed.ciphertext), decipher.final()]);
}
