// The Event kind: what happened to a resource, recorded by controllers.
import Type, { type Static } from 'typebox';
import { Enum, Int, LIMITS, Name, NoStatus, Obj, ResourceSchema, Text, Time } from './common.ts';

export const EventSpec = Obj(
  {
    involvedObject: Obj({ kind: Text(), namespace: Type.Optional(Name), name: Name }),
    type: Enum(['Normal', 'Warning']),
    reason: Type.String({
      minLength: 1,
      maxLength: LIMITS.text,
      description:
        'Machine-readable cause: ClusterNotReady, ClusterReady, Failover, Failback, Rebalance, ...',
    }),
    message: Text(LIMITS.message),
    /** How many times the same event repeated (same object, reason and message). */
    count: Int(1, Number.MAX_SAFE_INTEGER, 'a safe integer >= 1'),
    firstTimestamp: Time,
    lastTimestamp: Time,
    /** The controller that recorded it. */
    source: Type.Optional(Text()),
  },
  'Something that happened to a resource; written by controllers, kept for a bounded time.',
);
export type EventSpec = Static<typeof EventSpec>;

export const EventResource = ResourceSchema('Event', EventSpec, NoStatus);
export type Event = Static<typeof EventResource>;
