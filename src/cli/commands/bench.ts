// `yunjian bench scheduler throughput|packing|colocation|all`: the scheduler
// benchmarks of src/bench, on the default traces in ../shared/data or on any
// files of the same format. Each prints a table (candidate, baseline, ratio),
// progress lines on stderr while it runs, and writes JSON (default under
// bench-results/). The benchmark modules are imported when a command runs, so
// the rest of the CLI does not load them.
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { choiceOption, collect, integerOption, positiveNumber } from '../options.ts';
import type { Session } from '../session.ts';

const positiveInteger = integerOption('an integer > 0', 1);
const integer = integerOption('an integer');

/** FILE.json -> FILE-name.json, for one JSON per pod list. */
function withSuffix(path: string, name: string): string {
  return path.endsWith('.json') ? `${path.slice(0, -5)}-${name}.json` : `${path}-${name}`;
}

interface ThroughputOpts {
  cores: number;
  replicas: number;
  apps: number;
  seed: number;
  baselineSeconds: number;
  karmadaSeconds?: number;
  json?: string;
}

interface PackingOpts {
  nodes?: string;
  pods?: string[];
  seed: number;
  samples?: number;
  load?: number;
  json?: string;
}

interface ColocationOpts {
  vms?: string;
  usage?: string;
  seed: number;
  nodeCores?: number;
  nodeMemoryGib?: number;
  trainHours?: number;
  json?: string;
}

