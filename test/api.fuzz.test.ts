// A bounded, seeded fuzzer over the write API of one in-process control plane
// (issue 13). Real example manifests are mutated (huge and odd numbers, flipped
// types, long and unicode strings, deep nesting, unknown and missing fields,
// big lists and maps) and sent as JSON or YAML (anchors, aliases, merge keys,
// tags, duplicate keys, multi-document streams, truncation) to apply and to
// the kinds' create, replace and status routes. Every input is a function of
// (SEED, its index), so a failure names an index that reproduces it.
//
// It asserts: no 5xx and no dropped connection; /healthz answers after; and
// the server's heap returns to within 10 % of where it was. The heap is judged
// honestly by comparing like with like: the baseline is taken after a warm-up
// run of the same generator (code compiled, caches filled) and a sweep back to
// the seed objects; the final measure after the same sweep. Both are the lowest
// of several readings after full collections (gc exposed at run time).
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it, type TestContext } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { parseAllDocuments, stringify } from 'yaml';
import { between, seededRandom, type Random } from '../src/lib/random.ts';
import { KINDS, lookupKind } from '../src/model/kinds.ts';
import { inProcessServer } from './server.harness.ts';

const SEED = 13;
const DOCUMENTS = 20_000;
const WARM_UP = 1_000;
const CONCURRENCY = 8;
/** The run stops here even if short of DOCUMENTS (and then fails on the count). */
const RUN_DEADLINE_MS = 240_000;
const PROGRESS_EVERY = 4_000;
const HEAP_TOLERANCE = 0.1;
const API = '/api/v1alpha1';
const ROOT = join(import.meta.dirname, '..');

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

// Three sim clouds, so the examples (spread over three clouds) really place.
const FLEET = ['aws', 'aliyun', 'azure']
  .map(
    (cloud, i) => `apiVersion: yunjian.io/v1alpha1
kind: Cloud
metadata: { name: ${cloud} }
spec: { vendor: ${cloud}, type: public }
---
apiVersion: yunjian.io/v1alpha1
kind: Site
metadata: { name: ${cloud}-1 }
spec: { cloud: ${cloud}, kind: region, country: DE, city: City ${i}, latitude: ${i}, longitude: ${i} }
---
apiVersion: yunjian.io/v1alpha1
kind: Cluster
metadata: { name: ${cloud}-1a, labels: { cloud: ${cloud} } }
spec:
  cloud: ${cloud}
  site: ${cloud}-1
  driver:
    type: sim
    sim:
      nodePools:
        - { name: x86, count: 4, arch: amd64, cpu: 16, memory: 64Gi }
        - { name: arm, count: 2, arch: arm64, cpu: 16, memory: 64Gi }
`,
  )
  .join('---\n');

const fleetDir = mkdtempSync(join(tmpdir(), 'yunjian-fuzz-fleet-'));
const fleetFile = join(fleetDir, 'fleet.yaml');
writeFileSync(fleetFile, FLEET);
after(() => rmSync(fleetDir, { recursive: true, force: true }));

type Doc = Record<string, unknown>;
const SEEDS: readonly Doc[] = [
  ...['shop.yaml', 'batch-colocated.yaml', 'agents/shop.yaml', 'agents/fleet.yaml'].flatMap(
    (file) => parseAllDocuments(readFileSync(join(ROOT, 'examples', file), 'utf8')),
  ),
  ...parseAllDocuments(FLEET),
].map((d, i) => {
  // Two examples are both Application "shop": seeds are applied together, so names are unique.
  const doc = d.toJS() as Doc & { metadata: { name: string } };
  if (doc.kind === 'Application') doc.metadata.name = `${doc.metadata.name}-${i}`;
  return doc;
});

// ---------------------------------------------------------------- values

const pick = <T>(random: Random, list: readonly T[]): T =>
  list[Math.floor(random() * list.length)] as T;

