// `yunjian server`: assembles the control plane (store, API, control loops) with
// the embedded digital-twin fleet. Kept thin: every part is built elsewhere and
// only wired here, so tests can start the same thing in-process.
import { chmodSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import type { AddressInfo } from 'node:net';
import { createApiServer, type ApiTimeouts } from '../api/server.ts';
import { applyDocuments } from '../admission/apply.ts';
import { BUILTIN_CATALOG } from '../model/catalog/builtin.ts';
import { consoleBuilt, consolePlugin } from '../api/console.ts';
import { SignInCodes, TokenAuthenticator, loadOrCreateAdminToken } from '../api/auth.ts';
import { OidcVerifier, type OidcOptions } from '../api/oidc.ts';
import { AuditLog, auditPlugin } from '../api/audit.ts';
import { routeTable, type RecordedRoute } from '../api/authz.ts';
import { identityPlugin, userTokenVerifier } from '../api/identity.ts';
import { providerByType, startControlLoops, type DriverProvider } from '../controllers/index.ts';
import { gatewayMetrics } from '../controllers/migration/metrics.ts';
import { persistTwin, SimFleet } from '../drivers/sim/index.ts';
import { AgentHub } from '../drivers/agent/index.ts';
import { agentApiPlugin } from '../api/routes/agent.ts';
import { kubernetesJoinPlugin } from '../api/routes/kubernetes.ts';
import { costRoutes, registerCostMetrics } from '../api/routes/cost.ts';
import { CostSampler } from '../insights/cost/sampler.ts';
import { KubernetesDriverProvider } from '../drivers/kubernetes/index.ts';
import {
  fleetSummary,
  formatFleetSummary,
  generateDemoFleet,
  loadFleetFile,
  type FleetDocs,
} from '../fleet/index.ts';
import type { Cluster, DeliveryEvent } from '../model/schema.ts';
import { describeLocation, openBackend, parseStoreUrl, type EtcdAccess } from '../store/index.ts';
import { EncryptedStore } from '../store/encrypted.ts';
import { KeyRing } from '../store/keys.ts';
import { secretsApiPlugin } from '../api/secrets.ts';
import type { Store } from '../store/types.ts';
import { collectDefaultMetrics, Registry } from 'prom-client';
import { EventRecorder } from '../events/recorder.ts';
import { registerDeliveryMetrics } from '../insights/delivery/prometheus.ts';
import { DeliveryRecorder } from '../insights/delivery/recorder.ts';
import { deliveryMetricsRoutes } from '../api/routes/delivery-metrics.ts';
import { devopsRoutes } from '../api/routes/devops.ts';
import { driverNodes } from '../controllers/snapshot.ts';
import {
  registerTrafficMetrics,
  storeFeedSource,
  trafficApiPlugin,
  TrafficManager,
  type UdpThreads,
} from '../traffic/index.ts';

export interface ServerOptions {
  port: number;
  host: string;
  dataDir: string;
  /**
   * Where objects live: `sqlite` (the data directory's yunjian.db, the
   * default), `sqlite:DIR` or `etcd://host:port[,host:port...]` (see
   * store/open.ts). Control planes sharing an etcd need the same encryption key file.
   */
  store?: string;
  /** TLS, user and key prefix for an etcd store. */
  etcd?: EtcdAccess;
  /**
   * Keys that encrypt Secrets at rest; absent: `encryption-keys.yaml` in the
   * data directory, created on first start.
   */
  encryptionKeyFile?: string;
  /**
   * The admin token; absent: `admin.token` in the data directory, created on
   * first start. Control planes sharing an etcd share this file too, so one
   * token works on every replica.
   */
  adminTokenFile?: string;
  /** 'demo' (generated), 'none' (empty) or a path to a fleet YAML file. */
  fleet: string;
  /** Multiplies the generated fleet's node counts (benchmarks reach 10M+ cores). */
  fleetScale: number;
  log: (line: string) => void;
  /**
   * Seconds of the controllers' leader lease (15): how long a standby control
   * plane waits on a leader that stopped renewing before it takes over.
   */
  leaseSeconds?: number;
  /** Seconds between cluster heartbeats; tests shorten it. */
  heartbeatSeconds?: number;
  /** Seconds a Ready cluster that stops answering stays Ready before it is NotReady (failover). */
  clusterGraceSeconds?: number;
  /** Seconds between the cpu-use samples of a colocated app (10). */
  usageSampleSeconds?: number;
  /** Gateways' per-backend stats URLs the migration gate reads (none: the target's health only). */
  gatewayStats?: readonly string[];
  /** Overrides every sim cluster's replica start-up time (benchmarks isolate the control plane with 0). */
  simStartupSeconds?: number;
  /** UDP+TCP port of the authoritative DNS server (0 picks one); absent: no DNS server. */
  dnsPort?: number;
  /**
   * When false, a DNS port already in use is logged and the server runs without
   * DNS (the CLI's default port, so several servers can run side by side);
   * when true it is an error.
   */
  dnsPortRequired?: boolean;
  /** A JSON-lines file every audit entry is also appended to (the trail itself is in the data directory). */
  auditLog?: string;
  /** API connection timeouts in seconds (api/server.ts DEFAULT_API_TIMEOUTS); tests shorten them. */
  apiTimeouts?: Partial<ApiTimeouts>;
  /** Accept OIDC ID tokens from this issuer as bearer tokens and console sign-ins. */
  oidc?: Omit<OidcOptions, 'log'>;
  /** How long a console sign-in code works (600 s); tests shorten it. */
  signInCodeTtlSeconds?: number;
  /** Where the console's built bundle is (dist/console); tests point it elsewhere. */
  consoleDir?: string;
  /** UDP threads of the DNS server (default: available parallelism). */
  dnsWorkers?: number;
  /** What serves UDP: native threads (default when built) or Node worker threads. */
  dnsUdp?: UdpThreads;
}

export interface RunningServer {
  url: string;
  adminTokenPath: string;
  /** Every API route with its authorization rule (api/authz.ts). */
  routes: readonly RecordedRoute[];
  close(): Promise<void>;
}

export const VERSION: string = (
  JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
    version: string;
  }
).version;

