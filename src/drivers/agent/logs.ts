// `yunjian logs`: replica output stays on the agents, so the hub asks each
// agent running the application over its API and merges the answers. An agent
// that cannot be asked, or does not answer, is reported under its cluster; the
// other clusters' logs are still returned.
import type { ReplicaLogs } from '../../agent/protocol.ts';
import { NotFoundError } from '../../model/errors.ts';
import type { Workload } from '../../model/schema.ts';
import {
  APP_LABEL,
  CLUSTER_LABEL,
  COMPONENT_LABEL,
  NAMESPACE_LABEL,
} from '../../model/wellknown.ts';
import type { Store } from '../../store/types.ts';

export interface LogsQuery {
  namespace: string;
  app: string;
  component?: string;
  cluster?: string;
  tail: number;
}

export interface ApplicationLogs {
  items: (ReplicaLogs & { cluster: string; component: string })[];
  errors: { cluster: string; message: string }[];
}

/** Where a cluster's agent API answers and the token it accepts, or why it cannot be asked. */
export type AgentApi = { origin: string; token: string } | { problem: string };

export async function gatherApplicationLogs(
  store: Store,
  query: LogsQuery,
  agentApi: (cluster: string) => Promise<AgentApi>,
): Promise<ApplicationLogs> {
  try {
    await store.get({ kind: 'Application', namespace: query.namespace, name: query.app });
  } catch (err) {
    if (err instanceof NotFoundError)
      throw new NotFoundError(`application ${query.namespace}/${query.app} not found`, {
        kind: 'Application',
        name: query.app,
      });
    throw err;
  }
  const selector = [
    `${APP_LABEL}=${query.app}`,
    `${NAMESPACE_LABEL}=${query.namespace}`,
    ...(query.component !== undefined ? [`${COMPONENT_LABEL}=${query.component}`] : []),
    ...(query.cluster !== undefined ? [`${CLUSTER_LABEL}=${query.cluster}`] : []),
  ].join(',');
  const workloads = (await store.list('Workload', { labelSelector: selector })).items as Workload[];
  const byCluster = new Map<string, Workload[]>();
  for (const w of workloads)
    byCluster.set(w.spec.cluster, [...(byCluster.get(w.spec.cluster) ?? []), w]);
  const result: ApplicationLogs = { items: [], errors: [] };
  await Promise.all(
    [...byCluster].map(async ([cluster, list]) => {
      const api = await agentApi(cluster);
      if ('problem' in api) {
        result.errors.push({ cluster, message: api.problem });
        return;
      }
      const url = new URL('/logs', api.origin);
      for (const w of list) url.searchParams.append('workload', w.metadata.name);
      url.searchParams.set('tail', String(query.tail));
      try {
        const res = await fetch(url, {
          headers: { authorization: `Bearer ${api.token}` },
          redirect: 'error',
          signal: AbortSignal.timeout(5000),
        });
        if (!res.ok) throw new Error(`agent answered HTTP ${res.status}`);
        const body = (await res.json()) as { items: ReplicaLogs[] };
        for (const item of body.items) {
          const component =
            list.find((w) => w.metadata.name === item.workload)?.spec.key.component ?? '';
          result.items.push({ cluster, component, ...item });
        }
      } catch (err) {
        result.errors.push({ cluster, message: err instanceof Error ? err.message : String(err) });
      }
    }),
  );
  result.items.sort((a, b) => (a.cluster + a.replica < b.cluster + b.replica ? -1 : 1));
  return result;
}
