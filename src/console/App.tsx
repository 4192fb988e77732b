// The shell: sign-in gate, navigation, skip link and the live-connection
// indicator. The sign-in link's one-time code is exchanged for a session by the
// server before the page loads (it redirects to the bare address), so the app
// only ever sees a session or none.
import { Suspense, lazy, useEffect, useRef, useState } from 'react';
import { currentSession, onSignedOut, signIn, signOut, type SessionInfo } from './api.ts';
import { startFeeds, useFeed } from './live.ts';
import { href, useRoute } from './router.ts';
import { SignIn } from './SignIn.tsx';
import { FleetView } from './FleetView.tsx';

// The fleet is the landing view and ships in the first chunk; the others (and
// the YAML parser they use) load on first visit, keeping the first paint small.
const ClustersView = lazy(() =>
  import('./ClustersView.tsx').then((m) => ({ default: m.ClustersView })),
);
const AppsView = lazy(() => import('./AppsView.tsx').then((m) => ({ default: m.AppsView })));
const AppDetail = lazy(() => import('./AppsView.tsx').then((m) => ({ default: m.AppDetail })));
const EventsView = lazy(() => import('./EventsView.tsx').then((m) => ({ default: m.EventsView })));
const ApplyView = lazy(() => import('./ApplyView.tsx').then((m) => ({ default: m.ApplyView })));
const CatalogView = lazy(() =>
  import('./CatalogView.tsx').then((m) => ({ default: m.CatalogView })),
);
const InstanceDetail = lazy(() =>
  import('./CatalogView.tsx').then((m) => ({ default: m.InstanceDetail })),
);
const MigrationsView = lazy(() =>
  import('./MigrationsView.tsx').then((m) => ({ default: m.MigrationsView })),
);
const InsightsView = lazy(() =>
  import('./InsightsView.tsx').then((m) => ({ default: m.InsightsView })),
);

type Auth =
  { state: 'checking' } | { state: 'out'; error?: string } | { state: 'in'; session: SessionInfo };

const NAV = [
  { key: 'fleet', label: 'Fleet' },
  { key: 'clusters', label: 'Clusters' },
  { key: 'apps', label: 'Applications' },
  { key: 'events', label: 'Events' },
  { key: 'catalog', label: 'Catalog' },
  { key: 'migrations', label: 'Migrations' },
  { key: 'insights', label: 'Insights' },
  { key: 'apply', label: 'Apply YAML' },
];

async function initialSession(): Promise<Auth> {
  // Optimistic: the lists start with the session check instead of after it.
  // Without a session they stop at their first 401 and start again on sign-in.
  startFeeds();
  const session = await currentSession();
  return session ? { state: 'in', session } : { state: 'out' };
}

// Started as the module loads, before React's first render: the sign-in round
// trip and the first lists overlap with rendering instead of following it.
const firstSession = initialSession();

export function App() {
  const [auth, setAuth] = useState<Auth>({ state: 'checking' });
  useEffect(() => {
    firstSession.then(setAuth, (err: unknown) => setAuth({ state: 'out', error: String(err) }));
    // Only a session that existed can end; a 401 before sign-in is expected.
    return onSignedOut(() =>
      setAuth((a) =>
        a.state === 'in' ? { state: 'out', error: 'Your session ended; sign in again.' } : a,
      ),
    );
  }, []);

  if (auth.state === 'checking')
    return (
      <p className="loading" role="status">
        Signing in…
      </p>
    );
  if (auth.state === 'out')
    return (
      <SignIn
        {...(auth.error !== undefined ? { error: auth.error } : {})}
        onSignIn={async (secret) => {
          const session = await signIn(secret);
          startFeeds();
          setAuth({ state: 'in', session });
        }}
      />
    );
  return (
    <Shell
      user={auth.session.user}
      onSignOut={() => {
        void signOut().finally(() => setAuth({ state: 'out' }));
      }}
    />
  );
}

function Shell({ user, onSignOut }: { user: string; onSignOut: () => void }) {
  const route = useRoute();
  const section = route.path[0] ?? 'fleet';
  const main = useRef<HTMLElement>(null);
  const first = useRef(true);
  // Keyboard and screen-reader users land on the new view's content.
  useEffect(() => {
    if (first.current) {
      first.current = false;
      return;
    }
    const root = main.current;
    if (!root) return;
    // Suspense keeps the previous view in the DOM, hidden, while the next one
    // loads: only a heading that actually took focus counts.
    const focus = () => {
      const h1 = root.querySelector<HTMLElement>('h1');
      h1?.focus();
      return h1 !== null && document.activeElement === h1;
    };
    if (focus()) return;
    // A view loaded on first visit renders its heading a moment later.
    const watcher = new MutationObserver(() => {
      if (focus()) watcher.disconnect();
    });
    watcher.observe(root, { childList: true, subtree: true, attributes: true });
    return () => watcher.disconnect();
  }, [route.path.join('/')]);

  return (
    <>
      <a
        className="skip-link"
        href="#main"
        onClick={(e) => {
          e.preventDefault();
          main.current?.focus();
        }}
      >
        Skip to content
      </a>
      <header className="topbar">
        <a className="brand" href={href(['fleet'])}>
          Yunjian
        </a>
        <nav aria-label="Main">
          <ul>
            {NAV.map((n) => (
              <li key={n.key}>
                <a href={href([n.key])} aria-current={section === n.key ? 'page' : undefined}>
                  {n.label}
                </a>
              </li>
            ))}
          </ul>
        </nav>
        <div className="session">
          <Connection />
          <span className="user">{user}</span>
          <button type="button" onClick={onSignOut}>
            Sign out
          </button>
        </div>
      </header>
      <main id="main" ref={main} tabIndex={-1}>
        <Suspense fallback={<p role="status">Loading…</p>}>
          <View path={route.path} query={route.query} />
        </Suspense>
      </main>
    </>
  );
}

function View({ path, query }: { path: string[]; query: URLSearchParams }) {
  switch (path[0] ?? 'fleet') {
    case 'fleet':
      return <FleetView />;
    case 'clusters':
      return <ClustersView query={query} />;
    case 'apps':
      return path[1] !== undefined && path[2] !== undefined ? (
        <AppDetail namespace={path[1]} name={path[2]} edit={path[3] === 'edit'} />
      ) : (
        <AppsView />
      );
    case 'catalog':
      return path[1] !== undefined && path[2] !== undefined ? (
        <InstanceDetail namespace={path[1]} name={path[2]} />
      ) : (
        <CatalogView />
      );
    case 'events':
      return <EventsView query={query} />;
    case 'apply':
      return <ApplyView />;
    case 'migrations':
      return <MigrationsView />;
    case 'insights':
      return <InsightsView />;
    default:
      return (
        <section>
          <h1 tabIndex={-1}>Not found</h1>
          <p>
            There is no view at this address. <a href={href(['fleet'])}>Go to the fleet.</a>
          </p>
        </section>
      );
  }
}

/** Live when every watch is following its stream. */
function Connection() {
  const clusters = useFeed('clusters');
  const apps = useFeed('applications');
  const events = useFeed('events');
  const states = [clusters.state, apps.state, events.state];
  const state = states.includes('reconnecting')
    ? 'reconnecting'
    : states.includes('loading')
      ? 'loading'
      : 'live';
  const label = { live: 'Live', loading: 'Loading…', reconnecting: 'Reconnecting…' }[state];
  return (
    <span className={`conn conn-${state}`} role="status" data-testid="connection">
      <span aria-hidden="true" className="dot" /> {label}
    </span>
  );
}
