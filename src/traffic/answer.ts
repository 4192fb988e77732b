// The authoritative answer to one DNS query, from the routing table, endpoint
// health and the strategies. No sockets here: `dns.ts` carries packets.
//
// Names we answer, per zone (the parent domain of each host):
//   <zone>                SOA, NS
//   ns1.<zone>            A/AAAA of this server (glue for the NS record)
//   <host>                A/AAAA by the route's strategy; TXT describing the route
//   <key>.unit.<host>     unit strategy: A/AAAA of the key's cell; TXT naming the cell
// Other names inside a zone are NXDOMAIN (NODATA when they are a parent of a
// name we have); names outside every zone are REFUSED, as an authoritative-only
// server answers them.
import dnsPacket from 'dns-packet';
import type { Answer, DecodedPacket, Packet, PacketOpt } from 'dns-packet';
import type { GeoLocator } from './geo.ts';
import type { RouteTable, TrafficEndpoint, TrafficRoute } from './routes.ts';
import { type RotationState, select, type Selection, StrategyState } from './strategies.ts';

export const RCODE = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5 };
/** Largest UDP answer we send, whatever the client advertises (DNS flag day 2020). */
export const MAX_UDP_PAYLOAD = 1232;
/** Seconds a negative answer (NXDOMAIN/NODATA) may be cached: the SOA minimum. */
const NEGATIVE_TTL = 5;

export interface QueryContext {
  /** The address the query came from. */
  address: string;
  transport: 'udp' | 'tcp';
}

export interface AnswerResult {
  packet: Packet;
  /** Every client sending these bytes gets this answer until the table or health changes. */
  stable: boolean;
  /** The strategy that chose the addresses, for metrics. */
  strategy?: string;
  selection?: Selection;
  route?: TrafficRoute;
  /**
   * Set when the answer's one unstable part is one rotation (an A or AAAA
   * query of a roundRobin or weighted host): the answer is a function of the
   * host's rotation position modulo `period`, so answering at positions
   * 0..period-1 (`rotationAt`) gives every answer the query can get until the
   * table or health changes.
   */
  rotation?: { host: string; period: number };
}

export interface AuthorityOptions {
  geo: GeoLocator;
  /** Addresses of this server, answered for ns1.<zone>. */
  nameServers: readonly string[];
  /** Rotation counters shared with the other DNS threads (`sharedCounters()`). */
  counters?: Int32Array;
}

export class Authority {
  table: RouteTable = { routes: new Map(), zones: [], conflicts: [] };
  /** SOA serial: the store revision the table was built from (mod 2^32). */
  serial = 1;
  healthy: (e: TrafficEndpoint) => boolean = () => true;
  readonly state: StrategyState;
  readonly #o: AuthorityOptions;

  constructor(o: AuthorityOptions) {
    this.#o = o;
    this.state = new StrategyState(o.counters);
  }

  /** The shared rotation counters, when there are. */
  get counters(): Int32Array | undefined {
    return this.#o.counters;
  }

  get nameServers(): readonly string[] {
    return this.#o.nameServers;
  }

