// Builds the DNS server's native UDP fast path (src/traffic/native) into
// dist/native with the system C compiler against Node-API's headers (the
// node-api-headers package), so no download and no node-gyp configuration is
// needed; Node-API is ABI-stable, so the result loads in any Node >= 18.
//   node scripts/build-native.ts            build
//   node scripts/build-native.ts --if-stale build only when the sources changed
// Without a C compiler the build is skipped with a warning and the DNS server
// serves UDP with worker threads instead (slower; see docs/benchmarks.md).
// The DNS tests fail under CI=true when the fast path did not build.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const SOURCE = join(ROOT, 'src/traffic/native/udp-fastpath.c');
const OUT = join(ROOT, 'dist/native/udp-fastpath.node');
const STAMP = `${OUT}.json`;
const CC = process.env.CC ?? 'cc';

function headers(): string {
  const require = createRequire(import.meta.url);
  return join(dirname(require.resolve('node-api-headers/package.json')), 'include');
}

function sourceHash(): string {
  const h = createHash('sha256');
  for (const f of [SOURCE, fileURLToPath(import.meta.url)]) h.update(readFileSync(f)).update('\0');
  return h.update(CC).digest('hex');
}

function fresh(hash: string): boolean {
  if (!existsSync(OUT) || !existsSync(STAMP)) return false;
  return (JSON.parse(readFileSync(STAMP, 'utf8')) as { hash?: string }).hash === hash;
}

const hash = sourceHash();
if (process.argv.includes('--if-stale') && fresh(hash)) process.exit(0);
mkdirSync(dirname(OUT), { recursive: true });
const tmp = `${OUT}.tmp`;
const args = [
  '-std=gnu11',
  '-O2',
  '-fPIC',
  '-shared',
  '-pthread',
  '-Wall',
  '-Wextra',
  '-Werror',
  '-fvisibility=hidden',
  SOURCE,
  '-o',
  tmp,
];
let include: string | undefined;
try {
  include = headers();
} catch {
  include = undefined;
}
const cc =
  include === undefined
    ? undefined
    : spawnSync(CC, [...args, `-I${include}`], { stdio: ['ignore', 'inherit', 'inherit'] });
if (cc === undefined || cc.error !== undefined || cc.status !== 0) {
  const why =
    cc === undefined
      ? 'node-api-headers is not installed'
      : cc.error !== undefined
        ? cc.error.message
        : `exit ${String(cc.status)}`;
  console.error(
    `native: ${CC} could not build ${relative(ROOT, SOURCE)} (${why}); ` +
      'the DNS server will serve UDP with worker threads (install a C compiler, e.g. Debian gcc, for the fast path)',
  );
  process.exit(0);
}
renameSync(tmp, OUT);
writeFileSync(STAMP, JSON.stringify({ hash, builtAt: new Date().toISOString() }, null, 2));
console.error(`native: built ${relative(ROOT, OUT)}`);
