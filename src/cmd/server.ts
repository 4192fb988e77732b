// `yunjian server`: assembles the control plane (store, API, control loops) with
// the embedded digital-twin fleet. Kept thin: every part is built elsewhere and
// only wired here, so tests can start the same thing in-process.
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { createApiServer } from '../api/server.ts';
import { applyDocuments } from '../api/apply.ts';
import { TokenAuthenticator, loadOrCreateAdminToken } from '../api/auth.ts';
import { startControlLoops, type DriverProvider } from '../controllers/index.ts';
import { SimFleet } from '../drivers/sim/index.ts';
import { fleetSummary, generateDemoFleet, loadFleetFile, type FleetDocs } from '../fleet/index.ts';
import type { Cluster } from '../model/schema.ts';
import { openSqliteStore } from '../store/index.ts';

export interface ServerOptions {
  port: number;
  host: string;
  dataDir: string;
  /** 'demo' (generated), 'none' (empty) or a path to a fleet YAML file. */
  fleet: string;
  /** Multiplies the generated fleet's node counts (benchmarks reach 10M+ cores). */
  fleetScale: number;
  log: (line: string) => void;
  /** Seconds between cluster heartbeats; tests shorten it. */
  heartbeatSeconds?: number;
}

export interface RunningServer {
  url: string;
  adminTokenPath: string;
  close(): Promise<void>;
}

export const VERSION: string = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

function loadFleet(options: ServerOptions): FleetDocs | undefined {
  if (options.fleet === 'none') return undefined;
  if (options.fleet === 'demo') return generateDemoFleet({ scale: options.fleetScale });
  return loadFleetFile(options.fleet);
}

export async function runServer(options: ServerOptions): Promise<RunningServer> {
  const { log } = options;
  mkdirSync(options.dataDir, { recursive: true, mode: 0o700 });
  const store = openSqliteStore({ path: join(options.dataDir, 'yunjian.db') });
  const token = loadOrCreateAdminToken(options.dataDir);
  const auth = new TokenAuthenticator();
  auth.addToken(token.token, { name: 'admin' });

  const sim = new SimFleet();
  const drivers: DriverProvider = {
    driverFor(cluster: Cluster) {
      if (cluster.spec.driver.type !== 'sim') return undefined;
      sim.upsertCluster(cluster);
      return sim.driverFor(cluster.metadata.name);
    },
    forget(name) {
      sim.removeCluster(name);
    },
  };

  const fleet = loadFleet(options);
  if (fleet) {
    const docs = [...fleet.clouds, ...fleet.sites, ...fleet.clusters];
    const results = await applyDocuments(store, docs, {});
    const changed = results.filter((r) => r.action !== 'unchanged').length;
    const s = fleetSummary(fleet);
    log(
      `fleet: ${s.clouds} clouds, ${s.sites} sites, ${s.clusters} clusters, ${s.nodes} nodes, ${s.cores} cores ` +
        `(${changed} resources created or updated)`,
    );
    for (const note of fleet.notes ?? []) log(`fleet: ${note}`);
  }

  const loops = startControlLoops({
    store,
    drivers,
    log,
    ...(options.heartbeatSeconds !== undefined ? { heartbeatSeconds: options.heartbeatSeconds } : {}),
  });
  const api = createApiServer({
    store,
    auth,
    version: VERSION,
    chaos: sim,
    ready: () => loops.synced(),
  });
  await api.listen({ port: options.port, host: options.host });
  const addr = api.server.address() as AddressInfo;
  const shownHost = options.host === '0.0.0.0' || options.host === '::' ? 'localhost' : options.host;
  const url = `http://${shownHost.includes(':') ? `[${shownHost}]` : shownHost}:${addr.port}`;
  log(`Yunjian ${VERSION} API serving on ${url}`);
  log(`admin token ${token.created ? 'created' : 'loaded'}: ${token.path}`);
  log(`try: bin/yunjian --server ${url} get clusters -o wide`);

  let closing: Promise<void> | undefined;
  return {
    url,
    adminTokenPath: token.path,
    close() {
      closing ??= (async () => {
        await api.close();
        await loops.stop();
        await store.close();
      })();
      return closing;
    },
  };
}
