// examples/devops/cost-month.ts at a small size (4 days) against an in-process
// server with the demo twin: every report reconciles to the micro-dollar, the
// fleet's cost equals the clusters' capacity at their prices worked out here
// independently, and beta's migration shows in the savings report.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { simulateCostMonth } from '../examples/devops/cost-month.ts';
import type { Cloud, Cluster } from '../src/model/schema.ts';
import { inProcessServer } from './server.harness.ts';

const DAYS = 4;

/** A day of one cluster's capacity at its prices (its own, else its cloud's), rounded per resource. */
function clusterDayMicros(c: Cluster, clouds: Map<string, Cloud>): bigint {
  const cloud = clouds.get(c.spec.cloud)?.spec.prices;
  const price = (k: 'cpuCoreHour' | 'memoryGiBHour' | 'gpuHour') =>
    BigInt(Math.round((c.spec.prices?.[k] ?? cloud?.[k] ?? 0) * 1e9));
  const part = (qty: number, perUnit: bigint, p: bigint) => {
    const n = BigInt(qty) * p * 86_400n;
    const d = perUnit * 3_600_000n;
    return (2n * n + d) / (2n * d);
  };
  const cap = c.status?.capacity;
  return (
    part(Math.round((cap?.cpu ?? 0) * 1000), 1000n, price('cpuCoreHour')) +
    part(Math.round(cap?.memory ?? 0), 2n ** 30n, price('memoryGiBHour')) +
    part(Math.round(cap?.gpu ?? 0), 1n, price('gpuHour'))
  );
}

describe('a simulated month of cost on the twin (examples/devops/cost-month.ts)', () => {
  const cp = inProcessServer('cost-month', { simStartupSeconds: 0 });

  it(`reconciles over ${DAYS} days and shows the migration's savings`, async () => {
    const result = await simulateCostMonth({
      server: cp.url,
      token: cp.token,
      days: DAYS,
      log: () => {},
    });
    assert.deepEqual(result.checks, {
      'teams + idle = fleet': true,
      'apps (idle shared) + unshared idle = fleet': true,
      'FOCUS BilledCost = fleet': true,
      'one sample per day': true,
    });

    const get = async <T>(plural: string) => {
      const res = await fetch(`${cp.url}/api/v1alpha1/${plural}`, {
        headers: { authorization: `Bearer ${cp.token}` },
      });
      return ((await res.json()) as { items: T[] }).items;
    };
    const clouds = new Map((await get<Cloud>('clouds')).map((c) => [c.metadata.name, c]));
    const perDay = (await get<Cluster>('clusters')).reduce(
      (sum, c) => sum + clusterDayMicros(c, clouds),
      0n,
    );
    assert.equal(BigInt(result.byTeam.totals.fleetMicros), perDay * BigInt(DAYS));

    const teams = result.byTeam.rows.map((r) => r.key).sort();
    assert.deepEqual(teams, ['__idle__', 'alpha', 'beta', 'gamma']);
    for (const r of result.byTeam.rows) assert.ok(r.totalMicros > 0, `${r.key} cost nothing`);

    // beta ran 2 x (2 cores, 8 GiB) on gcp for the first half and on aws after.
    const ledger = result.savings.rows.find((r) => r.key === 'beta/ledger');
    assert.ok(ledger, JSON.stringify(result.savings));
    assert.ok(ledger.beforeMicros > 0 && ledger.afterMicros > 0);
    assert.equal(ledger.differenceMicros, ledger.afterMicros - ledger.beforeMicros);
    assert.notEqual(ledger.differenceMicros, 0);
  });
});
