// Data a page fetches on entry and again every `pollMs` (catalog, migrations):
// the last good value, and the last error beside it so a failed poll does not
// blank what was shown. Leaving the page aborts the request in flight.
import { useEffect, useState } from 'react';
import { ApiError } from './api.ts';

export interface Polled<T> {
  value?: T;
  error?: string;
}

/** `load` should be a module-level function: a new one restarts polling. */
export function usePolled<T>(load: (signal: AbortSignal) => Promise<T>, pollMs: number): Polled<T> {
  const [state, setState] = useState<Polled<T>>({});
  useEffect(() => {
    const abort = new AbortController();
    const poll = async () => {
      try {
        const value = await load(abort.signal);
        setState({ value });
      } catch (err) {
        if (abort.signal.aborted) return;
        setState((s) => ({ ...s, error: err instanceof ApiError ? err.message : String(err) }));
      }
    };
    void poll();
    const timer = setInterval(() => void poll(), pollMs);
    return () => {
      abort.abort();
      clearInterval(timer);
    };
  }, [load, pollMs]);
  return state;
}
