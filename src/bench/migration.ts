// `npm run bench:migration [-- --apps 2600]`: N applications with dependencies
// (each on up to two earlier ones, seeded; every 50th starts a group of three)
// on the demo twin's aws cloud, moved to gcp by one MigrationPlan in waves.
// Two runs of the same plan, each in a fresh twin (an in-memory store, the
// real control loops, the sim driver): the "real" run at real time, and the
// what-if at --speedup (the twin and its controllers on an accelerated clock).
// Both watch every application's status and count those that ever had no
// ready replica. Reports wall time, simulated time, waves and the target's
// peak extra capacity for each, and the what-if's prediction over the real
// run (ratio); writes bench-results/migration.json.
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { runWhatIf, type WhatIfReport } from '../controllers/migrationplan/whatif.ts';
import { generateDemoFleet } from '../fleet/index.ts';
import { seededRandom } from '../lib/random.ts';
import type { Application, MigrationPlan } from '../model/schema.ts';
import { fixed, int, machine, ratio, RESULTS_DIR, table, writeJson } from './report.ts';

const progress = (line: string) => process.stderr.write(`bench:migration: ${line}\n`);

function benchApplications(n: number, seed = 1): Application[] {
  const random = seededRandom(seed, 'bench-migration');
  return Array.from({ length: n }, (_, i): Application => {
    const dependsOn = [1, 2]
      .map(() => (i > 0 && random() < 0.4 ? Math.floor(random() * i) : -1))
      .filter((d, k, all) => d >= 0 && all.indexOf(d) === k)
      .map((d) => `app-${d}`);
    return {
      apiVersion: 'yunjian.io/v1alpha1',
      kind: 'Application',
      metadata: { name: `app-${i}`, namespace: 'default', labels: { bench: 'migration' } },
      spec: {
        components: [
          {
            name: 'web',
            image: 'hello',
            replicas: 2,
            resources: { cpu: '250m', memory: '256Mi' },
          },
        ],
        placement: { clusterAffinity: { clouds: ['aws'] } },
        ...(dependsOn.length > 0 ? { dependsOn } : {}),
      },
    };
  });
}

function benchPlan(n: number, pauseSeconds: number): MigrationPlan {
  const groups = [];
  for (let i = 0; i + 2 < n; i += 50)
    groups.push({ name: `g${i}`, applications: [i, i + 1, i + 2].map((k) => `app-${k}`) });
  return {
    apiVersion: 'yunjian.io/v1alpha1',
    kind: 'MigrationPlan',
    metadata: { name: 'aws-to-gcp', namespace: 'default' },
    spec: {
      selector: { matchLabels: { bench: 'migration' } },
      targets: [{ fromCloud: 'aws', to: { cloud: 'gcp' } }],
      groups,
      waveSize: Math.max(10, Math.ceil(n / 8)),
      concurrency: Math.max(5, Math.ceil(n / 25)),
      capacityHeadroomPercent: 20,
      migration: { steps: [50, 100], pauseSeconds },
    },
  };
}

