// The DNS server end to end: real `dig` and Node's resolver against the
// traffic manager, for every strategy, and across an endpoint going down and
// coming back.
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { Resolver } from 'node:dns/promises';
import dnsPacket from 'dns-packet';
import { after, before, describe, test } from 'node:test';
import { storeFeedSource } from '../src/traffic/feed.ts';
import { TrafficManager } from '../src/traffic/manager.ts';
import { unitCells } from '../src/traffic/strategies.ts';
import { UDP_THREADS } from '../src/traffic/dns-native.ts';
import type { Store } from '../src/store/types.ts';
import {
  addClouds,
  dig,
  memoryStore,
  putApp,
  requireDig,
  udpThreadsSkip,
  setPlacements,
  startBackend,
  until,
} from './traffic.helpers.ts';

const CLOUDS = [
  { cloud: 'aws', site: 'us-east', latitude: 38.9, longitude: -77.0 },
  { cloud: 'aliyun', site: 'singapore', latitude: 1.35, longitude: 103.8 },
  { cloud: 'azure', site: 'frankfurt', latitude: 50.1, longitude: 8.7 },
];
const ADDR = { aws: '127.0.1.1', aliyun: '127.0.2.1', azure: '127.0.3.1' } as const;

/**
 * The A answer to `name` from `n` fresh UDP sockets: SO_REUSEPORT hashes each
 * source port to a worker, so together they reach every worker thread.
 */
async function answersFromManySockets(port: number, name: string, n: number): Promise<string[]> {
  return Promise.all(
    Array.from({ length: n }, async (_, i) => {
      const sock = createSocket('udp4');
      try {
        await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
        const reply = new Promise<Buffer>((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error(`no answer to ${name}`)), 2000);
          sock.once('message', (m) => {
            clearTimeout(timer);
            resolve(m);
          });
        });
        sock.send(
          dnsPacket.encode({ type: 'query', id: i + 1, questions: [{ type: 'A', name }] }),
          port,
          '127.0.0.1',
        );
        const answers = dnsPacket.decode(await reply).answers ?? [];
        return answers.map((a) => (a.type === 'A' ? a.data : '')).join();
      } finally {
        sock.close();
      }
    }),
  );
}
const FAST = {
  http: { path: '/healthz' },
  intervalSeconds: 0.2,
  // A stopped backend refuses at once; a generous timeout keeps a busy machine from flapping.
  timeoutSeconds: 2,
  unhealthyThreshold: 1,
  healthyThreshold: 1,
};

