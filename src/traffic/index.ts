// The traffic manager's public surface: the server starts a TrafficManager and
// mounts its API plugin and metrics; the CLI runs the gateway.
export { DEFAULT_VANTAGE_POINTS, TrafficManager, type TrafficManagerOptions } from './manager.ts';
export { storeFeedSource, type FeedEvent, type FeedSource } from './feed.ts';
export {
  registerTrafficMetrics,
  trafficApiPlugin,
  trafficStatus,
  type TrafficStatus,
} from './status.ts';
export type { VantagePoint } from './health.ts';
export { UDP_THREADS, type UdpThreads } from './dns-native.ts';
export type { GeoLocator, GeoPoint } from './geo.ts';