export function registerBench(program: Command, session: Session): void {
  const { io } = session;
  const progress = (line: string) => io.stderr(`  ${line}\n`);
  const bench = program.command('bench').description('run a benchmark and print its table');
  const scheduler = bench
    .command('scheduler')
    .description(
      'scheduler benchmarks against the Kubernetes default scheduler algorithm (throughput, packing, colocation)',
    );

  const throughput = async (o: ThroughputOpts) => {
    const [{ throughputBench }, { writeJson, RESULTS_DIR }] = await Promise.all([
      import('../../bench/scheduler.ts'),
      import('../../bench/report.ts'),
    ]);
    const { result, text } = await throughputBench(
      {
        cores: o.cores,
        replicas: o.replicas,
        apps: o.apps,
        seed: o.seed,
        baselineSeconds: o.baselineSeconds,
        ...(o.karmadaSeconds === undefined ? {} : { karmadaSeconds: o.karmadaSeconds }),
      },
      progress,
    );
    io.stdout('\n' + text);
    const path = writeJson(o.json ?? resolve(RESULTS_DIR, 'scheduler-throughput.json'), result);
    io.stdout(`JSON: ${path}\n`);
  };

  const packing = async (o: PackingOpts) => {
    const [{ packingBench }, { writeJson, RESULTS_DIR }, traces, { DERIVED_GPU_SPEC_SHARE }] =
      await Promise.all([
        import('../../bench/scheduler.ts'),
        import('../../bench/report.ts'),
        import('../../bench/traces.ts'),
        import('../../bench/packing.ts'),
      ]);
    // Every pod list found under ../shared/data, each on its folder's node list.
    const lists =
      o.pods === undefined || o.pods.length === 0
        ? traces.findAlibabaPodLists()
        : o.pods.map((path) => ({
            name: undefined,
            path,
            nodes: traces.DEFAULT_ALIBABA_NODE_LIST,
          }));
    const runs = lists.length * 2;
    const write = (result: { podList: string }) => {
      const file =
        o.json === undefined
          ? resolve(RESULTS_DIR, `scheduler-packing-${result.podList}.json`)
          : runs === 1
            ? o.json
            : withSuffix(o.json, result.podList);
      io.stdout(`JSON: ${writeJson(file, result)}\n`);
    };
    for (const list of lists) {
      const common = {
        seed: o.seed,
        ...(o.samples === undefined ? {} : { samples: o.samples }),
        ...(o.load === undefined ? {} : { load: o.load }),
        ...(list.name === undefined ? {} : { name: list.name }),
      };
      const nodes = o.nodes ?? list.nodes;
      const plain = packingBench(nodes, list.path, progress, common);
      io.stdout('\n' + plain.text);
      write(plain.result);
      // A list that names no GPU model is replayed again with a third of its GPU pods naming models.
      if (plain.result.podsNamingGpuModels > 0) continue;
      const derived = packingBench(nodes, list.path, progress, {
        ...common,
        gpuSpecShare: DERIVED_GPU_SPEC_SHARE,
      });
      io.stdout('\n' + derived.text);
      write(derived.result);
    }
  };

  const colocation = async (o: ColocationOpts) => {
    const [{ colocationBench }, { writeJson, RESULTS_DIR }, traces] = await Promise.all([
      import('../../bench/scheduler.ts'),
      import('../../bench/report.ts'),
      import('../../bench/traces.ts'),
    ]);
    const { result, text } = colocationBench(
      o.vms ?? traces.DEFAULT_BITBRAINS_VMS,
      o.usage ?? traces.DEFAULT_BITBRAINS_USAGE,
      progress,
      {
        seed: o.seed,
        ...(o.nodeCores === undefined ? {} : { nodeCores: o.nodeCores }),
        ...(o.nodeMemoryGib === undefined ? {} : { nodeMemoryGiB: o.nodeMemoryGib }),
        ...(o.trainHours === undefined ? {} : { trainHours: o.trainHours }),
      },
    );
    io.stdout('\n' + text);
    const path = writeJson(o.json ?? resolve(RESULTS_DIR, 'scheduler-colocation.json'), result);
    io.stdout(`JSON: ${path}\n`);
  };

  const addThroughputOptions = (c: Command) =>
    c
      .option('--cores <n>', 'cores in the generated fleet', positiveInteger, 10_000_000)
      .option('--replicas <n>', 'replicas in the request stream', positiveInteger, 1_000_000)
      .option('--apps <n>', 'at least this many applications', positiveInteger, 50_000)
      .option('--seed <s>', 'seed of the fleet, the stream and tie-breaking', integer, 1)
      .option(
        '--baseline-seconds <s>',
        'time budget of the baseline (it runs on a prefix of the stream)',
        positiveNumber,
        30,
      )
      .option(
        '--karmada-seconds <s>',
        'time budget of the Karmada-style baseline (default: --baseline-seconds)',
        positiveNumber,
      );

  addThroughputOptions(
    scheduler
      .command('throughput')
      .description(
        'place a stream of applications with mixed constraints on a generated fleet; placements per second, latency, memory',
      ),
  )
    .option(
      '--json <file>',
      'write the result here (default bench-results/scheduler-throughput.json)',
    )
    .action(throughput);

  scheduler
    .command('packing')
    .description(
      'replay Alibaba GPU 2023 pod lists on their node list; unplaced pods, GPU/CPU allocation, GPU fragmentation',
    )
    .option('--nodes <file>', 'node list CSV (sn,cpu_milli,memory_mib,gpu,model)')
    .option(
      '--pods <file>',
      'pod list CSV (repeatable; default: every pod list under ../shared/data); a list naming no GPU model also runs with a third of its GPU pods naming models',
      collect,
    )
    .option('--samples <n>', 'fragmentation samples over the replay', positiveInteger)
    .option(
      '--load <x>',
      'leave protocol: GPU asked for by the pods in flight / GPU capacity, on average',
      positiveNumber,
    )
    .option('--seed <s>', 'seed of tie-breaking', integer, 1)
    .option(
      '--json <file>',
      'write the result here (one pod list; with several, -NAME is added per list; default bench-results/scheduler-packing-NAME.json)',
    )
    .action(packing);

  scheduler
    .command('colocation')
    .description(
      'Bitbrains VMs packed by requests (baseline) vs by predicted use; nodes needed, CPU utilisation, overload',
    )
    .option('--vms <file>', 'VM list CSV (vm,cores,mem_mib)')
    .option('--usage <file>', 'hourly usage CSV (vm,hour,cpu_cores_avg,cpu_cores_max,mem_mib_avg)')
    .option('--node-cores <n>', 'cores per node (default 32)', positiveInteger)
    .option('--node-memory-gib <n>', 'memory per node in GiB (default 512)', positiveInteger)
    .option(
      '--train-hours <n>',
      'hours of history the usage-aware side learns from (default 168)',
      positiveInteger,
    )
    .option('--seed <s>', 'seed of tie-breaking', integer, 1)
    .option(
      '--json <file>',
      'write the result here (default bench-results/scheduler-colocation.json)',
    )
    .action(colocation);

  addThroughputOptions(
    scheduler
      .command('all', { isDefault: true })
      .description('all three on the default data, JSON under bench-results/ (or --json-dir)'),
  )
    .option('--json-dir <dir>', 'directory for the JSON files')
    .action(async (o: ThroughputOpts & { jsonDir?: string }) => {
      const dir = o.jsonDir;
      const file = (name: string) => (dir === undefined ? undefined : resolve(dir, name));
      const t = file('scheduler-throughput.json');
      await throughput({ ...o, ...(t === undefined ? {} : { json: t }) });
      const dirOpt = dir === undefined ? {} : { json: resolve(dir, 'scheduler-packing.json') };
      await packing({ seed: o.seed, ...dirOpt });
      const c = file('scheduler-colocation.json');
      await colocation({ seed: o.seed, ...(c === undefined ? {} : { json: c }) });
    });

  bench
    .command('delivery')
    .description(
      "N applications applied to a real control plane with the demo fleet: p50/p99 apply-to-distributed and apply-to-Ready, applications/s, against Karmada's published p99",
    )
    .option('--apps <n>', 'applications to apply', positiveInteger, 1000)
    .option('--concurrency <n>', 'applies in flight at once', positiveInteger, 32)
    .option(
      '--pass <startup>',
      'replica start-up on the twin: instant, fleet (its modelled 3-6 s), or both',
      choiceOption(['instant', 'fleet', 'both']),
    )
    .option(
      '--weights <weights>',
      'score weights of the apps: default, balanced or both',
      choiceOption(['default', 'balanced', 'both']),
    )
    .option('--rate <n>', 'applications applied per second (0: all at once)', integer)
    .option(
      '--timeout <s>',
      'give up on apps not Ready after this many seconds',
      positiveInteger,
      300,
    )
    .option('--json <file>', 'write the result here (default bench-results/delivery.json)')
    .action(
      async (o: {
        apps: number;
        concurrency: number;
        pass?: 'instant' | 'fleet' | 'both';
        weights?: 'default' | 'balanced' | 'both';
        rate?: number;
        timeout: number;
        json?: string;
      }) => {
        const [{ deliveryBench }, { writeJson, RESULTS_DIR }] = await Promise.all([
          import('../../bench/delivery.ts'),
          import('../../bench/report.ts'),
        ]);
        const { result, text } = await deliveryBench(
          {
            apps: o.apps,
            concurrency: o.concurrency,
            passes: deliveryPasses(o.pass, o.weights, o.rate),
            timeoutSeconds: o.timeout,
          },
          progress,
        );
        io.stdout('\n' + text);
        io.stdout(`JSON: ${writeJson(o.json ?? resolve(RESULTS_DIR, 'delivery.json'), result)}\n`);
      },
    );
}

/**
 * Without flags: throughput (instant start, balanced, all at once), then latency
 * at 20 apps/s with balanced and default weights, then with the fleet's
 * start-up times. With flags: every combination asked for, at `rate` (20/s).
 */
function deliveryPasses(
  pass: 'instant' | 'fleet' | 'both' | undefined,
  weights: 'default' | 'balanced' | 'both' | undefined,
  rate: number | undefined,
): { startup: 'instant' | 'fleet'; weights: 'default' | 'balanced'; rate: number }[] {
  if (pass === undefined && weights === undefined && rate === undefined)
    return [
      { startup: 'instant', weights: 'balanced', rate: 0 },
      { startup: 'instant', weights: 'balanced', rate: 20 },
      { startup: 'instant', weights: 'default', rate: 20 },
      { startup: 'fleet', weights: 'balanced', rate: 20 },
    ];
  const startups = pass === undefined || pass === 'both' ? (['instant', 'fleet'] as const) : [pass];
  const ws =
    weights === undefined || weights === 'both' ? (['default', 'balanced'] as const) : [weights];
  return startups.flatMap((startup) =>
    ws.map((w) => ({ startup, weights: w, rate: Math.max(0, rate ?? 20) })),
  );
}