  /** `state`: where rotations stand; the shared counters unless given. */
  answer(query: DecodedPacket, ctx: QueryContext, state: RotationState = this.state): AnswerResult {
    const opt = query.additionals?.find((a) => a.type === 'OPT');
    const ecs =
      opt?.type === 'OPT'
        ? opt.options.find((o) => o.code === 8 && 'ip' in o && o.ip !== undefined)
        : undefined;
    const q = query.questions?.[0];
    const reply = (rcode: number, extra: Partial<Packet> = {}, aa = false, scope = 0): Packet => ({
      id: query.id ?? 0,
      type: 'response',
      // Echo RD and CD, never claim recursion.
      flags:
        ((query.flags ?? 0) & (dnsPacket.RECURSION_DESIRED | dnsPacket.CHECKING_DISABLED)) |
        (aa ? dnsPacket.AUTHORITATIVE_ANSWER : 0) |
        rcode,
      questions: q !== undefined && query.questions?.length === 1 ? [q] : [],
      answers: [],
      authorities: [],
      ...extra,
      additionals: opt !== undefined ? [responseOpt(ecs, scope)] : [],
    });
    const opcode = ((query.flags ?? 0) >> 11) & 0xf;
    if (opcode !== 0) return { packet: reply(RCODE.NOTIMP), stable: true };
    if (q === undefined || query.questions?.length !== 1 || (query.answers?.length ?? 0) > 0)
      return { packet: reply(RCODE.FORMERR), stable: true };
    if (q.class !== 'IN' && q.class !== 'ANY')
      return { packet: reply(RCODE.REFUSED), stable: true };

    const name = q.name.toLowerCase().replace(/\.$/, '');
    const zone = this.table.zones.find((z) => name === z || name.endsWith(`.${z}`));
    if (zone === undefined) return { packet: reply(RCODE.REFUSED), stable: true };
    const soa = this.#soa(zone);
    const negative = (rcode: number) => reply(rcode, { authorities: [soa] }, true);
    const type: string = q.type;
    const wants = (t: string) => type === t || type === 'ANY';

    if (name === zone && !this.table.routes.has(name)) {
      const answers: Answer[] = [];
      if (wants('SOA')) answers.push(soa);
      if (wants('NS')) answers.push(this.#ns(zone));
      return {
        packet: answers.length > 0 ? reply(RCODE.NOERROR, { answers }, true) : negative(0),
        stable: true,
      };
    }
    if (name === `ns1.${zone}`) {
      const answers = this.#o.nameServers
        .filter((a) => (a.includes(':') ? wants('AAAA') : wants('A')))
        .map((a) => address(name, a, 3600));
      return {
        packet: answers.length > 0 ? reply(RCODE.NOERROR, { answers }, true) : negative(0),
        stable: true,
      };
    }

    let route = this.table.routes.get(name);
    let unitKey: string | undefined;
    if (route === undefined) {
      const m = /^([^.]+)\.unit\.(.+)$/.exec(name);
      const unitRoute = m?.[2] !== undefined ? this.table.routes.get(m[2]) : undefined;
      if (unitRoute?.strategy === 'unit' && m?.[1] !== undefined) {
        route = unitRoute;
        unitKey = m[1];
      }
    }
    if (route === undefined) {
      const parentOfSomething =
        [...this.table.routes.keys()].some((h) => h.endsWith(`.${name}`)) ||
        `ns1.${zone}`.endsWith(`.${name}`);
      return { packet: negative(parentOfSomething ? 0 : RCODE.NXDOMAIN), stable: true };
    }

    const answers: Answer[] = [];
    let stable = true;
    let selection: Selection | undefined;
    const periods: number[] = [];
    const client = {
      address: ctx.address,
      ...(ecs !== undefined && 'ip' in ecs && ecs.ip !== undefined ? { subnet: ecs.ip } : {}),
      ...(unitKey !== undefined ? { unitKey } : {}),
    };
    for (const family of [4, 6] as const) {
      if (!wants(family === 4 ? 'A' : 'AAAA')) continue;
      const familyRoute = {
        ...route,
        endpoints: route.endpoints.filter((e) => e.family === family),
      };
      if (familyRoute.endpoints.length === 0) continue;
      const s = select(familyRoute, this.healthy, client, state, this.#o.geo);
      selection ??= s;
      stable &&= s.stable;
      if (s.period !== undefined) periods.push(s.period);
      const seen = new Set<string>();
      for (const e of s.endpoints) {
        if (seen.has(e.address)) continue;
        seen.add(e.address);
        answers.push(address(name, e.address, route.ttl));
      }
    }
    if (wants('TXT') && unitKey !== undefined)
      selection ??= select(route, this.healthy, client, state, this.#o.geo);
    if (wants('TXT')) answers.push(txt(name, route, unitKey, selection?.detail));
    const scope =
      route.strategy === 'geo' && ecs !== undefined && 'sourcePrefixLength' in ecs
        ? (ecs.sourcePrefixLength ?? 0)
        : 0;
    return {
      packet: answers.length > 0 ? reply(RCODE.NOERROR, { answers }, true, scope) : negative(0),
      stable,
      strategy: route.strategy,
      route,
      ...(selection !== undefined ? { selection } : {}),
      // ANY over both families advances the rotation twice per answer: not a
      // single rotation, so such answers stay uncached.
      ...(!stable && periods.length === 1 && periods[0] !== undefined
        ? { rotation: { host: route.host, period: periods[0] } }
        : {}),
    };
  }

  #soa(zone: string): Answer {
    return {
      type: 'SOA',
      name: zone,
      ttl: NEGATIVE_TTL,
      data: {
        mname: `ns1.${zone}`,
        rname: `hostmaster.${zone}`,
        serial: this.serial >>> 0,
        refresh: 3600,
        retry: 600,
        expire: 604800,
        minimum: NEGATIVE_TTL,
      },
    };
  }

  #ns(zone: string): Answer {
    return { type: 'NS', name: zone, ttl: 3600, data: `ns1.${zone}` };
  }
}

function address(name: string, addr: string, ttl: number): Answer {
  return addr.includes(':')
    ? { type: 'AAAA', name, ttl, data: addr }
    : { type: 'A', name, ttl, data: addr };
}

/**
 * What a client can learn about the route: the strategy, and for unit routing
 * how to ask for its cell (`<key>.unit.<host>`, key lower-cased, one label) and
 * which cell a key maps to.
 */
function txt(
  name: string,
  route: TrafficRoute,
  unitKey: string | undefined,
  cell: string | undefined,
): Answer {
  const parts = [`strategy=${route.strategy}`, `ttl=${route.ttl}`];
  if (route.strategy === 'unit') {
    const units = route.spec.units;
    if (unitKey !== undefined) parts.push(`unit-key=${unitKey}`, `cell=${cell ?? 'none'}`);
    else {
      if (units !== undefined) parts.push(`unit-source=${units.key}`);
      parts.push(`unit-query=<key>.unit.${route.host}`);
      parts.push(`cells=${(units?.cells ?? []).map((c) => c.name).join(',')}`);
    }
  }
  return { type: 'TXT', name, ttl: route.ttl, data: parts };
}

function responseOpt(ecs: PacketOpt | undefined, scope: number): Answer {
  const options: PacketOpt[] = [];
  if (ecs !== undefined && 'ip' in ecs && ecs.ip !== undefined) {
    options.push({
      code: 8,
      ...(ecs.family !== undefined ? { family: ecs.family } : {}),
      sourcePrefixLength: ecs.sourcePrefixLength ?? 0,
      scopePrefixLength: scope,
      ip: ecs.ip,
    });
  }
  return {
    type: 'OPT',
    name: '.',
    udpPayloadSize: MAX_UDP_PAYLOAD,
    extendedRcode: 0,
    ednsVersion: 0,
    flags: 0,
    flag_do: false,
    options,
  };
}
