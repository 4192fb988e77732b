// The twin outlives its control plane, as a real fleet does: its running
// workloads and faults are saved to a file in the data directory every few
// seconds and when the server stops, and taken back at the next start, so a
// restart finds replicas serving instead of every application at 0/N while
// the twin starts them again. A kill -9 loses at most one interval's changes,
// which the controllers re-apply as they would after any missed write.
import { existsSync, readFileSync } from 'node:fs';
import { rename, writeFile } from 'node:fs/promises';
import type { SimFleet, SimTwinState } from './fleet.ts';

export const TWIN_SAVE_INTERVAL_MS = 5000;

export interface PersistedTwin {
  /** Saves now if anything changed since the last save. */
  save(): Promise<void>;
  /** Stops the timer and saves one last time. */
  stop(): Promise<void>;
}

function isTwinState(v: unknown): v is SimTwinState {
  if (typeof v !== 'object' || v === null) return false;
  const o = v as Record<string, unknown>;
  const outages = o['outages'] as Record<string, unknown> | undefined;
  return (
    typeof o['clusters'] === 'object' &&
    typeof o['failedNodes'] === 'object' &&
    typeof outages === 'object' &&
    ['cloud', 'site', 'cluster'].every((k) => typeof outages[k] === 'object')
  );
}

/**
 * Restores `fleet` from `path` (before any cluster is added to it) and keeps
 * the file up to date. An unreadable file is reported and replaced: the
 * controllers rebuild the twin's workloads from the store either way.
 */
export function persistTwin(
  fleet: SimFleet,
  path: string,
  options: { log: (line: string) => void; intervalMs?: number },
): PersistedTwin {
  let last = '';
  if (existsSync(path)) {
    try {
      const text = readFileSync(path, 'utf8');
      const state: unknown = JSON.parse(text);
      if (!isTwinState(state)) throw new Error('not a sim twin state');
      fleet.restore(state);
      last = text;
    } catch (err) {
      options.log(
        `sim: ignoring ${path} (${err instanceof Error ? err.message : String(err)}); the twin starts empty`,
      );
    }
  }
  let writing: Promise<void> = Promise.resolve();
  const save = (): Promise<void> => {
    // One write at a time, each of the state when it starts.
    writing = writing.then(async () => {
      const text = JSON.stringify(fleet.runningState());
      if (text === last) return;
      const tmp = `${path}.${process.pid}.tmp`;
      await writeFile(tmp, text, { mode: 0o600 });
      await rename(tmp, path);
      last = text;
    });
    return writing;
  };
  const timer = setInterval(() => {
    save().catch((err: unknown) =>
      options.log(
        `sim: saving ${path} failed: ${err instanceof Error ? err.message : String(err)}`,
      ),
    );
  }, options.intervalMs ?? TWIN_SAVE_INTERVAL_MS);
  timer.unref();
  return {
    save,
    async stop() {
      clearInterval(timer);
      await save();
    },
  };
}
