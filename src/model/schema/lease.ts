// The Lease kind: the leader lock controllers take before they act.
import Type, { type Static } from 'typebox';
import { LIMITS, NoStatus, Obj, ResourceSchema, SafeCount, Text, Time } from './common.ts';

export const LeaseSpec = Obj(
  {
    holderIdentity: Text(LIMITS.text, { minLength: 1 }),
    leaseDurationSeconds: Type.Number({
      exclusiveMinimum: 0,
      maximum: LIMITS.seconds,
      'x-expected': `a number of seconds > 0 and at most ${LIMITS.seconds}`,
    }),
    acquireTime: Time,
    renewTime: Time,
    leaseTransitions: SafeCount,
  },
  'Leader lock: the holder acts while it renews within the duration.',
);
export type LeaseSpec = Static<typeof LeaseSpec>;

export const LeaseResource = ResourceSchema('Lease', LeaseSpec, NoStatus);
export type Lease = Static<typeof LeaseResource>;
