// Object keys, revisions and list continue tokens as every backend reads them
// from callers, and the NotFound error that names a key.
import { BadRequestError, NotFoundError } from '../model/errors.ts';
import type { ObjectKey, StoredObject } from './types.ts';

export interface NormalKey {
  kind: string;
  /** '' for cluster-scoped objects. */
  namespace: string;
  name: string;
}

export function normalizeKey(key: ObjectKey): NormalKey {
  if (
    typeof key?.kind !== 'string' ||
    key.kind === '' ||
    typeof key.name !== 'string' ||
    key.name === ''
  ) {
    throw new BadRequestError('an object key needs a kind and a name');
  }
  return { kind: key.kind, namespace: key.namespace ?? '', name: key.name };
}

export function keyOf(obj: StoredObject): NormalKey {
  if (
    typeof obj !== 'object' ||
    obj === null ||
    typeof obj.metadata !== 'object' ||
    obj.metadata === null
  ) {
    throw new BadRequestError('an object needs kind and metadata.name');
  }
  return normalizeKey({
    kind: obj.kind,
    namespace: obj.metadata.namespace,
    name: obj.metadata.name,
  });
}

export function describeKey(k: NormalKey): string {
  return `${k.kind} "${k.namespace === '' ? '' : `${k.namespace}/`}${k.name}"`;
}

export function notFound(k: NormalKey): NotFoundError {
  return new NotFoundError(`${describeKey(k)} not found`, { kind: k.kind, name: k.name });
}

export function parseRevision(s: string, what: string): number {
  const n = /^\d{1,15}$/.test(s) ? Number(s) : NaN;
  if (!Number.isSafeInteger(n))
    throw new BadRequestError(`${what} must be a decimal revision, got ${JSON.stringify(s)}`);
  return n;
}

/**
 * A list's continue token: the (namespace, name) of the page's last object,
 * opaque to clients. Both backends list in that order, so a token from one
 * page means the same on either.
 */
export function encodeContinue(key: [string, string]): string {
  return Buffer.from(JSON.stringify(key)).toString('base64url');
}

export function decodeContinue(token: string): [string, string] {
  try {
    const key: unknown = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
    if (
      Array.isArray(key) &&
      key.length === 2 &&
      typeof key[0] === 'string' &&
      typeof key[1] === 'string'
    ) {
      return [key[0], key[1]];
    }
  } catch {
    // fall through
  }
  throw new BadRequestError('the continue token is not valid; start the list again without it');
}
