// The progress deadline end to end on the in-process control plane: replicas
// that take longer to turn ready than the app's deadline make Ready say
// ProgressDeadlineExceeded with a Warning event, and Ready once they are up.
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { until } from './wait.ts';
import { inProcessServer } from './server.harness.ts';

// Replicas start far slower than the deadline below, so it passes on any machine.
const cp = inProcessServer('progress', { simStartupSeconds: 6 });

interface Condition {
  status: string;
  reason?: string;
  message?: string;
}

async function readyOf(): Promise<Condition | undefined> {
  const res = await fetch(`${cp.url}/api/v1alpha1/namespaces/default/applications/slow`, {
    headers: cp.headers,
  });
  const app = (await res.json()) as { status?: { conditions?: Condition[] } };
  return app.status?.conditions?.[0];
}

it('says ProgressDeadlineExceeded while replicas are slower than the deadline, then Ready', async () => {
  const res = await fetch(`${cp.url}/api/v1alpha1/apply`, {
    method: 'POST',
    headers: { ...cp.headers, 'content-type': 'application/json' },
    body: JSON.stringify({
      apiVersion: 'yunjian.io/v1alpha1',
      kind: 'Application',
      metadata: { name: 'slow', namespace: 'default' },
      spec: {
        components: [
          {
            name: 'web',
            image: 'registry.example.com/web:1',
            replicas: 2,
            resources: { cpu: '250m' },
          },
        ],
        progressDeadlineSeconds: 1,
      },
    }),
  });
  assert.equal(res.status, 200, await res.text());
  const stalled = await until(
    'Ready=False ProgressDeadlineExceeded',
    async () => {
      const c = await readyOf();
      return c?.reason === 'ProgressDeadlineExceeded' ? c : undefined;
    },
    { timeoutMs: 30_000, stepMs: 100 },
  );
  assert.equal(stalled.status, 'False');
  assert.match(stalled.message ?? '', /^0\/2 replicas ready; no replica turned ready for 1 s$/);
  await until(
    'Ready once the replicas are up',
    async () => ((await readyOf())?.reason === 'AllReplicasReady' ? true : undefined),
    { timeoutMs: 60_000, stepMs: 200 },
  );
  const events = (await (
    await fetch(`${cp.url}/api/v1alpha1/events`, { headers: cp.headers })
  ).json()) as {
    items: { spec: { type: string; reason: string; involvedObject: { name: string } } }[];
  };
  const warnings = events.items.filter(
    (e) => e.spec.reason === 'ProgressDeadlineExceeded' && e.spec.involvedObject.name === 'slow',
  );
  assert.equal(warnings.length, 1);
  assert.equal(warnings[0]!.spec.type, 'Warning');
});
