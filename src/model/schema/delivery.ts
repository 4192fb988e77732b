// The DeliveryEvent kind: one thing that happened on the way from a change to
// production (a commit, a build, a pull request, a requirement, a deployment,
// an incident). Yunjian writes deployments and incidents itself from what its
// rollouts and failovers do (insights/delivery/recorder.ts); the others arrive
// through the DevOps webhook. Delivery metrics (insights/delivery/metrics.ts)
// are pure functions over these records. Records are namespaced (an
// application's namespace), kept for a bounded age and count, and replicate
// with the store like every other kind.
import Type, { type Static } from 'typebox';
import {
  DateTime,
  Enum,
  LIMITS,
  List,
  Name,
  NoStatus,
  Obj,
  ResourceSchema,
  Text,
} from './common.ts';

export const DELIVERY_EVENT_TYPES = [
  'commit',
  'build',
  'pullRequest',
  'requirement',
  'deployment',
  'incident',
] as const;
export type DeliveryEventType = (typeof DELIVERY_EVENT_TYPES)[number];

export const DELIVERY_OUTCOMES = ['InProgress', 'Succeeded', 'Failed', 'Superseded'] as const;

/** A short identifier from outside (a commit SHA, a run id, an issue key). */
const ExternalId = Type.String({
  minLength: 1,
  maxLength: 256,
  'x-expected': 'an identifier of 1 to 256 characters',
});

/** A team name: a label value. */
const Team = Type.String({
  minLength: 1,
  maxLength: LIMITS.labelValue,
  pattern: '^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$',
  'x-expected': `a team name: a label value of 1 to ${LIMITS.labelValue} letters, digits, "-", "_" or "."`,
});

export const DeliveryEventSpec = Obj(
  {
    type: Enum([...DELIVERY_EVENT_TYPES]),
    /** Who reported it: yunjian (its own rollouts and failovers), cloudevents, github, gitlab. */
    source: Enum(['yunjian', 'cloudevents', 'github', 'gitlab']),
    /** The reporter's own id of the event; with source and team it makes the record's name, so a repeat is ignored. */
    id: ExternalId,
    team: Team,
    app: Type.Optional(Name),
    environment: Type.Optional(Text(LIMITS.labelValue)),
    clouds: Type.Optional(List(Name, LIMITS.list)),
    /** What was deployed: the version annotation, or the image. */
    version: Type.Optional(Text()),
    /**
     * Commit SHAs. A commit: its own SHA. A deployment or build: the commit it
     * ships (its lead time counts from that commit and every earlier one of the
     * app not yet in production).
     */
    commits: Type.Optional(List(ExternalId, LIMITS.list)),
    /** When it began: committed, build or deployment started, incident opened, requirement created. */
    start: DateTime,
    /** When it ended: build or deployment finished, incident restored, requirement done. */
    finish: Type.Optional(DateTime),
    outcome: Type.Optional(Enum([...DELIVERY_OUTCOMES])),
    /** A deployment a later one rolled back (put the version before it back). */
    rolledBack: Type.Optional(Type.Boolean()),
    /** An incident: the deployment (record name) that caused it, when known. */
    deployment: Type.Optional(Name),
    /** Free text: the commit message, the incident's reason, the build's name. */
    title: Type.Optional(Text()),
  },
  'One delivery event: a commit, build, pull request, requirement, deployment or incident.',
);
export type DeliveryEventSpec = Static<typeof DeliveryEventSpec>;

export const DeliveryEventResource = ResourceSchema('DeliveryEvent', DeliveryEventSpec, NoStatus);
export type DeliveryEvent = Static<typeof DeliveryEventResource>;