const NUMBERS = [
  1e9,
  2 ** 53 + 1,
  1e308,
  -1e308,
  -1,
  -0,
  0,
  0.5,
  1.5,
  1023.9999,
  1024,
  1025,
  10_000,
  10_001,
  65_536,
  Number.MAX_SAFE_INTEGER,
  2 ** 31,
  5e-324,
];
const STRINGS = [
  '',
  ' ',
  'a',
  'Shop_1',
  '1e308',
  '2^53+1',
  '9'.repeat(40),
  '1024001m',
  '17Ti',
  '0x10',
  '.inf',
  '-.nan',
  'null',
  'true',
  '~',
  '../../etc/passwd',
  '%2F..%2F',
  '💥'.repeat(10),
  'ü',
  '\u202eevil',
  'a\u0000b',
  '\ud800',
  'linux/amd64',
  'registry.example.com/x:1',
  '<script>alert(1)</script>',
  '${PORT}',
  '{{ x }}',
  "'; DROP TABLE objects; --",
];
const KEYS = [
  'colour',
  '__proto__',
  'constructor',
  'toString',
  'hasOwnProperty',
  '$ref',
  '',
  'a/b/c',
  'x'.repeat(300),
  'kubernetes.io/name',
  '🔑',
];

function randomString(random: Random): string {
  const r = random();
  if (r < 0.5) return pick(random, STRINGS);
  if (r < 0.8) return pick(random, ['a', 'é', '💥', '-', '.', '/']).repeat(between(random, 1, 300));
  if (r < 0.998) return 'x'.repeat(between(random, 300, 70_000));
  return 'y'.repeat(between(random, 500_000, 1_100_000)); // ~1 MB, rarely
}

/** Objects or arrays nested `depth` deep around a scalar. */
function nested(random: Random, depth: number): unknown {
  let v: unknown = pick(random, NUMBERS);
  const arrays = random() < 0.5;
  for (let i = 0; i < depth; i++) v = arrays ? [v] : { [pick(random, ['a', 'spec', 'x'])]: v };
  return v;
}

function randomValue(random: Random): unknown {
  const r = random();
  if (r < 0.3) return pick(random, NUMBERS);
  if (r < 0.6) return randomString(random);
  if (r < 0.7) return pick(random, [true, false, null]);
  if (r < 0.8) return [];
  if (r < 0.9) return {};
  return nested(random, between(random, 2, 100));
}

// ---------------------------------------------------------------- mutations

type Container = Doc | unknown[];
const isContainer = (v: unknown): v is Container => typeof v === 'object' && v !== null;

/** A random container in the document and one of its keys (or indexes). */
function randomSlot(random: Random, root: Container): [Container, string | number] {
  let node: Container = root;
  for (;;) {
    const keys: (string | number)[] = Array.isArray(node)
      ? node.map((_, i) => i)
      : Object.keys(node);
    if (keys.length === 0) return [node, Array.isArray(node) ? 0 : 'spec'];
    const key = pick(random, keys);
    const child: unknown = Array.isArray(node) ? node[key as number] : node[key as string];
    if (!isContainer(child) || random() < 0.3) return [node, key];
    node = child;
  }
}

function setSlot(node: Container, key: string | number, value: unknown): void {
  if (Array.isArray(node)) node[Number(key)] = value;
  else
    Object.defineProperty(node, key, {
      value,
      enumerable: true,
      writable: true,
      configurable: true,
    });
}

function getSlot(node: Container, key: string | number): unknown {
  return Array.isArray(node) ? node[Number(key)] : node[String(key)];
}

function flipType(random: Random, v: unknown): unknown {
  if (typeof v === 'number') return random() < 0.5 ? String(v) : [v];
  if (typeof v === 'string') return random() < 0.5 ? Number(v.slice(0, 20)) || v.length : { v };
  if (Array.isArray(v)) return Object.fromEntries(v.map((x, i) => [String(i), x]));
  if (isContainer(v)) return Object.values(v);
  return pick(random, [0, '', [], {}]);
}

