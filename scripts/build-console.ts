// Builds the web console (src/console) with Vite into dist/console.
//   node scripts/build-console.ts            build
//   node scripts/build-console.ts --if-stale build only when the sources changed
// Staleness is a content hash of the console's sources, this script and the
// lock file, stored beside the bundle: timestamps lie after a git checkout.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const SRC = join(ROOT, 'src/console');
export const CONSOLE_OUT = join(ROOT, 'dist/console');
const STAMP = join(CONSOLE_OUT, 'build-info.json');

function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .flatMap((e) => (e.isDirectory() ? files(join(dir, e.name)) : [join(dir, e.name)]))
    .sort();
}

function sourceHash(): string {
  const h = createHash('sha256');
  for (const f of [
    ...files(SRC),
    join(ROOT, 'package-lock.json'),
    fileURLToPath(import.meta.url),
  ]) {
    h.update(relative(ROOT, f)).update('\0').update(readFileSync(f)).update('\0');
  }
  return h.digest('hex');
}

export function consoleIsFresh(): boolean {
  if (!existsSync(STAMP) || !existsSync(join(CONSOLE_OUT, 'index.html'))) return false;
  const stamp = JSON.parse(readFileSync(STAMP, 'utf8')) as { hash?: string };
  return stamp.hash === sourceHash();
}

export async function buildConsole(log: (line: string) => void = console.error): Promise<void> {
  const hash = sourceHash();
  const started = performance.now();
  const { build } = await import('vite');
  await build({
    root: SRC,
    configFile: false,
    logLevel: 'warn',
    base: '/',
    oxc: { jsx: { runtime: 'automatic' } },
    build: {
      outDir: CONSOLE_OUT,
      emptyOutDir: true,
      target: 'es2022',
      // One file per vendor group keeps reloads cheap when only the app changes.
      rolldownOptions: {
        output: {
          codeSplitting: {
            groups: [
              { name: 'react', test: /node_modules[\\/](react|react-dom|scheduler)[\\/]/ },
              { name: 'charts', test: /node_modules[\\/]chart\.js[\\/]/ },
            ],
          },
        },
      },
      chunkSizeWarningLimit: 600,
    },
  });
  writeFileSync(STAMP, JSON.stringify({ hash, builtAt: new Date().toISOString() }, null, 2));
  log(
    `console: built into ${relative(ROOT, CONSOLE_OUT)} in ${Math.round(performance.now() - started)} ms`,
  );
}

/** Builds the console unless the bundle on disk matches the sources. */
export async function ensureConsoleBuilt(
  log: (line: string) => void = console.error,
): Promise<void> {
  if (consoleIsFresh()) return;
  await buildConsole(log);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const ifStale = process.argv.includes('--if-stale');
  await (ifStale ? ensureConsoleBuilt() : buildConsole());
}
