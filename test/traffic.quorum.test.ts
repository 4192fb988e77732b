// One partitioned vantage point cannot fail a healthy cloud: the partition is
// real (an nftables drop rule for one probe source address, inside a private
// network namespace made with `unshare -rn`), not a flag.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { promisify } from 'node:util';

const run = promisify(execFile);

async function available(cmd: string, args: string[]): Promise<boolean> {
  return run(cmd, args).then(
    () => true,
    () => false,
  );
}

test('quorum: a vantage point cut off by nftables does not take a healthy cloud out of DNS', async (t) => {
  const ok =
    (await available('nft', ['--version'])) &&
    (await available('unshare', ['-rn', 'nft', 'list', 'ruleset']));
  if (!ok) {
    if (process.env.CI === 'true')
      throw new Error(
        'nft (Debian nftables) and unshare with user namespaces are required under CI',
      );
    t.skip('nft or unprivileged network namespaces unavailable (apt-get install nftables)');
    return;
  }
  const fixture = fileURLToPath(new URL('./fixtures/traffic-partition.ts', import.meta.url));
  const { stdout } = await run('unshare', ['-rn', process.execPath, fixture], { timeout: 60_000 });
  const r = JSON.parse(stdout.trim().split('\n').at(-1) ?? '{}') as {
    before: string[];
    partition: {
      probeA: string;
      probeB: string;
      probeBError?: string;
      healthy: boolean;
      answer: string[];
    };
    killed: { answer: string[] };
    events: string[];
  };
  assert.deepEqual(r.before, ['127.0.1.1']);
  assert.equal(r.partition.probeB, 'down', 'the cut-off vantage point sees the cloud down');
  assert.match(r.partition.probeBError ?? '', /timeout/);
  assert.equal(r.partition.probeA, 'up');
  assert.equal(r.partition.healthy, true, 'one of two vantage points is no quorum');
  assert.deepEqual(r.partition.answer, ['127.0.1.1']);
  assert.deepEqual(
    r.killed.answer,
    ['127.0.2.1'],
    'both vantage points agree once the cloud is really down',
  );
  assert.ok(r.events.includes('EndpointDown'));
  assert.ok(r.events.includes('TrafficFailover'));
});
