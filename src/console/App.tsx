// The shell: sign-in gate, navigation, skip link and the live-connection
// indicator. The sign-in link's token is exchanged for a session and removed
// from the address bar before anything else renders.
import { useEffect, useRef, useState } from 'react';
import { currentSession, onSignedOut, signIn, signOut, type SessionInfo } from './api.ts';
import { useFeed } from './live.ts';
import { href, useRoute } from './router.ts';
import { SignIn } from './SignIn.tsx';
import { FleetView } from './FleetView.tsx';
import { ClustersView } from './ClustersView.tsx';
import { AppDetail, AppsView } from './AppsView.tsx';
import { EventsView } from './EventsView.tsx';
import { ApplyView } from './ApplyView.tsx';

type Auth =
  { state: 'checking' } | { state: 'out'; error?: string } | { state: 'in'; session: SessionInfo };

const NAV = [
  { key: 'fleet', label: 'Fleet' },
  { key: 'clusters', label: 'Clusters' },
  { key: 'apps', label: 'Applications' },
  { key: 'events', label: 'Events' },
  { key: 'apply', label: 'Apply YAML' },
];

async function initialSession(): Promise<Auth> {
  const url = new URL(location.href);
  const token = url.searchParams.get('token');
  if (token !== null) {
    // The token must not stay in the address bar, the history or a bookmark.
    url.searchParams.delete('token');
    history.replaceState(history.state, '', `${url.pathname}${url.search}${url.hash}`);
    try {
      return { state: 'in', session: await signIn(token) };
    } catch (err) {
      return { state: 'out', error: `The sign-in link did not work: ${(err as Error).message}` };
    }
  }
  const session = await currentSession();
  return session ? { state: 'in', session } : { state: 'out' };
}

export function App() {
  const [auth, setAuth] = useState<Auth>({ state: 'checking' });
  useEffect(() => {
    initialSession().then(setAuth, (err: unknown) => setAuth({ state: 'out', error: String(err) }));
    return onSignedOut(() =>
      setAuth({ state: 'out', error: 'Your session ended; sign in again.' }),
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
        onSignIn={async (token) => setAuth({ state: 'in', session: await signIn(token) })}
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
    main.current?.querySelector<HTMLElement>('h1')?.focus();
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
          <span aria-hidden="true">云舰</span> Yunjian
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
        <View path={route.path} query={route.query} />
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
    case 'events':
      return <EventsView query={query} />;
    case 'apply':
      return <ApplyView />;
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