for (const udp of UDP_THREADS)
  describe(
    `traffic DNS (dig and node:dns), UDP on ${udp} threads`,
    { skip: udpThreadsSkip(udp) },
    () => {
      let store: Store;
      let manager: TrafficManager;
      let port = 0;
      let resolver: Resolver;
      const ports: Record<string, number> = {};
      const stops: Record<string, () => Promise<void>> = {};

      const cleanups: (() => Promise<void>)[] = [];
      const cleanup = (fn: () => Promise<void>) => cleanups.push(fn);

      before(async () => {
        store = memoryStore();
        await addClouds(store, CLOUDS);
        for (const [cloud, address] of Object.entries(ADDR)) {
          const b = await startBackend(cleanup, address);
          ports[cloud] = b.port;
          stops[cloud] = b.stop;
        }
        const all = (clouds: (keyof typeof ADDR)[]) =>
          clouds.map((c) => ({ cloud: c, address: ADDR[c], port: ports[c] ?? 0 }));
        await putApp(
          store,
          'fo',
          {
            host: 'fo.example.com',
            strategy: 'failover',
            ttl: 7,
            failover: { order: [{ cloud: 'aws' }, { cloud: 'aliyun' }] },
            healthCheck: FAST,
          },
          all(['aws', 'aliyun', 'azure']),
        );
        await putApp(
          store,
          'ww',
          {
            host: 'ww.example.com',
            strategy: 'weighted',
            weights: [
              { cloud: 'aws', weight: 3 },
              { cloud: 'aliyun', weight: 1 },
            ],
            healthCheck: FAST,
          },
          all(['aws', 'aliyun']),
        );
        await putApp(
          store,
          'rr',
          { host: 'rr.example.com', strategy: 'roundRobin', healthCheck: FAST },
          all(['aws', 'aliyun', 'azure']),
        );
        await putApp(
          store,
          'geo',
          { host: 'geo.example.com', strategy: 'geo', healthCheck: FAST },
          all(['aws', 'aliyun', 'azure']),
        );
        await putApp(
          store,
          'unit',
          {
            host: 'cells.example.net',
            strategy: 'unit',
            units: {
              key: 'header:X-User',
              cells: [
                { name: 'u1', cloud: 'aws' },
                { name: 'u2', cloud: 'aliyun' },
                { name: 'u3', cloud: 'azure' },
              ],
            },
            healthCheck: FAST,
          },
          all(['aws', 'aliyun', 'azure']),
        );
        await putApp(
          store,
          'closed',
          {
            host: 'closed.example.com',
            strategy: 'failover',
            whenAllDown: 'failClosed',
            failover: { order: [{ cloud: 'aws' }] },
            healthCheck: FAST,
          },
          [{ cloud: 'aws', address: '127.0.9.1', port: 9 }],
        );
        await putApp(
          store,
          'open',
          {
            host: 'open.example.com',
            strategy: 'failover',
            whenAllDown: 'failOpen',
            failover: { order: [{ cloud: 'aws' }] },
            healthCheck: FAST,
          },
          [{ cloud: 'aws', address: '127.0.9.1', port: 9 }],
        );
        manager = new TrafficManager({
          source: storeFeedSource(store),
          dnsHost: '127.0.0.1',
          dnsPort: 0,
          dnsUdp: udp,
        });
        await manager.start();
        port = manager.dns.port;
        resolver = new Resolver({ timeout: 2000, tries: 1 });
        resolver.setServers([`127.0.0.1:${port}`]);
        await until('routes', () => (manager.table.routes.size === 7 ? true : undefined));
        // Both dead-endpoint apps are seen down by both vantage points.
        await until('dead endpoints down', () =>
          [...manager.table.routes.values()]
            .filter((r) => r.host.startsWith('closed') || r.host.startsWith('open'))
            .every((r) => r.endpoints.every((e) => !manager.isHealthy(e)))
            ? true
            : undefined,
        );
      });
      after(async () => {
        await manager?.stop();
        for (const fn of cleanups) await fn();
        await store?.close();
      });

      test('SOA, NS and glue for the zone; serial is the store revision', async (t) => {
        if (!(await requireDig(t))) return;
        const soa = await dig(port, 'example.com', 'SOA');
        assert.equal(soa.status, 'NOERROR');
        assert.ok(soa.flags.includes('aa'));
        const fields = soa.answers[0]?.data.split(' ') ?? [];
        assert.equal(fields[0], 'ns1.example.com.');
        assert.equal(Number(fields[2]), Number(await store.revision()));
        const ns = await dig(port, 'example.com', 'NS');
        assert.deepEqual(
          ns.answers.map((a) => a.data),
          ['ns1.example.com.'],
        );
        assert.deepEqual(await resolver.resolve4('ns1.example.com'), ['127.0.0.1']);
      });

      test('NXDOMAIN, NODATA and REFUSED as an authoritative server answers them', async (t) => {
        if (!(await requireDig(t))) return;
        const cases = [
          { name: 'nope.example.com', type: 'A', status: 'NXDOMAIN', soa: true },
          { name: 'fo.example.com', type: 'AAAA', status: 'NOERROR', soa: true },
          { name: 'fo.example.com', type: 'MX', status: 'NOERROR', soa: true },
          { name: 'www.google.com', type: 'A', status: 'REFUSED', soa: false },
          { name: 'example.org', type: 'A', status: 'REFUSED', soa: false },
        ];
        for (const c of cases) {
          const r = await dig(port, c.name, c.type);
          assert.equal(r.status, c.status, `${c.name} ${c.type}`);
          assert.equal(r.answers.length, 0, `${c.name} ${c.type}`);
          assert.equal(
            r.authority.some((a) => a.type === 'SOA'),
            c.soa,
            `${c.name} ${c.type} authority`,
          );
        }
        await assert.rejects(resolver.resolve4('nope.example.com'), { code: 'ENOTFOUND' });
      });

      test('failover answers the first healthy cloud in order, with the app TTL', async (t) => {
        if (!(await requireDig(t))) return;
        const r = await dig(port, 'fo.example.com', 'A');
        assert.deepEqual(
          r.answers.map((a) => [a.data, a.ttl]),
          [[ADDR.aws, 7]],
        );
        assert.deepEqual(await resolver.resolve4('fo.example.com'), [ADDR.aws]);
        const txt = await resolver.resolveTxt('fo.example.com');
        assert.deepEqual(txt, [['strategy=failover', 'ttl=7']]);
      });

      test('weighted follows the weights exactly over a window (smooth weighted round robin)', async () => {
        const seen: string[] = [];
        for (let i = 0; i < 8; i++) seen.push(...(await resolver.resolve4('ww.example.com')));
        assert.equal(seen.filter((a) => a === ADDR.aws).length, 6);
        assert.equal(seen.filter((a) => a === ADDR.aliyun).length, 2);
      });

      test('round robin rotates the full healthy set', async () => {
        const firsts = new Set<string>();
        for (let i = 0; i < 3; i++) {
          const a = await resolver.resolve4('rr.example.com');
          assert.equal(a.length, 3);
          firsts.add(a[0] ?? '');
        }
        assert.equal(firsts.size, 3);
      });

      test('geo answers the nearest site to the client subnet (ECS) and echoes the scope', async (t) => {
        if (!(await requireDig(t))) return;
        const cases = [
          { subnet: '198.51.100.0/24', want: ADDR.azure },
          { subnet: '203.0.113.0/24', want: ADDR.aliyun },
          { subnet: '192.0.2.0/24', want: ADDR.aws },
        ];
        for (const c of cases) {
          const r = await dig(port, 'geo.example.com', 'A', `+subnet=${c.subnet}`);
          assert.deepEqual(
            r.answers.map((a) => a.data),
            [c.want],
            c.subnet,
          );
        }
        // No ECS and a resolver address the table does not know: every healthy site.
        assert.equal((await resolver.resolve4('geo.example.com')).length, 3);
      });

      test('unit routing: <key>.unit.<host> answers the key cell; TXT documents it', async (t) => {
        if (!(await requireDig(t))) return;
        const cells = [
          { name: 'u1', cloud: 'aws' },
          { name: 'u2', cloud: 'aliyun' },
          { name: 'u3', cloud: 'azure' },
        ];
        const hit = new Set<string>();
        for (const key of ['alice', 'bob', 'carol', 'dave', 'erin', 'frank', 'grace', 'heidi']) {
          const want = unitCells('cells.example.net', cells, key)[0];
          assert.ok(want);
          const got = await resolver.resolve4(`${key}.unit.cells.example.net`);
          assert.deepEqual(got, [ADDR[want.cloud as keyof typeof ADDR]], key);
          const txt =
            (await dig(port, `${key}.unit.cells.example.net`, 'TXT')).answers[0]?.data ?? '';
          assert.match(txt, new RegExp(`"cell=${want.name}"`));
          hit.add(want.name);
        }
        assert.ok(hit.size >= 2, 'keys spread over cells');
        const info = (await resolver.resolveTxt('cells.example.net'))[0] ?? [];
        assert.ok(info.includes('unit-query=<key>.unit.cells.example.net'));
        assert.ok(info.includes('unit-source=header:X-User'));
      });

      test('whenAllDown: failClosed answers no address, failOpen answers the dead ones', async () => {
        await assert.rejects(resolver.resolve4('closed.example.com'), { code: 'ENODATA' });
        assert.deepEqual(await resolver.resolve4('open.example.com'), ['127.0.9.1']);
      });

      test('a big answer sets TC over UDP and dig falls back to TCP', async (t) => {
        if (!(await requireDig(t))) return;
        const many = Array.from({ length: 40 }, (_, i) => ({
          cloud: 'aws',
          address: `127.0.4.${i + 1}`,
          port: 1,
        }));
        // Sim members: health is the cluster's readiness, no probes to 40 dead addresses.
        await addClouds(store, [
          { cloud: 'simc', site: 'sim-site', latitude: 0, longitude: 0, type: 'sim' },
        ]);
        await putApp(
          store,
          'big',
          { host: 'big.example.com', strategy: 'roundRobin' },
          many.map((m) => ({ ...m, cloud: 'simc' })),
        );
        await until('big route', () =>
          manager.table.routes.get('big.example.com')?.endpoints.length === 40 ? true : undefined,
        );
        const udp = await dig(port, 'big.example.com', 'A', '+noedns', '+ignore');
        assert.ok(udp.flags.includes('tc'), `flags ${udp.flags.join(' ')}`);
        assert.equal(udp.answers.length, 0);
        const full = await dig(port, 'big.example.com', 'A', '+noedns');
        assert.equal(full.answers.length, 40);
        const tcp = await dig(port, 'big.example.com', 'A', '+tcp');
        assert.equal(tcp.answers.length, 40);
      });

      test('an endpoint that goes down leaves the answers, and comes back when it recovers', async (t) => {
        if (!(await requireDig(t))) return;
        const stopAws = stops.aws;
        assert.ok(stopAws);
        assert.equal(manager.dns.udpThreads, udp);
        assert.ok(manager.dns.workers > 0, 'UDP is served by threads besides the main one');
        const downEvents = () =>
          manager.history.filter((h) => h.host === 'fo.example.com' && h.reason === 'EndpointDown');
        const downBefore = downEvents().length;
        await stopAws();
        // Once the change is reported, every worker answers from it.
        await until('EndpointDown reported', () =>
          downEvents().length > downBefore ? true : undefined,
        );
        assert.deepEqual(
          [...new Set(await answersFromManySockets(port, 'fo.example.com', 16))],
          [ADDR.aliyun],
        );
        await until('failover to aliyun', async () => {
          const r = await dig(port, 'fo.example.com', 'A');
          return r.answers.map((a) => a.data).join() === ADDR.aliyun ? true : undefined;
        });
        // rr and ww probe the same address on their own schedules: they may flip a round later.
        await until('rr without aws', async () =>
          (await resolver.resolve4('rr.example.com')).sort().join() ===
          [ADDR.aliyun, ADDR.azure].sort().join()
            ? true
            : undefined,
        );
        // A full weighted window (3:1) without aws: aws is out of the candidates.
        await until('ww on aliyun only', async () => {
          const window: string[] = [];
          for (let i = 0; i < 4; i++) window.push(...(await resolver.resolve4('ww.example.com')));
          return window.every((a) => a === ADDR.aliyun) ? true : undefined;
        });
        const reasons = manager.history
          .filter((h) => h.host === 'fo.example.com')
          .map((h) => h.reason);
        assert.ok(reasons.includes('EndpointDown'));
        assert.ok(reasons.includes('TrafficFailover'));

        await startBackend(cleanup, ADDR.aws, ports.aws);
        await until('failback to aws', async () => {
          const r = await dig(port, 'fo.example.com', 'A');
          return r.answers.map((a) => a.data).join() === ADDR.aws ? true : undefined;
        });
        await until('rr back to three', async () =>
          (await resolver.resolve4('rr.example.com')).length === 3 ? true : undefined,
        );
        assert.ok(
          manager.history.some((h) => h.host === 'fo.example.com' && h.reason === 'EndpointUp'),
        );
      });

      test('a placement with no ready replica is not answered', async () => {
        await setPlacements(store, 'fo', [
          { cloud: 'aws', address: ADDR.aws, port: ports.aws ?? 0, ready: 0 },
          { cloud: 'aliyun', address: ADDR.aliyun, port: ports.aliyun ?? 0 },
        ]);
        await until('not-ready aws skipped', async () =>
          (await resolver.resolve4('fo.example.com')).join() === ADDR.aliyun ? true : undefined,
        );
      });
    },
  );
