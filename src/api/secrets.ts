// `POST /api/v1alpha1/secrets/rotate-key` (body `{prune?: boolean}`): puts a
// fresh key first in the encryption key file, re-encrypts every Secret with it
// and purges the store's history of the old ciphertext. The old keys stay in
// the file, still able to decrypt, until `prune` (or the operator) drops them.
// Admin-token only, like every route that is not listed as public.
import type { FastifyInstance } from 'fastify';
import Type, { type Static } from 'typebox';
import { bodyValidator } from '../model/validate.ts';
import type { EncryptedStore } from '../store/encrypted.ts';
import type { RouteDoc } from './openapi.ts';
import type { ApiPlugin } from './server.ts';

export const ROTATE_KEY_PATH = '/api/v1alpha1/secrets/rotate-key';

export const RotateKeyRequest = Type.Object(
  {
    prune: Type.Optional(
      Type.Boolean({
        description: 'after re-encrypting, remove every other key from the key file',
      }),
    ),
  },
  { additionalProperties: false },
);
export type RotateKeyRequest = Static<typeof RotateKeyRequest>;

const checkRotate = bodyValidator<RotateKeyRequest>(RotateKeyRequest, 'rotate-key request');

/** No body at all is the plain rotation. */
const validRotate = (body: unknown): RotateKeyRequest => checkRotate(body ?? {});

const ROTATE_DOC: RouteDoc = {
  tags: ['Secret'],
  summary: 'Put a fresh encryption key first and re-encrypt every Secret with it',
  body: RotateKeyRequest,
  bodyOptional: true,
  response: {
    status: 200,
    description: 'The new key, the Secrets re-encrypted, the keys pruned and those left',
  },
  errors: { '422': 'Invalid' },
};

export function secretsApiPlugin(store: EncryptedStore): ApiPlugin {
  return {
    name: 'secrets',
    register(app: FastifyInstance) {
      app.post(ROTATE_KEY_PATH, { config: { doc: ROTATE_DOC } }, async (request) => {
        const { prune } = validRotate(request.body);
        return store.rotateKey({ prune: prune === true });
      });
    },
  };
}
