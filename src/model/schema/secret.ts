// The Secret kind: credentials the control plane keeps and never returns.
import Type, { type Static } from 'typebox';
import { Enum, LIMITS, NoStatus, Obj, ResourceSchema } from './common.ts';

/**
 * Credentials the control plane needs to reach a member (a kubeconfig), or a
 * team's DevOps webhook secret (`devops-webhook.TEAM`, insights/delivery). The API
 * accepts `data` but never returns it (KindInfo.writeOnly), so `get -o yaml`
 * and watches show only that a secret exists.
 */
export const SecretSpec = Obj(
  {
    type: Enum(['kubeconfig', 'webhook', 'connection']),
    data: Type.String({
      minLength: 1,
      maxLength: LIMITS.secretData,
      'x-expected': `the secret content, e.g. a kubeconfig, of 1 to ${LIMITS.secretData} characters`,
    }),
  },
  'A credential kept in the store and never returned by the API.',
);
export type SecretSpec = Static<typeof SecretSpec>;

export const SecretResource = ResourceSchema('Secret', SecretSpec, NoStatus);
export type Secret = Static<typeof SecretResource>;
