// Applications: the list, and one application's placement per cloud and
// cluster, the scheduler's explanation, traffic and its recent events.
import { useEffect, useMemo, useState } from 'react';
import { stringify } from 'yaml';
import type { Application, Event } from '../model/schema.ts';
import type { ApplicationExplanation } from '../model/explanation.ts';
import { API, ApiError, getJson } from './api.ts';
import { fmtAgo, fmtInt } from './format.ts';
import { useFeed } from './live.ts';
import { href } from './router.ts';
import { TableHead, num } from './ui.tsx';
import { YamlEditor } from './YamlEditor.tsx';
import { EventList } from './EventsView.tsx';

function readyCondition(app: Application) {
  return app.status?.conditions?.find((c) => c.type === 'Ready');
}

function clouds(app: Application): string[] {
  return [
    ...new Set((app.status?.placements ?? []).filter((p) => !p.draining).map((p) => p.cloud)),
  ].sort();
}

export function AppsView() {
  const apps = useFeed<Application>('applications');
  const rows = useMemo(
    () =>
      [...apps.items].sort((a, b) =>
        `${a.metadata.namespace ?? ''}/${a.metadata.name}`.localeCompare(
          `${b.metadata.namespace ?? ''}/${b.metadata.name}`,
        ),
      ),
    [apps.version],
  );
  return (
    <section>
      <h1 tabIndex={-1}>Applications</h1>
      <p>
        <a href={href(['apply'])}>Apply YAML</a> to create or change one.
      </p>
      {apps.state === 'loading' ? (
        <p role="status">Loading…</p>
      ) : rows.length === 0 ? (
        <p>
          No applications yet. Try <code>bin/yunjian apply -f examples/shop.yaml</code>, or paste it
          under <a href={href(['apply'])}>Apply YAML</a>.
        </p>
      ) : (
        <div className="table-scroll">
          <table className="data" data-testid="apps-table">
            <TableHead
              columns={[
                'Application',
                'Namespace',
                'Status',
                num('Ready / desired'),
                'Components',
                'Clouds',
                'Traffic',
              ]}
            />
            <tbody>
              {rows.map((a) => {
                const ns = a.metadata.namespace ?? 'default';
                const ready = readyCondition(a);
                return (
                  <tr key={`${ns}/${a.metadata.name}`}>
                    <th scope="row">
                      <a href={href(['apps', ns, a.metadata.name])}>{a.metadata.name}</a>
                    </th>
                    <td>{ns}</td>
                    <td>
                      <StatusBadge ready={ready?.status} reason={ready?.reason} />
                    </td>
                    <td className="num">
                      {fmtInt(a.status?.replicas?.ready ?? 0)} /{' '}
                      {fmtInt(a.status?.replicas?.desired ?? 0)}
                    </td>
                    <td>{a.spec.components.map((c) => c.name).join(', ')}</td>
                    <td>{clouds(a).join(', ') || '–'}</td>
                    <td>
                      {a.spec.traffic ? `${a.spec.traffic.strategy} · ${a.spec.traffic.host}` : '–'}
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}

function StatusBadge({ ready, reason }: { ready: string | undefined; reason: string | undefined }) {
  // Not ready yet is usually progress (replicas starting, failover under way), not failure.
  const health = ready === 'True' ? 'healthy' : 'degraded';
  return (
    <span className={`badge health-${health}`}>
      {ready === 'True' ? 'Ready' : (reason ?? 'Pending')}
    </span>
  );
}

function toYaml(app: Application): string {
  const { name, namespace, labels, annotations } = app.metadata;
  return stringify({
    apiVersion: app.apiVersion,
    kind: app.kind,
    metadata: {
      name,
      namespace,
      ...(labels ? { labels } : {}),
      ...(annotations ? { annotations } : {}),
    },
    spec: app.spec,
  });
}

export function AppDetail({
  namespace,
  name,
  edit,
}: {
  namespace: string;
  name: string;
  edit: boolean;
}) {
  const apps = useFeed<Application>('applications');
  const events = useFeed<Event>('events');
  const app = apps.byKey.get(`${namespace}/${name}`);
  const appEvents = useMemo(
    () =>
      events.items.filter(
        (e) =>
          e.spec.involvedObject.kind === 'Application' &&
          e.spec.involvedObject.name === name &&
          (e.spec.involvedObject.namespace ?? 'default') === namespace,
      ),
    [events.version, name, namespace],
  );

  if (!app) {
    return (
      <section>
        <h1 tabIndex={-1}>{name}</h1>
        <p role="status">
          {apps.state === 'loading' ? 'Loading…' : `No application ${namespace}/${name}. `}
          <a href={href(['apps'])}>All applications</a>
        </p>
      </section>
    );
  }
  const ready = readyCondition(app);
  return (
    <section data-testid="app-detail">
      <p className="crumbs">
        <a href={href(['apps'])}>Applications</a> / {namespace}
      </p>
      <h1 tabIndex={-1}>
        {name} <StatusBadge ready={ready?.status} reason={ready?.reason} />
      </h1>
      <p className="summary">
        {fmtInt(app.status?.replicas?.ready ?? 0)} of {fmtInt(app.status?.replicas?.desired ?? 0)}{' '}
        replicas ready · generation {app.metadata.generation ?? '–'} (observed{' '}
        {app.status?.observedGeneration ?? '–'}){ready?.message ? ` · ${ready.message}` : ''}
      </p>
      <p>
        {edit ? (
          <a href={href(['apps', namespace, name])}>Close the editor</a>
        ) : (
          <a href={href(['apps', namespace, name, 'edit'])}>Edit YAML</a>
        )}
      </p>
      {edit && (
        <div className="panel">
          <YamlEditor
            key={app.metadata.resourceVersion}
            initial={toYaml(app)}
            label={`YAML of ${name}`}
          />
        </div>
      )}
      <Placement app={app} />
      <Traffic app={app} />
      <Explanation app={app} />
      <div className="panel">
        <h2>Recent events</h2>
        <EventList events={appEvents} limit={20} empty="No events for this application yet." />
      </div>
    </section>
  );
}

function Placement({ app }: { app: Application }) {
  const placements = app.status?.placements ?? [];
  const byCloud = useMemo(() => {
    const m = new Map<string, typeof placements>();
    for (const p of placements) m.set(p.cloud, [...(m.get(p.cloud) ?? []), p]);
    return [...m.entries()].sort(([a], [b]) => a.localeCompare(b));
  }, [placements]);
  return (
    <div className="panel">
      <h2>Placement</h2>
      <div className="table-scroll">
        <table className="data" data-testid="components-table">
          <caption>Replicas per component</caption>
          <TableHead
            columns={[
              'Component',
              num('Wanted'),
              num('Desired (placed)'),
              num('Ready'),
              'Platforms',
            ]}
          />
          <tbody>
            {app.spec.components.map((c) => {
              const mine = placements.filter((p) => p.component === c.name && !p.draining);
              return (
                <tr key={c.name}>
                  <th scope="row">{c.name}</th>
                  <td className="num">{c.replicas}</td>
                  <td className="num">{mine.reduce((n, p) => n + p.desired, 0)}</td>
                  <td className="num">{mine.reduce((n, p) => n + p.ready, 0)}</td>
                  <td>{(c.platforms ?? ['linux/amd64']).join(', ')}</td>
                </tr>
              );
            })}
          </tbody>
        </table>
      </div>
      {(app.status?.reasons ?? []).length > 0 && (
        <details>
          <summary>Scheduler reasons by component (clusters per reason)</summary>
          <table className="data">
            <TableHead columns={['Component', num('Clusters'), 'Reason']} />
            <tbody>
              {(app.status?.reasons ?? []).map((r, i) => (
                <tr key={i}>
                  <td>{r.component ?? 'all'}</td>
                  <td className="num">{r.count}</td>
                  <td>{r.reason}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </details>
      )}
      {byCloud.length === 0 ? (
        <p>Not placed yet.</p>
      ) : (
        <div className="table-scroll">
          <table className="data" data-testid="placement-table">
            <caption>Per cloud and cluster</caption>
            <TableHead
              columns={['Cloud', 'Cluster', 'Component', num('Desired'), num('Ready'), 'State']}
            />
            {byCloud.map(([cloud, ps]) => (
              <tbody key={cloud} data-cloud={cloud}>
                {ps.map((p, i) => (
                  <tr key={`${p.cluster}/${p.component}`}>
                    {i === 0 && (
                      <th scope="rowgroup" rowSpan={ps.length}>
                        {cloud}
                        <span className="note">
                          {ps.filter((x) => !x.draining).reduce((n, x) => n + x.ready, 0)}/
                          {ps.filter((x) => !x.draining).reduce((n, x) => n + x.desired, 0)} ready
                        </span>
                      </th>
                    )}
                    <td>
                      <a href={href(['clusters'], { q: p.cluster })}>{p.cluster}</a>
                    </td>
                    <td>{p.component}</td>
                    <td className="num">{p.desired}</td>
                    <td className="num">{p.ready}</td>
                    <td>
                      {p.draining ? (
                        <span className="badge health-degraded">Draining</span>
                      ) : p.ready >= p.desired ? (
                        <span className="badge health-healthy">Ready</span>
                      ) : (
                        <span className="badge health-degraded">Starting</span>
                      )}
                    </td>
                  </tr>
                ))}
              </tbody>
            ))}
          </table>
        </div>
      )}
    </div>
  );
}

/**
 * The part of the traffic manager's status (GET /api/v1alpha1/traffic,
 * src/traffic/status.ts) the console shows; declared here because that module
 * is server code.
 */
interface TrafficRoute {
  host: string;
  application: string;
  strategy: string;
  serving: string;
  failovers: number;
  endpoints: {
    cluster: string;
    cloud: string;
    address: string;
    port: number;
    healthy: boolean;
    ready: boolean;
    draining: boolean;
    probe: string;
    since?: string;
    vantagePoints: { name: string; state: string; latencyMs?: number; error?: string }[];
  }[];
}

type TrafficState =
  | { kind: 'loading' }
  | { kind: 'absent' }
  | { kind: 'error'; message: string }
  | { kind: 'ok'; route?: TrafficRoute };

const TRAFFIC_POLL_MS = 3000;

/** The traffic manager's view of one app, polled while the page is open (it has no watch). */
function useTrafficRoute(application: string): TrafficState {
  const [state, setState] = useState<TrafficState>({ kind: 'loading' });
  useEffect(() => {
    let stopped = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const poll = async () => {
      try {
        const status = await getJson<{ routes: TrafficRoute[] }>(`${API}/traffic`);
        if (stopped) return;
        const route = status.routes.find((r) => r.application === application);
        setState({ kind: 'ok', ...(route ? { route } : {}) });
      } catch (err) {
        if (stopped) return;
        // 404: this server runs without the traffic manager (no DNS port).
        if (err instanceof ApiError && err.status === 404) {
          setState({ kind: 'absent' });
          return;
        }
        setState({ kind: 'error', message: (err as Error).message });
      }
      timer = setTimeout(() => void poll(), TRAFFIC_POLL_MS);
    };
    void poll();
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  }, [application]);
  return state;
}

function Traffic({ app }: { app: Application }) {
  const t = app.spec.traffic;
  const traffic = useTrafficRoute(`${app.metadata.namespace ?? 'default'}/${app.metadata.name}`);
  const route = traffic.kind === 'ok' ? traffic.route : undefined;
  const health = new Map(
    (route?.endpoints ?? []).map((e) => [`${e.cluster}/${e.address}:${e.port}`, e]),
  );
  const endpoints = (app.status?.placements ?? []).flatMap((p) =>
    (p.endpoints ?? []).map((e) => ({
      ...e,
      cluster: p.cluster,
      cloud: p.cloud,
      component: p.component,
      draining: p.draining === true,
      health: health.get(`${p.cluster}/${e.address}:${e.port}`),
    })),
  );
  return (
    <div className="panel" data-testid="traffic">
      <h2>Traffic</h2>
      {t ? (
        <dl className="facts">
          <dt>Host</dt>
          <dd>{t.host}</dd>
          <dt>Strategy</dt>
          <dd data-testid="traffic-strategy">{t.strategy}</dd>
          <dt>TTL</dt>
          <dd>{t.ttl ?? 5} s</dd>
          {t.failover && (
            <>
              <dt>Failover order</dt>
              <dd>
                {t.failover.order
                  .map((o) => ('cloud' in o ? o.cloud : 'site' in o ? o.site : JSON.stringify(o)))
                  .join(' → ')}
              </dd>
            </>
          )}
          {t.weights && (
            <>
              <dt>Weights</dt>
              <dd>{JSON.stringify(t.weights)}</dd>
            </>
          )}
          <dt>When all endpoints are down</dt>
          <dd>{t.whenAllDown ?? 'failOpen'}</dd>
          {route && (
            <>
              <dt>Serving now</dt>
              <dd data-testid="traffic-serving">{route.serving || 'nothing'}</dd>
              <dt>Failovers</dt>
              <dd>{route.failovers}</dd>
            </>
          )}
        </dl>
      ) : (
        <p>No traffic policy: this application is not published under a DNS name.</p>
      )}
      <h3>Endpoints</h3>
      {endpoints.length === 0 ? (
        <p>No endpoints reported by the clusters&apos; drivers.</p>
      ) : (
        <div className="table-scroll">
          <table className="data" data-testid="endpoints-table">
            <TableHead columns={['Address', 'Component', 'Cluster', 'Cloud', 'Health', 'Probes']} />
            <tbody>
              {endpoints.map((e) => (
                <tr key={`${e.cluster}/${e.component}/${e.address}:${e.port}`}>
                  <td>
                    <code>
                      {e.address}:{e.port}
                    </code>
                    {e.name ? ` (${e.name})` : ''}
                  </td>
                  <td>{e.component}</td>
                  <td>{e.cluster}</td>
                  <td>{e.cloud}</td>
                  <td>
                    {e.health ? (
                      <span className={`badge health-${e.health.healthy ? 'healthy' : 'down'}`}>
                        {e.health.healthy ? 'Healthy' : 'Down'}
                        {e.health.draining ? ', draining' : ''}
                      </span>
                    ) : e.draining ? (
                      'draining'
                    ) : (
                      'not checked'
                    )}
                  </td>
                  <td>
                    {e.health
                      ? e.health.probe === 'simulated'
                        ? 'simulated (digital twin)'
                        : e.health.vantagePoints
                            .map(
                              (v) =>
                                `${v.name} ${v.state}${v.latencyMs !== undefined ? ` ${v.latencyMs} ms` : ''}`,
                            )
                            .join(', ')
                      : ''}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <p className="hint" data-testid="endpoint-health-note">
        {traffic.kind === 'absent'
          ? 'Endpoint health: this server runs without the traffic manager (start it with --dns-port), so no endpoint is checked.'
          : traffic.kind === 'error'
            ? `Endpoint health unavailable: ${traffic.message}`
            : traffic.kind === 'loading'
              ? 'Asking the traffic manager…'
              : route
                ? 'Endpoint health from the traffic manager, refreshed every few seconds.'
                : 'The traffic manager has no route for this application yet.'}
      </p>
    </div>
  );
}

function Explanation({ app }: { app: Application }) {
  const ns = app.metadata.namespace ?? 'default';
  const [state, setState] = useState<{
    data?: ApplicationExplanation;
    error?: string;
    at?: number;
  }>({});
  const [nonce, setNonce] = useState(0);
  // Re-run when the placement changes (the controller moved replicas) or on request.
  const placementKey = (app.status?.placements ?? [])
    .map((p) => `${p.cluster}:${p.component}:${p.desired}`)
    .join(',');
  useEffect(() => {
    const ctrl = new AbortController();
    getJson<ApplicationExplanation>(
      `${API}/namespaces/${encodeURIComponent(ns)}/applications/${encodeURIComponent(app.metadata.name)}/explain`,
      ctrl.signal,
    ).then(
      (data) => setState({ data, at: Date.now() }),
      (err: unknown) => {
        if (!ctrl.signal.aborted) setState({ error: (err as Error).message });
      },
    );
    return () => ctrl.abort();
  }, [ns, app.metadata.name, placementKey, nonce]);

  const data = state.data;
  return (
    <div className="panel" data-testid="explanation">
      <div className="panel-head">
        <h2>Why here: the scheduler&apos;s explanation</h2>
        <button type="button" onClick={() => setNonce((n) => n + 1)}>
          Refresh
        </button>
      </div>
      {state.error !== undefined && <p className="error">{state.error}</p>}
      {!data && state.error === undefined && <p role="status">Asking the scheduler…</p>}
      {data && (
        <>
          <p className="hint">
            Score weights:{' '}
            {Object.entries(data.weights)
              .map(([k, v]) => `${k} ${v}`)
              .join(', ')}
            . Scores are today&apos;s, computed{' '}
            {fmtAgo(new Date(state.at ?? Date.now()).toISOString())}.
          </p>
          {data.components.map((c) => (
            <details key={c.component} open={data.components.length <= 3}>
              <summary>
                <strong>{c.component}</strong>: {c.replicas} replicas on{' '}
                {c.architectures.join(', ')}; {c.feasible} of {c.clusters} clusters feasible
                {c.unplaced > 0 ? `, ${c.unplaced} unplaced` : ''}
              </summary>
              {c.notes.length > 0 && (
                <ul>
                  {c.notes.map((n) => (
                    <li key={n}>{n}</li>
                  ))}
                </ul>
              )}
              <div className="table-scroll">
                <table className="data">
                  <TableHead
                    columns={[
                      'Cloud',
                      'Verdict',
                      'Chosen clusters (replicas, score)',
                      'Why not the others',
                    ]}
                  />
                  <tbody>
                    {c.clouds.map((cl) => (
                      <tr key={cl.cloud}>
                        <th scope="row">{cl.cloud}</th>
                        <td>
                          <span className={`badge verdict-${cl.verdict}`}>{cl.verdict}</span>
                        </td>
                        <td>
                          {cl.chosen
                            .map((x) => `${x.cluster} (${x.replicas}, ${x.score.toFixed(2)})`)
                            .join(', ') ||
                            (cl.bestFeasible
                              ? `best feasible: ${cl.bestFeasible.cluster} (${cl.bestFeasible.score.toFixed(2)})`
                              : '–')}
                        </td>
                        <td>
                          {cl.rejected.map((r) => `${r.count}× ${r.reason}`).join('; ') ||
                            (cl.feasible > 0 ? `${cl.feasible} feasible, not needed` : '–')}
                        </td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
            </details>
          ))}
        </>
      )}
    </div>
  );
}
