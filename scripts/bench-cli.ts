// npm run bench:cli [-- --runs 20]
// How long a CLI call takes, start to exit, the way a user types it: `bin/yunjian
// get clusters` against a control plane with the demo fleet, beside the
// baseline a Kubernetes user lives with, `kubectl get namespaces` against a
// real kube-apiserver (scripts/kube-apiserver.sh) on the same machine, and
// curl as the floor (one process that only does the HTTP request). Each command
// runs `runs` times after two warm-ups, one at a time; the target is a p50 of
// at most 0.3 s for `get` (issue 14). Writes bench-results/cli.json.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { RESULTS_DIR, machine, quantile, ratio, table, writeJson } from '../src/bench/report.ts';
import type { Row } from '../src/bench/report.ts';
import { allocatePort } from '../src/lib/net.ts';

const ROOT = resolve(import.meta.dirname, '..');
const TARGET_MS = 300;
const progress = (line: string) => process.stderr.write(`${line}\n`);

const { values } = parseArgs({ options: { runs: { type: 'string', default: '20' } } });
const runs = Math.max(3, Math.min(200, Number(values.runs)));

function which(command: string): string | undefined {
  const found = spawnSync('sh', ['-c', `command -v ${command}`], { encoding: 'utf8' });
  return found.status === 0 ? found.stdout.trim() : undefined;
}

/** Wall milliseconds of `runs` runs of a command, after two unmeasured ones; any failure stops the benchmark. */
function time(label: string, argv: readonly string[]): number[] {
  const [command, ...args] = argv as [string, ...string[]];
  const once = () => {
    const t0 = performance.now();
    const r = spawnSync(command, args, { encoding: 'utf8', timeout: 30_000 });
    const elapsed = performance.now() - t0;
    if (r.status !== 0)
      throw new Error(`${label}: exit ${String(r.status)}: ${r.stderr || r.stdout}`);
    return elapsed;
  };
  once();
  once();
  const samples: number[] = [];
  for (let i = 0; i < runs; i++) samples.push(once());
  progress(`${label}: p50 ${Math.round(quantile(samples, 0.5))} ms`);
  return samples;
}

async function waitFor(url: string, headers: Record<string, string>, seconds: number) {
  const deadline = Date.now() + seconds * 1000;
  while (Date.now() < deadline) {
    const ok = await fetch(url, { headers })
      .then((r) => r.ok)
      .catch(() => false);
    if (ok) return;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`${url} not ready in ${seconds} s`);
}

const kubectl = which('kubectl');
if (kubectl === undefined) throw new Error('kubectl is not on PATH: the baseline needs it');
const curl = which('curl');
if (curl === undefined) throw new Error('curl is not on PATH (apt-get install curl)');

const dir = mkdtempSync(join(tmpdir(), 'yunjian-bench-cli-'));
const port = await allocatePort();
const kube = join(dir, 'kube');
const kubeEnv = {
  ...process.env,
  ETCD_PORT: String(await allocatePort()),
  ETCD_PEER_PORT: String(await allocatePort()),
  KUBE_PORT: String(await allocatePort()),
};
// Own process group, so stopping it ends only what this script started.
const server = spawn(
  join(ROOT, 'bin/yunjian'),
  ['server', '--port', String(port), '--dns-port', '0', '--data', join(dir, 'data')],
  { detached: true, stdio: 'ignore' },
);
const stop = () => {
  if (server.pid !== undefined) {
    try {
      process.kill(-server.pid, 'SIGTERM');
    } catch {
      // already gone
    }
  }
  spawnSync(join(ROOT, 'scripts/kube-apiserver.sh'), ['stop', kube], {
    env: kubeEnv,
    stdio: 'ignore',
  });
};
try {
  progress('starting the control plane (demo fleet) and kube-apiserver...');
  execFileSync(join(ROOT, 'scripts/kube-apiserver.sh'), ['start', kube], {
    env: kubeEnv,
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const url = `http://127.0.0.1:${port}`;
  await waitFor(`${url}/readyz`, {}, 120);
  const token = readFileSync(join(dir, 'data', 'admin.token'), 'utf8').trim();
  const kubeconfig = join(kube, 'kubeconfig');

  const yunjian = time('yunjian get clusters', [
    join(ROOT, 'bin/yunjian'),
    '--server',
    url,
    '--token',
    token,
    'get',
    'clusters',
  ]);
  const yunjianApp = time('yunjian get applications -o wide', [
    join(ROOT, 'bin/yunjian'),
    '--server',
    url,
    '--token',
    token,
    'get',
    'applications',
    '-o',
    'wide',
  ]);
  const kube1 = time('kubectl get namespaces', [
    kubectl,
    '--kubeconfig',
    kubeconfig,
    'get',
    'namespaces',
  ]);
  const floor = time('curl', [
    curl,
    '-sf',
    '-o',
    '/dev/null',
    '-H',
    `authorization: Bearer ${token}`,
    `${url}/api/v1alpha1/clusters`,
  ]);

  const p = (xs: number[], q: number) => quantile(xs, q);
  const msText = (x: number) => `${Math.round(x)} ms`;
  const rows: Row[] = [];
  for (const [metric, samples] of [
    ['get clusters (yunjian) vs get namespaces (kubectl), p50', yunjian],
    ['get applications -o wide vs get namespaces, p50', yunjianApp],
  ] as const) {
    rows.push({
      metric,
      candidate: msText(p(samples, 0.5)),
      baseline: msText(p(kube1, 0.5)),
      ratio: ratio(p(samples, 0.5), p(kube1, 0.5)),
    });
  }
  rows.push({
    metric: 'get clusters vs get namespaces, p95',
    candidate: msText(p(yunjian, 0.95)),
    baseline: msText(p(kube1, 0.95)),
    ratio: ratio(p(yunjian, 0.95), p(kube1, 0.95)),
  });
  rows.push({
    metric: 'floor: curl of the same list, p50',
    candidate: msText(p(floor, 0.5)),
    baseline: '',
    ratio: '',
  });
  const meets = p(yunjian, 0.5) <= TARGET_MS;
  process.stdout.write(
    table(
      'CLI: one get, start to exit',
      rows,
      [
        `${runs} runs each after 2 warm-ups, one at a time; wall time of the whole process (Node start, module load, request, table)`,
        `target: p50 of get ≤ ${TARGET_MS} ms: ${meets ? 'met' : 'NOT met'}`,
        'the demo fleet has 13 clouds and ~240 clusters; kube-apiserver holds its default namespaces',
      ],
      'kubectl',
    ),
  );
  const path = writeJson(join(RESULTS_DIR, 'cli.json'), {
    machine: machine(),
    runs,
    targetMs: TARGET_MS,
    samplesMs: {
      yunjianGetClusters: yunjian,
      yunjianGetApplicationsWide: yunjianApp,
      kubectlGetNamespaces: kube1,
      curl: floor,
    },
  });
  progress(`wrote ${path}`);
} finally {
  stop();
  rmSync(dir, { recursive: true, force: true });
}
