// Polls until a condition holds: the one waiting helper of the end-to-end
// tests. `fn` returns the value once the condition holds and undefined before;
// errors it throws count as "not yet" and the last one is reported on timeout,
// with `context()` (e.g. the last status read) appended.
export interface UntilOptions {
  timeoutMs?: number;
  stepMs?: number;
  context?: () => string | Promise<string>;
}

export async function until<T>(
  what: string,
  fn: () => Promise<T | undefined> | T | undefined,
  o: UntilOptions = {},
): Promise<T> {
  const timeoutMs = o.timeoutMs ?? 30_000;
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) {
      const context = o.context ? await o.context() : '';
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${what}${last instanceof Error ? `: ${last.message}` : ''}${context}`,
      );
    }
    await new Promise((r) => setTimeout(r, o.stepMs ?? 200));
  }
}