/**
 * Longest map a body carries, JSON or YAML (duplicate YAML keys are found in
 * one pass, lib/yamlkeys.ts, so a long map costs its length, not its square).
 */
const MAX_MAP = 100_000;

function grow(random: Random, v: unknown): unknown {
  // Rarely very big: up to 100,000 map entries or 20,000 list items.
  const big = random() < 0.005;
  if (Array.isArray(v) && v.length > 0)
    return Array.from(
      { length: big ? 20_000 : between(random, 2, 2_000) },
      (_, i) => v[i % v.length],
    );
  const n = big ? MAX_MAP : between(random, 2, 500);
  return Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, String(i)]));
}

const MUTATIONS: ((random: Random, node: Container, key: string | number) => void)[] = [
  (random, node, key) => setSlot(node, key, pick(random, NUMBERS)),
  (random, node, key) => setSlot(node, key, randomString(random)),
  (random, node, key) => setSlot(node, key, randomValue(random)),
  (random, node, key) => setSlot(node, key, flipType(random, getSlot(node, key))),
  (random, node, key) => setSlot(node, key, grow(random, getSlot(node, key))),
  (_random, node, key) => {
    if (Array.isArray(node)) node.splice(Number(key), 1);
    else delete node[String(key)];
  },
  (random, node) => {
    if (Array.isArray(node)) node.push(randomValue(random));
    else setSlot(node, pick(random, KEYS), randomValue(random));
  },
];

function mutated(random: Random): Doc {
  const doc = structuredClone(pick(random, SEEDS));
  const n = between(random, 1, 4);
  for (let i = 0; i < n; i++) {
    const [node, key] = randomSlot(random, doc);
    pick(random, MUTATIONS)(random, node, key);
  }
  return doc;
}

// ---------------------------------------------------------------- encodings

function asJson(random: Random, docs: Doc[]): string {
  const body =
    docs.length === 1 && random() < 0.7 ? docs[0] : random() < 0.5 ? docs : { items: docs };
  let text = JSON.stringify(body);
  const r = random();
  if (r < 0.05)
    text = text.replace('"spec":', '"spec":{"x":1},"spec":'); // duplicate key
  else if (r < 0.1)
    text = text.slice(0, between(random, 0, text.length)); // truncated
  else if (r < 0.13) text = text.replace('{', `{"n":${'['.repeat(between(random, 10, 5_000))}`);
  return text;
}

/** A YAML document built to expand: each level refers to the one before twice. */
function laughs(levels: number): string {
  const lines = ['a0: &a0 [lol, lol]'];
  for (let i = 1; i < levels; i++) lines.push(`a${i}: &a${i} [*a${i - 1}, *a${i - 1}]`);
  return lines.join('\n');
}

function asYaml(random: Random, docs: Doc[]): string {
  let text = docs.map((d) => stringify(d, { aliasDuplicateObjects: false })).join('---\n');
  const r = random();
  if (r < 0.04) text = `${laughs(between(random, 3, 30))}\n---\n${text}`;
  else if (r < 0.07)
    text = text.replace('spec:', 'spec: &s\n  self: *s\n  x:'); // alias to itself
  else if (r < 0.1)
    text = text.replace(/^metadata:/m, 'base: &m { name: merged }\nmetadata:\n  <<: *m');
  else if (r < 0.13)
    text = text.replace(
      /: (\d+)$/m,
      `: ${pick(random, ['.inf', '-.inf', '.nan', '0x7fffffff', '1_000'])}`,
    );
  else if (r < 0.16)
    text = text.replace(
      /^spec:/m,
      `spec: ${pick(random, ['!!binary aGVsbG8=', '!!set {a, b}', '!!timestamp 2001-12-14', '!!js/function "x"', '!!str'])}\nspec2:`,
    );
  else if (r < 0.19)
    text = text.replace(/^kind:.*$/m, (line) => `${line}\n${line}`); // duplicate key
  else if (r < 0.22) text = `---\n...\n---\n${text}\n---\n`;
  else if (r < 0.25) text = text.slice(0, between(random, 0, text.length));
  else if (r < 0.27) text = text.replace(/^ {2}/m, '\t');
  else if (r < 0.29) text = `${'- '.repeat(between(random, 10, 3_000))}x\n`;
  return text;
}

