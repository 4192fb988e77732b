// The AgentToken kind (join tokens and agent credentials, stored as hashes) and
// the request body that creates a join token.
import Type, { type Static } from 'typebox';
import { DateTime, Enum, Name, NoStatus, Obj, ResourceSchema, Text } from './common.ts';

/** The longest a join token may live: a year. */
export const MAX_JOIN_TOKEN_TTL_SECONDS = 365 * 86_400;
/** A join token's lifetime when none is given: a day. */
export const DEFAULT_JOIN_TOKEN_TTL_SECONDS = 86_400;

/** The start of a cluster name: a Name without the rule that it ends alphanumeric. */
const ClusterNamePrefix = Type.String({
  pattern: '^[a-z0-9][-a-z0-9.]{0,251}$',
  'x-expected':
    'the start of a cluster name (a-z, 0-9, "-" and "."; starts alphanumeric; at most 252 characters)',
});

/**
 * A secret an agent presents: a join token (`purpose: join`, created with
 * `yunjian token create`) or the per-cluster credential a join hands out
 * (`purpose: agent`). Only a SHA-256 of the secret is stored.
 *
 * A join token names the cluster it may join (`cluster`) or the start of the
 * names it may join (`clusterPrefix`); a stored token with neither (made
 * before tokens were bound) may only create a cluster that does not exist. It
 * is single-use unless `reusable`: the join that uses it records `consumed`
 * with a compare-and-set write, so one join wins. Only a token with `replace`
 * (bound to one exact name) may join a cluster that already has a credential,
 * replacing it.
 */
export const AgentTokenSpec = Obj(
  {
    purpose: Enum(['join', 'agent']),
    /** Hex SHA-256 of the whole token. */
    tokenHash: Type.String({ pattern: '^[0-9a-f]{64}$', 'x-expected': 'a hex SHA-256' }),
    /** The cluster a join token may join; the cluster an agent credential belongs to. */
    cluster: Type.Optional(Name),
    clusterPrefix: Type.Optional(ClusterNamePrefix),
    reusable: Type.Optional(Type.Boolean()),
    replace: Type.Optional(Type.Boolean()),
    consumed: Type.Optional(
      Obj({
        cluster: Name,
        at: DateTime,
        /** The address the join came from. */
        from: Text(256),
      }),
    ),
    description: Type.Optional(Text()),
    /** Absent: never expires. */
    expires: Type.Optional(DateTime),
  },
  'A join token or agent credential, stored as a hash.',
);
export type AgentTokenSpec = Static<typeof AgentTokenSpec>;

/** `POST /api/v1alpha1/agent/tokens`: a new join token. */
export const JoinTokenRequest = Obj(
  {
    cluster: Type.Optional(Name),
    clusterPrefix: Type.Optional(ClusterNamePrefix),
    reusable: Type.Optional(Type.Boolean()),
    replace: Type.Optional(Type.Boolean()),
    ttlSeconds: Type.Optional(
      Type.Integer({
        minimum: 1,
        maximum: MAX_JOIN_TOKEN_TTL_SECONDS,
        'x-expected': `an integer number of seconds from 1 to ${MAX_JOIN_TOKEN_TTL_SECONDS} (365 days)`,
      }),
    ),
    description: Type.Optional(Text()),
  },
  'A join token to create: bound to one cluster name or a name prefix.',
);
export type JoinTokenRequest = Static<typeof JoinTokenRequest>;

export const AgentTokenResource = ResourceSchema('AgentToken', AgentTokenSpec, NoStatus);
export type AgentToken = Static<typeof AgentTokenResource>;