const peakCores = (r: WhatIfReport) =>
  r.peakExtra.find((p) => p.target === 'cloud=gcp')?.cpuCores ?? 0;

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      apps: { type: 'string', default: '40' },
      pause: { type: 'string', default: '2' },
      speedup: { type: 'string', default: '4' },
    },
  });
  const n = Number(values.apps);
  const pause = Number(values.pause);
  const speedup = Number(values.speedup);
  if (!Number.isInteger(n) || n < 1 || n > 20_000)
    throw new Error(`--apps: expected a whole number from 1 to 20000, got ${values.apps}`);
  if (!(pause >= 0) || !(speedup >= 1))
    throw new Error('--pause: expected seconds >= 0; --speedup: expected a factor >= 1');
  const fleet = generateDemoFleet({ alibabaMachineMetaPath: false });
  const apps = benchApplications(n);
  const plan = benchPlan(n, pause);
  const input = {
    clouds: fleet.clouds,
    sites: fleet.sites,
    clusters: fleet.clusters,
    apps,
    plan,
    wavesFrom: 'twin' as const,
    startupSeconds: 3,
    timeoutMs: 30 * 60_000,
    log: () => undefined,
    progress,
  };
  progress(`${n} applications, ${fleet.clusters.length} clusters; what-if at ${speedup}x`);
  const predicted = await runWhatIf({ ...input, speedup });
  progress(
    `what-if: ${predicted.phase}, ${fixed(predicted.simulatedSeconds, 1)} s twin time in ${fixed(predicted.wallSeconds, 1)} s (${fixed(predicted.effectiveSpeedup, 2)}x); real run`,
  );
  const real = await runWhatIf({ ...input, speedup: 1 });
  progress(`real: ${real.phase} in ${fixed(real.wallSeconds, 1)} s`);

  const peak = (r: WhatIfReport) => peakCores(r);
  const durationRatio = predicted.simulatedSeconds / Math.max(real.simulatedSeconds, 1e-9);
  const peakRatio = peak(predicted) / Math.max(peak(real), 1e-9);
  const same = (a: string, b: string) => (a === b ? 'same' : 'differs');
  process.stdout.write(
    table(
      `Migration plan: ${n} applications aws -> gcp on the demo twin`,
      [
        {
          metric: 'phase',
          candidate: predicted.phase,
          baseline: real.phase,
          ratio: same(predicted.phase, real.phase),
        },
        {
          metric: 'wall time (s)',
          candidate: fixed(predicted.wallSeconds, 1),
          baseline: fixed(real.wallSeconds, 1),
          ratio: ratio(predicted.wallSeconds, real.wallSeconds),
        },
        {
          metric: 'speed over real time',
          candidate: `${fixed(predicted.effectiveSpeedup, 2)}x`,
          baseline: `${fixed(real.effectiveSpeedup, 2)}x`,
          ratio: `held back ${Math.round(predicted.throttledFraction * 100)} %`,
        },
        {
          metric: 'simulated time (s)',
          candidate: fixed(predicted.simulatedSeconds, 1),
          baseline: fixed(real.simulatedSeconds, 1),
          ratio: ratio(predicted.simulatedSeconds, real.simulatedSeconds),
        },
        {
          metric: "planner's estimate (s)",
          candidate: fixed(predicted.plannedSeconds, 0),
          baseline: fixed(real.plannedSeconds, 0),
          ratio: ratio(predicted.plannedSeconds, real.simulatedSeconds),
        },
        {
          metric: 'waves',
          candidate: int(predicted.waves.length),
          baseline: int(real.waves.length),
          ratio: same(JSON.stringify(predicted.waves), JSON.stringify(real.waves)),
        },
        {
          metric: 'unmovable',
          candidate: int(predicted.unmovable.length),
          baseline: int(real.unmovable.length),
          ratio: 'n/a',
        },
        {
          metric: 'peak extra cores at gcp',
          candidate: fixed(peak(predicted), 1),
          baseline: fixed(peak(real), 1),
          ratio: ratio(peak(predicted), peak(real)),
        },
        {
          metric: 'apps ever at zero ready',
          candidate: int(predicted.zeroReady.length),
          baseline: int(real.zeroReady.length),
          ratio: 'n/a',
        },
      ],
      [
        `what-if at up to ${speedup}x (slowed while the host is busy) against the real run at 1x; steps 50,100 with ${pause} s pauses, replica start-up 3 s`,
        "ratio = what-if / real (the planner's estimate row: estimate / real simulated time)",
      ],
      'real run',
    ),
  );
  const path = writeJson(join(RESULTS_DIR, 'migration.json'), {
    machine: machine(),
    apps: n,
    pauseSeconds: pause,
    speedup,
    plan: plan.spec,
    whatIf: predicted,
    real,
    durationRatio,
    peakRatio,
  });
  progress(`wrote ${path}`);
  if (real.phase !== 'Succeeded' || real.zeroReady.length > 0) process.exitCode = 1;
}

await main();