// ---------------------------------------------------------------- requests

interface Request {
  method: 'POST' | 'PUT';
  path: string;
  contentType: string;
  body: string;
}

function pathName(v: unknown): string {
  if (typeof v !== 'string' || v === '') return 'x';
  try {
    return encodeURIComponent(v.slice(0, 200));
  } catch {
    return 'x'; // a lone surrogate has no URI form
  }
}

/** The index-th input: a function of (SEED, index) only. */
function request(stream: string, index: number): Request {
  const random = seededRandom(SEED, `${stream}-${index}`);
  const many = random() < 0.1;
  const yaml = random() < 0.5;
  const docs = Array.from({ length: many ? between(random, 2, 5) : 1 }, () => mutated(random));
  const body = yaml ? asYaml(random, docs) : asJson(random, docs);
  const contentType = yaml ? 'application/yaml' : 'application/json';
  const doc = docs[0] ?? {};
  const info =
    (typeof doc['kind'] === 'string' ? lookupKind(doc['kind']) : undefined) ??
    lookupKind('Application');
  const meta = isContainer(doc['metadata']) ? (doc['metadata'] as Doc) : {};
  const collection = info?.namespaced
    ? `${API}/namespaces/default/${info.plural}`
    : `${API}/${info?.plural ?? 'applications'}`;
  const item = `${collection}/${pathName(meta['name'])}`;
  const route = many ? 0 : random();
  if (route < 0.6) {
    const dryRun = random() < 0.5 ? '?dryRun=true' : '';
    return { method: 'POST', path: `${API}/apply${dryRun}`, contentType, body };
  }
  if (route < 0.72) return { method: 'POST', path: collection, contentType, body };
  if (route < 0.92) return { method: 'PUT', path: item, contentType, body };
  return { method: 'PUT', path: `${item}/status`, contentType, body };
}

interface Tally {
  sent: number;
  byStatus: Map<number, number>;
  /** Inputs that got a 5xx or no response: index, route and the start of the body. */
  failures: string[];
}

async function send(url: string, headers: Record<string, string>, r: Request): Promise<number> {
  const res = await fetch(`${url}${r.path}`, {
    method: r.method,
    headers: { ...headers, 'content-type': r.contentType },
    body: r.body,
  });
  await res.arrayBuffer();
  return res.status;
}

