// Entry point of the `yunjian` CLI (bin/yunjian runs it with the pinned Node).
// The only module that touches the real process: it builds the CliIo that
// program.ts runs against and turns the result into the exit code.
import { homedir } from 'node:os';
import { text } from 'node:stream/consumers';
import { run } from './program.ts';
import type { CliIo } from './session.ts';

/** Installs the SIGINT/SIGTERM handlers on first use only; a second signal gets Node's default (exit). */
function interruptSignal(): () => AbortSignal {
  let controller: AbortController | undefined;
  return () => {
    if (controller === undefined) {
      const c = new AbortController();
      for (const name of ['SIGINT', 'SIGTERM'] as const) process.once(name, () => c.abort(name));
      controller = c;
    }
    return controller.signal;
  };
}

const io: CliIo = {
  stdout: (s) => process.stdout.write(s),
  stderr: (s) => process.stderr.write(s),
  readStdin: () => text(process.stdin),
  env: process.env,
  home: homedir(),
  now: () => Date.now(),
  interrupted: interruptSignal(),
};

// exitCode, not exit(): output written to a pipe may still be queued.
process.exitCode = await run(process.argv.slice(2), io);