function loadFleet(options: ServerOptions): FleetDocs | undefined {
  if (options.fleet === 'none') return undefined;
  if (options.fleet === 'demo') return generateDemoFleet({ scale: options.fleetScale });
  return loadFleetFile(options.fleet);
}

/**
 * One server per data directory: the store's watchers only see writes made by
 * their own process, so a second server on the same files would serve stale
 * watches. A lock file with the owner's pid enforces it; a stale lock (its
 * process is gone, e.g. after kill -9) is taken over.
 */
const lockedHere = new Set<string>();

function lockDataDir(dataDir: string): () => void {
  const path = join(dataDir, 'server.pid');
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      writeFileSync(path, `${process.pid}\n`, { flag: 'wx', mode: 0o600 });
      lockedHere.add(path);
      return () => {
        lockedHere.delete(path);
        rmSync(path, { force: true });
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const owner = Number(readFileSync(path, 'utf8').trim());
      // Our own pid in the file is a live lock only if this process took it: after
      // a restart in a container the new server often gets the old one's pid.
      const live =
        owner === process.pid
          ? lockedHere.has(path)
          : Number.isInteger(owner) && owner > 0 && isAlive(owner);
      if (live) {
        throw new Error(
          `data directory ${dataDir} is in use by another Yunjian server (pid ${owner}); stop it, or start this one with --data pointing elsewhere`,
          { cause: err },
        );
      }
      rmSync(path, { force: true });
    }
  }
  throw new Error(`could not lock data directory ${dataDir}`);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export async function runServer(options: ServerOptions): Promise<RunningServer> {
  mkdirSync(options.dataDir, { recursive: true, mode: 0o700 });
  // One that existed before is narrowed too: it holds the store, tokens and keys.
  chmodSync(options.dataDir, 0o700);
  const unlock = lockDataDir(options.dataDir);
  try {
    return await startServer(options, unlock);
  } catch (err) {
    unlock();
    throw err;
  }
}