async function run(
  t: TestContext,
  url: string,
  headers: Record<string, string>,
  stream: string,
  count: number,
): Promise<Tally> {
  const tally: Tally = { sent: 0, byStatus: new Map(), failures: [] };
  const deadline = Date.now() + RUN_DEADLINE_MS;
  let next = 0;
  const worker = async () => {
    while (next < count && Date.now() < deadline) {
      const index = next++;
      const r = request(stream, index);
      let status: number;
      try {
        // A pooled keep-alive socket the server closes just as the client
        // reuses it fails the request without the server having seen it (a
        // race under load, not a drop); the same request sent again tells the
        // two apart: a server that drops it drops it again.
        status = await send(url, headers, r).catch(() => send(url, headers, r));
      } catch (err) {
        status = 0; // no response twice: the connection was dropped
        const cause = (err as { cause?: { code?: string } }).cause?.code;
        tally.failures.push(
          `${stream}#${index} ${r.method} ${r.path}: ${String(err)}${cause !== undefined ? ` (${cause})` : ''}`,
        );
      }
      if (status >= 500)
        tally.failures.push(
          `${stream}#${index} ${r.method} ${r.path} -> ${status}: ${JSON.stringify(r.body.slice(0, 300))}`,
        );
      tally.byStatus.set(status, (tally.byStatus.get(status) ?? 0) + 1);
      if (++tally.sent % PROGRESS_EVERY === 0)
        t.diagnostic(
          `${stream}: ${tally.sent}/${count} sent; ${JSON.stringify([...tally.byStatus].sort())}`,
        );
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  return tally;
}

// ---------------------------------------------------------------- the store and the heap

type Key = string;
const keyOf = (kind: string, o: { metadata: { namespace?: string; name: string } }): Key =>
  `${kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}`;

async function storedObjects(url: string, headers: Record<string, string>) {
  const out: { key: Key; path: string }[] = [];
  for (const k of KINDS) {
    if (k.kind === 'Lease') continue; // the leader's lock
    const res = await fetch(`${url}${API}/${k.plural}`, { headers });
    if (!res.ok) continue; // a kind without an all-namespaces list
    const list = (await res.json()) as {
      items: { metadata: { namespace?: string; name: string } }[];
    };
    for (const o of list.items) {
      const ns = o.metadata.namespace;
      const base = ns !== undefined ? `${API}/namespaces/${ns}/${k.plural}` : `${API}/${k.plural}`;
      out.push({ key: keyOf(k.kind, o), path: `${base}/${encodeURIComponent(o.metadata.name)}` });
    }
  }
  return out;
}

/** Back to the seed objects: deletes what the run created and re-applies the seeds it changed. */
async function sweep(url: string, headers: Record<string, string>, keep: ReadonlySet<Key>) {
  for (const o of await storedObjects(url, headers)) {
    if (keep.has(o.key)) continue;
    const res = await fetch(`${url}${o.path}`, { method: 'DELETE', headers });
    await res.arrayBuffer();
  }
  const res = await fetch(`${url}${API}/apply`, {
    method: 'POST',
    headers: { ...headers, 'content-type': 'application/json' },
    body: JSON.stringify(SEEDS),
  });
  assert.equal(res.status, 200, await res.text());
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The lowest heapUsed of a few readings after full collections, once the controllers are idle. */
async function settledHeap(): Promise<number> {
  await sleep(3_000);
  let lowest = Infinity;
  for (let i = 0; i < 5; i++) {
    gc();
    lowest = Math.min(lowest, process.memoryUsage().heapUsed);
    await sleep(300);
  }
  return lowest;
}

const MiB = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MiB`;

void describe('API fuzzing', () => {
  const cp = inProcessServer('fuzz', { fleet: fleetFile, simStartupSeconds: 0.2 });

  void it(
    `${DOCUMENTS} mutated documents: no 5xx, no dropped connection, the heap returns`,
    { timeout: 600_000 },
    async (t) => {
      const apply = await fetch(`${cp.url}${API}/apply`, {
        method: 'POST',
        headers: { ...cp.headers, 'content-type': 'application/json' },
        body: JSON.stringify(SEEDS),
      });
      assert.equal(apply.status, 200, await apply.text());
      const keep = new Set((await storedObjects(cp.url, cp.headers)).map((o) => o.key));

      const warm = await run(t, cp.url, cp.headers, 'warm-up', WARM_UP);
      assert.deepEqual(warm.failures, []);
      await sweep(cp.url, cp.headers, keep);
      const before = await settledHeap();

      const tally = await run(t, cp.url, cp.headers, 'fuzz', DOCUMENTS);
      t.diagnostic(`statuses: ${JSON.stringify([...tally.byStatus].sort())}`);
      assert.deepEqual(tally.failures, [], 'inputs that got a 5xx or no response');
      assert.equal(tally.sent, DOCUMENTS, `only ${tally.sent} sent before the deadline`);

      const health = await fetch(`${cp.url}/healthz`);
      assert.equal(health.status, 200);
      await sweep(cp.url, cp.headers, keep);
      const afterRun = await settledHeap();
      t.diagnostic(`heap: ${MiB(before)} before, ${MiB(afterRun)} after`);
      assert.ok(
        afterRun <= before * (1 + HEAP_TOLERANCE),
        `heap grew from ${MiB(before)} to ${MiB(afterRun)} (more than ${HEAP_TOLERANCE * 100} %)`,
      );
    },
  );
});
