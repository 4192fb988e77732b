// Where an application's users are: `placement.preferences.userRegions` names
// them, and the proximity score prefers clusters whose site is close to the
// nearest of them (great-circle distance between coordinates).
//
// A user region may be, tried in this order:
//   - "lat,lon" in degrees ("31.2,121.5");
//   - a name from USER_REGIONS below (cn-north, ap-southeast, eu-west, ...);
//   - a site name, or a provider region code (us-east-1), of the fleet;
//   - an ISO country code (the mean position of the fleet's sites there).
// Anything else is unknown and ignored (the explanation says so).
import type { LatLon } from '../lib/geo.ts';

/** Broad user regions and a representative city for each. */
export const USER_REGIONS: Readonly<Record<string, LatLon>> = {
  'cn-north': { latitude: 39.9, longitude: 116.4 }, // Beijing
  'cn-east': { latitude: 31.23, longitude: 121.47 }, // Shanghai
  'cn-south': { latitude: 22.54, longitude: 114.06 }, // Shenzhen
  'cn-southwest': { latitude: 30.66, longitude: 104.07 }, // Chengdu
  'cn-northwest': { latitude: 34.34, longitude: 108.94 }, // Xi'an
  'ap-east': { latitude: 22.32, longitude: 114.17 }, // Hong Kong
  'ap-southeast': { latitude: 1.35, longitude: 103.82 }, // Singapore
  'ap-northeast': { latitude: 35.68, longitude: 139.69 }, // Tokyo
  'ap-south': { latitude: 19.08, longitude: 72.88 }, // Mumbai
  'ap-oceania': { latitude: -33.87, longitude: 151.21 }, // Sydney
  'eu-west': { latitude: 51.51, longitude: -0.13 }, // London
  'eu-central': { latitude: 50.11, longitude: 8.68 }, // Frankfurt
  'eu-north': { latitude: 59.33, longitude: 18.07 }, // Stockholm
  'eu-south': { latitude: 45.46, longitude: 9.19 }, // Milan
  'us-east': { latitude: 38.9, longitude: -77.04 }, // Washington
  'us-central': { latitude: 41.88, longitude: -87.63 }, // Chicago
  'us-west': { latitude: 37.77, longitude: -122.42 }, // San Francisco
  'ca-central': { latitude: 45.5, longitude: -73.57 }, // Montreal
  'sa-east': { latitude: -23.55, longitude: -46.63 }, // Sao Paulo
  'me-central': { latitude: 25.2, longitude: 55.27 }, // Dubai
  'af-south': { latitude: -26.2, longitude: 28.05 }, // Johannesburg
};

/** What the fleet itself can tell about a place name. */
export interface PlaceBook {
  site(name: string): LatLon | undefined;
  region(code: string): LatLon | undefined;
  country(code: string): LatLon | undefined;
}

/** Resolves a user region; undefined when it is unknown. */
export function resolveUserRegion(name: string, book: PlaceBook): LatLon | undefined {
  const m = /^\s*(-?[0-9]+(?:\.[0-9]+)?)\s*,\s*(-?[0-9]+(?:\.[0-9]+)?)\s*$/.exec(name);
  if (m) {
    const latitude = Number(m[1]);
    const longitude = Number(m[2]);
    if (Math.abs(latitude) <= 90 && Math.abs(longitude) <= 180) return { latitude, longitude };
    return undefined;
  }
  return (
    USER_REGIONS[name] ??
    book.site(name) ??
    book.region(name) ??
    (/^[A-Z]{2}$/.test(name) ? book.country(name) : undefined)
  );
}

/** Proximity score from a distance: 1 at the user, 0.5 at 2,000 km, 0.09 at 20,000 km. */
export function proximityFromKm(km: number): number {
  return 1 / (1 + km / 2000);
}
