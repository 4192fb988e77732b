// The marketplace: catalog items by category (filter buttons, every category
// shown, empty ones said so), and the instances with their version, health and
// bindings; an instance's page shows its conditions, the application it
// became and the applications bound to it. Lists are fetched on entry and
// every 5 s (instances change as controllers work; items rarely).
import type { Binding, CatalogItem, Instance } from '../model/schema/catalog.ts';
import { API, getJson } from './api.ts';
import { usePolled } from './polled.ts';
import { byCategory, CATEGORIES, CATEGORY_LABELS, runsOnAgents, summarize } from './catalog.ts';
import { href, replaceQuery, useRoute } from './router.ts';
import { TableHead } from './ui.tsx';

const POLL_MS = 5000;

interface Lists {
  items: CatalogItem[];
  instances: Instance[];
  bindings: Binding[];
}

async function loadCatalog(signal: AbortSignal): Promise<Lists> {
  const [items, instances, bindings] = await Promise.all([
    getJson<{ items: CatalogItem[] }>(`${API}/catalogitems`, signal),
    getJson<{ items: Instance[] }>(`${API}/instances`, signal),
    getJson<{ items: Binding[] }>(`${API}/bindings`, signal),
  ]);
  return { items: items.items, instances: instances.items, bindings: bindings.items };
}

export function CatalogView() {
  const { value: lists, error } = usePolled(loadCatalog, POLL_MS);
  const route = useRoute();
  const category = route.query.get('category') ?? '';
  return (
    <section aria-labelledby="catalog-title">
      <h1 id="catalog-title" tabIndex={-1}>
        Catalog
      </h1>
      {error !== undefined && <p role="alert">{error}</p>}
      <div className="filters" role="group" aria-label="Category">
        {['', ...CATEGORIES].map((c) => (
          <button
            key={c}
            type="button"
            aria-pressed={category === c}
            onClick={() => replaceQuery(c === '' ? {} : { category: c })}
          >
            {c === '' ? 'All' : CATEGORY_LABELS[c as keyof typeof CATEGORY_LABELS]}
          </button>
        ))}
      </div>
      {lists === undefined ? (
        <p role="status">Loading…</p>
      ) : (
        <>
          {byCategory(lists.items, category).map((g) => (
            <section key={g.category} aria-labelledby={`cat-${g.category}`}>
              <h2 id={`cat-${g.category}`}>
                {g.label} <span className="hint">({g.items.length})</span>
              </h2>
              {g.items.length === 0 ? (
                <p className="hint">No items in this category.</p>
              ) : (
                <table>
                  <TableHead columns={['Item', 'Description', 'Versions', 'Plans', 'Runs on']} />
                  <tbody>
                    {g.items.map((i) => (
                      <tr key={i.metadata.name}>
                        <td>
                          <strong>{i.spec.displayName}</strong> <code>{i.metadata.name}</code>
                        </td>
                        <td>{i.spec.description}</td>
                        <td>{i.spec.versions.map((v) => v.version).join(', ')}</td>
                        <td>{i.spec.plans.map((p) => p.name).join(', ')}</td>
                        <td>{runsOnAgents(i) ? 'agents, Kubernetes, twin' : 'Kubernetes, twin'}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              )}
            </section>
          ))}
          <h2>Instances</h2>
          {lists.instances.length === 0 ? (
            <p className="hint">No instances: yunjian instance create NAME --item ITEM --plan P.</p>
          ) : (
            <table>
              <TableHead columns={['Instance', 'Item', 'Version', 'Ready', 'Bound to']} />
              <tbody>
                {lists.instances.map((inst) => {
                  const s = summarize(inst, lists.bindings);
                  const ns = inst.metadata.namespace ?? 'default';
                  return (
                    <tr key={`${ns}/${inst.metadata.name}`}>
                      <td>
                        <a href={href(['catalog', ns, inst.metadata.name])}>
                          {ns}/{inst.metadata.name}
                        </a>
                      </td>
                      <td>{inst.spec.item}</td>
                      <td>{inst.status?.version ?? inst.spec.version}</td>
                      <td>
                        {s.ready}
                        {s.reason !== '' ? ` (${s.reason})` : ''}
                      </td>
                      <td>{s.bindings.map((b) => b.spec.application).join(', ') || '—'}</td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
          )}
        </>
      )}
    </section>
  );
}

export function InstanceDetail({ namespace, name }: { namespace: string; name: string }) {
  const { value: lists, error } = usePolled(loadCatalog, POLL_MS);
  const inst = lists?.instances.find(
    (i) => i.metadata.namespace === namespace && i.metadata.name === name,
  );
  return (
    <section aria-labelledby="instance-title">
      <h1 id="instance-title" tabIndex={-1}>
        Instance {namespace}/{name}
      </h1>
      {error !== undefined && <p role="alert">{error}</p>}
      {lists === undefined ? (
        <p role="status">Loading…</p>
      ) : inst === undefined ? (
        <p>No such instance.</p>
      ) : (
        <InstanceBody summary={summarize(inst, lists.bindings)} />
      )}
      <p>
        <a href={href(['catalog'])}>Back to the catalog</a>
      </p>
    </section>
  );
}

function InstanceBody({ summary }: { summary: ReturnType<typeof summarize> }) {
  const { instance: i, bindings } = summary;
  const ns = i.metadata.namespace ?? 'default';
  return (
    <>
      <dl>
        <dt>Item</dt>
        <dd>
          {i.spec.item} (plan {i.spec.plan})
        </dd>
        <dt>Version</dt>
        <dd>
          {i.status?.version ?? i.spec.version}
          {i.status?.previousVersion !== undefined ? ` (before: ${i.status.previousVersion})` : ''}
        </dd>
        <dt>Health</dt>
        <dd>
          Ready {summary.ready}
          {summary.reason !== '' ? `: ${summary.reason}` : ''}
          {i.status?.conditions?.[0]?.message ? ` — ${i.status.conditions[0].message}` : ''}
        </dd>
        <dt>Application</dt>
        <dd>
          <a href={href(['apps', ns, i.status?.application ?? i.metadata.name])}>
            {i.status?.application ?? i.metadata.name}
          </a>
        </dd>
      </dl>
      <h2>Bindings</h2>
      {bindings.length === 0 ? (
        <p className="hint">
          Not bound: yunjian binding create NAME --instance {i.metadata.name} --app APP.
        </p>
      ) : (
        <table>
          <TableHead columns={['Binding', 'Application', 'Ready', 'Env']} />
          <tbody>
            {bindings.map((b) => (
              <tr key={b.metadata.name}>
                <td>{b.metadata.name}</td>
                <td>
                  <a href={href(['apps', ns, b.spec.application])}>{b.spec.application}</a>
                </td>
                <td>{b.status?.conditions?.[0]?.status ?? 'Unknown'}</td>
                <td>{(b.status?.env ?? []).join(', ')}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </>
  );
}
