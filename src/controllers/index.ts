// Starts the control loops against a store. Informers are shared: one cache per
// kind, fed by one watch, read by every controller.
import type { Application, Cloud, Cluster, Site } from '../model/schema.ts';
import type { Store } from '../store/types.ts';
import { createApplicationController } from './application.ts';
import { createClusterStatusController } from './clusterstatus.ts';
import type { DriverProvider } from './drivers.ts';
import type { Controller } from './runtime/controller.ts';
import { Informer } from './runtime/informer.ts';

export { providerByType, type DriverProvider, type DriverType } from './drivers.ts';

export interface ControlLoops {
  controllers: Controller[];
  /** Resolves when every informer has loaded its first list. */
  synced(): Promise<void>;
  stop(): Promise<void>;
}

export interface ControlLoopOptions {
  store: Store;
  drivers: DriverProvider;
  log: (line: string) => void;
  heartbeatSeconds?: number;
  gcSeconds?: number;
}

export function startControlLoops(o: ControlLoopOptions): ControlLoops {
  const onError = (err: unknown) =>
    o.log(`informer: ${err instanceof Error ? err.message : String(err)}`);
  const clusters = new Informer<Cluster>(o.store, 'Cluster', onError);
  const sites = new Informer<Site>(o.store, 'Site', onError);
  const apps = new Informer<Application>(o.store, 'Application', onError);
  const clouds = new Informer<Cloud>(o.store, 'Cloud', onError);
  const clusterStatus = createClusterStatusController({
    store: o.store,
    clusters,
    drivers: o.drivers,
    log: o.log,
    ...(o.heartbeatSeconds !== undefined ? { heartbeatSeconds: o.heartbeatSeconds } : {}),
  });
  const application = createApplicationController({
    store: o.store,
    apps,
    clusters,
    sites,
    clouds,
    drivers: o.drivers,
    log: o.log,
  });
  const informers = [clusters, sites, apps, clouds];
  informers.forEach((i) => i.start());
  const synced = Promise.all(informers.map((i) => i.hasSynced())).then(() => undefined);
  // Workers start after the caches are full, so no reconcile sees a partial fleet.
  void synced.then(() => {
    clusterStatus.start();
    application.start();
  });
  const gc = setInterval(
    () => {
      void application
        .sweep()
        .catch((err: unknown) => o.log(`gc: ${err instanceof Error ? err.message : String(err)}`));
    },
    (o.gcSeconds ?? 60) * 1000,
  );
  gc.unref();
  return {
    controllers: [clusterStatus, application],
    synced: () => synced,
    async stop() {
      clearInterval(gc);
      await Promise.all([clusterStatus.stop(), application.stop()]);
      await Promise.all(informers.map((i) => i.stop()));
    },
  };
}
