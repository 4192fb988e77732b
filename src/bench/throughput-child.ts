// One side of the throughput benchmark in its own process, so that its peak
// RSS is its own (see throughput.ts). Arguments: the side ("candidate" or
// "baseline") and the options as JSON. Progress goes to stderr as it happens
// (synchronous on pipes and terminals); the result goes to the parent over IPC.
import { candidate } from './candidate.ts';
import { runThroughputSide, type ThroughputOptions } from './throughput.ts';

const [side, json] = process.argv.slice(2);
const send = (m: unknown) =>
  new Promise<void>((ok) => {
    if (process.send === undefined) {
      process.stdout.write(JSON.stringify(m) + '\n');
      ok();
    } else process.send(m, () => ok());
  });
try {
  if (side !== 'candidate' && side !== 'baseline' && side !== 'karmada')
    throw new Error(`unknown side ${side}`);
  const options = JSON.parse(json ?? '') as ThroughputOptions;
  const result = runThroughputSide(side, options, candidate, (line) => {
    process.stderr.write(`  ${line}\n`);
  });
  await send({ result });
} catch (err) {
  await send({ error: err instanceof Error ? (err.stack ?? err.message) : String(err) });
  process.exitCode = 1;
}
process.disconnect?.();
