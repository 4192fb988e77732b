// Shared set-up for the traffic tests: a store holding Sites, Clusters and
// Applications whose status lists endpoints, plain loopback HTTP servers
// standing in for each cloud's ingress, and a real `dig`.
import { execFile } from 'node:child_process';
import { until as waitUntil } from './wait.ts';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { TestContext } from 'node:test';
import { promisify } from 'node:util';
import { applyDocuments } from '../src/admission/apply.ts';
import { API_VERSION } from '../src/model/schema.ts';
import { nativeUdpUnavailable, type UdpThreads } from '../src/traffic/dns-native.ts';
import { openSqliteStore } from '../src/store/index.ts';
import type { Store } from '../src/store/types.ts';

const run = promisify(execFile);

export function memoryStore(): Store {
  return openSqliteStore({ path: ':memory:' });
}

export interface CloudSpec {
  cloud: string;
  site: string;
  latitude: number;
  longitude: number;
  type?: 'agent' | 'sim';
  ready?: boolean;
}

/** One Site and one Cluster (named `c-<cloud>`) per entry, Ready unless `ready: false`. */
export async function addClouds(store: Store, clouds: readonly CloudSpec[]): Promise<void> {
  const docs: unknown[] = [];
  for (const c of clouds) {
    docs.push({
      apiVersion: API_VERSION,
      kind: 'Cloud',
      metadata: { name: c.cloud },
      spec: { vendor: 'other', type: 'private' },
    });
    docs.push({
      apiVersion: API_VERSION,
      kind: 'Site',
      metadata: { name: c.site },
      spec: {
        cloud: c.cloud,
        kind: 'region',
        country: 'US',
        city: c.site,
        latitude: c.latitude,
        longitude: c.longitude,
      },
    });
    docs.push({
      apiVersion: API_VERSION,
      kind: 'Cluster',
      metadata: { name: `c-${c.cloud}` },
      spec: {
        cloud: c.cloud,
        site: c.site,
        driver: c.type === 'sim' ? { type: 'sim', sim: { nodePools: [] } } : { type: 'agent' },
      },
    });
  }
  await applyDocuments(store, docs, {});
  for (const c of clouds) {
    const cl = await store.get({ kind: 'Cluster', name: `c-${c.cloud}` });
    await store.updateStatus({
      ...cl,
      status: {
        conditions: [
          {
            type: 'Ready',
            status: c.ready === false ? 'False' : 'True',
            reason: 'Test',
            lastTransitionTime: new Date().toISOString(),
          },
        ],
      },
    });
  }
}

export interface Placed {
  cloud: string;
  site?: string;
  address: string;
  port: number;
  ready?: number;
}

/** Applies an app serving `traffic` (validated like `yunjian apply`) and writes its placements. */
export async function putApp(
  store: Store,
  name: string,
  traffic: Record<string, unknown>,
  placed: readonly Placed[],
): Promise<void> {
  await applyDocuments(
    store,
    [
      {
        apiVersion: API_VERSION,
        kind: 'Application',
        metadata: { name, namespace: 'default' },
        spec: {
          components: [
            {
              name: 'web',
              image: 'example/web:1',
              replicas: 1,
              ports: [{ name: 'http', port: 8080 }],
            },
          ],
          traffic,
        },
      },
    ],
    {},
  );
  await setPlacements(store, name, placed);
}

export async function setPlacements(
  store: Store,
  name: string,
  placed: readonly Placed[],
): Promise<void> {
  const app = await store.get({ kind: 'Application', namespace: 'default', name });
  await store.updateStatus({
    ...app,
    status: {
      placements: placed.map((p) => ({
        component: 'web',
        cluster: `c-${p.cloud}`,
        cloud: p.cloud,
        ...(p.site !== undefined ? { site: p.site } : {}),
        desired: 1,
        ready: p.ready ?? 1,
        endpoints: [{ name: 'http', address: p.address, port: p.port }],
      })),
    },
  });
}

/** A plain HTTP server on `address` (a 127.x loopback address), answering 200 on every path. */
export async function startBackend(
  cleanup: (fn: () => Promise<void>) => void,
  address: string,
  port = 0,
  body = address,
): Promise<{ server: Server; port: number; stop: () => Promise<void> }> {
  const server = createServer((req, res) => {
    req.resume();
    res.setHeader('x-backend', body);
    res.end(body);
  });
  server.keepAliveTimeout = 1000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, address, () => resolve());
  });
  const stop = () =>
    new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  cleanup(stop);
  return { server, port: (server.address() as AddressInfo).port, stop };
}

/** Fast polling for in-process servers. */
export function until<T>(
  what: string,
  fn: () => Promise<T | undefined> | T | undefined,
  timeoutMs = 10_000,
): Promise<T> {
  return waitUntil(what, fn, { timeoutMs, stepMs: 50 });
}

export interface DigResult {
  status: string;
  flags: string[];
  answers: { name: string; ttl: number; type: string; data: string }[];
  authority: { name: string; type: string; data: string }[];
}

/**
 * Why a DNS suite on `udp` threads is skipped (false: it runs): native threads
 * need the built fast path (`npm ci` builds it), which CI must have.
 */
export function udpThreadsSkip(udp: UdpThreads): string | false {
  if (udp !== 'native') return false;
  const why = nativeUdpUnavailable();
  if (why === undefined) return false;
  if (process.env.CI === 'true') throw new Error(`${why}; required under CI`);
  return why;
}

/** `dig` present, or (under CI) a failure; otherwise the test is skipped with a reason. */
export async function requireDig(t: TestContext): Promise<boolean> {
  try {
    await run('dig', ['-v']);
    return true;
  } catch {
    if (process.env.CI === 'true') throw new Error('dig (Debian dnsutils) is required under CI');
    t.skip('dig not installed (apt-get install dnsutils)');
    return false;
  }
}

export async function dig(
  port: number,
  name: string,
  type: string,
  ...extra: string[]
): Promise<DigResult> {
  const { stdout } = await run('dig', [
    '@127.0.0.1',
    '-p',
    String(port),
    name,
    type,
    '+noall',
    '+comments',
    '+answer',
    '+authority',
    '+tries=1',
    '+time=2',
    ...extra,
  ]);
  const status = /status: ([A-Z]+)/.exec(stdout)?.[1] ?? 'NONE';
  const flags = (/;; flags: ([a-z ]+);/.exec(stdout)?.[1] ?? '').trim().split(/\s+/);
  const answers: DigResult['answers'] = [];
  const authority: DigResult['authority'] = [];
  let section = '';
  for (const line of stdout.split('\n')) {
    if (line.startsWith(';; ANSWER')) section = 'answer';
    else if (line.startsWith(';; AUTHORITY')) section = 'authority';
    else if (line.startsWith(';; ')) section = '';
    if (line.startsWith(';') || line.trim() === '') continue;
    const [rname = '', ttl = '0', , rtype = '', ...data] = line.split(/\s+/);
    if (section === 'answer')
      answers.push({ name: rname, ttl: Number(ttl), type: rtype, data: data.join(' ') });
    if (section === 'authority') authority.push({ name: rname, type: rtype, data: data.join(' ') });
  }
  return { status, flags, answers, authority };
}