async function startServer(options: ServerOptions, unlock: () => void): Promise<RunningServer> {
  const { log } = options;
  // A bad fleet file fails before anything is opened.
  const fleet = loadFleet(options);
  const keys = KeyRing.loadOrCreate(
    options.encryptionKeyFile ?? join(options.dataDir, 'encryption-keys.yaml'),
  );
  const location = parseStoreUrl(options.store ?? 'sqlite', options.dataDir);
  const backend = openBackend(location, options.etcd);
  log(`store: ${describeLocation(location)}`);
  // Every part of the server reads and writes through this, so Secrets reach disk only sealed.
  const store = new EncryptedStore({
    inner: backend,
    keys: keys.ring,
    purgeHistory: () => backend.purgeHistory(),
  });
  // Undone in reverse order when start-up fails half-way (a port already in use).
  const undo: (() => Promise<void>)[] = [() => store.close()];
  const rollback = async () => {
    for (const step of undo.reverse()) await step().catch(() => undefined);
  };
  try {
    // Before anything else reads the store: plaintext Secrets from before
    // encryption, or ones under a key no longer first, are sealed again.
    const resealed = await store.reencryptAll({ purge: keys.created ? 'always' : 'if-rewritten' });
    log(
      `secrets: encryption key file ${keys.created ? 'created' : 'loaded'}: ${keys.ring.path}${resealed > 0 ? `; ${resealed} secrets re-encrypted` : ''}`,
    );
    const token = loadOrCreateAdminToken(options.dataDir, options.adminTokenFile);
    const auth = new TokenAuthenticator(
      options.signInCodeTtlSeconds !== undefined
        ? { codes: new SignInCodes(options.signInCodeTtlSeconds * 1000) }
        : {},
    );
    const admin = auth.addToken(token.token, { name: 'admin' });
    auth.useVerifier(userTokenVerifier(store));
    if (options.oidc !== undefined) {
      const oidc = await OidcVerifier.create({ ...options.oidc, log });
      auth.useVerifier(oidc.verifier());
      log(`auth: OIDC tokens from ${options.oidc.issuer} (aud ${options.oidc.audience})`);
    }
    const audit = new AuditLog({
      path: join(options.dataDir, 'audit.db'),
      ...(options.auditLog !== undefined ? { file: options.auditLog } : {}),
    });
    undo.push(() => audit.close());

    const sim = new SimFleet(
      options.simStartupSeconds !== undefined ? { startupSeconds: options.simStartupSeconds } : {},
    );
    const twin = persistTwin(sim, join(options.dataDir, 'twin.json'), { log });
    undo.push(() => twin.stop());
    const simProvider: DriverProvider = {
      driverFor(cluster: Cluster) {
        sim.upsertCluster(cluster);
        return sim.driverFor(cluster.metadata.name);
      },
      forget(name) {
        sim.removeCluster(name);
      },
    };
    const agentHub = new AgentHub({ store });
    const agentProvider: DriverProvider = {
      driverFor: (cluster) => agentHub.driver(cluster.metadata.name),
      forget: (name) => agentHub.forget(name),
    };
    const kubernetesProvider = new KubernetesDriverProvider(store);
    undo.push(() => kubernetesProvider.close());
    const drivers = providerByType({
      sim: simProvider,
      agent: agentProvider,
      kubernetes: kubernetesProvider,
    });

    if (fleet) {
      const docs = [...fleet.clouds, ...fleet.sites, ...fleet.clusters];
      const results = await applyDocuments(store, docs, {});
      const changed = results.filter((r) => r.action !== 'unchanged').length;
      log(
        `fleet: ${formatFleetSummary(fleetSummary(fleet))}; ${changed} resources created or updated`,
      );
      for (const note of fleet.notes ?? []) log(`fleet: ${note}`);
    }

    // Built-in items are reset to what this version ships at every start.
    const catalog = await applyDocuments(store, [...BUILTIN_CATALOG], {});
    log(
      `catalog: ${BUILTIN_CATALOG.length} built-in items, ${catalog.filter((r) => r.action !== 'unchanged').length} created or updated`,
    );

    const loops = startControlLoops({
      store,
      drivers,
      log,
      // Stable across restarts, so a restarted control plane takes its own lease back at once.
      identity: `${hostname()}:${resolve(options.dataDir)}`,
      ...(options.heartbeatSeconds !== undefined
        ? { heartbeatSeconds: options.heartbeatSeconds }
        : {}),
      ...(options.leaseSeconds !== undefined ? { leaseSeconds: options.leaseSeconds } : {}),
      ...(options.clusterGraceSeconds !== undefined
        ? { clusterGraceSeconds: options.clusterGraceSeconds }
        : {}),
      ...(options.usageSampleSeconds !== undefined
        ? { usageSampleSeconds: options.usageSampleSeconds }
        : {}),
      migrationMetrics: gatewayMetrics(options.gatewayStats ?? []),
      // Standbys answer no agent heartbeat, so a new leader's hub counts silence from its term.
      onLeading: () => agentHub.listen(),
    });
    undo.push(() => loops.stop());
    const registry = new Registry();
    collectDefaultMetrics({ register: registry });
    registerCostMetrics(registry, store);
    const costs = new CostSampler({
      // It samples only while leading, so its writes are fenced like the controllers'.
      store: loops.store,
      events: loops.events,
      log,
      leading: () => loops.leading(),
      usage: async (cluster) => (await drivers.driverFor(cluster)?.listWorkloads()) ?? [],
    });
    costs.start();
    undo.push(() => costs.stop());
    const traffic = await startTraffic(options, store, registry);
    if (traffic) undo.push(() => traffic.stop());
    const deliveryTelemetry = registerDeliveryMetrics(
      registry,
      async () => (await store.list('DeliveryEvent')).items as unknown as DeliveryEvent[],
    );
    const delivery = new DeliveryRecorder({
      store,
      log,
      onDeployment: (r) => deliveryTelemetry.deployment(r),
    });
    delivery.start();
    undo.push(() => delivery.stop());
    const api = createApiServer({
      log,
      ...(options.apiTimeouts !== undefined ? { timeouts: options.apiTimeouts } : {}),
      registry,
      store,
      auth,
      audit,
      version: VERSION,
      chaos: sim,
      nodes: driverNodes(drivers),
      ready: () => loops.synced().then(() => loops.leading()),
      plugins: [
        consolePlugin({
          auth,
          store,
          ...(options.consoleDir !== undefined ? { dir: options.consoleDir } : {}),
        }),
        identityPlugin(store),
        auditPlugin(audit),
        agentApiPlugin(agentHub, () => loops.leading()),
        kubernetesJoinPlugin(store),
        secretsApiPlugin(store),
        devopsRoutes(store, deliveryTelemetry),
        deliveryMetricsRoutes(store),
        costRoutes(store),
        ...(traffic ? [trafficApiPlugin(traffic)] : []),
      ],
    });
    undo.push(() => api.close());
    await api.listen({ port: options.port, host: options.host }).catch((err: unknown) => {
      if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw err;
      throw new Error(
        `port ${options.port} on ${options.host} is already in use: stop what listens there, or start with --port`,
        { cause: err },
      );
    });
    const addr = api.server.address() as AddressInfo;
    const shownHost =
      options.host === '0.0.0.0' || options.host === '::' ? 'localhost' : options.host;
    const url = `http://${shownHost.includes(':') ? `[${shownHost}]` : shownHost}:${addr.port}`;
    log(`Yunjian ${VERSION} API serving on ${url}`);
    log(`admin token ${token.created ? 'created' : 'loaded'}: ${token.path}`);
    // Like Jupyter, a ready link that signs the browser in, but with a
    // one-time code rather than the admin token (`yunjian console` prints more).
    if (consoleBuilt(options.consoleDir)) {
      log(
        `console: ${url.replace('//127.0.0.1:', '//localhost:')}/?code=${auth.codes.issue(admin).code}`,
      );
      log(
        `console: the link signs in once, within ${auth.codes.lifetime}; yunjian console prints another`,
      );
    } else log('console: not built; run npm run build:console (npm start builds it)');
    if (traffic)
      log(
        `DNS (GSLB) serving on ${options.host}:${traffic.dns.port} udp+tcp; try: dig @${shownHost} -p ${traffic.dns.port} HOST`,
      );
    log(`try: bin/yunjian --server ${url} get clusters -o wide`);

    let closing: Promise<void> | undefined;
    return {
      url,
      adminTokenPath: token.path,
      routes: routeTable(api),
      close() {
        closing ??= rollback().then(unlock);
        return closing;
      },
    };
  } catch (err) {
    await rollback();
    throw err;
  }
}

/** The traffic manager (DNS + health probes), or undefined when no DNS port is set or it is taken. */
async function startTraffic(
  options: ServerOptions,
  store: Store,
  registry: Registry,
): Promise<TrafficManager | undefined> {
  if (options.dnsPort === undefined) return undefined;
  const traffic = new TrafficManager({
    source: storeFeedSource(store),
    dnsHost: options.host,
    dnsPort: options.dnsPort,
    ...(options.dnsWorkers !== undefined ? { dnsWorkers: options.dnsWorkers } : {}),
    ...(options.dnsUdp !== undefined ? { dnsUdp: options.dnsUdp } : {}),
    recorder: new EventRecorder({ store, source: 'traffic-manager' }),
    log: options.log,
  });
  try {
    await traffic.start();
  } catch (err) {
    await traffic.stop();
    if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw err;
    const why = `DNS port ${options.dnsPort} on ${options.host} is already in use`;
    if (options.dnsPortRequired === true)
      throw new Error(`${why}: stop what listens there, or start with --dns-port`, { cause: err });
    options.log(`${why}; running without DNS (start with --dns-port to choose another)`);
    return undefined;
  }
  registerTrafficMetrics(registry, traffic);
  return traffic;
}
