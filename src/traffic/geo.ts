// Where a DNS client is: an IP address (the EDNS Client Subnet, else the
// resolver's own address) to a point on the globe, for the geo strategy.
// The built-in table is small on purpose (documentation and test ranges plus a
// few well-known public resolvers); a real GeoIP database plugs in through the
// `GeoLocator` interface.
import { isIPv4, isIPv6 } from 'node:net';
import type { LatLon } from '../lib/geo.ts';

export interface GeoPoint extends LatLon {
  /** A label for status and answers, e.g. "eu-central". */
  region: string;
}

export interface GeoLocator {
  /** The client's location, or undefined when the address is not known. */
  locate(address: string): GeoPoint | undefined;
}

export interface GeoRange {
  /** CIDR, IPv4 or IPv6, e.g. "198.51.100.0/24". */
  cidr: string;
  point: GeoPoint;
}

/** IPv4 or IPv6 address as a 128-bit bigint (IPv4 mapped into ::ffff:0:0/96). */
export function addressBits(address: string): bigint | undefined {
  if (isIPv4(address)) {
    const n = address.split('.').reduce((acc, part) => (acc << 8n) | BigInt(Number(part)), 0n);
    return 0xffff00000000n | n;
  }
  if (!isIPv6(address)) return undefined;
  let text = address;
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4?.[1] !== undefined) {
    const bits = addressBits(v4[1]);
    if (bits === undefined) return undefined;
    const low = bits & 0xffffffffn;
    text = `${text.slice(0, -v4[1].length)}${(low >> 16n).toString(16)}:${(low & 0xffffn).toString(16)}`;
  }
  const [head = '', tail] = text.split('::');
  const headParts = head === '' ? [] : head.split(':');
  const tailParts = tail === undefined || tail === '' ? [] : tail.split(':');
  const fill = tail === undefined ? 0 : 8 - headParts.length - tailParts.length;
  const parts = [...headParts, ...Array<string>(fill).fill('0'), ...tailParts];
  if (parts.length !== 8) return undefined;
  return parts.reduce((acc, p) => (acc << 16n) | BigInt(parseInt(p, 16)), 0n);
}

interface CompiledRange {
  base: bigint;
  mask: bigint;
  prefix: number;
  point: GeoPoint;
}

function compile(range: GeoRange): CompiledRange {
  const [addr = '', len = ''] = range.cidr.split('/');
  const bits = addressBits(addr);
  const v4 = isIPv4(addr);
  const prefix = Number(len) + (v4 ? 96 : 0);
  if (bits === undefined || !Number.isInteger(prefix) || prefix < 0 || prefix > 128)
    throw new Error(`bad CIDR ${JSON.stringify(range.cidr)} in the GeoIP table`);
  const mask = prefix === 0 ? 0n : ((1n << 128n) - 1n) ^ ((1n << BigInt(128 - prefix)) - 1n);
  return { base: bits & mask, mask, prefix, point: range.point };
}

/** Longest-prefix match over a list of ranges. */
export class TableGeoLocator implements GeoLocator {
  readonly #ranges: CompiledRange[];

  constructor(ranges: readonly GeoRange[]) {
    this.#ranges = ranges.map(compile).sort((a, b) => b.prefix - a.prefix);
  }

  locate(address: string): GeoPoint | undefined {
    const bits = addressBits(address);
    if (bits === undefined) return undefined;
    return this.#ranges.find((r) => (bits & r.mask) === r.base)?.point;
  }
}

const EU = { region: 'eu-central', latitude: 50.11, longitude: 8.68 };
const US_EAST = { region: 'us-east', latitude: 38.9, longitude: -77.04 };
const US_WEST = { region: 'us-west', latitude: 37.77, longitude: -122.42 };
const CN_NORTH = { region: 'cn-north', latitude: 39.9, longitude: 116.4 };
const AP_SE = { region: 'ap-southeast', latitude: 1.35, longitude: 103.82 };

/**
 * The built-in table: the RFC 5737 / RFC 3849 documentation ranges (so tests
 * and examples can place a client anywhere with an ECS option) and a few public
 * resolvers' anycast addresses placed at a representative site.
 */
export const BUILTIN_GEO_RANGES: readonly GeoRange[] = [
  { cidr: '192.0.2.0/24', point: US_EAST },
  { cidr: '198.51.100.0/24', point: EU },
  { cidr: '203.0.113.0/24', point: AP_SE },
  { cidr: '2001:db8:1::/48', point: US_WEST },
  { cidr: '2001:db8:2::/48', point: CN_NORTH },
  { cidr: '114.114.114.0/24', point: CN_NORTH },
  { cidr: '223.5.5.0/24', point: CN_NORTH },
  { cidr: '9.9.9.0/24', point: US_WEST },
];

export const builtinGeoLocator: GeoLocator = new TableGeoLocator(BUILTIN_GEO_RANGES);
