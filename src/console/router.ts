// Hash routes (#/clusters?cloud=aws): the server serves one page at `/`, so
// deep links work without a catch-all route and reloads keep the view.
import { useSyncExternalStore } from 'react';

export interface Route {
  path: string[];
  query: URLSearchParams;
}

function parse(hash: string): Route {
  const raw = hash.replace(/^#\/?/, '');
  const [path = '', query = ''] = raw.split('?', 2);
  return {
    path: path.split('/').filter(Boolean).map(decodeURIComponent),
    query: new URLSearchParams(query),
  };
}

let current = parse(location.hash);
const listeners = new Set<() => void>();
window.addEventListener('hashchange', () => {
  current = parse(location.hash);
  for (const fn of listeners) fn();
});

export function useRoute(): Route {
  return useSyncExternalStore(
    (fn) => {
      listeners.add(fn);
      return () => listeners.delete(fn);
    },
    () => current,
  );
}

export function href(path: string[], query?: Record<string, string>): string {
  const q = query
    ? new URLSearchParams(Object.entries(query).filter(([, v]) => v !== '')).toString()
    : '';
  return `#/${path.map(encodeURIComponent).join('/')}${q ? `?${q}` : ''}`;
}

/** Changes the query of the current view without adding a history entry per keystroke. */
export function replaceQuery(query: Record<string, string>): void {
  history.replaceState(history.state, '', href(current.path, query));
  current = parse(location.hash);
  for (const fn of listeners) fn();
}
