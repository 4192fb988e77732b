// One UDP worker of the DNS server (see dns.ts): its own SO_REUSEPORT socket on
// the shared port and its own copy of the answer state, replaced whole by each
// `AnswerState` the main thread posts and acknowledged after it is in place,
// so the main thread knows when every socket answers from it.
import { parentPort, workerData } from 'node:worker_threads';
import { Authority } from './answer.ts';
import { bindUdp, DnsEngine, type AnswerState, type WorkerMessage } from './dns-engine.ts';
import { builtinGeoLocator } from './geo.ts';
import type { TrafficEndpoint, TrafficRoute } from './routes.ts';

const STATS_MS = 50;

const data = workerData as {
  host: string;
  port: number;
  nameServers: string[];
  counters?: Int32Array;
};
const port = parentPort;
if (port === null) throw new Error('dns-worker runs as a worker thread');
const authority = new Authority({
  geo: builtinGeoLocator,
  nameServers: data.nameServers,
  ...(data.counters !== undefined ? { counters: data.counters } : {}),
});
const engine = new DnsEngine(authority);
let down = new Set<TrafficEndpoint>();
authority.healthy = (e) => !down.has(e);
const send = (m: WorkerMessage) => port.postMessage(m);

port.on('message', (s: AnswerState) => {
  if (s.routes !== undefined && s.zones !== undefined)
    authority.table = {
      routes: new Map(s.routes.map((r): [string, TrafficRoute] => [r.host, r])),
      zones: s.zones,
      conflicts: [],
    };
  authority.serial = s.serial;
  const ids = new Set(s.down);
  const next = new Set<TrafficEndpoint>();
  for (const r of authority.table.routes.values())
    for (const e of r.endpoints) if (ids.has(`${r.host}|${e.key}`)) next.add(e);
  down = next;
  engine.invalidate();
  send({ type: 'applied', version: s.version });
});

await bindUdp(data.host, data.port, engine);
send({ type: 'ready' });

let reported = -1;
setInterval(() => {
  if (engine.received === reported) return;
  reported = engine.received;
  send({
    type: 'stats',
    counts: [...engine.counts()],
    received: engine.received,
    malformed: engine.malformed,
  });
}, STATS_MS);
